import t from 'tap'
import { initialState, step, type Action, type Event, type Plan, type State } from '../../src/machine/supervise.js'
import { drive as driveMachine, type Driven } from '../helpers/machine.js'
import type { Said } from '../../src/ssh/says.js'
import { modelForwards } from '../../src/machine/forwards.js'
import { parseForwardArg } from '../../src/ssh/forward-spec.js'

const plan: Plan = { maxStart: -1, gateTime: 30, pollTime: 600, firstPollTime: 60, maxLifetime: 0, monitoring: true, netTimeoutMs: 15000 }

/** the machine driven from a state, or from where an earlier drive ended */
const drive = (events: [number, Event][], p: Plan = plan, from: State | Driven = initialState()): Driven => driveMachine(events, p, from)

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
    'arm early 1000',
    'probe 15000',
    'disarm early',
    'log6 tunnel up, 61.0 s after ssh started',
    'arm poll 600000',
    'disarm poll',
    'disarm early',
    'disarm settle',
    'cancel-probe',
    'log6 ssh exited with status 0; autossh exiting',
    'disarm lifetime',
    'disarm reask',
    'exit 0',
  ])
  t.equal(state.phase.name, 'done')
  t.same(step(state, begin, 0, plan), [state, []], 'done is done')
})

t.test('a failed probe kills and restarts', async t => {
  const { out } = drive([[0, begin], [0, spawned], [60, { type: 'poll' }], [62, { type: 'probed', ok: false }], [63, exited(255)], [63, spawned]])
  t.same(out.slice(out.indexOf("log6 port down, restarting ssh")), [
    'log6 port down, restarting ssh',
    'disarm poll',
    'disarm early',
    'disarm settle',
    'cancel-probe',
    'kill',
    'log7 checking for grace period, tries = 0',
    'log6 starting ssh (count 2)',
    'spawn',
    'log6 ssh child pid is 42',
    'arm poll 60000',
    'arm early 1000',
  ])
})

t.test('exit statuses and the gate', async t => {
  t.same(drive([[0, begin], [0, spawned], [5, exited(255)]]).out.slice(-4), ['log3 ssh exited prematurely with status 255; autossh exiting', 'disarm lifetime', 'disarm reask', 'exit 1'])
  const restarted = drive([[0, begin], [0, spawned], [31, exited(255)]]).out
  t.ok(restarted.includes('log6 ssh exited with error status 255; restarting ssh'))
  t.ok(restarted.includes('log6 starting ssh (count 2)'))
  t.same(drive([[0, begin], [0, spawned], [31, exited(1)]]).out.slice(-4), ['log6 ssh exited with status 1; autossh exiting', 'disarm lifetime', 'disarm reask', 'exit 1'])
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
  t.same(drive([[0, begin]], { ...p, maxStart: 0 }).out, ['log6 max start count reached; exiting', 'disarm lifetime', 'disarm reask', 'exit 0'])
})

t.test('rapid restarts back off; HUP and USR1 cut the wait short', async t => {
  const p = { ...plan, gateTime: 0, pollTime: 600 }
  const events: [number, Event][] = [[0, begin], [0, spawned]]
  for (let i = 1; i <= 6; i++) events.push([i, exited(255)], [i, spawned])
  let r = drive(events, p)
  t.equal(r.state.phase.name, 'running')
  r = drive([[7, exited(255)]], p, r)
  t.equal(r.state.phase.name, 'backoff')
  // a random wait under a cap of 32 s (src/machine/backoff.ts), at least 1 s
  const wait = r.out.find(l => l.startsWith('arm wait '))
  t.ok(wait && Number(wait.slice(9)) >= 1000 && Number(wait.slice(9)) <= 32000, `the seventh quick start waits: ${wait}`)
  // random 0.5: 1 + 31 * 0.5 = 16.5 s, waited to the ms, logged in whole seconds as 1.4g's %d, rounded up
  t.equal(wait, 'arm wait 16500')
  t.ok(r.out.includes('log7 sleeping for grace time 17 secs'), 'the wait in whole seconds, rounded up')
  const short = drive(events.concat([[7, exited(255)]]), { ...p, pollTime: 4 }, initialState())
  t.ok(short.out.includes('log7 sleeping for grace time 1 secs'), 'a wait under a second is logged as 1, never 0')
  t.same(drive([[8, sig('SIGHUP', 1)]], p, r.state).out, ['disarm wait', 'log6 starting ssh (count 8)', 'spawn'])
  t.same(drive([[8, sig('SIGUSR1', 10)]], p, r.state).out, ['disarm wait', 'log6 starting ssh (count 8)', 'spawn'])
  t.same(drive([[15, { type: 'waited' }]], p, r.state).out, ['log6 starting ssh (count 8)', 'spawn'])
  t.same(drive([[8, sig('SIGTERM', 15)]], p, r.state).out, ['log3 signalled to exit', 'disarm wait', 'disarm lifetime', 'disarm reask', 'exit 1'])
})

