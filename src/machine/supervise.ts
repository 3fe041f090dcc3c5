// The state machine of one supervised ssh. Pure: each event and the time it
// happened give the next state and the actions for the I/O shell to carry
// out. autossh 1.4g's ssh_run() and ssh_watch() loops, written as states,
// and what it does not see: the line's round trip, the network changing
// under the tunnel, and what ssh says on its stderr.
import { graceTime, heldPortWait, HELD_PORT_GAP_MS, HELD_QUICK_MAX_MS, MONITOR_REASK_GAP_MS, monitorReaskWait } from './backoff.js'
import { LOG_DEBUG, LOG_ERR, LOG_INFO } from '../log/levels.js'
import { deadlines, measure, type Estimates } from './rtt.js'
import { isNewAbout, type Said } from '../ssh/says.js'
import { judgeExit, type SshExit } from './verdict.js'
import { heardForwards, sshEnded, sshStarted, tunnelUp, type Forward, type Forwards } from './forwards.js'

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
  /** 1.4g's net timeout: the most a whole probe may take, ms */
  netTimeoutMs: number
  /** AUTOSSH_PROBE_DEADLINE=fixed: every probe gets the whole net timeout, as in 1.4g */
  fixedDeadline?: boolean
  /** AUTOSSH_STOP_STATUS: the exit status after SIGTERM or SIGINT (1.4g: 1) */
  stopStatus?: 0 | 1
  /** pair mode: the port of the monitor's own -R forward, told apart from the user's */
  monitorRemotePort?: number
  /** the forwards ssh is asked for, the user's and the monitor's, before ssh starts */
  forwards?: Forwards
}

export type ExitSignal = 'SIGTERM' | 'SIGINT' | 'SIGQUIT' | 'SIGABRT'
export type Signal = ExitSignal | 'SIGUSR1' | 'SIGHUP'

export type TunnelState = 'starting' | 'up' | 'down' | 'backoff' | 'stopping'

export type Event =
  | { type: 'begin' }
  /** the backoff wait is over */
  | { type: 'waited' }
  | { type: 'spawned'; pid: number }
  | { type: 'spawn-failed'; message: string }
  | ({ type: 'exited' } & SshExit)
  /** time for a probe */
  | { type: 'poll' }
  /** time for an early probe, before the first poll */
  | { type: 'early' }
  /** -M 0: ssh has stayed up long enough to count as up */
  | { type: 'settled' }
  | { type: 'probed'; ok: boolean; rttMs?: number; fresh?: boolean }
  /** AUTOSSH_MAXLIFETIME has passed */
  | { type: 'lifetime' }
  | { type: 'signal'; signal: Signal; number: number }
  /** this machine's addresses, links or routes changed */
  | { type: 'net-changed'; what: string }
  /** the machine slept (suspend) and woke */
  | { type: 'resumed'; sleptMs: number }
  | { type: 'ssh-said'; said: Said }
  /** time to ask the server again for a port it held */
  | { type: 'reask' }
  /** ssh's configuration, learnt again before a start: the forwards it will be asked for */
  | { type: 'configured'; forwards: Forwards }
  /** ssh's own TCP connection (of ssh pid) is dead for certain: its local address is on no interface any more */
  | { type: 'link-dead'; why: 'address-gone'; pid: number; address: string; remote: string }
  /** ssh's own TCP connection has had bytes outstanding and nothing acknowledged for forMs (src/machine/stall.ts) */
  | { type: 'link-stalled'; pid: number; remote: string; forMs: number }

export type Timer = 'wait' | 'poll' | 'lifetime' | 'early' | 'settle' | 'reask'

