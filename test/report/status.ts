import t from 'tap'
import { duration, forwardsStatus, statusJson, statusLine, type ForwardStatus, type TunnelStatus } from '../../src/report/status.js'
import type { Forward } from '../../src/machine/forwards.js'

const T0 = Date.parse('2026-11-25T10:00:00.000Z')
const at = (s: number) => new Date(T0 + s * 1000).toISOString()

const base: TunnelStatus = {
  state: 'up',
  pid: 100,
  ssh_pid: 101,
  since: at(0),
  starts: 1,
  last_probe: null,
  last_failure: null,
  monitor: '20000',
  unwatched: null,
  forwards: [],
}
const st = (more: Partial<TunnelStatus>): TunnelStatus => ({ ...base, ...more })

t.test('durations: the two largest units', async t => {
  t.equal(duration(0), '0s')
  t.equal(duration(-5000), '0s', 'a clock that stepped back is not negative')
  t.equal(duration(45_999), '45s')
  t.equal(duration(60_000), '1m')
  t.equal(duration(12 * 60_000 + 5_000), '12m5s')
  t.equal(duration((2 * 3600 + 13 * 60 + 59) * 1000), '2h13m')
  t.equal(duration(3 * 3600_000), '3h')
  t.equal(duration((3 * 86400 + 4 * 3600 + 59 * 60) * 1000), '3d4h')
  t.equal(duration(400 * 86400_000), '400d')
})

t.test('the STATUS= line', async t => {
  const now = T0 + (2 * 3600 + 13 * 60 + 12) * 1000
  t.equal(
    statusLine(st({ starts: 4, last_probe: { at: at(2 * 3600 + 13 * 60), ok: true, rtt_ms: 31 } }), now),
    'up 2h13m, last probe 12s ago (rtt 31 ms), 3 restarts',
  )
  t.equal(statusLine(st({}), T0 + 5000), 'up 5s', 'no probe (-M 0), no restarts')
  t.equal(
    statusLine(st({ starts: 2, unwatched: 'the server holds monitor port 20000' }), T0 + 5000),
    'up 5s (unwatched: the server holds monitor port 20000), 1 restart',
    'up, and why the monitor is off',
  )
  t.equal(statusLine(st({ starts: 2, last_probe: { at: at(1), ok: true, rtt_ms: null } }), T0 + 5000), 'up 5s, last probe 4s ago, 1 restart')
  t.equal(statusLine(st({ last_probe: { at: at(1), ok: false, rtt_ms: null } }), T0 + 5000), 'up 5s, last probe 4s ago failed')
  t.equal(
    statusLine(st({ state: 'down', since: at(0), starts: 4, last_failure: { at: at(0), reason: 'port down' } }), T0 + 12_000),
    'down: port down (since 12s), 3 restarts',
  )
  t.equal(statusLine(st({ state: 'down' }), T0), 'down (since 0s)')
  t.equal(
    statusLine(st({ state: 'backoff', starts: 2, last_failure: { at: at(0), reason: 'ssh exited with status 255' } }), T0 + 3000),
    'backoff: ssh exited with status 255 (since 3s), 1 restart',
  )
  t.equal(statusLine(st({ state: 'starting', starts: 0, ssh_pid: null }), T0 + 1000), 'starting (1s)')
  t.equal(
    statusLine(st({ state: 'starting', since: at(10), starts: 3, last_failure: { at: at(5), reason: 'port down' } }), T0 + 12_000),
    'starting (2s), last failure 7s ago: port down, 2 restarts',
  )
  t.equal(statusLine(st({ state: 'stopping', starts: 9 }), T0), 'stopping')
})

