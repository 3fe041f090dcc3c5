// Follows an autossh log file (ours or 1.4g's: `YYYY/MM/DD HH:MM:SS
// autossh[pid]: message`), noting when each message was first seen. The log's
// own timestamps have whole seconds only; the bench needs milliseconds, so the
// file is read often and each line stamped with this process's clock. Used by
// the bench and the demo.
import { closeSync, openSync, readSync } from 'node:fs'
import { performance } from 'node:perf_hooks'

export interface Entry {
  /** as autossh wrote it, without the date: `autossh[pid]: message` */
  line: string
  message: string
  /** performance.now() when the line was first seen */
  at: number
}

const DATE = /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d /
const TAG = /^\S+\[\d+\]: /

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
    private onEntry?: (e: Entry) => void,
    everyMs = 5,
  ) {
    this.timer = setInterval(() => this.pump(), everyMs)
  }

  /** read what is new in the file now, as the timer does every everyMs */
  pump(): void {
    let fd: number
    try {
      fd = openSync(this.file, 'r')
    } catch {
      return // not written yet, or its directory is gone already
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
    for (const raw of lines) {
      if (!raw) continue
      const line = raw.replace(DATE, '')
      const e = { line, message: line.replace(TAG, ''), at }
      this.entries.push(e)
      this.onEntry?.(e)
    }
    for (const w of this.waiters) {
      const i = this.find(w.test, w.from)
      if (i >= 0) {
        this.waiters.delete(w)
        w.resolve(i)
      }
    }
  }

  /** the index of the first entry at or after `from` that passes, or -1 */
  find(test: (message: string) => boolean, from = 0): number {
    for (let i = from; i < this.entries.length; i++) if (test(this.entries[i]!.message)) return i
    return -1
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
