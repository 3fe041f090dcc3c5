// The reporter: the status file and systemd's notifications over a tunnel's
// life, with a clock the test moves and a receiver standing in for systemd.
import t, { type Test } from 'tap'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createReporter, REFRESH_MS, type Reporter, type ReporterOptions } from '../../src/report/report.js'
import { sleep, waitFor } from '../helpers/autossh.js'
import { children, notifyReceiver, type Receiver } from '../helpers/notify-receiver.js'
import { needs } from '../helpers/needs.js'

const T0 = Date.parse('2026-11-25T10:00:00.000Z')
const at = (s: number) => new Date(T0 + s * 1000).toISOString()

const clock = () => {
  let ms = T0
  return { now: () => ms, go: (s: number) => (ms += s * 1000) }
}

const reporter = (t: Test, o: Partial<ReporterOptions> & { env: ReporterOptions['env'] }): Reporter => {
  const r = createReporter({ monitor: '20000', pid: 100, ...o })
  t.teardown(() => r.close())
  return r
}

const receiver = async (t: Test): Promise<Receiver> => {
  const r = await notifyReceiver()
  t.teardown(() => r.close())
  return r
}

const read = (file: string) => JSON.parse(readFileSync(file, 'utf8'))

t.test('the status file follows the tunnel, and goes with it', async t => {
  const dir = t.testdir()
  const file = join(dir, 'status.json')
  const c = clock()
  const r = reporter(t, { env: {}, statusFile: file, now: c.now })
  t.strictSame(read(file), {
    state: 'starting',
    pid: 100,
    ssh_pid: null,
    since: at(0),
    starts: 0,
    last_probe: null,
    last_failure: null,
    monitor: '20000',
    unwatched: null,
    forwards: [],
  })
  c.go(1)
  r.state('starting', { sshPid: 200, starts: 1 })
  t.match(read(file), { state: 'starting', since: at(0), ssh_pid: 200, starts: 1 }, 'the same state: since stays')
  c.go(1)
  r.probe(true, 12)
  t.match(read(file), { state: 'starting', last_probe: { at: at(2), ok: true, rtt_ms: 12 }, last_failure: null })
  r.state('up')
  t.match(read(file), { state: 'up', since: at(2), ssh_pid: 200 })
  r.state('up', { unwatched: 'the server holds monitor port 20000' })
  t.match(read(file), { state: 'up', since: at(2), unwatched: 'the server holds monitor port 20000' }, 'up, unwatched: why')
  r.state('up')
  t.match(read(file), { unwatched: 'the server holds monitor port 20000' }, 'until told otherwise')
  r.state('up', { unwatched: null })
  t.match(read(file), { unwatched: null }, 'watched again')
  c.go(60)
  r.probe(false, null, 'port down')
  t.match(read(file), { state: 'up', last_probe: { at: at(62), ok: false, rtt_ms: null }, last_failure: { at: at(62), reason: 'port down' } })
  r.probe(false, null)
  t.match(read(file), { last_failure: { reason: 'probe failed' } })
  const fwd = { kind: 'local', listen: '22883', target: 'localhost:1883', state: 'listening', port: 22883, last_error: null } as const
  r.forwards([fwd])
  t.same(read(file).forwards, [fwd], 'the forwards as they are')
  c.go(1)
  r.state('up', { unwatched: 'x' })
  r.state('down', { sshPid: null, reason: 'ssh exited with status 255' })
  t.match(read(file), { state: 'down', since: at(63), ssh_pid: null, last_failure: { at: at(63), reason: 'ssh exited with status 255' }, unwatched: null })
  r.state('stopping')
  t.match(read(file), { state: 'stopping' })
  await r.close()
  t.notOk(existsSync(file), 'removed')
  r.state('up')
  r.probe(true, 1)
  r.forwards([])
  t.notOk(existsSync(file), 'not written again after close')
  await r.close()
  t.same(readdirSync(dir), [], 'no temporary file either')
})

t.test("a status file that is no longer ours is not removed", async t => {
  const file = join(t.testdir(), 'status.json')
  const r = reporter(t, { env: {}, statusFile: file })
  t.equal(read(file).pid, 100)
  writeFileSync(file, JSON.stringify({ pid: 101 }))
  await r.close()
  t.same(read(file), { pid: 101 })
  writeFileSync(file, 'not json')
  const again = reporter(t, { env: {}, statusFile: file })
  writeFileSync(file, 'not json')
  await again.close()
  t.equal(readFileSync(file, 'utf8'), 'not json')
})