export type Action =
  /** stderr: the message ends autossh and must reach a person at a terminal too */
  | { type: 'log'; level: number; message: string; stderr?: true }
  | { type: 'arm'; timer: Timer; ms: number }
  | { type: 'disarm'; timer: Timer }
  /** watch: with the monitor's forwards (false: the server holds the monitor's port) */
  | { type: 'spawn'; watch: boolean }
  /** one connection test; a deadline per try; quiet: an early probe, logged at debug level */
  | { type: 'probe'; deadlines: number[]; quiet: boolean }
  | { type: 'cancel-probe' }
  /** SIGTERM to ssh, SIGKILL if it lingers; an 'exited' event follows */
  | { type: 'kill' }
  | { type: 'exit'; status: 0 | 1 }
  /** the tunnel's state for the status file and systemd */
  /** unwatched: why the monitor is off while the tunnel is up (null: watched again) */
  | { type: 'status'; state: TunnelState; reason?: string; sshPid?: number | null; starts: number; unwatched?: string | null }
  /** a probe that counts, for the status file */
  | { type: 'record-probe'; ok: boolean; rttMs: number | null; reason?: string }
  /** a decision and its reason, for DEBUG=autossh:* */
  | { type: 'trace'; message: string }
  /** the user's forwards have changed, for the status file and systemd */
  | { type: 'forwards'; user: Forward[] }

type After = { restart: true } | { restart: false; status: 0 | 1 }

/** the probe in flight */
interface Probing {
  early: boolean
  /** the poll timer is spent: arm it again when this probe passes */
  rearm: boolean
}

export type Phase =
  | { name: 'idle' }
  | { name: 'backoff' }
  | {
      name: 'running'
      pid: number
      probe?: Probing
      /** a probe has passed on this ssh (-M 0: it has stayed up) */
      up: boolean
      /** early probes made on this ssh */
      early: number
      /** the monitor's forwards are in place (false: not asked for, or refused) */
      watched: boolean
    }
  /** ssh has been told to go; what comes once it has */
  | { name: 'stopping'; after: After }
  | { name: 'done' }

/** why the next start waits other than by the backoff (now: at once, not counted as a quick try) */
type Retry = { why: 'held' } | { why: 'auth'; words: string } | { why: 'now'; reason: string }

/** a remote port the server still holds for an older session, over the restarts */
export interface Held {
  port?: number
  /** the first refusal, and the last one */
  since: number
  last: number
}

export interface State {
  phase: Phase
  startCount: number
  /** ms timestamp of the last start */
  lastStart: number
  /** rapid restarts in a row, for the backoff */
  tries: number
  /** the round trip of probes, measured */
  rtt: Estimates
  /** what has been logged since the tunnel was last up, so that an outage says each thing once */
  said: string[]
  retry?: Retry
  /** a user's -R port the server holds */
  held?: Held
  /** the monitor's own -R port the server holds (pair mode) */
  monitorHeld?: Held
  /** the next ssh is started with the monitor's forwards */
  watchNext: boolean
  /** the forwards and what has become of each */
  forwards?: Forwards
}

export const initialState = (): State => ({
  phase: { name: 'idle' },
  startCount: 0,
  lastStart: -Infinity,
  tries: 0,
  rtt: {},
  said: [],
  watchNext: true,
})

/** early probes: the first this long after ssh starts, each next one twice as long after */
export const EARLY_FIRST_MS = 1000
/** -M 0: an ssh up this long counts as up */
export const SETTLE_MS = 5000
/** an ssh that cannot log in waits at least this long (and no longer than the poll time) */
export const AUTH_RETRY_S = 60

type Step = [State, Action[]]

const log = (level: number, message: string): Action => ({ type: 'log', level, message })
const trace = (message: string): Action => ({ type: 'trace', message })
const status = (s: State, state: TunnelState, more: { reason?: string; sshPid?: number | null; unwatched?: string | null } = {}): Action => ({
  type: 'status',
  state,
  starts: s.startCount,
  ...more,
})

const finish = (s: State, actions: Action[], exit: 0 | 1): Step => [
  { ...s, phase: { name: 'done' } },
  [...actions, status(s, 'stopping'), ...timersOff('lifetime', 'reask'), { type: 'exit', status: exit }],
]

const timersOff = (...timers: Timer[]): Action[] => timers.map(timer => ({ type: 'disarm', timer }))
const quietTimers = timersOff('poll', 'early', 'settle')

/** stop ssh; `after` says what comes once it has gone */
const stop = (s: State, actions: Action[], after: After, reason: string): Step => [
  { ...s, phase: { name: 'stopping', after } },
  [...actions, status(s, after.restart ? 'down' : 'stopping', { reason }), ...quietTimers, { type: 'cancel-probe' }, { type: 'kill' }],
]

