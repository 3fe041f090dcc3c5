// The supervise machine and ssh's own connection (link-dead, link-stalled):
// an address gone restarts ssh in every mode; a stall probes at once with a
// monitor and restarts ssh without one (-M 0); each said once per outage;
// events about an ssh that is no longer the one running change nothing.
import t from 'tap'
import { initialState, type Event, type Plan, type State } from '../../src/machine/supervise.js'
import { drive as driveMachine, type Driven } from '../helpers/machine.js'

const monitored: Plan = { maxStart: -1, gateTime: 30, pollTime: 600, firstPollTime: 60, maxLifetime: 0, monitoring: true, netTimeoutMs: 15000 }
const bare: Plan = { ...monitored, monitoring: false }

const drive = (events: [number, Event][], plan: Plan, from: State | Driven = initialState()): Driven => driveMachine(events, plan, from, { telling: true })

const spawned = (pid: number): Event => ({ type: 'spawned', pid })
const dead = (pid = 42): Event => ({ type: 'link-dead', why: 'address-gone', pid, address: '10.201.1.1', remote: '10.202.0.1:22' })
const stalled = (pid = 42, forMs = 8200): Event => ({ type: 'link-stalled', pid, remote: '10.202.0.1:22', forMs })
const exited: Event = { type: 'exited', code: null, signal: 15 }

/** -M 0, ssh up (settled) */
const upBare = drive([[0, { type: 'begin' }], [0, spawned(42)], [5, { type: 'settled' }]], bare).state
/** a monitor, ssh up (an early probe passed) */
const upMonitored = drive(
  [[0, { type: 'begin' }], [0, spawned(42)], [1, { type: 'early' }], [1.2, { type: 'probed', ok: true, rttMs: 5, fresh: true }]],
  monitored,
).state

t.test("-M 0: this machine's address gone: ssh restarted at once, said in words", async t => {
  const r = drive([[100, dead()], [100.1, exited]], bare, upBare)
  t.same(r.out.slice(0, 2), ["log6 this machine's address 10.201.1.1 is gone: restarting ssh", "status down this machine's address 10.201.1.1 is gone: restarting ssh"])
  t.ok(r.out.includes('kill'))
  t.ok(r.out.includes('log6 starting ssh (count 2)'), 'started again, with no wait: it had run long')
  t.ok(r.out.includes('spawn'))
})

t.test('with a monitor, an address gone is certain too: no probe, a restart', async t => {
  const r = drive([[100, dead()]], monitored, upMonitored)
  t.equal(r.out[0], "log6 this machine's address 10.201.1.1 is gone: restarting ssh")
  t.ok(r.out.includes('cancel-probe'))
  t.ok(r.out.includes('kill'))
  t.notOk(r.out.some(l => l.startsWith('probe')))
})

t.test('-M 0: a stall restarts ssh', async t => {
  const r = drive([[100, stalled()], [100.1, exited]], bare, upBare)
  t.equal(r.out[0], "log6 ssh's connection to 10.202.0.1:22 has had no acknowledgement for 8 s: restarting ssh")
  t.ok(r.out.includes('kill'))
  t.ok(r.out.includes('spawn'))
})

t.test('with a monitor, a stall is probed at once, and the probe decides', async t => {
  const r = drive([[100, stalled()]], monitored, upMonitored)
  t.same(r.out, [
    "log6 ssh's connection to 10.202.0.1:22 has had no acknowledgement for 8 s: probing now",
    'trace no acknowledgement: probing, deadlines 400 + 800 ms',
    'probe 400+800',
  ])
  const failed = drive([[101.3, { type: 'probed', ok: false }]], monitored, r.state)
  t.ok(failed.out.includes('log6 port down, restarting ssh'), 'a failed probe restarts ssh')
  const passed = drive([[100.1, { type: 'probed', ok: true, rttMs: 7, fresh: false }]], monitored, r.state)
  t.notOk(passed.out.includes('kill'), 'a passing probe: the line works after all')
  t.same(drive([[100.5, stalled()]], monitored, r.state).out, ['trace no acknowledgement: a probe is already under way'], 'a probe under way is not doubled')
})

t.test('said once per outage; said again after the tunnel was up again', async t => {
  const first = drive([[100, stalled()], [100.1, exited], [100.2, spawned(43)], [102, stalled(43, 6000)]], bare, upBare)
  t.equal(first.out.filter(l => l.startsWith("log6 ssh's connection")).length, 1, 'the second ssh stalls before it is up: not said again')
  t.equal(first.out.filter(l => l === 'kill').length, 2, 'but restarted all the same')
  const healed = drive([[102.1, exited], [102.2, spawned(44)], [107.2, { type: 'settled' }], [200, stalled(44)]], bare, first.state)
  t.equal(healed.out.filter(l => l.startsWith("log6 ssh's connection")).length, 1, 'up again: a new outage says it again')
  const moved = drive([[100, dead()], [100.1, exited], [100.2, spawned(43)], [101, dead(43)]], bare, upBare)
  t.equal(moved.out.filter(l => l.startsWith("log6 this machine's address")).length, 1)
})

t.test('events about another ssh, or with none running, change nothing', async t => {
  t.same(drive([[100, stalled(41)]], bare, upBare).out, ['trace link-stalled of ssh 41: nothing to do in running'], 'an old ssh')
  t.same(drive([[100, dead(41)]], monitored, upMonitored).out, ['trace link-dead of ssh 41: nothing to do in running'])
  const stopping = drive([[100, stalled()]], bare, upBare).state
  t.same(drive([[100.05, dead()]], bare, stopping).out, ['trace link-dead of ssh 42: nothing to do in stopping'], 'ssh is being stopped already')
  t.same(drive([[1, stalled()]], bare).out, ['trace link-stalled of ssh 42: nothing to do in idle'])
})