t.test('a passed probe resets the count of quick restarts: the next failure is a quick try again', async t => {
  const p = { ...plan, gateTime: 0 }
  const events: [number, Event][] = [[0, begin], [0, spawned]]
  for (let i = 1; i <= 5; i++) events.push([i, exited(255)], [i, spawned])
  const fifth = drive(events, p)
  t.equal(fifth.state.tries, 5)
  const r = drive([[5.5, { type: 'early' }], [5.6, { type: 'probed', ok: true, rttMs: 5, fresh: true }], [6, exited(255)]], p, fifth)
  t.ok(r.out.includes('log7 checking for grace period, tries = 1'), 'counted from the pass')
  t.notOk(r.out.some(l => l.startsWith('arm wait')), 'no wait')
})

t.test('without a random source given, as run() calls it, the waits of a fleet differ', async t => {
  const p = { ...plan, gateTime: 0 }
  const events: [number, Event][] = [[0, begin], [0, spawned]]
  for (let i = 1; i <= 6; i++) events.push([i, exited(255)], [i, spawned])
  const sixth = drive(events, p).state
  const waits = new Set<number>()
  for (let i = 0; i < 50; i++) {
    const arm = step(sixth, exited(255), 7000, p)[1].find(a => a.type === 'arm' && a.timer === 'wait')
    if (arm?.type === 'arm') waits.add(arm.ms)
  }
  t.ok(waits.size > 10, `50 clients: ${waits.size} different waits`)
})

t.test('signals while running', async t => {
  const running = drive([[0, begin], [0, spawned]])
  const term = drive([[1, sig('SIGTERM', 15)], [2, exited(255)]], plan, running)
  t.same(term.out, ['log6 received signal to exit (15)', 'disarm poll', 'disarm early', 'disarm settle', 'cancel-probe', 'kill', 'disarm lifetime', 'disarm reask', 'exit 1'])
  const usr1 = drive([[1, sig('SIGUSR1', 10)], [2, exited(null, 15)]], plan, running)
  t.same(usr1.out.slice(0, 6), ['log6 signalled to kill and restart ssh', 'disarm poll', 'disarm early', 'disarm settle', 'cancel-probe', 'kill'])
  t.ok(usr1.out.includes('log6 starting ssh (count 2)'))
  t.same(drive([[1, sig('SIGHUP', 1)]], plan, running).out, [], 'HUP while running changes nothing')
  const twice = drive([[1, sig('SIGUSR1', 10)], [1, sig('SIGINT', 2)], [2, exited(255)]], plan, running)
  t.same(twice.out.slice(-4), ['log6 received signal to exit (2)', 'disarm lifetime', 'disarm reask', 'exit 1'], 'an exit signal while stopping wins')
  t.same(drive([[1, sig('SIGUSR1', 10)]], plan, drive([[1, sig('SIGTERM', 15)]], plan, running).state).out, [])
})

t.test('AUTOSSH_STOP_STATUS=0: SIGTERM and SIGINT exit 0 in every phase; SIGQUIT, SIGABRT and failures stay 1', async t => {
  const p: Plan = { ...plan, stopStatus: 0 }
  const running = drive([[0, begin], [0, spawned]], p)
  const stop = (signal: 'SIGTERM' | 'SIGINT', number: number) => drive([[1, sig(signal, number)], [2, exited(null, 15)]], p, running).out
  t.same(stop('SIGTERM', 15).slice(-4), ['kill', 'disarm lifetime', 'disarm reask', 'exit 0'], 'running, SIGTERM')
  t.same(stop('SIGINT', 2).slice(-1), ['exit 0'], 'running, SIGINT')
  const quit: Event = { type: 'signal', signal: 'SIGQUIT', number: 3 }
  const abort: Event = { type: 'signal', signal: 'SIGABRT', number: 6 }
  t.same(drive([[1, quit], [2, exited(null, 15)]], p, running).out.slice(-1), ['exit 1'], 'SIGQUIT')
  t.same(drive([[1, abort], [2, exited(null, 15)]], p, running).out.slice(-1), ['exit 1'], "SIGABRT, systemd's watchdog")
  const restarting = drive([[1, sig('SIGUSR1', 10)], [1, sig('SIGTERM', 15)], [2, exited(null, 15)]], p, running)
  t.same(restarting.out.slice(-1), ['exit 0'], 'while ssh is stopped for a restart')
  t.same(drive([[0, sig('SIGTERM', 15)], [0, begin]], p).out, ['log3 signalled to exit', 'disarm wait', 'disarm lifetime', 'disarm reask', 'exit 0'], 'before the first start')
  const quick: [number, Event][] = [[0, begin], [0, spawned]]
  for (let i = 1; i <= 6; i++) quick.push([i, exited(255)], [i, spawned])
  const backoff = drive([...quick, [7, exited(255)]], { ...p, gateTime: 0 })
  t.equal(backoff.state.phase.name, 'backoff')
  t.same(drive([[8, sig('SIGTERM', 15)]], p, backoff).out.slice(-1), ['exit 0'], 'in a backoff wait')
  t.same(drive([[1, exited(255)]], p, running).out.slice(-1), ['exit 1'], 'a failure (ssh failing within the gate time) still exits 1')
  t.same(drive([[0, begin], [0, { type: 'spawn-failed', message: '/x: No such file or directory' }]], p).out.slice(-1), ['exit 1'], 'and so does an ssh that cannot start')
  t.same(stop('SIGTERM', 15).slice(0, 1), ['log6 received signal to exit (15)'], 'logged as without it')
})

