// AUTOSSH_PIDFILE: written whole or not at all, never through a symlink
// planted at its path, removed on every way out.
import { closeSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs'
import { randomBytes } from './random.js'
import { basename, dirname, join } from 'node:path'

/**
 * Write our pid to a new file beside the target (O_EXCL: a planted name makes
 * it fail, not follow), then rename it over the target: rename replaces a
 * symlink there instead of writing through it, and readers never see half a
 * file. Throws the error of the step that failed.
 */
export const writePidFile = (path: string, pid = process.pid): void => {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}`)
  const fd = openSync(tmp, 'wx', 0o644)
  try {
    try {
      writeSync(fd, `${pid}\n`)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, path)
  } catch (err) {
    unlinkSync(tmp)
    throw err
  }
}

/** remove the pid file if it is still ours */
export const removePidFile = (path: string, pid = process.pid): void => {
  try {
    if (readFileSync(path, 'utf8').trim() === String(pid)) unlinkSync(path)
  } catch {
    // gone already
  }
}
