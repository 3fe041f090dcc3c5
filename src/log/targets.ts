// Where log lines go: a file (AUTOSSH_LOGFILE), the system log, or stderr.
import { openSync, writeSync, closeSync } from 'node:fs'
import { fileLine } from './format.js'

export interface Target {
  name: 'file' | 'syslog' | 'stderr'
  write(level: number, message: string): void
  close(): void
  /** resolves once every line written is out of this process */
  closed?(): Promise<void>
}

/** write all of it, and never let a full or closed stream take autossh down */
export const writeAll = (fd: number, text: string): void => {
  try {
    writeSync(fd, text)
  } catch {
    // nowhere left to report it
  }
}

export const stderrTarget = (): Target => ({
  name: 'stderr',
  write: (_level, message) => writeAll(2, fileLine(new Date(), process.pid, message)),
  close: () => {},
})

/** append to a file; throws the open error (ENOENT, EACCES, ...) */
export const fileTarget = (path: string): Target => {
  const fd = openSync(path, 'a', 0o644)
  return {
    name: 'file',
    write: (_level, message) => writeAll(fd, fileLine(new Date(), process.pid, message)),
    close: () => closeSync(fd),
  }
}
