// Where log lines go: a file (AUTOSSH_LOGFILE), the system log, or stderr.
import { openSync, writeSync, closeSync, fstatSync, statSync, type Stats } from 'node:fs'
import { fileLine } from './format.js'

export interface Target {
  name: 'file' | 'syslog' | 'stderr'
  /** log one message (one line, already escaped); true when it went to stderr */
  write(level: number, message: string): boolean
  close(): void
  /**
   * resolves once every line written is out of this process; whatever still
   * holds lines after deadlineMs is killed, so that nothing of ours outlives us
   */
  closed?(deadlineMs: number): Promise<void>
}

/** write all of it, and never let a full or closed stream take autossh down */
export const writeAll = (fd: number, text: string): void => {
  try {
    writeSync(fd, text)
  } catch {
    // nowhere left to report it
  }
}

/** a message on stderr, in the log file's format */
export const toStderr = (message: string): true => {
  writeAll(2, fileLine(new Date(), process.pid, message))
  return true
}

const sameFile = (a: Stats, b: Stats) => a.ino === b.ino && a.dev === b.dev

/**
 * Append to a file; throws the open error (ENOENT, EACCES, ...). Before each
 * line it looks whether the path still names the file it holds (one stat: log
 * lines are rare), and when it does not (renamed by logrotate, or removed)
 * opens the path again, creating it if need be, as the first open did. If
 * that fails, lines go on into the file it holds.
 */
export const fileTarget = (path: string): Target => {
  let fd = openSync(path, 'a', 0o644)
  let held = fstatSync(fd)
  const follow = () => {
    try {
      if (sameFile(statSync(path), held)) return
    } catch {
      // gone: made again below
    }
    try {
      const next = openSync(path, 'a', 0o644)
      closeSync(fd)
      fd = next
      held = fstatSync(fd)
    } catch {
      // keep the one we have
    }
  }
  return {
    name: 'file',
    write: (_level, message) => {
      follow()
      writeAll(fd, fileLine(new Date(), process.pid, message))
      return false
    },
    close: () => closeSync(fd),
  }
}
