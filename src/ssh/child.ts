// Starting ssh, and killing it: SIGTERM, then SIGKILL if it lingers.
import { accessSync, constants, statSync, existsSync, writeSync } from 'node:fs'
import type { Readable } from 'node:stream'
import { constants as os } from 'node:os'
import { join } from 'node:path'
import { spawn } from 'node:child_process'
import type { SshExit } from '../machine/verdict.js'
import { splitLines } from '../os/lines.js'

export const SETPRIV = '/usr/bin/setpriv'
/** how long ssh has to leave after SIGTERM before SIGKILL */
export const KILL_GRACE_MS = 5000

const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(code), { code })

/**
 * Find the program as execvp() would: a name with a slash is a path, any
 * other is looked for along PATH. Throws ENOENT or EACCES as exec would.
 */
export const findExecutable = (file: string, pathEnv = process.env.PATH ?? '/bin:/usr/bin'): string => {
  if (file === '') throw errno('ENOENT')
  const candidates = file.includes('/') ? [file] : pathEnv.split(':').map(dir => join(dir || '.', file))
  let denied = false
  for (const c of candidates) {
    try {
      if (!statSync(c).isFile()) {
        denied = true
        continue
      }
      accessSync(c, constants.X_OK)
      return c
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      if (code === 'EACCES') denied = true
      else if (file.includes('/')) throw e
    }
  }
  throw errno(denied ? 'EACCES' : 'ENOENT')
}

/** how long the news of ssh's exit waits for the rest of its stderr */
const STDERR_SETTLE_MS = 100
/** a longer line of ssh's is cut here for recognising (it still passes through whole) */
const MAX_LINE = 4096

/**
 * ssh's stderr goes on to ours unchanged, byte for byte, as it is written;
 * each line is also handed to onLine (a long line's tail, where ssh's words
 * are, also when the whole line came in one chunk). Resolves at its end.
 * (Exported, with `write`, for a test that hands it chunks of its choosing.)
 */
export const passThrough = (from: Readable, onLine: (line: string) => void, write = writeRaw): Promise<void> => {
  const lines = splitLines(onLine, { encoding: 'latin1', maxLength: MAX_LINE, overLong: 'tail' })
  from.on('data', (chunk: Buffer) => {
    write(chunk)
    lines.push(chunk)
  })
  return new Promise(resolve => {
    from.once('close', () => {
      lines.end()
      resolve()
    })
  })
}

const writeRaw = (chunk: Buffer): void => {
  try {
    writeSync(2, chunk)
    /* c8 ignore next 3 */
  } catch {
    // our stderr is gone (a closed terminal or pipe); ssh's words still reach the log through onLine
  }
}

export interface SshChild {
  pid: number
  exited: Promise<SshExit>
  /** SIGTERM now; SIGKILL after graceMs if it has not gone (onForce is told) */
  kill(graceMs: number, onForce: () => void): void
}

const hasSetpriv = (() => {
  let known: boolean | undefined
  return () => (known ??= existsSync(SETPRIV))
})()

/**
 * Start ssh with inherited stdio; resolves once it runs, rejects with exec's
 * error (an exec failure) when it cannot be started. Where util-linux's
 * setpriv is there, ssh is started through it with a parent-death signal, so
 * that ssh goes too if autossh is killed without a chance to clean up
 * (SIGKILL, the OOM killer).
 */
export const startSsh = async (path: string, args: readonly string[], tie = hasSetpriv(), onLine?: (line: string) => void): Promise<SshChild> => {
  const [file, argv] = tie ? [SETPRIV, ['--pdeathsig', 'KILL', '--', path, ...args]] : [path, [...args]]
  // node's own spawn, not execa: execa costs 13 MB of memory and 60 ms before
  // ssh can start, and ssh needs nothing of it (inherited stdin and stdout)
  const sub = spawn(file, argv, { stdio: ['inherit', 'inherit', onLine ? 'pipe' : 'inherit'] })
  const said = sub.stderr ? passThrough(sub.stderr, onLine!) : undefined
  // the program gone since findExecutable() saw it, or EAGAIN: 'error' comes, and no 'spawn' nor 'exit'
  await new Promise((resolve, reject) => sub.on('error', reject).once('spawn', resolve))
  const pid = sub.pid!
  const exited = new Promise<SshExit>(resolve =>
    sub.once('exit', (code, signal) => {
      const exit = { code: signal ? null : code, signal: signal ? os.signals[signal] : null }
      // what ssh said before it went is told before its exit; a child of ssh's holding
      // its stderr open (ControlPersist) does not hold up the news
      if (said === undefined) return resolve(exit)
      const settle = setTimeout(() => resolve(exit), STDERR_SETTLE_MS)
      void said.then(() => {
        clearTimeout(settle)
        resolve(exit)
      })
    }),
  )
  let gone = false
  void exited.then(() => (gone = true))
  return {
    pid,
    exited,
    kill(graceMs, onForce) {
      if (gone) return
      const signal = (s: NodeJS.Signals) => {
        try {
          process.kill(pid, s)
          /* c8 ignore next 3 */
        } catch {
          // gone between our look and the signal
        }
      }
      signal('SIGTERM')
      const timer = setTimeout(() => {
        /* c8 ignore next */
        if (gone) return
        onForce()
        signal('SIGKILL')
      }, graceMs)
      void exited.then(() => clearTimeout(timer))
    },
  }
}
