// Random bytes from the kernel's cryptographic source. Read from /dev/urandom
// directly: node:crypto reads the same source, and costs a megabyte of memory
// for the rest of the run.
import { closeSync, openSync, readSync } from 'node:fs'

export const randomBytes = (n: number): Buffer => {
  const bytes = Buffer.alloc(n)
  const fd = openSync('/dev/urandom', 'r')
  try {
    readSync(fd, bytes, 0, n, null)
  } finally {
    closeSync(fd)
  }
  return bytes
}
