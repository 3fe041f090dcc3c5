// Timers for any number of seconds autossh accepts (setTimeout stops at 24.8 days).
const MAX_DELAY = 2 ** 31 - 1

export interface Timer {
  cancel(): void
}

export const after = (ms: number, fn: () => void): Timer => {
  let handle: NodeJS.Timeout
  const due = performance.now() + ms
  const arm = (left: number) => {
    handle = setTimeout(() => {
      const rest = due - performance.now()
      if (rest > 0) arm(rest)
      else fn()
    }, Math.min(Math.max(left, 0), MAX_DELAY))
  }
  arm(ms)
  return { cancel: () => clearTimeout(handle) }
}

/** the one clock the supervise loop reads: monotonic milliseconds */
export const now = (): number => performance.now()
