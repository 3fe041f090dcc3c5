// Timers for any number of seconds autossh accepts (setTimeout stops at 24.8 days).
const MAX_DELAY = 2 ** 31 - 1

export interface Timer {
  cancel(): void
}

/** call fn after ms; maxDelay is setTimeout's limit, a parameter only so that tests can see the re-arming */
export const after = (ms: number, fn: () => void, maxDelay = MAX_DELAY): Timer => {
  let handle: NodeJS.Timeout
  const due = performance.now() + ms
  const arm = (left: number) => {
    handle = setTimeout(() => {
      const rest = due - performance.now()
      if (rest > 0) arm(rest)
      else fn()
    }, Math.min(Math.max(left, 0), maxDelay))
  }
  arm(ms)
  return { cancel: () => clearTimeout(handle) }
}

/** the one clock the supervise loop reads: monotonic milliseconds */
export const now = (): number => performance.now()
