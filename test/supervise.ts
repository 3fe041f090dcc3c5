import t from 'tap'
import { initialState, step, type Action, type Event, type Plan, type State } from '../src/supervise.js'

const plan: Plan = { maxStart: -1, gateTime: 30, pollTime: 600, firstPollTime: 60, maxLifetime: 0, monitoring: true }

interface Driven {
  state: State
  out: string[]
  /** the timers armed and neither disarmed nor fired */
  armed: Set<string>
}

/** the timer whose firing an event is */
const FIRED: Partial<Record<Event['type'], string>> = { waited: 'wait', poll: 'poll', lifetime: 'lifetime' }

/**
 * feed events at given times (seconds); collect the actions, logs as text.
 * Throughout: the machine never exits with a timer still armed (it would
 * fire into an exited run, or hold the process up)
 */
const drive = (events: [number, Event][], p: Plan = plan, from: State | Driven = initialState()): Driven => {
  let s = 'phase' in from ? from : from.state
  const armed = new Set('phase' in from ? [] : from.armed)
  const out: string[] = []
  for (const [at, e] of events) {
    const [next, actions] = step(s, e, at * 1000, p)
    s = next
    if (FIRED[e.type]) armed.delete(FIRED[e.type]!)
    for (const a of actions) {
      if (a.type === 'arm') armed.add(a.timer)
      if (a.type === 'disarm') armed.delete(a.timer)
      if (a.type === 'exit' && armed.size) throw new Error(`exits with timers armed: ${[...armed].join(', ')}`)
    }
    out.push(...actions.map(show))
  }
  return { state: s, out, armed }
}

const show = (a: Action): string => {
  switch (a.type) {
    case 'log':
      return `log${a.level} ${a.message}`
    case 'arm':
      return `arm ${a.timer} ${a.ms}`
    case 'disarm':
      return `disarm ${a.timer}`
    case 'exit':
      return `exit ${a.status}`
    default:
      return a.type
  }
}

const begin: Event = { type: 'begin' }
const spawned: Event = { type: 'spawned', pid: 42 }
const exited = (code: number | null, signal: number | null = null): Event => ({ type: 'exited', code, signal })
const sig = (signal: 'SIGTERM' | 'SIGINT' | 'SIGUSR1' | 'SIGHUP', number: number): Event => ({ type: 'signal', signal, number })

t.test('start, monitor, exit 0', async t => {
  const { out, state } = drive([[0, begin], [0, spawned], [60, { type: 'poll' }], [61, { type: 'probed', ok: true }], [100, exited(0)]])
  t.same(out, [
    'log7 checking for grace period, tries = 0',
    'log6 starting ssh (count 1)',
    'spawn',
    'log6 ssh child pid is 42',
    'arm poll 60000',
    'probe',
    'arm poll 600000',
    'disarm poll',
    'cancel-probe',
    'log6 ssh exited with status 0; autossh exiting',
    'disarm lifetime',
    'exit 0',
  ])
  t.equal(state.phase.name, 'done')
  t.same(step(state, begin, 0, plan), [state, []], 'done is done')
})

t.test('a failed probe kills and restarts', async t => {
  const { out } = drive([[0, begin], [0, spawned], [60, { type: 'poll' }], [62, { type: 'probed', ok: false }], [63, exited(255)], [63, spawned]])
  t.same(out.slice(6), [
    'log6 port down, restarting ssh',
    'disarm poll',
    'cancel-probe',
    'kill',
    'log7 checking for grace period, tries = 0',
    'log6 starting ssh (count 2)',
    'spawn',
    'log6 ssh child pid is 42',
    'arm poll 60000',
  ])
})

t.test('exit statuses and the gate', async t => {
  t.same(drive([[0, begin], [0, spawned], [5, exited(255)]]).out.slice(-3), ['log3 ssh exited prematurely with status 255; autossh exiting', 'disarm lifetime', 'exit 1'])
  const restarted = drive([[0, begin], [0, spawned], [31, exited(255)]]).out
  t.ok(restarted.includes('log6 ssh exited with error status 255; restarting ssh'))
  t.ok(restarted.includes('log6 starting ssh (count 2)'))
  t.same(drive([[0, begin], [0, spawned], [31, exited(1)]]).out.slice(-3), ['log6 ssh exited with status 1; autossh exiting', 'disarm lifetime', 'exit 1'])
  const second = drive([[0, begin], [0, spawned], [31, exited(255)], [31, spawned], [32, exited(1)]]).out
  t.ok(second.includes('log6 ssh exited with error status 1; restarting ssh'))
  t.ok(drive([[0, begin], [0, spawned], [1, exited(null, 9)]]).out.includes('log6 ssh exited on signal 9, restarting ssh'))
})

t.test('max start count', async t => {
  const p = { ...plan, maxStart: 2, gateTime: 0 }
  const { out } = drive([[0, begin], [0, spawned], [1, exited(255)], [1, spawned], [2, exited(255)]], p)
  t.same(out.filter(l => l.startsWith('log6')), [
    'log6 starting ssh (count 1 of 2)',
    'log6 ssh child pid is 42',
    'log6 ssh exited with error status 255; restarting ssh',
    'log6 starting ssh (count 2 of 2)',
    'log6 ssh child pid is 42',
    'log6 ssh exited with error status 255; restarting ssh',
    'log6 max start count reached; exiting',
  ])
  t.equal(out.at(-1), 'exit 0')
  t.same(drive([[0, begin]], { ...p, maxStart: 0 }).out, ['log6 max start count reached; exiting', 'disarm lifetime', 'exit 0'])
})

