// ssh's own TCP connection, watched through what the kernel already knows
// of it: no byte is sent. Two things are told:
//  - its local address is on no interface any more (this machine's address
//    changed): the connection is dead for certain. Checked when the network
//    changes (network.ts's events), by binding a UDP socket to that address:
//    the kernel refuses an address it does not have (EADDRNOTAVAIL). Nothing
//    is sent; no ioctl, no `ip` run.
//  - bytes outstanding and nothing acknowledged for longer than the line's
//    own timing allows (the rule is in machine/stall.ts).
// Cost. The socket's line is in /proc/PID/net/tcp, a table of every socket
// of ssh's network namespace: 1.5 MB on a server with 10,000 connections.
// It is read only when it can tell something new: once a second the
// namespace's Tcp RetransSegs (/proc/PID/net/snmp, 1.5 KB, the same size
// however many sockets) is read, and the table only when that counter has
// moved (a connection without acks retransmits: a loss probe within 2 round
// trips, then its timeouts), while a stall is being followed, and for a
// while after the network changed (a socket whose address went sends
// nothing, and retransmits nothing: it shows only as window probes); and
// never more often than 100 times what a read takes (TABLE_SHARE).
// ssh's socket is found from /proc/PID/fd: the TCP connection it holds with
// the lowest fd, not accepted on one of its own listening ports (the
// user's forwards), which is the one it opened first, to the server.
import { createSocket } from 'node:dgram'
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, statSync } from 'node:fs'
import { isIPv4 } from 'node:net'
import { judge, type Episode } from '../machine/stall.js'
import type { Event } from '../machine/supervise.js'
import { tracer } from '../os/trace.js'
import { findTcpLine, parseTcpTable, retransSegs, socketInode, TCP_ESTABLISHED, TCP_LISTEN, type TcpSocket } from './tcp-table.js'

const trace = tracer('autossh:connwatch')

export type LinkEvent = Extract<Event, { type: 'link-dead' | 'link-stalled' }>

/** how often the counter is read */
export const CONN_INTERVAL_MS = 1000
/** after a network change, ssh's socket is read at every look for this long */
export const AFTER_CHANGE_MS = 30000
/** ssh not connected yet (or through a ProxyCommand: no socket of its own): looked for again after 1, 2, 4... s, up to this */
export const FIND_MAX_MS = 64000
/**
 * ssh's table is read at most once per TABLE_SHARE times what the last read
 * took: 1 % of one CPU at worst, on a busy server whose counter moves all
 * the time. A quiet machine's table (200 sockets, 5 ms) can be read every
 * second; one of 20,000 sockets (180 ms) every 18 s.
 */
export const TABLE_SHARE = 100

export interface ConnWatchOptions {
  /** the ssh running now, if any */
  sshPid: () => number | undefined
  /** where proc is mounted; tests give a tree of their own */
  proc?: string
  intervalMs?: number
  /** ms, monotonic */
  now?: () => number
  /** is this address still one of this machine's? */
  addressHere?: (address: string) => Promise<boolean>
  /** said once, when the watch cannot work here */
  say?: (message: string) => void
}

export interface ConnWatch {
  /** this machine's network changed: is ssh's address still here? */
  networkChanged(): void
  close(): void
}

/**
 * Does this machine have the address? A UDP socket bound to it says, sending
 * nothing: EADDRNOTAVAIL is no. Anything else (a link-local address wants its
 * interface; no IPv6 here) cannot tell, and counts as yes.
 */
export const addressHere = (address: string): Promise<boolean> =>
  new Promise(resolve => {
    const v4 = address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address
    const s = createSocket(isIPv4(v4) ? 'udp4' : 'udp6')
    const done = (here: boolean) => {
      s.close()
      resolve(here)
    }
    s.once('error', e => done((e as NodeJS.ErrnoException).code !== 'EADDRNOTAVAIL'))
    s.bind({ port: 0, address: v4, exclusive: true }, () => done(true))
  })

