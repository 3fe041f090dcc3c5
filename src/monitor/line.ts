// The test line: `<nodename> autossh <pid> <nonce> <AUTOSSH_MESSAGE>\r\n`.
import { hostname } from 'node:os'
import { randomBytes } from '../os/random.js'

/** 48 random bits from the system's cryptographic source, in decimal */
export const newNonce = (): string => randomBytes(6).readUIntBE(0, 6).toString()

export const probeLine = (nonce: string, message: string, pid = process.pid, node = hostname()): string =>
  `${node} autossh ${pid} ${nonce} ${message}\r\n`
