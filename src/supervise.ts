// The state machine of one supervised ssh. Pure: each event and the time it
// happened give the next state and the actions for the I/O shell to carry
// out. autossh 1.4g's ssh_run() and ssh_watch() loops, written as states.
import { graceTime } from './backoff.js'
import { LOG_DEBUG, LOG_ERR, LOG_INFO } from './log/levels.js'
import { judgeExit, type SshExit } from './verdict.js'

export interface Plan {
  /** -1: no limit */
  maxStart: number
  /** seconds */
  gateTime: number
  pollTime: number
  firstPollTime: number
  /** seconds from autossh's start; 0: forever */
  maxLifetime: number
  /** a probe runs at each poll */
  monitoring: boolean
}

export type ExitSignal = 'SIGTERM' | 'SIGINT' | 'SIGQUIT' | 'SIGABRT'
export type Signal = ExitSignal | 'SIGUSR1' | 'SIGHUP'

export type Event =
  | { type: 'begin' }
  /** the backoff wait is over */
  | { type: 'waited' }
  | { type: 'spawned'; pid: number }
  | { type: 'spawn-failed'; message: string }
  | ({ type: 'exited' } & SshExit)
  /** time for a probe */
  | { type: 'poll' }
  | { type: 'probed'; ok: boolean }
  /** AUTOSSH_MAXLIFETIME has passed */
  | { type: 'lifetime' }
  | { type: 'signal'; signal: Signal; number: number }

export type Action =
  /** stderr: the message ends autossh and must reach a person at a terminal too */
  | { type: 'log'; level: number; message: string; stderr?: true }
  | { type: 'arm'; timer: 'wait' | 'poll' | 'lifetime'; ms: number }
  | { type: 'disarm'; timer: 'wait' | 'poll' | 'lifetime' }
  | { type: 'spawn' }
  | { type: 'probe' }
  | { type: 'cancel-probe' }
  /** SIGTERM to ssh, SIGKILL if it lingers; an 'exited' event follows */
  | { type: 'kill' }
  | { type: 'exit'; status: 0 | 1 }

type After = { restart: true } | { restart: false; status: 0 | 1 }

export type Phase =
  | { name: 'idle' }
  | { name: 'backoff' }
  | { name: 'running'; pid: number; probing: boolean }
  /** ssh has been told to go; what comes once it has */
  | { name: 'stopping'; after: After }
  | { name: 'done' }

export interface State {
  phase: Phase
  startCount: number
  /** ms timestamp of the last start */
  lastStart: number
  /** rapid restarts in a row, for the backoff */
  tries: number
}

export const initialState = (): State => ({ phase: { name: 'idle' }, startCount: 0, lastStart: -Infinity, tries: 0 })

type Step = [State, Action[]]

const log = (level: number, message: string): Action => ({ type: 'log', level, message })

const finish = (s: State, actions: Action[], status: 0 | 1): Step => [
  { ...s, phase: { name: 'done' } },
  [...actions, { type: 'disarm', timer: 'lifetime' }, { type: 'exit', status }],
]

/** stop ssh; `after` says what comes once it has gone */
const stop = (s: State, actions: Action[], after: After): Step => [
  { ...s, phase: { name: 'stopping', after } },
  [...actions, { type: 'disarm', timer: 'poll' }, { type: 'cancel-probe' }, { type: 'kill' }],
]

const start = (s: State, now: number, plan: Plan): Step => {
  const count = plan.maxStart < 0 ? `count ${s.startCount}` : `count ${s.startCount} of ${plan.maxStart}`
  return [
    { ...s, phase: { name: 'idle' }, lastStart: now },
    [log(LOG_INFO, `starting ssh (${count})`), { type: 'spawn' }],
  ]
}

/** a backoff wait cut short */
const wake = (s: State, now: number, plan: Plan): Step => {
  const [started, actions] = start(s, now, plan)
  return [started, [{ type: 'disarm', timer: 'wait' }, ...actions]]
}