t.test('rapid restarts back off; HUP and USR1 cut the wait short', async t => {
  const p = { ...plan, gateTime: 0, pollTime: 600 }
  const events: [number, Event][] = [[0, begin], [0, spawned]]
  for (let i = 1; i <= 6; i++) events.push([i, exited(255)], [i, spawned])
  let r = drive(events, p)
  t.equal(r.state.phase.name, 'running')
  r = drive([[7, exited(255)]], p, r)
  t.equal(r.state.phase.name, 'backoff')
  t.ok(r.out.includes('arm wait 8000'), 'the seventh quick start waits (600/100)*2*2/3 s')
  t.same(drive([[8, sig('SIGHUP', 1)]], p, r).out, ['disarm wait', 'log6 starting ssh (count 8)', 'spawn'])
  t.same(drive([[8, sig('SIGUSR1', 10)]], p, r).out, ['disarm wait', 'log6 starting ssh (count 8)', 'spawn'])
  t.same(drive([[15, { type: 'waited' }]], p, r).out, ['log6 starting ssh (count 8)', 'spawn'])
  t.same(drive([[8, sig('SIGTERM', 15)]], p, r).out, ['log3 signalled to exit', 'disarm wait', 'disarm lifetime', 'exit 1'])
})

t.test('signals while running', async t => {
  const running = drive([[0, begin], [0, spawned]])
  const term = drive([[1, sig('SIGTERM', 15)], [2, exited(255)]], plan, running)
  t.same(term.out, ['log6 received signal to exit (15)', 'disarm poll', 'cancel-probe', 'kill', 'disarm lifetime', 'exit 1'])
  const usr1 = drive([[1, sig('SIGUSR1', 10)], [2, exited(null, 15)]], plan, running)
  t.same(usr1.out.slice(0, 4), ['log6 signalled to kill and restart ssh', 'disarm poll', 'cancel-probe', 'kill'])
  t.ok(usr1.out.includes('log6 starting ssh (count 2)'))
  t.same(drive([[1, sig('SIGHUP', 1)]], plan, running).out, [], 'HUP while running changes nothing')
  const twice = drive([[1, sig('SIGUSR1', 10)], [1, sig('SIGINT', 2)], [2, exited(255)]], plan, running)
  t.same(twice.out.slice(-3), ['log6 received signal to exit (2)', 'disarm lifetime', 'exit 1'], 'an exit signal while stopping wins')
  t.same(drive([[1, sig('SIGUSR1', 10)]], plan, drive([[1, sig('SIGTERM', 15)]], plan, running)).out, [])
})

t.test('lifetime', async t => {
  const p = { ...plan, maxLifetime: 100 }
  const r = drive([[0, begin], [0, spawned]], p)
  t.ok(r.out.includes('arm lifetime 100000'))
  t.same(drive([[100, { type: 'lifetime' }], [101, exited(255)]], p, r).out, [
    'log6 exceeded maximum time to live, shutting down', 'disarm poll', 'cancel-probe', 'kill', 'disarm lifetime', 'exit 0',
  ])
  const stopping = drive([[50, { type: 'probed', ok: false }]], p, drive([[49, { type: 'poll' }]], p, r))
  t.same(drive([[100, { type: 'lifetime' }], [101, exited(255)]], p, stopping).out, ['log6 exceeded maximum time to live, shutting down', 'disarm lifetime', 'exit 0'])
  t.same(drive([[0, { type: 'lifetime' }]], p).out, ['log6 exceeded maximum time to live, shutting down', 'disarm wait', 'disarm lifetime', 'exit 0'])
})

t.test('lifetime armed: every way out disarms it, the exit backstop of the shell has nothing to do', async t => {
  const p = { ...plan, maxLifetime: 100, gateTime: 0, maxStart: 2 }
  const running = drive([[0, begin], [0, spawned]], p)
  t.ok(running.armed.has('lifetime'))
  const ways: [string, [number, Event][]][] = [
    ['ssh exits 0', [[5, exited(0)]]],
    ['ssh exits 3', [[5, exited(3)]]],
    ['SIGTERM', [[5, sig('SIGTERM', 15)], [6, exited(null, 15)]]],
    ['max start count', [[5, exited(255)], [5, spawned], [6, exited(255)]]],
    ['spawn failure on a restart', [[5, exited(255)], [5, { type: 'spawn-failed', message: '/x: No such file or directory' }]]],
  ]
  for (const [why, events] of ways) {
    const end = drive(events, p, running)
    t.equal(end.out.at(-1)?.startsWith('exit'), true, `${why}: exits`)
    t.same([...end.armed], [], `${why}: nothing armed`)
  }
})

t.test('spawn failure; stray events are ignored', async t => {
  t.same(drive([[0, begin], [0, { type: 'spawn-failed', message: '/x: No such file or directory' }]]).out.slice(-3), [
    'log3 /x: No such file or directory', 'disarm lifetime', 'exit 1',
  ])
  const idle = initialState()
  for (const e of [{ type: 'waited' }, exited(0), { type: 'poll' }, { type: 'probed', ok: true }, sig('SIGHUP', 1), sig('SIGUSR1', 10)] as Event[]) {
    t.same(step(idle, e, 0, plan)[1], [], e.type)
  }
  const running = drive([[0, begin], [0, spawned]]).state
  t.same(step(running, { type: 'probed', ok: false }, 0, plan)[1], [], 'no probe in flight')
  const probing = drive([[1, { type: 'poll' }]], plan, running).state
  t.same(step(probing, { type: 'poll' }, 0, plan)[1], [], 'one probe at a time')
  t.same(drive([[0, begin], [0, spawned]], { ...plan, monitoring: false }).out.filter(l => l.startsWith('arm')), [], 'no monitor, no poll timer')
})