const start = (s: State, now: number, plan: Plan): Step => {
  const count = plan.maxStart < 0 ? `count ${s.startCount}` : `count ${s.startCount} of ${plan.maxStart}`
  return [
    { ...s, phase: { name: 'idle' }, lastStart: now, retry: undefined },
    [log(LOG_INFO, `starting ssh (${count})`), { type: 'spawn', watch: plan.monitoring && s.watchNext }],
  ]
}

/** a backoff wait cut short */
const wake = (s: State, now: number, plan: Plan, why: string): Step => {
  const [started, actions] = start(s, now, plan)
  return [started, [trace(`${why}: starting ssh now`), { type: 'disarm', timer: 'wait' }, ...actions]]
}

/** log a thing once per outage; a key without its port ("local-forward:") is old news after any port's */
const once = (s: State, key: string, level: number, message: string): [State, Action[]] =>
  isNewAbout(s.said, key) ? [{ ...s, said: [...s.said, key] }, [log(level, message)]] : [s, []]

/** the top of autossh's loop: count, back off, start */
const next = (s: State, now: number, plan: Plan, actions: Action[], random: () => number): Step => {
  if (plan.maxStart >= 0 && s.startCount >= plan.maxStart) {
    return finish(s, [...actions, log(LOG_INFO, 'max start count reached; exiting')], 0)
  }
  const grace = graceTime(s.tries, (now - s.lastStart) / 1000, plan.pollTime, random)
  let waitMs = grace.waitMs
  const more: Action[] = [log(LOG_DEBUG, `checking for grace period, tries = ${grace.tries}`)]
  let tries = grace.tries
  if (s.retry?.why === 'now') {
    waitMs = 0
    tries = s.tries
    more.push(trace(`${s.retry.reason}: starting ssh at once`))
  } else if (s.retry?.why === 'held') {
    // the port frees once the server lets go of the old session: quick tries at first, then
    // fewer logins the longer it is held (a server without ClientAliveInterval may hold it for hours)
    const heldMs = now - s.held!.since
    const port = s.held!.port ?? '?'
    waitMs = heldPortWait(heldMs, random)
    more.push(trace(`remote port ${port} held for ${heldMs} ms: retrying in ${waitMs} ms, not by the backoff`))
    if (waitMs > HELD_QUICK_MAX_MS) {
      const words = `the server has held port ${port} for ${Math.round(heldMs / 1000)} s: asking for it less often from now on (next in ${Math.round(waitMs / 1000)} s, at most once a minute)`
      const [told, slow] = once(s, `held-slow:${port}`, LOG_INFO, words)
      s = told
      more.push(...slow)
    }
  } else if (s.retry?.why === 'auth') {
    // refused logins and changed host keys rarely heal by themselves: do not hammer the server
    waitMs = Math.max(waitMs, Math.min(AUTH_RETRY_S, plan.pollTime) * 1000)
    more.push(log(LOG_INFO, `${s.retry.words}; trying again in ${Math.round(waitMs / 1000)} s`))
  } else {
    more.push(trace(`${grace.why}${waitMs > 0 ? `: waiting ${waitMs} ms` : ''}`))
  }
  const counted = { ...s, startCount: s.startCount + 1, tries }
  if (waitMs > 0) {
    return [
      { ...counted, phase: { name: 'backoff' } },
      [
        ...actions,
        ...more,
        // whole seconds, as 1.4g's %d (log patterns expect \d+); rounded up, so never 0 for a wait, the wait itself to the ms
        log(LOG_DEBUG, `sleeping for grace time ${Math.ceil(waitMs / 1000)} secs`),
        status(counted, 'backoff'),
        { type: 'arm', timer: 'wait', ms: waitMs },
      ],
    ]
  }
  const [started, begun] = start(counted, now, plan)
  return [started, [...actions, ...more, ...begun]]
}

/** start a probe on a running ssh */
const probe = (s: State, plan: Plan, early: boolean, rearm: boolean, why: string): Step => {
  const p = s.phase as Phase & { name: 'running' }
  // the first probe of an ssh opens its channels: 1.4g's whole timeout; after it, what the line has shown
  const d = p.up && !plan.fixedDeadline ? deadlines(s.rtt, plan.netTimeoutMs) : [plan.netTimeoutMs]
  return [
    { ...s, phase: { ...p, probe: { early, rearm }, early: p.early + (early ? 1 : 0) } },
    [trace(`${why}: probing, deadlines ${d.join(' + ')} ms`), { type: 'probe', deadlines: d, quiet: early }],
  ]
}

