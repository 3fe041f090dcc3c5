// A small file written whole (the pid file, the status file): by temporary
// file and rename where the directory lets us, so that readers never see half
// of it and a symlink planted at its name is replaced, never followed; in place
// where the directory is not ours to write (a pid file that root pre-created
// in /run for the service user), and then only into a regular file of our own,
// opened without following links.
import { closeSync, constants, fstatSync, ftruncateSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { randomBytes } from './random.js'

const { O_RDWR, O_WRONLY, O_NOFOLLOW, O_NONBLOCK } = constants
// O_NONBLOCK: a FIFO planted at the name must not hang us in open()
const NO_FOLLOW = O_NOFOLLOW | O_NONBLOCK

/** what a directory that will not take a new file answers */
const REFUSED = new Set(['EACCES', 'EPERM', 'EROFS'])
const refused = (err: unknown) => REFUSED.has((err as NodeJS.ErrnoException).code!)

export type Written = 'renamed' | 'in-place'

/**
 * Write data to path. Throws the error of the step that failed; where the
 * directory refused the temporary file and the file cannot be written in
 * place either because it is missing or not ours, the directory's error.
 */
export const writeFileSafely = (path: string, data: string): Written => {
  // O_EXCL: a name planted here makes it fail, not follow
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}`)
  let fd: number
  try {
    fd = openSync(tmp, 'wx', 0o644)
  } catch (err) {
    if (!refused(err)) throw err
    writeInPlace(path, data, err)
    return 'in-place'
  }
  try {
    try {
      writeSync(fd, data)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, path)
  } catch (err) {
    unlinkSync(tmp)
    throw err
  }
  return 'renamed'
}

/** open path without following a link; hand back the fd only if it is a regular file of ours */
const openOurs = (path: string, flags: number): number | undefined => {
  const fd = openSync(path, flags | NO_FOLLOW)
  const st = fstatSync(fd)
  // a file we own in a directory we cannot write was given to us on purpose (chown needs root)
  if (st.isFile() && st.uid === process.geteuid!()) return fd
  closeSync(fd)
  return undefined
}

const writeInPlace = (path: string, data: string, dirError: unknown): void => {
  let fd: number | undefined
  try {
    fd = openOurs(path, O_WRONLY)
  } catch (err) {
    // missing: the directory's refusal is the real reason
    throw (err as NodeJS.ErrnoException).code === 'ENOENT' ? dirError : err
  }
  if (fd === undefined) throw dirError
  try {
    // new text first, then cut the old tail: a reader never finds the file empty
    const n = writeSync(fd, data, 0)
    ftruncateSync(fd, n)
  } finally {
    closeSync(fd)
  }
}

/**
 * Remove path if it is a regular file (not a link) and ours(its text) says it
 * is still ours. Where the directory will not let us unlink it (it was written
 * in place), empty it instead, so that no one reads a stale pid from it as
 * ours. Never throws: it runs on the way out.
 */
export const removeIfOurs = (path: string, ours: (text: string) => boolean): void => {
  try {
    // read and write: a file we could not have written is not ours either
    const fd = openOurs(path, O_RDWR)
    if (fd === undefined) return
    try {
      if (!ours(readFileSync(fd, 'utf8'))) return
      try {
        unlinkSync(path)
      } catch {
        ftruncateSync(fd, 0)
      }
    } finally {
      closeSync(fd)
    }
  } catch {
    // gone already, or not a file we may touch
  }
}
