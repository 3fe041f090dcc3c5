// What the kernel shows of a TCP socket and of a namespace's TCP counters,
// read from text: the lines of /proc/net/tcp and tcp6 (tcp4_seq_show() and
// tcp6_seq_show(); Documentation/networking/proc_net_tcp.rst), the Tcp:
// lines of /proc/net/snmp, and the targets of /proc/PID/fd links. Pure: the
// I/O is in connection.ts.
//
// A line of /proc/net/tcp, by whitespace-separated field (checked against
// real sockets here, kernel 6.18, and get_tcp4_sock()):
//   0 "sl:"  1 local addr:port  2 remote addr:port  3 st (hex)
//   4 tx_queue:rx_queue (hex; established: write_seq - snd_una, i.e. bytes
//     written and not acknowledged, sent or not; rcv_nxt - copied_seq)
//   5 tr:tm->when (tr 0 none, 1 retransmit / loss probe / reorder timer,
//     2 keepalive, 3 TIME_WAIT, 4 zero-window probe; when: time to it in
//     USER_HZ, 1/100 s, not jiffies as the document says)
//   6 retrnsmt (hex; icsk_retransmits: RTOs in a row with no ack moving
//     snd_una, reset by any such ack)  7 uid  8 timeout (icsk_probes_out:
//     window probes unanswered; reset by any ack)  9 inode
//   10 refcount 11 pointer 12 rto (1/100 s; doubled at each RTO)
//   13 ato 14 quick/pingpong 15 snd_cwnd 16 ssthresh
// TIME_WAIT and request sockets have fewer fields: their inode is 0.

/** the states of include/net/tcp_states.h that matter here */
export const TCP_ESTABLISHED = 1
export const TCP_LISTEN = 10

/** USER_HZ: the unit of /proc/net/tcp's times */
const TICK_MS = 10

export interface TcpSocket {
  /** "10.0.0.5:41234", "[2001:db8::1]:22" */
  local: string
  remote: string
  localAddress: string
  localPort: number
  remoteAddress: string
  remotePort: number
  state: number
  /** bytes written and not yet acknowledged (sent or not) */
  txQueue: number
  rxQueue: number
  /** 0 none, 1 retransmit (or loss probe), 2 keepalive, 3 TIME_WAIT, 4 zero-window probe */
  timerActive: number
  /** ms until that timer fires (0 when due) */
  timerMs: number
  /** retransmission timeouts in a row with no acknowledgement */
  retransmits: number
  uid: number
  /** window probes with no answer (the 'timeout' column) */
  probes: number
  inode: number
  /** the retransmission timeout now, backed off (ms); undefined on short lines */
  rtoMs?: number
}

const hex = (s: string | undefined): number => (s === undefined ? NaN : parseInt(s, 16))

/** a 32-bit word as the kernel printed it (%08X of a __be32 read as a host integer: little-endian here) */
const word = (h: string): Buffer => {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(parseInt(h, 16) >>> 0)
  return b
}

/** the address part of a /proc/net/tcp(6) address: 8 hex digits for IPv4, 32 for IPv6 */
export const decodeAddress = (h: string): string | undefined => {
  if (/^[0-9A-Fa-f]{8}$/.test(h)) return [...word(h)].join('.')
  if (!/^[0-9A-Fa-f]{32}$/.test(h)) return undefined
  const b = Buffer.concat([0, 8, 16, 24].map(i => word(h.slice(i, i + 8))))
  // an IPv4 client on an IPv6 socket: ::ffff:a.b.c.d, as ssh and ip say it
  if (b.subarray(0, 10).every(x => x === 0) && b[10] === 0xff && b[11] === 0xff) return `::ffff:${[...b.subarray(12)].join('.')}`
  const groups: string[] = []
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16))
  // the longest run of zero groups (two or more) becomes '::' (RFC 5952)
  let best = -1
  let len = 0
  for (let i = 0; i < 8; ) {
    let j = i
    while (j < 8 && groups[j] === '0') j++
    if (j - i > len && j - i > 1) [best, len] = [i, j - i]
    i = j === i ? i + 1 : j
  }
  if (best < 0) return groups.join(':')
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + len).join(':')}`
}

/** "host:port" with brackets around an IPv6 host */
export const hostPort = (address: string, port: number): string => (address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`)