/** the TCP sockets ssh holds: inode → fd */
const socketsOf = (proc: string, pid: number): Map<number, number> => {
  const out = new Map<number, number>()
  for (const fd of readdirSync(`${proc}/${pid}/fd`)) {
    try {
      const inode = socketInode(readlinkSync(`${proc}/${pid}/fd/${fd}`))
      if (inode !== undefined) out.set(inode, Number(fd))
    } catch {
      // closed meanwhile
    }
  }
  return out
}

/** ssh's connection to the server among its sockets: established, not accepted on its own listening ports, the lowest fd */
export const pickConnection = (sockets: readonly TcpSocket[], fdOf: ReadonlyMap<number, number>): TcpSocket | undefined => {
  const listening = new Set(sockets.filter(s => s.state === TCP_LISTEN).map(s => s.localPort))
  return sockets
    .filter(s => s.state === TCP_ESTABLISHED && !listening.has(s.localPort))
    .sort((a, b) => fdOf.get(a.inode)! - fdOf.get(b.inode)!)[0]
}

interface Known {
  pid: number
  socket: TcpSocket
  table: 'tcp' | 'tcp6'
  /** ssh shares our network namespace: the address check means something */
  sameNetns: boolean
  told: boolean
}

const netns = (proc: string, pid: number | 'self'): number | undefined => {
  try {
    return statSync(`${proc}/${pid}/ns/net`).ino
  } catch {
    return undefined
  }
}

/**
 * Watch the connection of whichever ssh runs: emit link-dead when its local
 * address is gone, link-stalled when it has had nothing acknowledged for
 * too long (once per stall). Where proc's net files cannot be read, nothing
 * is watched (said once through opts.say).
 */
