// A resume from suspend, noticed. The timers of the loop run on the monotonic
// clock, which stands still while the machine sleeps; CLOCK_BOOTTIME (the
// first number of /proc/uptime) goes on counting. Sampled side by side at a
// low rate, the second running ahead of the first is the time slept. Cheap:
// one read of /proc/uptime every 5 s (measured: about 20 µs of CPU).
import { readFileSync } from 'node:fs'
import { tracer } from '../os/trace.js'

const trace = tracer('autossh:resume')

/**
 * How long the machine was suspended between two samples, in ms, if longer
 * than thresholdMs: the boot clock's progress beyond the monotonic clock's.
 */
export const suspended = (prevBoot: number, boot: number, prevMono: number, mono: number, thresholdMs: number): number | undefined => {
  const slept = boot - prevBoot - (mono - prevMono)
  return slept > thresholdMs ? slept : undefined
}

/** CLOCK_BOOTTIME in ms, from /proc/uptime (10 ms steps) */
export const bootTime = (): number => Number(readFileSync('/proc/uptime', 'latin1').split(' ')[0]) * 1000

export const RESUME_INTERVAL_MS = 5000
/** the clocks agree to /proc/uptime's 10 ms steps: anything over a second is sleep */
export const RESUME_THRESHOLD_MS = 1000

export interface ResumeWatchOptions {
  intervalMs?: number
  thresholdMs?: number
  /** the clock that counts suspended time, in ms */
  readBoot?: () => number
  /** the clock the timers run on, in ms */
  readMono?: () => number
}

export interface ResumeWatch {
  close(): void
}

/**
 * Call onResume(sleptMs) when the machine has been suspended, at most
 * intervalMs after it resumed. Where /proc/uptime cannot be read the wall
 * clock stands in for it: a wall clock set forward then counts as sleep,
 * which costs a probe, no more.
 */
export const watchResume = (onResume: (sleptMs: number) => void, opts: ResumeWatchOptions = {}): ResumeWatch => {
  const intervalMs = opts.intervalMs ?? RESUME_INTERVAL_MS
  const thresholdMs = opts.thresholdMs ?? RESUME_THRESHOLD_MS
  const readMono = opts.readMono ?? (() => performance.now())
  let readBoot = opts.readBoot ?? bootTime
  let boot: number
  try {
    boot = readBoot()
  } catch (e) {
    trace('cannot read /proc/uptime (%s): the wall clock tells suspends', (e as Error).message)
    readBoot = () => Date.now()
    boot = readBoot()
  }
  let mono = readMono()
  const timer = setInterval(() => {
    let b: number
    try {
      b = readBoot()
    } catch (e) {
      // out of file descriptors, say: this look is lost, not the process
      trace('cannot read the boot clock: %s', (e as Error).message)
      return
    }
    const m = readMono()
    const slept = suspended(boot, b, mono, m, thresholdMs)
    boot = b
    mono = m
    if (slept === undefined) return
    trace('resumed after %d ms asleep', Math.round(slept))
    onResume(Math.round(slept))
  }, intervalMs)
  // a helper of the loop, never what keeps the process alive
  timer.unref()
  return { close: () => clearInterval(timer) }
}
