// The wait before starting ssh again after rapid failures, as autossh 1.4g's
// grace_time(): five quick retries, then waits that grow with the square of
// the further tries, never longer than the poll time.

export const N_FAST_TRIES = 5

export interface Grace {
  /** starts in a row that came too soon after the one before */
  tries: number
  /** milliseconds to wait before this start */
  waitMs: number
}

/**
 * @param tries the count from the previous start
 * @param sinceLastStart seconds since the previous start (Infinity before the first)
 * @param pollTime seconds
 */
// eslint-disable-next-line @typescript-eslint/no-unused-vars
export const graceTime = (tries: number, sinceLastStart: number, pollTime: number, _random: () => number = Math.random): Grace => {
  // an ssh that stayed up this long counts as a success
  const minTime = Math.max(Math.floor(pollTime / 10), 10)
  const next = sinceLastStart >= minTime ? 0 : tries + 1
  if (next <= N_FAST_TRIES) return { tries: next, waitMs: 0 }
  const t = next - N_FAST_TRIES
  const secs = Math.floor((pollTime / 100) * (t * (t / 3)))
  return { tries: next, waitMs: Math.min(secs, pollTime) * 1000 }
}

/** the steady wait while a remote port is held (placeholder until the jittered schedule lands) */
export const heldPortWait = (random: () => number): number => 2000 + Math.floor(random() * 2000)
