// The wait before starting ssh again. autossh 1.4g's grace_time() counts
// rapid restarts and, after five quick ones, waits (poll/100)·t²/3 s: at the
// default poll 2, 8, 18, 32, ... 600 s, the same for every client, so a fleet
// that lost its server at one moment comes back at one moment, up to 600 s
// late. Here the first five tries are as quick, then each wait is random
// under a cap that doubles from 16 s to a ceiling of 50 s (a quarter of the
// poll at most): full jitter while the cap grows, which spreads a fleet fast;
// at the ceiling, between 40 % and all of it, which keeps the tries per hour
// down while a returning server is still found within 20 s for half the
// fleet and within 50 s for all of it. bench/herd.ts is the simulation the
// numbers come from.

export const N_FAST_TRIES = 5
/** the cap of the first wait after the quick tries, seconds; it doubles from there */
export const FIRST_CAP_S = 16
/** the cap stops growing here, seconds */
export const CEILING_S = 50
/** ... or here, whichever is less: the cap stays well below the poll time */
export const CEILING_POLL_SHARE = 1 / 4
/** a wait at the ceiling is at least this share of it */
export const FLOOR_AT_CEILING = 0.4
/** below the ceiling a wait is at least this long, seconds (never straight back) */
export const FLOOR_S = 1
/** a forward refused because the server still holds the port: the first retries come within this many ms ... */
export const HELD_PORT_MIN_MS = 2000
/** ... plus a random share of this many */
export const HELD_PORT_SPREAD_MS = 2000
/** the longest quick retry */
export const HELD_QUICK_MAX_MS = HELD_PORT_MIN_MS + HELD_PORT_SPREAD_MS
/** later, about this share of the time the port has been held ... */
export const HELD_SHARE = 1 / 10
/** ... jittered down by up to this share of it ... */
export const HELD_JITTER = 0.2
/** ... and never longer than this: at most one login a minute */
export const HELD_MAX_MS = 60000
/** refusals further apart than this are a new hold, not the same one */
export const HELD_PORT_GAP_MS = HELD_MAX_MS * 1.5
/** the monitor's own port held: ssh is kept, and asking again costs the user's forwards a restart: at least this long between asks ... */
export const MONITOR_REASK_MIN_MS = 30000
/** ... or this share of the time it has been held ... */
export const MONITOR_REASK_SHARE = 1 / 4
/** ... up to this ... */
export const MONITOR_REASK_MAX_MS = 300000
/** ... made longer at random by up to this share, so that a fleet does not ask at one moment */
export const MONITOR_REASK_JITTER = 0.25
export const MONITOR_REASK_GAP_MS = MONITOR_REASK_MAX_MS * (1 + MONITOR_REASK_JITTER) * 1.2

/** a number in [0, 1), as Math.random gives */
export type Random = () => number

export interface Grace {
  /** starts in a row that came too soon after the one before */
  tries: number
  /** milliseconds to wait before this start */
  waitMs: number
  /** the reason, for the trace */
  why: string
}

/** the quick-start threshold of 1.4g: an ssh that stayed up this long (seconds) counts as a success */
export const minTime = (pollTime: number): number => Math.max(Math.floor(pollTime / 10), 10)

/** the highest cap, seconds */
export const ceiling = (pollTime: number): number => Math.min(CEILING_S, pollTime * CEILING_POLL_SHARE)

/** the bounds, seconds, of the wait before the t-th try after the quick ones (t ≥ 1) */
export const waitBounds = (t: number, pollTime: number): { floor: number; cap: number } => {
  const top = ceiling(pollTime)
  const grown = FIRST_CAP_S * 2 ** (t - 1)
  if (grown >= top) return { floor: top * FLOOR_AT_CEILING, cap: top }
  return { floor: FLOOR_S, cap: grown }
}

const secs = (n: number) => `${Number(n.toFixed(3))} s`

/**
 * @param tries the count from the previous start
 * @param sinceLastStart seconds since the previous start (Infinity before the first)
 * @param pollTime seconds
 * @param random the random source; the machine passes its own, tests a fixed one
 */
export const graceTime = (tries: number, sinceLastStart: number, pollTime: number, random: Random = Math.random): Grace => {
  const least = minTime(pollTime)
  if (sinceLastStart >= least) {
    const why = sinceLastStart === Infinity ? 'first start' : `ssh stayed up ${secs(sinceLastStart)} (≥ ${least} s): tries reset`
    return { tries: 0, waitMs: 0, why }
  }
  const next = tries + 1
  if (next <= N_FAST_TRIES) return { tries: next, waitMs: 0, why: `quick try ${next} of ${N_FAST_TRIES}` }
  const { floor, cap } = waitBounds(next - N_FAST_TRIES, pollTime)
  const waitMs = Math.round((floor + (cap - floor) * random()) * 1000)
  return { tries: next, waitMs, why: `try ${next}: a random wait between ${secs(floor)} and ${secs(cap)}` }
}

/**
 * Milliseconds before the next try when a forward was refused because the server
 * still holds the port, heldMs after the first refusal. Quick (2 to 4 s) while a
 * server with ClientAliveInterval may be about to let go; then about a tenth of
 * the time held, so the forward is back within a tenth of the time it was held,
 * and a server that never lets go sees at most a login a minute.
 */
export const heldPortWait = (heldMs: number, random: Random = Math.random): number => {
  const quick = HELD_PORT_MIN_MS + HELD_PORT_SPREAD_MS * random()
  const grown = heldMs * HELD_SHARE * (1 - HELD_JITTER * random())
  return Math.round(Math.min(HELD_MAX_MS, Math.max(quick, grown)))
}

/** milliseconds before asking again for the monitor's own port, held heldMs so far (ssh kept meanwhile) */
export const monitorReaskWait = (heldMs: number, random: Random = Math.random): number => {
  const base = Math.min(MONITOR_REASK_MAX_MS, Math.max(MONITOR_REASK_MIN_MS, heldMs * MONITOR_REASK_SHARE))
  return Math.round(base * (1 + MONITOR_REASK_JITTER * random()))
}