/** the top of autossh's loop: count, back off, start */
const next = (s: State, now: number, plan: Plan, actions: Action[] = []): Step => {
  if (plan.maxStart >= 0 && s.startCount >= plan.maxStart) {
    return finish(s, [...actions, log(LOG_INFO, 'max start count reached; exiting')], 0)
  }
  const grace = graceTime(s.tries, (now - s.lastStart) / 1000, plan.pollTime)
  const counted = { ...s, startCount: s.startCount + 1, tries: grace.tries }
  const checked = [...actions, log(LOG_DEBUG, `checking for grace period, tries = ${grace.tries}`)]
  if (grace.waitMs > 0) {
    return [
      { ...counted, phase: { name: 'backoff' } },
      [...checked, log(LOG_DEBUG, `sleeping for grace time ${grace.waitMs / 1000} secs`), { type: 'arm', timer: 'wait', ms: grace.waitMs }],
    ]
  }
  const [started, more] = start(counted, now, plan)
  return [started, [...checked, ...more]]
}

export const step = (s: State, e: Event, now: number, plan: Plan): Step => {
  const p = s.phase
  if (p.name === 'done') return [s, []]

  switch (e.type) {
    case 'begin': {
      const arm: Action[] = plan.maxLifetime > 0 ? [{ type: 'arm', timer: 'lifetime', ms: plan.maxLifetime * 1000 }] : []
      return next(s, now, plan, arm)
    }

    case 'waited':
      return p.name === 'backoff' ? start(s, now, plan) : [s, []]

    case 'spawned': {
      const arm: Action[] = plan.monitoring ? [{ type: 'arm', timer: 'poll', ms: plan.firstPollTime * 1000 }] : []
      return [{ ...s, phase: { name: 'running', pid: e.pid, probing: false } }, [log(LOG_INFO, `ssh child pid is ${e.pid}`), ...arm]]
    }

    case 'spawn-failed':
      return finish(s, [{ type: 'log', level: LOG_ERR, message: e.message, stderr: true }], 1)

    case 'exited': {
      if (p.name === 'stopping') {
        return p.after.restart ? next(s, now, plan) : finish(s, [], p.after.status)
      }
      if (p.name !== 'running') return [s, []]
      const quiet: Action[] = [{ type: 'disarm', timer: 'poll' }, { type: 'cancel-probe' }]
      const v = judgeExit(e, { firstRun: s.startCount === 1, gateTime: plan.gateTime, ranFor: (now - s.lastStart) / 1000 })
      const said = [...quiet, log(v.level, v.message)]
      return v.restart ? next(s, now, plan, said) : finish(s, said, v.status)
    }

    case 'poll':
      if (p.name !== 'running' || p.probing) return [s, []]
      return [{ ...s, phase: { ...p, probing: true } }, [{ type: 'probe' }]]

    case 'probed':
      if (p.name !== 'running' || !p.probing) return [s, []]
      if (e.ok) {
        return [{ ...s, phase: { ...p, probing: false } }, [{ type: 'arm', timer: 'poll', ms: plan.pollTime * 1000 }]]
      }
      return stop(s, [log(LOG_INFO, 'port down, restarting ssh')], { restart: true })

    case 'lifetime': {
      const said = [log(LOG_INFO, 'exceeded maximum time to live, shutting down')]
      if (p.name === 'running') return stop(s, said, { restart: false, status: 0 })
      if (p.name === 'stopping') return [{ ...s, phase: { name: 'stopping', after: { restart: false, status: 0 } } }, said]
      return finish(s, [...said, { type: 'disarm', timer: 'wait' }], 0)
    }

    case 'signal':
      switch (e.signal) {
        case 'SIGUSR1':
          if (p.name === 'running') return stop(s, [log(LOG_INFO, 'signalled to kill and restart ssh')], { restart: true })
          return p.name === 'backoff' ? wake(s, now, plan) : [s, []]
        case 'SIGHUP':
          // autossh 1.4g dies of a HUP while it backs off; here it means: try now
          return p.name === 'backoff' ? wake(s, now, plan) : [s, []]
        default: {
          const why = `received signal to exit (${e.number})`
          if (p.name === 'running') return stop(s, [log(LOG_INFO, why)], { restart: false, status: 1 })
          if (p.name === 'stopping') return [{ ...s, phase: { name: 'stopping', after: { restart: false, status: 1 } } }, [log(LOG_INFO, why)]]
          return finish(s, [log(LOG_ERR, 'signalled to exit'), { type: 'disarm', timer: 'wait' }], 1)
        }
      }
  }
}
