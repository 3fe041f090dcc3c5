// glibc's strerror() texts, which autossh puts in its messages.
import { getSystemErrorMap } from 'node:util'

const GLIBC: Record<string, string> = {
  EACCES: 'Permission denied',
  EADDRINUSE: 'Address already in use',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  ECONNREFUSED: 'Connection refused',
  ECONNRESET: 'Connection reset by peer',
  EEXIST: 'File exists',
  EISDIR: 'Is a directory',
  ELOOP: 'Too many levels of symbolic links',
  ENAMETOOLONG: 'File name too long',
  ENOENT: 'No such file or directory',
  ENOEXEC: 'Exec format error',
  ENOSPC: 'No space left on device',
  ENOTDIR: 'Not a directory',
  EPERM: 'Operation not permitted',
  EROFS: 'Read-only file system',
  ETIMEDOUT: 'Connection timed out',
}

/** the text for an error from node (its `code`, or its `errno`) */
export const strerror = (err: unknown): string => {
  const e = err as NodeJS.ErrnoException
  const code = e.code ?? (e.errno === undefined ? undefined : getSystemErrorMap().get(e.errno)?.[0])
  if (code !== undefined && code in GLIBC) return GLIBC[code]!
  const uv = e.errno === undefined ? undefined : getSystemErrorMap().get(e.errno)?.[1]
  const text = uv ?? e.message ?? String(err)
  return text.charAt(0).toUpperCase() + text.slice(1)
}