/** a probe of a running ssh now, for a change in the world */
const recheck = (s: State, now: number, plan: Plan, why: string): Step => {
  const p = s.phase
  if (p.name === 'backoff') return wake(s, now, plan, why)
  if (p.name !== 'running' || !plan.monitoring) return [s, [trace(`${why}: nothing to do in ${p.name}`)]]
  if (!p.watched) return [s, [trace(`${why}: unwatched, nothing to probe`)]]
  if (p.probe) return [s, [trace(`${why}: a probe is already under way`)]]
  return probe(s, plan, !p.up, false, why)
}

/** an event of one family, with what every handler needs */
type On<T extends Event['type']> = (s: State, e: Extract<Event, { type: T }>, now: number, plan: Plan, random: () => number) => Step

/** ssh's life: the first start, the end of a wait, its start, its exit */
const onLife: On<'begin' | 'waited' | 'spawned' | 'spawn-failed' | 'exited'> = (s, e, now, plan, random) => {
  const p = s.phase
  switch (e.type) {
    case 'begin': {
      const arm: Action[] = plan.maxLifetime > 0 ? [{ type: 'arm', timer: 'lifetime', ms: plan.maxLifetime * 1000 }] : []
      return next(s, now, plan, arm, random)
    }

    case 'waited':
      return p.name === 'backoff' ? start(s, now, plan) : [s, []]

    case 'spawned': {
      // started without the monitor's forwards (the server holds its port): up once it has stayed up, as -M 0
      const watched = plan.monitoring && s.watchNext
      const arm: Action[] = watched
        ? [{ type: 'arm', timer: 'poll', ms: plan.firstPollTime * 1000 }]
        : [{ type: 'arm', timer: 'settle', ms: SETTLE_MS }]
      if (watched && EARLY_FIRST_MS < plan.firstPollTime * 1000) arm.push({ type: 'arm', timer: 'early', ms: EARLY_FIRST_MS })
      return [
        { ...s, phase: { name: 'running', pid: e.pid, up: false, early: 0, watched } },
        [log(LOG_INFO, `ssh child pid is ${e.pid}`), status(s, 'starting', { sshPid: e.pid }), ...arm],
      ]
    }

    case 'spawn-failed':
      return finish(s, [{ type: 'log', level: LOG_ERR, message: e.message, stderr: true }], 1)

    case 'exited': {
      if (p.name === 'stopping') {
        return p.after.restart ? next(s, now, plan, [], random) : finish(s, [], p.after.status)
      }
      if (p.name !== 'running') return [s, []]
      const quiet: Action[] = [...quietTimers, { type: 'cancel-probe' }]
      const v = judgeExit(e, { firstRun: s.startCount === 1, gateTime: plan.gateTime, ranFor: (now - s.lastStart) / 1000 })
      const said = [...quiet, log(v.level, v.message)]
      if (!v.restart) return finish(s, said, v.status)
      // ssh left because the server holds the monitor's port (ExitOnForwardFailure): the user's
      // forwards come back at once, on an ssh without the monitor's
      const unwatch: Partial<State> =
        !p.watched && s.watchNext && s.monitorHeld !== undefined && s.monitorHeld.last >= s.lastStart
          ? { watchNext: false, retry: { why: 'now', reason: `monitor port ${s.monitorHeld.port} held` } }
          : {}
      return next({ ...s, ...unwatch }, now, plan, [...said, status(s, 'down', { reason: v.message, sshPid: null })], random)
    }
  }
}