t.test('lifetime', async t => {
  const p = { ...plan, maxLifetime: 100 }
  const r = drive([[0, begin], [0, spawned]], p)
  t.ok(r.out.includes('arm lifetime 100000'))
  t.same(drive([[100, { type: 'lifetime' }], [101, exited(255)]], p, r).out, [
    'log6 exceeded maximum time to live, shutting down', 'disarm poll', 'disarm early', 'disarm settle', 'cancel-probe', 'kill', 'disarm lifetime', 'disarm reask', 'exit 0',
  ])
  const stopping = drive([[50, { type: 'probed', ok: false }]], p, drive([[49, { type: 'poll' }]], p, r))
  t.same(drive([[100, { type: 'lifetime' }], [101, exited(255)]], p, stopping).out, ['log6 exceeded maximum time to live, shutting down', 'disarm lifetime', 'disarm reask', 'exit 0'])
  t.same(drive([[0, { type: 'lifetime' }]], p).out, ['log6 exceeded maximum time to live, shutting down', 'disarm wait', 'disarm lifetime', 'disarm reask', 'exit 0'])
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
  t.same(drive([[0, begin], [0, { type: 'spawn-failed', message: '/x: No such file or directory' }]]).out.slice(-4), [
    'log3 /x: No such file or directory', 'disarm lifetime', 'disarm reask', 'exit 1',
  ])
  const idle = initialState()
  for (const e of [{ type: 'waited' }, exited(0), { type: 'poll' }, { type: 'probed', ok: true }, sig('SIGHUP', 1), sig('SIGUSR1', 10)] as Event[]) {
    t.same(step(idle, e, 0, plan)[1], [], e.type)
  }
  const running = drive([[0, begin], [0, spawned]]).state
  t.same(step(running, { type: 'probed', ok: false }, 0, plan)[1], [], 'no probe in flight')
  const probing = drive([[1, { type: 'poll' }]], plan, running).state
  t.same(step(probing, { type: 'poll' }, 0, plan)[1], [], 'one probe at a time')
  t.same(drive([[0, begin], [0, spawned]], { ...plan, monitoring: false }).out.filter(l => l.startsWith('arm')), ['arm settle 5000'], 'no monitor, no poll timer')
})

/** every action, the telling ones too */
const all = (events: [number, Event][], p: Plan = plan, from: State = initialState(), random = () => 0.5) => {
  let s = from
  const out: Action[] = []
  for (const [at, e] of events) {
    const [next, actions] = step(s, e, at * 1000, p, random)
    s = next
    out.push(...actions)
  }
  return { state: s, out }
}
const said = (kind: Said['kind'], words: string, port?: number): Event => ({ type: 'ssh-said', said: { kind, words, port, about: `${kind}:${port ?? ''}` } })
const up = drive([[0, begin], [0, spawned], [1, { type: 'early' }], [1.2, { type: 'probed', ok: true, rttMs: 5, fresh: true }]]).state

