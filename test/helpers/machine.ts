// Driving the pure supervise machine in tests: events at given times in,
// its actions out as short text, and a check that holds throughout: the
// machine never exits with a timer still armed (it would fire into an
// exited run, or hold the process up).
import { initialState, step, type Action, type Event, type Plan, type State } from '../../src/machine/supervise.js'

/** the actions that only tell (status, traces), left out where a test is about what is done */
const TELLING = new Set(['status', 'record-probe', 'trace', 'forwards'])

export interface Driven {
  state: State
  out: string[]
  /** the timers armed and neither disarmed nor fired */
  armed: Set<string>
}

/** the timer whose firing an event is */
const FIRED: Partial<Record<Event['type'], string>> = { waited: 'wait', poll: 'poll', lifetime: 'lifetime', early: 'early', settled: 'settle', reask: 'reask' }

export const show = (a: Action): string => {
  switch (a.type) {
    case 'log':
      return `log${a.level} ${a.message}`
    case 'arm':
      return `arm ${a.timer} ${a.ms}`
    case 'disarm':
      return `disarm ${a.timer}`
    case 'exit':
      return `exit ${a.status}`
    case 'probe':
      return `probe ${a.deadlines.join('+')}${a.quiet ? ' quiet' : ''}`
    case 'status':
      return `status ${a.state}${a.reason ? ` ${a.reason}` : ''}`
    case 'trace':
      return `trace ${a.message}`
    default:
      return a.type
  }
}

/**
 * Feed events at given times (seconds) from a state (or where an earlier
 * drive ended), with Math.random fixed at 0.5; telling: keep the status and
 * trace actions too.
 */
export const drive = (events: [number, Event][], plan: Plan, from: State | Driven = initialState(), { telling = false } = {}): Driven => {
  let s = 'phase' in from ? from : from.state
  const armed = new Set('phase' in from ? [] : from.armed)
  const out: string[] = []
  for (const [at, e] of events) {
    const [next, actions] = step(s, e, at * 1000, plan, () => 0.5)
    s = next
    if (FIRED[e.type]) armed.delete(FIRED[e.type]!)
    for (const a of actions) {
      if (a.type === 'arm') armed.add(a.timer)
      if (a.type === 'disarm') armed.delete(a.timer)
      if (a.type === 'exit' && armed.size) throw new Error(`exits with timers armed: ${[...armed].join(', ')}`)
    }
    out.push(...actions.filter(a => telling || !TELLING.has(a.type)).map(show))
  }
  return { state: s, out, armed }
}
