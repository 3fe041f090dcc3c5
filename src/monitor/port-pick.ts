// No monitor port given, neither -M nor AUTOSSH_PORT: pick one as Debian's
// /usr/bin/autossh wrapper does, and run as if AUTOSSH_PORT were set to it.
// A random port from 32768 up whose pair (port and port+1) no TCP socket on
// this machine has as its local port, 42 tries, then 21021. Unlike the
// wrapper, IPv6 sockets count too, and every port is checked (the wrapper
// compares lower-case hex with the kernel's upper-case, so it sees only ports
// whose hex has no letter).
import { readFileSync } from 'node:fs'
import { randomBytes } from '../os/random.js'

export const PICK_TRIES = 42
export const FALLBACK_PORT = 21021
/** the wrapper's words */
export const NO_FREE_PORT = 'unable to find a suitable tunnel port'
export const TCP_TABLES: readonly string[] = ['/proc/net/tcp', '/proc/net/tcp6']

/**
 * The port: the first of PICK_TRIES random ones (the wrapper's 16 random
 * bits | 0x8000) whose pair is free, else FALLBACK_PORT if its pair is free,
 * else undefined. 65535 is never taken: its pair would end past the last port.
 */
export const pickPort = (random16: () => number, used: ReadonlySet<number>): number | undefined => {
  const free = (p: number) => p < 65535 && !used.has(p) && !used.has(p + 1)
  for (let i = 0; i < PICK_TRIES; i++) {
    const p = (random16() & 0xffff) | 0x8000
    if (free(p)) return p
  }
  return free(FALLBACK_PORT) ? FALLBACK_PORT : undefined
}

/** the local port of every socket in a /proc/net/tcp or tcp6 table, whatever its state */
export const localPorts = (table: string): number[] =>
  [...table.matchAll(/^\s*\d+: [0-9A-Fa-f]+:([0-9A-Fa-f]{4}) /gm)].map(m => parseInt(m[1]!, 16))

/** the local ports in use; a table that cannot be read (tcp6 with IPv6 off) counts as empty */
export const usedPorts = (tables: readonly string[] = TCP_TABLES): Set<number> => {
  const used = new Set<number>()
  for (const path of tables) {
    let text: string
    try {
      text = readFileSync(path, 'utf8')
    } catch {
      continue
    }
    for (const p of localPorts(text)) used.add(p)
  }
  return used
}

/** the monitor port for a command line that gave none; undefined when no pair is free */
export const chooseMonitorPort = (): number | undefined => {
  const bytes = randomBytes(2 * PICK_TRIES)
  let i = 0
  return pickPort(() => bytes.readUInt16LE(2 * i++), usedPorts())
}