t.test('early probes: quiet, growing apart, never fatal before the first poll; the first pass is "tunnel up"', async t => {
  const r = drive([[0, begin], [0, spawned], [1, { type: 'early' }], [2, { type: 'probed', ok: false }], [3, { type: 'early' }], [4, { type: 'probed', ok: false }]])
  t.same(r.out.slice(-4), ['probe 15000 quiet', 'arm early 2000', 'probe 15000 quiet', 'arm early 4000'], 'a failure only schedules the next')
  t.equal(r.state.phase.name, 'running')
  const late = drive([[40, { type: 'early' }], [55, { type: 'probed', ok: false }]], plan, r.state)
  t.same(late.out, ['probe 15000 quiet'], 'none after the first poll would come')
  const poll = drive([[40, { type: 'early' }], [60, { type: 'poll' }]], plan, r.state)
  t.same(poll.out.slice(-2), ['cancel-probe', 'probe 15000'], 'the first poll takes over from an early probe, and counts')
  const ok = all([[0, begin], [0, spawned], [1, { type: 'early' }], [1.25, { type: 'probed', ok: true, rttMs: 250, fresh: true }]])
  t.match(ok.out.slice(-4), [
    { type: 'record-probe', ok: true, rttMs: 250 },
    { type: 'disarm', timer: 'early' },
    { type: 'log', level: 6, message: 'tunnel up, 1.3 s after ssh started' },
    { type: 'status', state: 'up', sshPid: 42, starts: 1 },
  ])
  t.notOk(ok.out.some(a => a.type === 'arm' && a.timer === 'poll' && a.ms === 600000), 'the first poll stays where 1.4g has it')
  t.same(drive([[0, begin], [0, spawned]], { ...plan, firstPollTime: 1 }).out.filter(l => l.startsWith('arm')), ['arm poll 1000'], 'no early probe when the first poll comes as soon')
  t.same(drive([[2, { type: 'early' }]], plan, up).out, [], 'none once up')
  t.same(drive([[1, { type: 'early' }], [1.5, { type: 'early' }]]).out, [], 'nor before ssh runs')
  t.same(drive([[0, begin], [0, spawned], [1, { type: 'early' }], [1.5, { type: 'early' }]]).out.filter(l => l.startsWith('probe')), ['probe 15000 quiet'], 'one at a time')
})

t.test('once up, probes get deadlines from the measured round trip', async t => {
  t.same(drive([[60, { type: 'poll' }]], plan, up).out, ['probe 400+800'], 'fast line: the floor, then twice it on fresh connections')
  const slow = drive([[60, { type: 'poll' }], [61, { type: 'probed', ok: true, rttMs: 800, fresh: false }], [661, { type: 'poll' }]], plan, up)
  t.match(slow.out.at(-1), /^probe \d+\+\d+$/)
  const [d1, d2] = slow.out.at(-1)!.slice(6).split('+').map(Number)
  t.ok(d1! > 800 && d1! + d2! <= 15000, `a slow line's first try outlasts its round trip (${d1}+${d2})`)
  t.same(drive([[60, { type: 'poll' }], [60.5, { type: 'probed', ok: false }]], plan, up).out[1], 'log6 port down, restarting ssh')
  t.same(drive([[60, { type: 'poll' }]], { ...plan, fixedDeadline: true }, up).out, ['probe 15000'], 'AUTOSSH_PROBE_DEADLINE=fixed: 1.4g\'s way')
})

t.test("a new ssh's first probe gets 1.4g's whole net timeout, whatever the line showed before: its channels are not open yet", async t => {
  const again = drive([[100, sig('SIGUSR1', 10)], [100.1, exited(null, 15)], [100.2, spawned]], plan, up)
  t.ok(again.out.includes('log6 starting ssh (count 2)'))
  t.same(drive([[101.2, { type: 'early' }]], plan, again).out, ['probe 15000 quiet'], 'the early probe')
  t.same(drive([[160.2, { type: 'poll' }]], plan, again).out, ['probe 15000'], 'the first poll')
  const passed = drive([[101.2, { type: 'early' }], [101.3, { type: 'probed', ok: true, rttMs: 5, fresh: true }], [160.2, { type: 'poll' }]], plan, again)
  t.same(passed.out.at(-1), 'probe 400+800', 'once it has passed, the measured deadlines again')
})

t.test('the poll timer is rearmed once, whatever started the probe', async t => {
  const r = drive([[30, { type: 'net-changed', what: 'address' }], [60, { type: 'poll' }], [61, { type: 'probed', ok: true, rttMs: 5, fresh: false }]], plan, up)
  t.same(r.out, ['probe 400+800', 'arm poll 600000'], 'a poll during an event probe waits for it, then rearms')
  t.same(drive([[30, { type: 'net-changed', what: 'x' }], [31, { type: 'probed', ok: true, rttMs: 5 }]], plan, up).out, ['probe 400+800'], 'an event probe leaves the poll timer alone')
})