/** is the tunnel up: early probes, the poll, a probe's result, -M 0's settling */
const onProbe: On<'early' | 'settled' | 'poll' | 'probed'> = (s, e, now, plan) => {
  const p = s.phase
  if (p.name !== 'running') return [s, []]
  if (e.type === 'settled') {
    if (p.up) return [s, []]
    if (!p.watched && plan.monitoring) {
      // up without its monitor: the user's forwards work; the outage is not over until it is watched
      return [{ ...s, phase: { ...p, up: true } }, [status(s, 'up', { sshPid: p.pid, unwatched: unwatchedWhy(s) })]]
    }
    return [{ ...s, said: [], phase: { ...p, up: true } }, [status(s, 'up', { sshPid: p.pid })]]
  }
  if (!p.watched) return [s, [trace(`${e.type}: unwatched, no probe`)]]
  switch (e.type) {
    case 'early':
      if (p.up || p.probe) return [s, []]
      return probe(s, plan, true, false, `early probe ${p.early + 1}`)

    case 'poll': {
      if (p.probe?.early) {
        // the first poll is due: from now on a failed probe counts
        const [probing, actions] = probe(s, plan, false, true, 'poll')
        return [probing, [{ type: 'cancel-probe' }, ...actions]]
      }
      if (p.probe) return [{ ...s, phase: { ...p, probe: { ...p.probe, rearm: true } } }, []]
      return probe(s, plan, false, true, 'poll')
    }

    case 'probed': {
      if (!p.probe) return [s, []]
      const { early, rearm } = p.probe
      if (e.ok) {
        const rttMs = e.rttMs ?? null
        const actions: Action[] = [{ type: 'record-probe', ok: true, rttMs: rttMs === null ? null : Math.round(rttMs) }]
        let next: State = { ...s, tries: 0, phase: { ...p, probe: undefined, up: true } }
        if (rttMs !== null) next.rtt = measure(s.rtt, rttMs, e.fresh ?? true)
        if (s.monitorHeld) {
          next = { ...next, monitorHeld: undefined }
          actions.push({ type: 'disarm', timer: 'reask' }, log(LOG_INFO, `the server let go of monitor port ${s.monitorHeld.port}: the tunnel is watched again`))
        }
        if (!p.up) {
          next = { ...next, said: [] }
          actions.push(
            { type: 'disarm', timer: 'early' },
            log(LOG_INFO, `tunnel up, ${((now - s.lastStart) / 1000).toFixed(1)} s after ssh started`),
            status(s, 'up', { sshPid: p.pid, ...(s.monitorHeld ? { unwatched: null } : {}) }),
          )
        }
        if (rearm) actions.push({ type: 'arm', timer: 'poll', ms: plan.pollTime * 1000 })
        return [next, actions]
      }
      if (early) {
        // before the first poll a failure proves nothing: ssh may still be logging in
        const wait = EARLY_FIRST_MS * 2 ** p.early
        const later = now + wait < s.lastStart + plan.firstPollTime * 1000
        const actions: Action[] = [trace(`early probe ${p.early} failed; ${later ? `next in ${wait} ms` : 'waiting for the first poll'}`)]
        if (later) actions.push({ type: 'arm', timer: 'early', ms: wait })
        return [{ ...s, phase: { ...p, probe: undefined } }, actions]
      }
      const reason = 'port down, restarting ssh'
      return stop(s, [log(LOG_INFO, reason), { type: 'record-probe', ok: false, rttMs: null, reason }], { restart: true }, reason)
    }
  }
}

/** a refused -R port, held since the first refusal of a run of them: a pause longer than the pace of asking starts a new one */
const holding = (held: Held | undefined, port: number | undefined, gap: number, now: number): Held => {
  const same = held !== undefined && held.port === port && now - held.last <= gap
  return { port, since: same ? held.since : now, last: now }
}

const unwatchedWhy = (s: State): string => `the server holds monitor port ${s.monitorHeld!.port}`

/**
 * The server refused the monitor's own -R port (an older session holds it): the user's
 * forwards work, so ssh is kept, up but unwatched, and the port is asked for again later,
 * at a pace that costs the user's forwards little (each ask restarts ssh).
 */