const endpoint = (field: string): [string, number] | undefined => {
  const m = /^([0-9A-Fa-f]+):([0-9A-Fa-f]{4})$/.exec(field)
  if (!m) return undefined
  const address = decodeAddress(m[1]!)
  return address === undefined ? undefined : [address, hex(m[2])]
}

/** one line of /proc/net/tcp or tcp6; undefined for the header and for what is not such a line */
export const parseTcpLine = (line: string): TcpSocket | undefined => {
  const f = line.trim().split(/\s+/)
  if (f.length < 10 || !/^\d+:$/.test(f[0]!)) return undefined
  const local = endpoint(f[1]!)
  const remote = endpoint(f[2]!)
  const [tx, rx] = f[4]!.split(':')
  const [tr, when] = f[5]!.split(':')
  const fields = [hex(f[3]), hex(tx), hex(rx), hex(tr), hex(when), hex(f[6]), Number(f[7]), Number(f[8]), Number(f[9])]
  if (!local || !remote || fields.some(Number.isNaN)) return undefined
  const [state, txQueue, rxQueue, timerActive, whenTicks, retransmits, uid, probes, inode] = fields as number[]
  const rto = f[12] === undefined ? NaN : Number(f[12])
  return {
    local: hostPort(...local),
    remote: hostPort(...remote),
    localAddress: local[0],
    localPort: local[1],
    remoteAddress: remote[0],
    remotePort: remote[1],
    state: state!,
    txQueue: txQueue!,
    rxQueue: rxQueue!,
    timerActive: timerActive!,
    // a timer already due prints as 0 now, as a negative number (two's complement) on older kernels
    timerMs: Math.max(0, whenTicks! | 0) * TICK_MS,
    retransmits: retransmits!,
    uid: uid!,
    probes: probes!,
    inode: inode!,
    ...(Number.isNaN(rto) ? {} : { rtoMs: rto * TICK_MS }),
  }
}

/** the sockets of a whole table whose inode is in `inodes` (all of them without) */
export const parseTcpTable = (text: string, inodes?: ReadonlySet<number>): TcpSocket[] => {
  const out: TcpSocket[] = []
  for (const line of text.split('\n')) {
    if (inodes !== undefined) {
      // the inode is the 10th field: look at no other line closely
      const f = line.trim().split(/\s+/, 10)
      if (!inodes.has(Number(f[9]))) continue
    }
    const s = parseTcpLine(line)
    if (s) out.push(s)
  }
  return out
}

/**
 * The line of one socket, found by its inode without splitting the others:
 * a table of 10,000 connections is 1.5 MB of text.
 */
export const findTcpLine = (text: string, inode: number): TcpSocket | undefined => {
  const needle = ` ${inode} `
  for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + 1)) {
    const start = text.lastIndexOf('\n', at) + 1
    const end = text.indexOf('\n', at)
    const s = parseTcpLine(text.slice(start, end < 0 ? undefined : end))
    if (s?.inode === inode) return s
  }
  return undefined
}

/**
 * The counters of one section of /proc/net/snmp or /proc/net/netstat:
 * pairs of lines, names then values, each starting with "Tcp:", "TcpExt:"...
 */
export const parseCounters = (text: string, section: string): Map<string, number> => {
  const out = new Map<string, number>()
  const lines = text.split('\n')
  const head = `${section}:`
  for (let i = 0; i + 1 < lines.length; i++) {
    const names = lines[i]!.trim().split(/\s+/)
    const values = lines[i + 1]!.trim().split(/\s+/)
    if (names[0] !== head || values[0] !== head) continue
    names.slice(1).forEach((n, j) => out.set(n, Number(values[j + 1])))
    i++
  }
  return out
}

/** Tcp: RetransSegs of /proc/net/snmp: every segment the namespace has sent again (timeouts, loss probes, fast retransmits) */
export const retransSegs = (snmp: string): number | undefined => parseCounters(snmp, 'Tcp').get('RetransSegs')

/** the inode of a /proc/PID/fd link's target "socket:[12345]" */
export const socketInode = (target: string): number | undefined => {
  const m = /^socket:\[(\d+)\]$/.exec(target)
  return m ? Number(m[1]) : undefined
}