t.test('network changes and resumes probe at once; bursts while probing give one probe', async t => {
  t.same(drive([[100, { type: 'net-changed', what: 'route' }]], plan, up).out, ['probe 400+800'])
  t.same(drive([[100, { type: 'resumed', sleptMs: 3600000 }]], plan, up).out, ['probe 400+800'], 'a resume alone probes')
  t.same(drive([[100, { type: 'resumed', sleptMs: 3600000 }], [100.1, { type: 'net-changed', what: 'link' }]], plan, up).out, ['probe 400+800'])
  const notYet = drive([[0, begin], [0, spawned], [0.5, { type: 'net-changed', what: 'address' }]])
  t.same(notYet.out.at(-1), 'probe 15000 quiet', 'before the tunnel is up the probe is an early one')
  const backoff = drive([[7, exited(255)]], { ...plan, gateTime: 0 }, (() => {
    const events: [number, Event][] = [[0, begin], [0, spawned]]
    for (let i = 1; i <= 6; i++) events.push([i, exited(255)], [i, spawned])
    return drive(events, { ...plan, gateTime: 0 }).state
  })())
  t.equal(backoff.state.phase.name, 'backoff')
  t.same(drive([[8, { type: 'net-changed', what: 'address' }]], plan, backoff.state).out, ['disarm wait', 'log6 starting ssh (count 8)', 'spawn'], 'a backoff wait ends when the network changes')
  t.same(drive([[8, { type: 'resumed', sleptMs: 600000 }]], plan, backoff.state).out, ['disarm wait', 'log6 starting ssh (count 8)', 'spawn'], 'or when the machine wakes')
  t.same(drive([[0, begin], [0, spawned], [1, { type: 'net-changed', what: 'x' }]], { ...plan, monitoring: false }).out.slice(-1), ['arm settle 5000'], '-M 0: nothing to probe')
})

t.test('ssh says a remote forward failed: logged once, ssh restarted, retried at a steady pace', async t => {
  const r = drive([[100, said('remote-forward-failed', 'ssh: remote forward refused for port 2222', 2222)], [100.1, exited(null, 15)]], plan, up)
  t.same(r.out.slice(0, 3), [
    'log6 ssh: remote forward refused for port 2222',
    'log6 the server may still hold port 2222 for an older session; ClientAliveInterval in its sshd_config frees such ports',
    'disarm poll',
  ])
  t.ok(r.out.includes('kill'))
  t.ok(r.out.includes('arm wait 3000'), 'the steady wait, not the backoff')
  const again = drive([[103, { type: 'waited' }], [103, spawned], [104, said('remote-forward-failed', 'ssh: remote forward refused for port 2222', 2222)]], plan, r.state)
  t.notOk(again.out.some(l => l.startsWith('log6 ssh: remote') || l.startsWith('log6 the server')), 'said once per outage')
  t.ok(again.out.includes('kill'))
  const freed = drive([[103, { type: 'waited' }], [103, spawned], [104, { type: 'early' }], [105, { type: 'probed', ok: true, rttMs: 9 }], [300, exited(255)]], plan, r.state)
  t.ok(freed.out.includes('log6 starting ssh (count 3)'))
  t.notOk(freed.out.some(l => l.startsWith('arm wait')), 'the held port is forgotten once ssh starts: a later exit restarts at once')
  const healed = drive([[103, { type: 'waited' }], [103, spawned], [104, { type: 'early' }], [105, { type: 'probed', ok: true, rttMs: 9 }], [200, said('remote-forward-failed', 'ssh: remote forward refused for port 2222', 2222)]], plan, r.state)
  t.ok(healed.out.includes('log6 ssh: remote forward refused for port 2222'), 'a new outage says it again')
  t.same(drive([[5, said('local-forward-failed', 'ssh: cannot listen on local port 22883', 22883)]], plan, up).out.slice(0, 2), ['log6 ssh: cannot listen on local port 22883', 'disarm poll'])
  t.same(drive([[5, said('remote-forward-failed', 'ssh: remote forward refused')]], plan, up).out[1], 'log6 the server may still hold port ? for an older session; ClientAliveInterval in its sshd_config frees such ports', 'a port ssh did not name')
  t.ok(drive([[5, said('remote-forward-failed', 'ssh: remote forward refused')], [5, exited(null, 15)]], plan, up).out.includes('arm wait 3000'), 'a port ssh did not name is waited for as steadily')
  const stopping = drive([[5, sig('SIGTERM', 15)], [5, said('remote-forward-failed', 'ssh: remote forward refused', 1)]], plan, up)
  t.notOk(stopping.out.includes('kill') && stopping.out.filter(l => l === 'kill').length > 1, 'an ssh on its way out is not killed twice')
})

