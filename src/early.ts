// The first code the bundle runs (src/cli.ts imports it before anything
// else). Handlers for the signals autossh acts on, at once: without them a
// hangup or a SIGTERM in the first moments of start-up (loading the bundle,
// reading the settings, -f before it has detached) kills the process by the
// default action. Signals that come before the supervise loop exists are
// recorded, and the loop takes them as its first events. Then the limits of
// the machine, while a clear message is still possible.
import { readFileSync, writeSync } from 'node:fs'
import { isJitless, limitsComplaint } from './os/limits.js'
import type { Signal } from './machine/supervise.js'

const EARLY: readonly Signal[] = ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGABRT', 'SIGUSR1', 'SIGHUP']

let recorded: Signal[] | undefined = []
// stays installed, so that a signal after the loop has ended, while autossh
// finishes its log, does not kill it either
const record = (signal: Signal) => void recorded?.push(signal)
for (const s of EARLY) process.on(s, record)

/** the signals that came before the loop, in order; from then on they are the loop's to handle */
export const takeEarlySignals = (): Signal[] => {
  const taken = recorded ?? []
  recorded = undefined
  return taken
}

// AUTOSSH_LIMIT_CHECK=0: measure where it really falls over (bench/floor.ts)
if (process.env.AUTOSSH_LIMIT_CHECK !== '0') {
  let complaint: string | undefined
  try {
    complaint = limitsComplaint(readFileSync('/proc/self/limits', 'utf8'), isJitless(process.execArgv, process.env.NODE_OPTIONS))
    /* c8 ignore next 3 */
  } catch {
    // no /proc (not Linux): nothing to check against
  }
  if (complaint !== undefined) {
    writeSync(2, `autossh: ${complaint}\n`)
    process.exit(1)
  }
}