export const watchConnection = (emit: (e: LinkEvent) => void, opts: ConnWatchOptions): ConnWatch => {
  const proc = opts.proc ?? '/proc'
  const intervalMs = opts.intervalMs ?? CONN_INTERVAL_MS
  const now = opts.now ?? (() => performance.now())
  const here = opts.addressHere ?? addressHere
  try {
    // readable, not read: on a busy server the table alone is megabytes
    for (const file of ['snmp', 'tcp']) closeSync(openSync(`${proc}/self/net/${file}`, 'r'))
  } catch (e) {
    opts.say?.(`ssh's connection is not watched: ${proc}/self/net cannot be read (${(e as Error).message})`)
    return { networkChanged() {}, close() {} }
  }

  let pid: number | undefined
  let known: Known | undefined
  let counter: number | undefined
  let episode: Episode | undefined
  let findAt = 0
  let findWait = intervalMs
  let changedUntil = -Infinity
  let closed = false
  /** the counter moved since the table was last read */
  let pending = false
  let lastTable = -Infinity
  /** what the last read of the table took, ms */
  let tableCostMs = 0

  /** /proc/PID/net/snmp of the ssh watched, kept open: a read at offset 0 is a fresh copy (20 us, not 60 for open-read-close) */
  let snmp: { pid: number; fd: number } | undefined
  const buffer = Buffer.alloc(16384)
  const closeSnmp = () => {
    if (snmp) closeSync(snmp.fd)
    snmp = undefined
  }
  const readCounter = (p: number): number | undefined => {
    try {
      if (snmp?.pid !== p) {
        closeSnmp()
        snmp = { pid: p, fd: openSync(`${proc}/${p}/net/snmp`, 'r') }
      }
      const n = readSync(snmp.fd, buffer, 0, buffer.length, 0)
      return retransSegs(buffer.toString('latin1', 0, n))
    } catch {
      // ssh gone meanwhile
      closeSnmp()
      return undefined
    }
  }

  const find = (p: number, t: number) => {
    let found: Known | undefined
    try {
      const fds = socketsOf(proc, p)
      const inodes = new Set(fds.keys())
      for (const table of ['tcp', 'tcp6'] as const) {
        const sockets = parseTcpTable(readFileSync(`${proc}/${p}/net/${table}`, 'latin1'), inodes)
        const socket = pickConnection(sockets, fds)
        if (socket && (!found || fds.get(socket.inode)! < fds.get(found.socket.inode)!))
          found = { pid: p, socket, table, sameNetns: netns(proc, p) === netns(proc, 'self'), told: false }
      }
    } catch (e) {
      trace('ssh %d: cannot read its sockets: %s', p, (e as Error).message)
    }
    if (found) {
      known = found
      findWait = intervalMs
      trace('ssh %d: its connection %s -> %s (inode %d, %s)', p, found.socket.local, found.socket.remote, found.socket.inode, found.table)
      return
    }
    findAt = t + findWait
    trace('ssh %d: no connection of its own yet; looking again in %d ms', p, findWait)
    findWait = Math.min(FIND_MAX_MS, findWait * 2)
  }

  const look = (k: Known, t: number) => {
    let s: TcpSocket | undefined
    const t0 = performance.now()
    try {
      s = findTcpLine(readFileSync(`${proc}/${k.pid}/net/${k.table}`, 'latin1'), k.socket.inode)
    } catch {
      s = undefined
    }
    tableCostMs = performance.now() - t0
    lastTable = t
    pending = false
    if (s?.state !== TCP_ESTABLISHED) {
      trace('ssh %d: its connection %s is gone', k.pid, k.socket.local)
      known = undefined
      episode = undefined
      findAt = t
      return
    }
    const [next, v] = judge(episode, s, t)
    episode = next
    trace(
      '%s -> %s: tx_queue %d, timer %d in %d ms, %d timeouts, %d probes, rto %s ms: %s',
      s.local,
      s.remote,
      s.txQueue,
      s.timerActive,
      s.timerMs,
      s.retransmits,
      s.probes,
      s.rtoMs,
      v.stalled ? `stalled for ${Math.round(v.forMs)} ms` : v.why,
    )
    if (v.stalled && v.fresh) emit({ type: 'link-stalled', pid: k.pid, remote: s.remote, forMs: Math.round(v.forMs) })
  }

  const tick = () => {
    const p = opts.sshPid()
    if (p !== pid) {
      pid = p
      known = undefined
      episode = undefined
      counter = undefined
      pending = false
      findAt = 0
      findWait = intervalMs
    }
    if (p === undefined) return
    const t = now()
    const c = readCounter(p)
    if (c === undefined) return
    const moved = counter !== undefined && c !== counter
    if (moved) trace('RetransSegs %d -> %d', counter, c)
    pending ||= moved
    counter = c
    if (known === undefined) {
      if (t >= findAt) find(p, t)
      return
    }
    if (!(pending || episode !== undefined || t < changedUntil)) return
    // a table of 20,000 sockets takes 180 ms to read: never more than 1/TABLE_SHARE of the time
    if (t < lastTable + tableCostMs * TABLE_SHARE) return
    look(known, t)
  }

  const timer = setInterval(tick, intervalMs)
  // a helper of the loop, never what keeps the process alive
  timer.unref()
  trace('watching ssh\'s connection: %s/PID/net/snmp every %d ms', proc, intervalMs)

  return {
    networkChanged() {
      changedUntil = now() + AFTER_CHANGE_MS
      // ssh may have connected from a new address: look for its socket at once
      findAt = 0
      const k = known
      if (k === undefined || k.told) return
      if (!k.sameNetns) {
        trace('ssh %d is in another network namespace: its address is not checked', k.pid)
        return
      }
      void here(k.socket.localAddress).then(yes => {
        trace('network changed: %s %s', k.socket.localAddress, yes ? 'is still here' : 'is gone')
        if (yes || closed || known !== k || k.told) return
        k.told = true
        emit({ type: 'link-dead', why: 'address-gone', pid: k.pid, address: k.socket.localAddress, remote: k.socket.remote })
      })
    },
    close() {
      closed = true
      clearInterval(timer)
      closeSnmp()
    },
  }
}