t.test('ssh cannot log in: after the first run it is retried slowly, and says so; on the first run within the gate, autossh ends', async t => {
  const first = drive([[0, begin], [0, spawned], [1, said('auth-failed', 'ssh: authentication refused')], [1, exited(255)]])
  t.same(first.out.slice(-4), ['log3 ssh exited prematurely with status 255; autossh exiting', 'disarm lifetime', 'disarm reask', 'exit 1'])
  const later = drive([[100, said('auth-failed', 'ssh: authentication refused')], [100, exited(255)]], plan, up)
  t.ok(later.out.includes('log6 ssh: authentication refused; trying again in 60 s'))
  t.ok(later.out.includes('arm wait 60000'))
  t.ok(drive([[100, said('host-key-changed', 'ssh: host key changed')], [100, exited(255)]], { ...plan, pollTime: 10 }, up).out.includes('arm wait 10000'), 'never longer than the poll time')
  for (const kind of ['auth-failed', 'host-key-unknown', 'host-key-changed', 'host-key-unverified'] as const) {
    const slow = drive([[100, said(kind, `ssh: ${kind}`)], [100, exited(255)]], plan, up).out
    t.ok(slow.includes(`log6 ssh: ${kind}; trying again in 60 s`) && slow.includes('arm wait 60000'), `${kind}: retried slowly`)
  }
  const relogged = drive([[160, { type: 'waited' }], [160, spawned], [161, { type: 'early' }], [161.2, { type: 'probed', ok: true, rttMs: 5 }], [300, exited(255)]], plan, later)
  t.ok(relogged.out.includes('log6 starting ssh (count 3)'), 'an ssh that logged in and later exited is restarted ...')
  t.notOk(relogged.out.some(l => l.startsWith('arm wait') || l.includes('trying again')), '... at once: the refused login is forgotten once ssh starts')
  const words = drive([[100, said('resolve-failed', 'ssh: cannot resolve host name x')], [100, said('resolve-failed', 'ssh: cannot resolve host name x')]], plan, up)
  t.same(words.out, ['log6 ssh: cannot resolve host name x'], 'other words are only logged, once')
})

t.test('-M 0: up once ssh has stayed up a while; the status follows the tunnel', async t => {
  const p = { ...plan, monitoring: false }
  const r = all([[0, begin], [0, spawned], [5, { type: 'settled' }]], p)
  t.same(r.out.filter(a => a.type === 'status').map(a => (a as { state: string }).state), ['starting', 'up'])
  t.same(all([[6, { type: 'settled' }]], p, r.state).out, [], 'once')
  const words = drive([[0, begin], [0, spawned], [1, said('resolve-failed', 'ssh: cannot resolve host name x')], [5, { type: 'settled' }], [50, said('resolve-failed', 'ssh: cannot resolve host name x')]], p)
  t.equal(words.out.filter(l => l === 'log6 ssh: cannot resolve host name x').length, 2, 'up is a new start for what an outage says once')
  const down = all([[60, { type: 'poll' }], [61, { type: 'probed', ok: false }], [61, exited(null, 15)]], plan, up)
  t.match(down.out.filter(a => a.type === 'status' || a.type === 'record-probe'), [
    { type: 'record-probe', ok: false, reason: 'port down, restarting ssh' },
    { type: 'status', state: 'down', reason: 'port down, restarting ssh' },
    { type: 'status', state: 'starting' },
  ].slice(0, 2))
  const stop = all([[70, sig('SIGTERM', 15)], [71, exited(null, 15)]], plan, up)
  t.match(stop.out.filter(a => a.type === 'status'), [{ state: 'stopping' }, { state: 'stopping' }])
})

t.test('a held -R port is asked for quickly at first, then less often the longer it is held, and says so once', async t => {
  const refused = said('remote-forward-failed', 'ssh: remote forward refused for port 2222', 2222)
  // a server that never lets go: refused, ssh stopped, a wait, a new ssh refused again, for four minutes
  let now = 100
  let d = drive([[now, refused], [now + 0.1, exited(null, 15)]], plan, up)
  const waits: number[] = []
  const starts: number[] = []
  const told: string[] = []
  while (now < 100 + 240) {
    told.push(...d.out.filter(l => l.includes('less often')))
    const wait = Number(/^arm wait (\d+)$/.exec(d.out.find(l => l.startsWith('arm wait'))!)![1])
    waits.push(wait)
    now += 0.1 + wait / 1000
    starts.push(now - 100)
    d = drive([[now, { type: 'waited' }], [now, spawned], [now + 0.5, refused], [now + 0.6, exited(null, 15)]], plan, d.state)
    now += 0.6
  }
  t.same(waits.slice(0, 3), [3000, 3000, 3000], 'quick at first')
  t.ok(waits.at(-1)! >= 18000, `then about a tenth of the time held (${waits.at(-1)} ms)`)
  t.ok(starts.filter(at => at >= 180 && at < 240).length <= 4, 'at most 4 logins in the fourth minute')
  t.equal(told.length, 1, 'the slower pace is told once')
  t.match(told[0], /^log6 the server has held port 2222 for \d+ s: asking for it less often/)
  // freed: the next start goes through; a refusal long after is a new hold, quick again
  const later = drive([[now + 1000, { type: 'waited' }], [now + 1000, spawned], [now + 2000, refused], [now + 2000.1, exited(null, 15)]], plan, d.state)
  t.ok(later.out.includes('arm wait 3000'), 'a new hold starts quick')
})