const unwatch = (s: State, actions: Action[], now: number, random: () => number): Step => {
  const wait = monitorReaskWait(now - s.monitorHeld!.since, random)
  const why = unwatchedWhy(s)
  const [told, said] = once(s, 'unwatched', LOG_INFO, `${why}: the tunnel is up but unwatched; asking for the port again in ${Math.round(wait / 1000)} s`)
  const more: Action[] = [...actions, ...said, trace(`monitor port held ${now - s.monitorHeld!.since} ms: asking again in ${wait} ms`), { type: 'arm', timer: 'reask', ms: wait }]
  const p = told.phase
  if (p.name !== 'running') return [told, more]
  return [
    { ...told, phase: { ...p, watched: false, probe: undefined, up: true } },
    [...more, { type: 'cancel-probe' }, ...timersOff('poll', 'early'), status(told, 'up', { sshPid: p.pid, unwatched: why })],
  ]
}

/** time to ask again for the monitor's port: on a new ssh with the monitor's forwards */
const reask = (s: State): Step => {
  const p = s.phase
  const asking = { ...s, watchNext: true }
  if (p.name !== 'running' || p.watched) return [asking, [trace('reask: the next ssh asks for the monitor port')]]
  const words = `asking the server for monitor port ${s.monitorHeld!.port} again`
  return stop({ ...asking, retry: { why: 'now', reason: words } }, [log(LOG_INFO, words)], { restart: true }, words)
}

/** what ssh said on its stderr: logged once per outage, and acted on */
const onSaid: On<'ssh-said'> = (s, { said }, now, plan, random) => {
  let [told, actions] = once(s, said.about, LOG_INFO, said.words)
  switch (said.kind) {
    case 'auth-failed':
    case 'host-key-unknown':
    case 'host-key-changed':
    case 'host-key-unverified':
      return [{ ...told, retry: { why: 'auth', words: said.words } }, actions]
    case 'forwarding-disabled':
      // ssh runs on with no forward at all: a failed tunnel in every mode, retried as a changed host key is
      told = { ...told, retry: { why: 'auth', words: said.words } }
      break
    case 'remote-forward-failed': {
      const [hinted, hint] = once(
        told,
        'hint',
        LOG_INFO,
        `the server may still hold port ${said.port ?? '?'} for an older session; ClientAliveInterval in its sshd_config frees such ports`,
      )
      const monitor = plan.monitorRemotePort !== undefined && said.port === plan.monitorRemotePort
      actions = [...actions, ...hint]
      if (monitor) return unwatch({ ...hinted, monitorHeld: holding(s.monitorHeld, said.port, MONITOR_REASK_GAP_MS, now) }, actions, now, random)
      told = { ...hinted, held: holding(s.held, said.port, HELD_PORT_GAP_MS, now), retry: { why: 'held' } }
      break
    }
    case 'local-forward-failed':
      break
    default:
      return [told, actions]
  }
  // a forward that failed is a failed tunnel, though ssh runs on
  if (told.phase.name !== 'running') return [told, actions]
  return stop(told, actions, { restart: true }, said.words)
}

/**
 * ssh's own connection, as the kernel shows it. An address gone is certain:
 * restart. A stall is probed where there is a probe, and is a restart where
 * there is none (-M 0). Each is said once per outage.
 */
const onLink: On<'link-dead' | 'link-stalled'> = (s, e, now, plan) => {
  const p = s.phase
  if (p.name !== 'running' || p.pid !== e.pid) return [s, [trace(`${e.type} of ssh ${e.pid}: nothing to do in ${p.name}`)]]
  if (e.type === 'link-dead') {
    const words = `this machine's address ${e.address} is gone: restarting ssh`
    const [told, said] = once(s, 'link-dead', LOG_INFO, words)
    return stop(told, said, { restart: true }, words)
  }
  const silent = `ssh's connection to ${e.remote} has had no acknowledgement for ${Math.round(e.forMs / 1000)} s`
  // with a monitor in place a probe decides; without one (-M 0, or the server holds its port) the kernel's word does
  if (p.watched) {
    const [told, said] = once(s, 'link-stalled', LOG_INFO, `${silent}: probing now`)
    const [probing, actions] = recheck(told, now, plan, 'no acknowledgement')
    return [probing, [...said, ...actions]]
  }
  const words = `${silent}: restarting ssh`
  const [told, said] = once(s, 'link-stalled', LOG_INFO, words)
  return stop(told, said, { restart: true }, words)
}