t.test('the status file: these keys in this order, nulls where nothing is known', async t => {
  const full = st({ last_probe: { at: at(1), ok: true, rtt_ms: 3 }, last_failure: { at: at(0), reason: 'port down' } })
  const text = statusJson({ ...full, extra: 'not ours' } as TunnelStatus)
  t.ok(text.endsWith('}\n'))
  const parsed = JSON.parse(text)
  t.same(Object.keys(parsed), ['state', 'pid', 'ssh_pid', 'since', 'starts', 'last_probe', 'last_failure', 'monitor', 'unwatched', 'forwards'])
  t.strictSame(parsed, full)
  t.same(Object.keys(parsed.last_probe), ['at', 'ok', 'rtt_ms'])
  t.strictSame(JSON.parse(statusJson(st({ ssh_pid: null }))), { ...base, ssh_pid: null })
  t.match(JSON.parse(statusJson(base)).since, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
})

const local: ForwardStatus = { kind: 'local', listen: '127.0.0.1:22883', target: 'localhost:1883', state: 'listening', port: 22883, last_error: null }
const remote: ForwardStatus = {
  kind: 'remote',
  listen: '0',
  target: 'localhost:22',
  state: 'refused',
  port: null,
  last_error: { at: at(3), words: 'ssh: remote forward refused for port 0' },
}
const dynamic: ForwardStatus = { kind: 'dynamic', listen: '1080', state: 'requested', port: 1080, last_error: null }

t.test('the status file: the user forwards, keys in order, target only where there is one', async t => {
  const parsed = JSON.parse(statusJson(st({ forwards: [{ ...local, extra: 1 } as ForwardStatus, remote, dynamic] })))
  t.strictSame(parsed.forwards, [local, remote, dynamic])
  t.same(Object.keys(parsed.forwards[0]), ['kind', 'listen', 'target', 'state', 'port', 'last_error'])
  t.same(Object.keys(parsed.forwards[1].last_error), ['at', 'words'])
  t.same(Object.keys(parsed.forwards[2]), ['kind', 'listen', 'state', 'port', 'last_error'])
})

t.test('the STATUS= line: how many of the user forwards are up', async t => {
  t.equal(statusLine(st({ forwards: [local, remote, dynamic], starts: 2 }), T0 + 5000), 'up 5s, 1/3 forwards up, 1 restart')
  t.equal(statusLine(st({ forwards: [local, { ...remote, state: 'granted', port: 41234 }] }), T0 + 5000), 'up 5s, 2/2 forwards up')
  t.equal(statusLine(st({ state: 'down', forwards: [local] }), T0), 'down (since 0s)', 'said only while up')
})

t.test('forwardsStatus: a forward as the status file shows it', async t => {
  const f = (more: Partial<Forward>): Forward => ({
    kind: 'local',
    listen: '22883',
    listenPort: 22883,
    target: 'localhost:1883',
    from: 'config',
    state: 'listening',
    spec: { kind: 'local', listen: { port: 22883 }, target: { host: 'localhost', port: 1883 } },
    ...more,
  })
  t.strictSame(forwardsStatus([f({})]), [{ kind: 'local', listen: '22883', target: 'localhost:1883', state: 'listening', port: 22883, last_error: null }])
  t.strictSame(forwardsStatus([f({ kind: 'remote', listen: '0', listenPort: 0, state: 'granted', port: 41234 })])[0]!.port, 41234, 'the allocated port of a -R 0')
  t.strictSame(forwardsStatus([f({ kind: 'remote', listen: '0', listenPort: 0, state: 'requested' })])[0]!.port, null, 'none yet')
  t.strictSame(forwardsStatus([f({ listen: '/run/x.sock', listenPort: undefined })])[0]!.port, null, 'a socket has no port')
  t.strictSame(forwardsStatus([f({ kind: 'dynamic', target: undefined, listen: '1080', listenPort: 1080 })]), [
    { kind: 'dynamic', listen: '1080', state: 'listening', port: 1080, last_error: null },
  ])
  t.strictSame(forwardsStatus([f({ lastError: { at: T0, words: 'ssh: x' } })])[0]!.last_error, { at: '2026-11-25T10:00:00.000Z', words: 'ssh: x' })
})