t.test("the monitor's own -R port held: ssh kept, up but unwatched, the port asked for again at a slow pace", async t => {
  const pair: Plan = { ...plan, monitorRemotePort: 20000 }
  const refused = said('remote-forward-failed', 'ssh: remote forward refused for port 20000', 20000)
  const r = drive([[0, begin], [0, spawned], [1, refused]], pair)
  t.notOk(r.out.includes('kill'), 'ssh is kept: the user forwards work')
  t.ok(r.out.includes('arm reask 33750'), 'asked for again in 30 s and a jitter')
  t.ok(r.out.includes('log6 the server holds monitor port 20000: the tunnel is up but unwatched; asking for the port again in 34 s'))
  t.ok(r.out.includes('disarm poll') && r.out.includes('disarm early'), 'no probe: it cannot pass')
  t.equal(r.state.phase.name === 'running' && r.state.phase.up, true, 'the tunnel counts as up')
  const [, told] = step(drive([[0, begin], [0, spawned]], pair).state, refused, 1000, pair, () => 0.5)
  t.match(told.find(a => a.type === 'status'), { state: 'up', unwatched: 'the server holds monitor port 20000' }, 'the status says why it is unwatched')
  t.same(drive([[5, { type: 'poll' }], [6, { type: 'net-changed', what: 'x' }]], pair, r).out, [], 'polls and network changes do not probe an unwatched ssh')

  // the time comes: a new ssh with the monitor's forwards, at once
  const ask = drive([[35, { type: 'reask' }], [35.1, exited(null, 15)]], pair, r)
  t.same(ask.out.slice(0, 1), ['log6 asking the server for monitor port 20000 again'])
  t.ok(ask.out.includes('kill'))
  t.ok(ask.out.includes('log6 starting ssh (count 2)') && ask.out.includes('spawn'), 'started at once, no backoff')
  // still held: kept again, the wait grows with the time held
  const still = drive([[35.2, spawned], [36, refused]], pair, ask)
  t.notOk(still.out.includes('kill'))
  t.ok(still.out.includes('arm reask 33750'), 'the floor, until a quarter of the time held is more')
  const long = drive([[400, { type: 'reask' }], [400.1, exited(null, 15)], [400.2, spawned], [401, refused]], pair, still)
  t.ok(long.out.includes('arm reask 112500'), 'held 400 s: a quarter of it, and a jitter')
  t.notOk(long.out.some(l => l.includes('unwatched')), 'told once per outage')
  // freed: the probe passes, the monitor is back
  const freed = drive([[600, { type: 'reask' }], [600.1, exited(null, 15)], [600.2, spawned], [601, { type: 'early' }], [601.1, { type: 'probed', ok: true, rttMs: 3 }]], pair, long)
  t.ok(freed.out.includes('log6 the server let go of monitor port 20000: the tunnel is watched again'))
  t.equal(freed.state.monitorHeld, undefined)

  // a user's port is not the monitor's: the old rule
  const user = drive([[1, said('remote-forward-failed', 'ssh: remote forward refused for port 2222', 2222)]], pair, drive([[0, begin], [0, spawned]], pair))
  t.ok(user.out.includes('kill'))
  // refused while ssh is on its way out: nothing to keep, the next one is asked for later
  const leaving = drive([[1, sig('SIGUSR1', 10)], [1.1, refused]], pair, drive([[0, begin], [0, spawned]], pair))
  t.ok(leaving.out.includes('arm reask 33750'))
  t.equal(leaving.state.phase.name, 'stopping')
  // a reask while no ssh runs: the next one asks
  const idle = step({ ...r.state, phase: { name: 'backoff' }, watchNext: false }, { type: 'reask' }, 50000, pair)
  t.equal(idle[0].watchNext, true)
})