/** the end of autossh's own time, and signals */
const onEnd: On<'lifetime' | 'signal'> = (s, e, now, plan) => {
  const p = s.phase
  if (e.type === 'lifetime') {
    const said = [log(LOG_INFO, 'exceeded maximum time to live, shutting down')]
    if (p.name === 'running') return stop(s, said, { restart: false, status: 0 }, 'exceeded maximum time to live')
    if (p.name === 'stopping') return [{ ...s, phase: { name: 'stopping', after: { restart: false, status: 0 } } }, said]
    return finish(s, [...said, { type: 'disarm', timer: 'wait' }], 0)
  }
  switch (e.signal) {
    case 'SIGUSR1':
      if (p.name === 'running') return stop(s, [log(LOG_INFO, 'signalled to kill and restart ssh')], { restart: true }, 'signalled to restart')
      return p.name === 'backoff' ? wake(s, now, plan, 'SIGUSR1') : [s, []]
    case 'SIGHUP':
      // autossh 1.4g dies of a HUP while it backs off; here it means: try now
      return p.name === 'backoff' ? wake(s, now, plan, 'SIGHUP') : [s, []]
    default: {
      const why = `received signal to exit (${e.number})`
      // AUTOSSH_STOP_STATUS: a stop asked for (TERM, INT) may exit 0; a watchdog's ABRT never does
      const status = e.signal === 'SIGTERM' || e.signal === 'SIGINT' ? (plan.stopStatus ?? 1) : 1
      if (p.name === 'running') return stop(s, [log(LOG_INFO, why)], { restart: false, status }, why)
      if (p.name === 'stopping') return [{ ...s, phase: { name: 'stopping', after: { restart: false, status } } }, [log(LOG_INFO, why)]]
      return finish(s, [log(LOG_ERR, 'signalled to exit'), { type: 'disarm', timer: 'wait' }], status)
    }
  }
}

/**
 * The forwards follow ssh: asked for at each start, told of by what ssh says,
 * taken as given once the tunnel is up, gone with ssh. Their news goes out
 * before the tunnel's state, so that a status line counts them right.
 */
const followForwards = (before: State, e: Event, now: number, [after, actions]: Step): Step => {
  const fw = after.forwards
  if (fw === undefined) return [after, actions]
  let next = fw
  if (e.type === 'spawned') next = sshStarted(next)
  else if (e.type === 'exited' && (before.phase.name === 'running' || before.phase.name === 'stopping')) next = sshEnded(next)
  else if (e.type === 'ssh-said') next = heardForwards(next, e.said, now)
  if (actions.some(a => a.type === 'status' && a.state === 'up')) next = tunnelUp(next)
  if (next === fw) return [after, actions]
  const at = actions.findIndex(a => a.type === 'status')
  const told: Action = { type: 'forwards', user: next.user }
  return [{ ...after, forwards: next }, at < 0 ? [...actions, told] : [...actions.slice(0, at), told, ...actions.slice(at)]]
}

export const step = (s: State, e: Event, now: number, plan: Plan, random: () => number = Math.random): Step => {
  if (s.phase.name === 'done') return [s, []]
  return followForwards(s, e, now, react({ ...s, forwards: s.forwards ?? plan.forwards }, e, now, plan, random))
}

/** the machine's answer to one event, by family */
const react = (s: State, e: Event, now: number, plan: Plan, random: () => number): Step => {
  switch (e.type) {
    case 'begin':
    case 'waited':
    case 'spawned':
    case 'spawn-failed':
    case 'exited':
      return onLife(s, e, now, plan, random)
    case 'early':
    case 'settled':
    case 'poll':
    case 'probed':
      return onProbe(s, e, now, plan, random)
    case 'net-changed':
      return recheck(s, now, plan, `network changed (${e.what})`)
    case 'resumed':
      return recheck(s, now, plan, `resumed after ${Math.round(e.sleptMs / 1000)} s asleep`)
    case 'ssh-said':
      return onSaid(s, e, now, plan, random)
    case 'reask':
      return reask(s)
    case 'configured':
      return [{ ...s, forwards: e.forwards }, [trace(`configured: ${e.forwards.user.length} forwards of the user's`)]]
    case 'link-dead':
    case 'link-stalled':
      return onLink(s, e, now, plan, random)
    case 'lifetime':
    case 'signal':
      return onEnd(s, e, now, plan, random)
  }
}
