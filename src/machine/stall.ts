// Is ssh's own TCP connection getting its bytes acknowledged? Pure: readings
// of the socket (tcp-table.ts) over time in, a verdict out.
//
// The kernel counts what matters. Every ack that moves snd_una resets
// icsk_retransmits (tcp_ack()), and any ack at all resets the unanswered
// window probes. So N retransmission timeouts in a row means N timeouts, each
// twice as long as the one before, without one byte acknowledged: the line's
// own timing (the RTO is srtt + 4 rttvar, 200 ms at least) says how long the
// silence has lasted. A slow line has a long RTO; a congested one gets acks
// for what it does deliver, and its count stays at 0 (measured on a tbf link
// at 256 kbit/s with a full 1 s queue: 180 KB outstanding, RTO up to 4.2 s,
// retrnsmt never above 0).
//
// The rule: stalled when bytes are outstanding, at least MIN_BACKOFFS timeouts
// in a row have passed with no ack, and the silence has lasted MIN_STALL_MS
// at least.
//  - 3 timeouts in a row: no ack for 7 base RTOs (1 + 2 + 4). A working line
//    whose delay jumps gets at most one spurious timeout: the ack of the
//    original arrives within the jump, and resets the count. On a line 0.4 s
//    each way whose delay jumps by up to 0.5 s, the RTO is 2 to 3 s: three in
//    a row is 14 to 21 s of total silence, several times any jump.
//  - 5 s at least: on a LAN the base RTO is 200 ms, and 3 timeouts are only
//    1.4 s; a Wi-Fi roam or a brief switch hiccup lasts that long. 5 s keeps
//    a -M 0 tunnel with ServerAliveInterval 10 within 18 s of a silent cut
//    (a keepalive at most 10 s after it, the stall seen 5 to 6 s later).
// How long the silence has lasted is the longer of what was watched (the
// first reading of this stall) and what the kernel's numbers prove: the Nth
// timeout fired `rto - timer` ago, and before it came N timeouts of base
// rto/2^N, 2 base... (a lower bound: the first transmission's loss probe
// and the first RTO's wait came before).

/** what the rule needs of a socket reading (tcp-table.ts's TcpSocket has it) */
export interface Reading {
  txQueue: number
  timerActive: number
  timerMs: number
  retransmits: number
  probes: number
  rtoMs?: number
}

export const MIN_BACKOFFS = 3
export const MIN_STALL_MS = 5000
/** the kernel's TCP_RTO_MAX: the backed-off RTO stops doubling there */
const RTO_MAX_MS = 120000

/** a stall being watched: what it was when first seen */
export interface Episode {
  /** when the silence began, as far as is known (ms, the caller's clock) */
  since: number
  /** timeouts in a row at the last reading */
  backoffs: number
  txQueue: number
  /** told already: a stall is reported once */
  told: boolean
}

export type Verdict =
  | { stalled: false; why: string }
  | {
      stalled: true
      /** how long nothing has been acknowledged, ms */
      forMs: number
      backoffs: number
      /** the backed-off RTO now, ms */
      rtoMs?: number
      txQueue: number
      /** the first verdict of this stall: the one to act on */
      fresh: boolean
    }

/** timeouts in a row with no ack: RTOs, or window probes with no answer (a local send failure shows as these) */
export const backoffsOf = (r: Reading): number => (r.timerActive === 4 ? r.probes : r.timerActive === 1 ? r.retransmits : 0)

/**
 * How long, at least, nothing has been acknowledged, from the kernel's own
 * numbers: the last timeout fired (rto - timer) ago; before it, N timeouts
 * doubling from the base RTO.
 */
export const provenSilenceMs = (r: Reading): number => {
  const n = backoffsOf(r)
  if (n === 0 || r.rtoMs === undefined) return 0
  if (r.timerActive === 4) {
    // window probes back off from the RTO, which stays as it was
    return r.rtoMs * (2 ** n - 1)
  }
  const capped = r.rtoMs >= RTO_MAX_MS
  const base = r.rtoMs / 2 ** n
  // at the cap the base is unknown (smaller than this): count only the last wait
  const before = capped ? 0 : base * (2 ** n - 1)
  return Math.max(0, r.rtoMs - r.timerMs) + before
}

/**
 * One reading of ssh's socket at `now`: the stall it is part of (undefined
 * when the line is fine) and the verdict. Progress of any kind ends a stall:
 * nothing outstanding, the count of timeouts back to 0 or lower than before,
 * fewer bytes outstanding than before.
 */
export const judge = (prev: Episode | undefined, r: Reading, now: number): [Episode | undefined, Verdict] => {
  const n = backoffsOf(r)
  if (r.txQueue === 0) return [undefined, { stalled: false, why: 'nothing outstanding' }]
  if (n === 0) return [undefined, { stalled: false, why: 'no timeout' }]
  const progressed = prev !== undefined && (n < prev.backoffs || r.txQueue < prev.txQueue)
  const seen = prev === undefined || progressed ? now : prev.since
  const since = Math.min(seen, now - provenSilenceMs(r))
  const told = prev !== undefined && !progressed && prev.told
  const forMs = now - since
  const episode: Episode = { since, backoffs: n, txQueue: r.txQueue, told }
  if (n < MIN_BACKOFFS) return [episode, { stalled: false, why: `${n} timeouts in a row` }]
  if (forMs < MIN_STALL_MS) return [episode, { stalled: false, why: `${n} timeouts in a row, ${Math.round(forMs)} ms` }]
  return [
    { ...episode, told: true },
    { stalled: true, forMs, backoffs: n, txQueue: r.txQueue, fresh: !told, ...(r.rtoMs === undefined ? {} : { rtoMs: r.rtoMs }) },
  ]
}
