// Follows an autossh log file (ours or 1.4g's: `YYYY/MM/DD HH:MM:SS
// autossh[pid]: message`), noting when each message was first seen. The log's
// own timestamps have whole seconds only; the bench needs milliseconds, so it
// reads the file often and stamps each line with its own clock.
import { closeSync, openSync, readSync } from 'node:fs'
import { performance } from 'node:perf_hooks'

export interface Entry {
  message: string
  /** performance.now() when the bench first saw the line */
  at: number
}

const PREFIX = /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \S+\[\d+\]: /

interface Waiter {
  test: (message: string) => boolean
  from: number
  resolve: (i: number) => void
}

export class LogTail {
  readonly entries: Entry[] = []
  private pos = 0
  private partial = ''
  private waiters = new Set<Waiter>()
  private timer: NodeJS.Timeout

  constructor(
    private file: string,
    everyMs = 5,
  ) {
    this.timer = setInterval(() => this.pump(), everyMs)
  }

  private pump(): void {
    let fd: number
    try {
      fd = openSync(this.file, 'r')
    } catch {
      return // not written yet
    }
    try {
      const buf = Buffer.alloc(65536)
      for (let n; (n = readSync(fd, buf, 0, buf.length, this.pos)) > 0; ) {
        this.pos += n
        this.partial += buf.toString('utf8', 0, n)
      }
    } finally {
      closeSync(fd)
    }
    const lines = this.partial.split('\n')
    this.partial = lines.pop()!
    const at = performance.now()
    for (const line of lines) if (line) this.entries.push({ message: line.replace(PREFIX, ''), at })
    for (const w of this.waiters) {
      const i = this.entries.findIndex((e, i) => i >= w.from && w.test(e.message))
      if (i >= 0) {
        this.waiters.delete(w)
        w.resolve(i)
      }
    }
  }

  /** the index of the first entry at or after `from` that passes, once it has been seen */
  waitFor(test: (message: string) => boolean, from: number, timeoutMs: number, what: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        test,
        from,
        resolve: i => {
          clearTimeout(timer)
          resolve(i)
        },
      }
      const timer = setTimeout(() => {
        this.waiters.delete(w)
        reject(new Error(`no ${what} in the log within ${timeoutMs} ms`))
      }, timeoutMs)
      this.waiters.add(w)
      this.pump()
    })
  }

  /** pids from `ssh child pid is P`, in order */
  sshPids(): number[] {
    return this.entries.flatMap(e => {
      const m = /^ssh child pid is (\d+)$/.exec(e.message)
      return m ? [Number(m[1])] : []
    })
  }

  stop(): void {
    clearInterval(this.timer)
    this.pump()
  }
}