t.test('ExitOnForwardFailure and the monitor port held: the user forwards come back at once on an ssh without the monitor', async t => {
  const pair: Plan = { ...plan, monitorRemotePort: 20000, gateTime: 0 }
  const refused = said('remote-forward-failed', 'ssh: remote forward refused for port 20000', 20000)
  const r = drive([[0, begin], [0, spawned], [1, refused], [1.1, exited(255)]], pair)
  t.ok(r.out.includes('log6 starting ssh (count 2)'), 'no backoff')
  t.same(r.out.filter(l => l === 'spawn'), ['spawn', 'spawn'])
  const starts = step(drive([[0, begin], [0, spawned], [1, refused]], pair).state, exited(255), 1100, pair, () => 0.5)[1]
  t.match(starts.find(a => a.type === 'spawn'), { watch: false }, 'without the monitor forwards')
  const unwatched = drive([[1.2, spawned]], pair, r)
  t.ok(unwatched.out.includes('arm settle 5000') && !unwatched.out.some(l => l.startsWith('arm poll')), 'up once it stays up, as -M 0; no probes')
  const settled = step(unwatched.state, { type: 'settled' }, 6200, pair)
  t.match(settled[1], [{ type: 'status', state: 'up', unwatched: 'the server holds monitor port 20000' }])
  // an unwatched ssh that dies for another reason is restarted by the usual rules, with the monitor's forwards still off
  const died = drive([[2, exited(255)]], pair, unwatched)
  t.ok(died.out.includes('spawn'))
  t.equal(died.state.tries, 1, 'a quick death counts as a quick try: no tight loop')
  t.equal(died.state.watchNext, false)
  // the reask: with the monitor again
  const ask = step(settled[0], { type: 'reask' }, 40000, pair)
  t.equal(ask[0].watchNext, true)
})

t.test('a changed host key with StrictHostKeyChecking=no: ssh runs without forwards, a failed tunnel retried slowly', async t => {
  const off = said('forwarding-disabled', 'ssh: host key changed: ssh runs without any forward')
  for (const p of [plan, { ...plan, monitoring: false }]) {
    const r = drive([[100, off], [100.1, exited(null, 15)]], p, drive([[0, begin], [0, spawned], [20, { type: 'settled' }]], p).state)
    t.ok(r.out.includes('kill'), `monitoring ${p.monitoring}: ssh is stopped`)
    t.ok(r.out.includes('log6 ssh: host key changed: ssh runs without any forward; trying again in 60 s'))
    t.ok(r.out.includes('arm wait 60000'))
  }
})

t.test("an unwatched ssh's connection stalls: nothing to probe, so ssh is restarted", async t => {
  const pair: Plan = { ...plan, monitorRemotePort: 20000 }
  const r = drive([[0, begin], [0, spawned], [1, said('remote-forward-failed', 'ssh: remote forward refused for port 20000', 20000)]], pair)
  const stalled = drive([[10, { type: 'link-stalled', pid: 42, remote: '10.0.0.2:22', forMs: 8000 }]], pair, r)
  t.ok(stalled.out.includes("log6 ssh's connection to 10.0.0.2:22 has had no acknowledgement for 8 s: restarting ssh"))
  t.ok(stalled.out.includes('kill'))
})

t.test('the forwards follow ssh: asked for at each start, taken as given once up, told of, gone with ssh', async t => {
  const forwards = modelForwards({
    effective: undefined,
    commandLine: [parseForwardArg('local', '22883:localhost:1883')!, parseForwardArg('remote', '0:127.0.0.1:22')!],
    monitor: [],
  })
  const p: Plan = { ...plan, monitoring: false, gateTime: 0, forwards }
  const states = (acts: Action[]) => acts.filter(a => a.type === 'forwards').map(a => (a as Action & { type: 'forwards' }).user.map(f => f.state).join(','))
  let s = initialState()
  const go = (e: Event, at: number) => {
    const [next, acts] = step(s, e, at, p)
    s = next
    return acts
  }
  go(begin, 0)
  const started = go(spawned, 0)
  t.same(states(started), ['requested,requested'])
  t.ok(started.findIndex(a => a.type === 'forwards') < started.findIndex(a => a.type === 'status'), 'before the state, so a status line counts them right')
  t.same(states(go(said('resolve-failed', 'ssh: cannot resolve host name x'), 500)), [], 'nothing about forwards: nothing told')
  const allocated = go({ type: 'ssh-said', said: { kind: 'remote-forward-allocated', port: 4000, target: '127.0.0.1:22', words: 'w', about: 'a' } }, 1000)
  t.match(allocated.find(a => a.type === 'forwards'), { user: [{ state: 'requested' }, { kind: 'remote', port: 4000 }] }, "the -R 0's port, told")
  t.same(states(go({ type: 'settled' }, 5000)), ['listening,granted'])
  t.same(states(go({ type: 'poll' }, 6000)), [], 'nothing changed, nothing told')
  t.same(states(go(exited(255), 7000)), ['down,down'])
  t.same(step(initialState(), begin, 0, plan)[0].forwards, undefined, 'no forwards in the plan: none followed')
  // learnt again before a restart: the next start asks for the new list
  const more = modelForwards({ effective: undefined, commandLine: [parseForwardArg('dynamic', '1080')!], monitor: [] })
  go({ type: 'configured', forwards: more }, 8000)
  t.same(s.forwards, more)
  t.match(go(spawned, 8000).find(a => a.type === 'forwards'), { user: [{ kind: 'dynamic', state: 'requested' }] })
})
