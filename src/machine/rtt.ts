// The round trip of a probe, estimated as TCP estimates its own (RFC 6298),
// and the deadlines it gives a probe: long enough for the line as it is,
// short enough that a dead line is seen quickly.

export interface Rtt {
  /** smoothed round trip, ms */
  srtt: number
  /** its mean deviation, ms */
  rttvar: number
}

/**
 * No deadline below this: a loaded machine, a garbage-collection pause or
 * ssh's own scheduling must not fail a probe on a fast line. Through real ssh
 * on loopback, with the test suite loading both cores, 40,000 probes took at
 * most 130 ms on kept connections and 290 ms on fresh ones (p99 14 and 58 ms;
 * npm run bench -- --long-only).
 */
export const FLOOR_MS = 400
/** RFC 6298's clock granularity G: the least margin over the smoothed round trip */
export const MARGIN_MS = 100

/** RFC 6298 (2.2, 2.3): fold one measured round trip into the estimate */
export const sample = (r: Rtt | undefined, ms: number): Rtt =>
  r === undefined
    ? { srtt: ms, rttvar: ms / 2 }
    : { srtt: (7 / 8) * r.srtt + ms / 8, rttvar: (3 / 4) * r.rttvar + Math.abs(r.srtt - ms) / 4 }

/** RFC 6298's RTO: SRTT + max(G, 4 RTTVAR), within [FLOOR_MS, ceiling] */
export const timeout = (r: Rtt, ceilingMs: number): number =>
  Math.min(ceilingMs, Math.max(FLOOR_MS, Math.ceil(r.srtt + Math.max(MARGIN_MS, 4 * r.rttvar))))

export interface Estimates {
  /** probes whose test connections were already open: one round trip */
  warm?: Rtt
  /** probes that opened their connections: ssh opens channels first */
  cold?: Rtt
}

/** fold a passed probe's round trip into the estimate of its kind */
export const measure = (e: Estimates, ms: number, fresh: boolean): Estimates =>
  fresh ? { ...e, cold: sample(e.cold, ms) } : { ...e, warm: sample(e.warm, ms) }

/**
 * The deadlines of one probe, ms: the first try on the connections as they
 * are, and a second try on fresh ones (while the first try's answer is
 * still welcome). Before anything is measured, one try with 1.4g's whole
 * net timeout. The second try backs off as TCP does (twice the first), and
 * gets no less than a fresh probe's own estimate; together they never take
 * longer than 1.4g's timeout (ceilingMs).
 */
export const deadlines = (e: Estimates, ceilingMs: number): number[] => {
  const first = e.warm ?? e.cold
  if (first === undefined || e.cold === undefined) return [ceilingMs]
  const d1 = timeout(first, Math.floor(ceilingMs / 2))
  const d2 = Math.min(ceilingMs - d1, Math.max(2 * d1, timeout(e.cold, ceilingMs)))
  return [d1, d2]
}