t.test('a status file that cannot be had: thrown at once; later, said once until it works again', async t => {
  const dir = t.testdir()
  t.throws(() => createReporter({ env: {}, monitor: '0', statusFile: join(dir, 'missing', 's.json') }), { code: 'ENOENT' })
  const said: string[] = []
  const sub = join(dir, 'sub')
  mkdirSync(sub)
  const file = join(sub, 's.json')
  const r = reporter(t, { env: {}, statusFile: file, onError: m => said.push(m) })
  rmSync(sub, { recursive: true })
  r.state('up')
  r.probe(true, 1)
  t.same(said, [`cannot write status file "${file}": No such file or directory`])
  mkdirSync(sub)
  r.probe(true, 1)
  t.equal(read(file).state, 'up', 'written again')
  rmSync(sub, { recursive: true })
  r.probe(true, 1)
  t.equal(said.length, 2, 'a new failure is said again')
})

t.test('without NOTIFY_SOCKET: no notifications, no child, nothing to tick', async t => {
  const before = children()
  const r = reporter(t, { env: { WATCHDOG_USEC: '2000000' } })
  t.equal(r.tickMs, undefined)
  r.state('up')
  r.probe(true, 1)
  r.tick(true)
  r.state('stopping')
  t.same(children(), before)
  await r.close()
})

t.test('systemd is told: a start, a cut, a restart and a stop', { skip: needs('python3', 'perl') }, async t => {
  const rx = await receiver(t)
  const c = clock()
  const r = reporter(t, { env: { NOTIFY_SOCKET: rx.socket }, now: c.now })
  r.state('starting', { sshPid: 200, starts: 1 })
  c.go(2)
  r.probe(true, 31)
  r.state('up')
  c.go(600)
  r.probe(true, 29)
  c.go(3)
  r.probe(false, null, 'port down')
  r.state('down', { sshPid: null })
  c.go(1)
  r.state('starting', { sshPid: 201, starts: 2 })
  c.go(2)
  r.probe(true, 40)
  r.state('up')
  c.go(5)
  // as the machine says it: when it tells ssh to go, and again when it exits
  r.state('stopping')
  r.state('stopping')
  await r.close()
  // each STATUS= once: the first start's pid changes nothing that systemd shows
  const expected = [
    'STATUS=starting (0s)',
    'STATUS=starting (2s)',
    'READY=1\nSTATUS=up 0s, last probe 0s ago (rtt 31 ms)',
    'STATUS=up 10m, last probe 0s ago (rtt 29 ms)',
    'STATUS=up 10m3s, last probe 0s ago failed',
    'STATUS=down: port down (since 0s)',
    'STATUS=starting (0s), last failure 1s ago: port down, 1 restart',
    'STATUS=starting (2s), last failure 3s ago: port down, 1 restart',
    'STATUS=up 0s, last probe 0s ago (rtt 40 ms), 1 restart',
    'STOPPING=1\nSTATUS=stopping',
  ]
  await waitFor(() => rx.messages().length === expected.length, 5000, 'every datagram')
  t.same(
    rx.messages().map(m => m.data),
    expected,
  )
  t.equal(rx.messages().filter(m => m.fields.READY).length, 1, 'READY=1 once, at the first up')
})

t.test('tick: WATCHDOG=1 at half of WATCHDOG_USEC while healthy, and a STATUS= whose ages stay true', { skip: needs('python3', 'perl') }, async t => {
  const rx = await receiver(t)
  const c = clock()
  const r = reporter(t, { env: { NOTIFY_SOCKET: rx.socket, WATCHDOG_USEC: '20000000' }, now: c.now })
  t.equal(r.tickMs, 10000)
  r.state('up')
  r.tick(true)
  c.go(10)
  r.tick(true)
  r.tick(false)
  c.go(10)
  r.tick(false)
  await r.close()
  r.tick(true)
  const expected = ['STATUS=starting (0s)', 'READY=1\nSTATUS=up 0s', 'WATCHDOG=1', 'WATCHDOG=1\nSTATUS=up 10s', 'STATUS=up 20s']
  await waitFor(() => rx.messages().length === expected.length, 5000, 'every datagram')
  await sleep(100)
  t.same(rx.messages().map(m => m.data), expected, 'no WATCHDOG=1 while unhealthy, none after close')
})

t.test('tick without a watchdog (or one meant for another process): STATUS= refreshed, no WATCHDOG=1', { skip: needs('python3', 'perl') }, async t => {
  const rx = await receiver(t)
  const c = clock()
  const r = reporter(t, { env: { NOTIFY_SOCKET: rx.socket, WATCHDOG_USEC: '20000000', WATCHDOG_PID: '1' }, now: c.now })
  t.equal(r.tickMs, REFRESH_MS)
  r.state('up')
  c.go(30)
  r.tick(true)
  r.tick(true)
  await r.close()
  const expected = ['STATUS=starting (0s)', 'READY=1\nSTATUS=up 0s', 'STATUS=up 30s']
  await waitFor(() => rx.messages().length === expected.length, 5000, 'every datagram')
  await sleep(100)
  t.same(rx.messages().map(m => m.data), expected)
})
