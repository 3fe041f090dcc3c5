// -f: run in the background, as daemon(0, 0) does for autossh: a new
// session without a terminal, cwd /, stdio on /dev/null. Node cannot fork,
// so the foreground starts a detached copy of itself and waits until that
// copy reports that it is set up (or why it is not), then exits.
import { closeSync, writeSync } from 'node:fs'
import type { Readable } from 'node:stream'

/** set in the background copy: the descriptor on which it reports to the foreground */
export const READY_FD_ENV = 'AUTOSSH_DAEMON_READY_FD'
export const READY = 'ready'

// this very program: the background copy runs what the foreground ran
const CLI = process.argv[1]!

/** what the foreground says when it is told to exit before the background copy runs */
export const TOLD_TO_EXIT = 'told to exit while starting'

/**
 * In the foreground: start the background copy; resolves with its complaint,
 * or undefined once it runs. Aborted (the foreground told to exit meanwhile),
 * the background copy is told to exit too, and it is a complaint.
 */
export const detach = async (argv: readonly string[], env: NodeJS.ProcessEnv, abort: AbortSignal): Promise<string | undefined> => {
  // execa here, where its start-up cost is paid once by a process about to exit
  const { execa } = await import('execa')
  const child = execa(process.execPath, [...process.execArgv, CLI, ...argv], {
    detached: true,
    cleanup: false,
    cwd: '/',
    stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
    env: { ...env, [READY_FD_ENV]: '3' },
    extendEnv: false,
    reject: false,
    buffer: false,
    // SIGTERM to the copy when the foreground is told to exit, also if it was before the copy started
    cancelSignal: abort,
    forceKillAfterDelay: false,
  })
  return new Promise(resolve => {
    const pipe = child.stdio[3] as Readable
    let said = ''
    pipe.setEncoding('utf8')
    pipe.on('data', (text: string) => (said += text))
    pipe.on('error', () => {})
    pipe.on('close', () => {
      child.unref()
      // the background copy said nothing only if it died before it could (a crash, a kill)
      if (abort.aborted) resolve(TOLD_TO_EXIT)
      else resolve(said === READY ? undefined : said.trim() || 'background process exited')
    })
  })
}

/** in the background copy: the descriptor to report on, taken out of the environment ssh will get */
export const takeReadyFd = (env: NodeJS.ProcessEnv): number | undefined => {
  const fd = env[READY_FD_ENV]
  delete env[READY_FD_ENV]
  return fd === undefined ? undefined : Number(fd)
}

/** in the background copy: tell the foreground how set-up went, once */
export const report = (fd: number, text: string): void => {
  try {
    writeSync(fd, text)
    closeSync(fd)
  } catch {
    // the foreground is gone
  }
}
