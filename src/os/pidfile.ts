// AUTOSSH_PIDFILE: written whole or not at all, never through a symlink
// planted at its path, removed on every way out (see safe-write.ts).
import { removeIfOurs, writeFileSafely } from './safe-write.js'

/** write our pid and a newline; throws the error of the step that failed */
export const writePidFile = (path: string, pid = process.pid): void => {
  writeFileSafely(path, `${pid}\n`)
}

/** remove the pid file (or, in a directory we cannot write, empty it) if it still holds our pid */
export const removePidFile = (path: string, pid = process.pid): void =>
  removeIfOurs(path, text => text.trim() === String(pid))
