// The sd_notify sender against a datagram receiver standing in for systemd.
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CLOSE_MS, createNotifier, MAX_PENDING, RESTART_MS, watchdogMs, type Notifier } from '../../src/report/notify.js'
import { alive, sleep, waitFor } from '../helpers/autossh.js'
import { children, notifyReceiver, type Receiver } from '../helpers/notify-receiver.js'
import { needs } from '../helpers/needs.js'

const receiver = async (t: Test, abstract = false): Promise<Receiver> => {
  const r = await notifyReceiver({ abstract })
  t.teardown(() => r.close())
  return r
}

const notifier = (t: Test, env: Record<string, string>, perl?: string): Notifier => {
  const n = createNotifier(env, { perl })!
  t.teardown(() => n.close())
  return n
}

const datagrams = (r: Receiver) => r.messages().map(m => m.data)

/** a stand-in for perl: a shell script that notes each start in `starts` */
const standIn = (t: Test, body: string) => {
  const dir = mkdtempSync(join(tmpdir(), 'sd-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'perl')
  writeFileSync(file, `#!/bin/sh\necho $$ >> ${dir}/starts\n${body}\n`)
  chmodSync(file, 0o755)
  const starts = join(dir, 'starts')
  return { file, starts: () => (existsSync(starts) ? readFileSync(starts, 'utf8').split('\n').filter(Boolean).length : 0) }
}

t.test('without NOTIFY_SOCKET: no notifier, no child', async t => {
  const before = children()
  t.equal(createNotifier({}), undefined)
  t.equal(createNotifier({ NOTIFY_SOCKET: '' }), undefined)
  t.same(children(), before)
})

t.test('a socket we cannot use, or no perl: said once, no notifier', async t => {
  const said: string[] = []
  const onError = (m: string) => said.push(m)
  t.equal(createNotifier({ NOTIFY_SOCKET: 'vsock:2:1234' }, { onError }), undefined)
  t.equal(createNotifier({ NOTIFY_SOCKET: '/run/x' }, { onError, perl: '/nonexistent/perl' }), undefined)
  t.equal(createNotifier({ NOTIFY_SOCKET: 'vsock:2:1234' }), undefined, 'no one to tell: quiet')
  t.same(said, ['cannot notify systemd at "vsock:2:1234": not a unix socket', 'cannot notify systemd: /nonexistent/perl: No such file or directory'])
})

t.test('datagrams arrive whole and in order, from the sender child', { skip: needs('python3', 'perl') }, async t => {
  const r = await receiver(t)
  const n = notifier(t, { NOTIFY_SOCKET: r.socket })
  n.send({ READY: '1', STATUS: 'up 0s' })
  n.send({ STATUS: 'down: port down\nWATCHDOG=1 (since 0s)' })
  n.send({ STOPPING: '1', STATUS: 'stopping' })
  await waitFor(() => r.messages().length === 3, 5000, 'three datagrams')
  t.same(datagrams(r), ['READY=1\nSTATUS=up 0s', 'STATUS=down: port down WATCHDOG=1 (since 0s)', 'STOPPING=1\nSTATUS=stopping'])
  t.same(r.messages()[1].fields, { STATUS: 'down: port down WATCHDOG=1 (since 0s)' }, 'a newline in a value makes no field')
  t.ok(n.pid)
  t.ok(r.messages().every(m => m.pid === n.pid), 'sent by the child: hence NotifyAccess=all')
  t.match(readFileSync(`/proc/${n.pid}/cmdline`, 'utf8'), /^autossh: sd_notify sender/, 'named for ps and systemctl status')
  const pid = n.pid!
  const t0 = Date.now()
  await n.close()
  t.ok(Date.now() - t0 < CLOSE_MS / 2, 'a healthy sender ends at once with its stdin')
  t.equal(n.pid, undefined)
  t.notOk(alive(pid), 'the sender is gone after close')
  n.send({ STATUS: 'late' })
  await n.close()
  await sleep(100)
  t.equal(r.messages().length, 3, 'nothing after close')
})

t.test('the first sender starts on the next turn: what is started along with the first message (ssh) goes first', async t => {
  const r = await receiver(t)
  const n = notifier(t, { NOTIFY_SOCKET: r.socket })
  n.send({ STATUS: 'one' })
  n.send({ STATUS: 'two' })
  t.equal(n.pid, undefined, 'not in the turn of the first message')
  await new Promise(resolve => setImmediate(resolve))
  t.ok(n.pid, 'on the next')
  await waitFor(() => r.messages().length === 2, 5000, 'both datagrams')
  t.same(datagrams(r), ['STATUS=one', 'STATUS=two'])
})

t.test('without setpriv: the sender is perl itself, and works the same', { skip: needs('python3', 'perl') }, async t => {
  const r = await receiver(t)
  const n = createNotifier({ NOTIFY_SOCKET: r.socket }, { tie: false })!
  t.teardown(() => n.close())
  n.send({ READY: '1' })
  await waitFor(() => r.messages().length, 5000, 'the datagram')
  t.same(datagrams(r), ['READY=1'])
})

t.test('an abstract socket name (@…)', { skip: needs('python3', 'perl') }, async t => {
  const r = await receiver(t, true)
  t.match(r.socket, /^@/)
  const n = notifier(t, { NOTIFY_SOCKET: r.socket })
  n.send({ READY: '1' })
  await waitFor(() => r.messages().length, 5000, 'the datagram')
  t.same(datagrams(r), ['READY=1'])
})

t.test('a killed sender is replaced, no sooner than a second after it started, and nothing is lost', { skip: needs('python3', 'perl') }, async t => {
  const r = await receiver(t)
  const n = notifier(t, { NOTIFY_SOCKET: r.socket })
  n.send({ STATUS: 'one' })
  await waitFor(() => r.messages().length, 5000, 'the first datagram')
  const first = n.pid!
  const firstAt = r.messages()[0].at
  process.kill(first, 'SIGKILL')
  // these find it dead (or about to be): they wait for the next sender
  n.send({ STATUS: 'two' })
  n.send({ STATUS: 'three' })
  await waitFor(() => r.messages().length === 3, 5000, 'the datagrams after the kill')
  t.same(datagrams(r), ['STATUS=one', 'STATUS=two', 'STATUS=three'])
  t.not(n.pid, first, 'a new sender')
  t.notOk(alive(first))
  t.ok(r.messages()[1].at >= firstAt + RESTART_MS - 100, 'not before a second had passed')

  // long after: the next one starts at once
  await sleep(RESTART_MS)
  process.kill(n.pid!, 'SIGKILL')
  await waitFor(() => n.pid === undefined, 5000, 'the death noticed')
  const t0 = Date.now()
  n.send({ STATUS: 'four' })
  await waitFor(() => r.messages().length === 4, 5000, 'the fourth')
  t.ok(r.messages()[3].at - t0 < RESTART_MS / 2, 'without waiting')
})

t.test('a sender that dies at once is started at most once a second', async t => {
  const s = standIn(t, 'exit 1')
  const n = notifier(t, { NOTIFY_SOCKET: '/nonexistent/s' }, s.file)
  n.send({ STATUS: 'x' })
  await sleep(2500)
  t.ok(s.starts() >= 2 && s.starts() <= 3, `${s.starts()} starts in 2.5 s`)
  await n.close()
})

/** a stand-in whose first run dies at once and whose later ones answer each message and write it to `got` */
const secondWrites = (t: Test) => {
  const s = standIn(
    t,
    `[ $(wc -l < "$(dirname "$0")/starts") -ge 2 ] && exec perl -e '
      open(my $g, ">>", shift); $g->autoflush(1); $| = 1; $/ = "\\0";
      while (<STDIN>) { print $g $_; print "\\n" }' "$(dirname "$0")/got"
    exit 1`,
  )
  const got = join(s.file, '../got')
  return { ...s, got: () => (existsSync(got) ? readFileSync(got, 'utf8') : '') }
}
const statuses = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `STATUS=${from + i}\0`).join('')

t.test('what a dead sender left unanswered goes to the next, the newest MAX_PENDING of it', { skip: needs('perl') }, async t => {
  const s = secondWrites(t)
  const n = notifier(t, { NOTIFY_SOCKET: '/nonexistent/s' }, s.file)
  // written to the first sender before its death is noticed
  for (let i = 0; i < 100; i++) n.send({ STATUS: String(i) })
  await waitFor(() => s.got().endsWith('STATUS=99\0'), 5000, 'the second sender')
  t.equal(s.got(), statuses(100 - MAX_PENDING, 100))
})

t.test('what waits for the next sender is bounded: the newest are kept', { skip: needs('perl') }, async t => {
  const s = secondWrites(t)
  const n = notifier(t, { NOTIFY_SOCKET: '/nonexistent/s' }, s.file)
  n.send({ STATUS: 'first' })
  await waitFor(() => s.starts() === 1 && n.pid === undefined, 5000, 'the first gone')
  for (let i = 0; i < 100; i++) n.send({ STATUS: String(i) })
  await waitFor(() => s.got().endsWith('STATUS=99\0'), 5000, 'the second sender')
  t.equal(s.got(), statuses(100 - MAX_PENDING, 100))
})

t.test('a sender that does not answer is written no more than MAX_PENDING ahead', async t => {
  const s = standIn(t, 'exec cat > "$(dirname "$0")/got"')
  const n = notifier(t, { NOTIFY_SOCKET: '/nonexistent/s' }, s.file)
  for (let i = 0; i < 100; i++) n.send({ STATUS: String(i) })
  const got = join(s.file, '../got')
  await waitFor(() => existsSync(got) && readFileSync(got, 'utf8').endsWith(`STATUS=${MAX_PENDING - 1}\0`), 5000, 'what it was given')
  await sleep(200)
  t.equal(readFileSync(got, 'utf8'), statuses(0, MAX_PENDING))
})

t.test('the sender ignores a SIGTERM to the whole unit: it ends with its stdin, in time for STOPPING=1', { skip: needs('python3', 'perl') }, async t => {
  const r = await receiver(t)
  const n = notifier(t, { NOTIFY_SOCKET: r.socket })
  n.send({ READY: '1' })
  await waitFor(() => r.messages().length, 5000, 'READY')
  const pid = n.pid!
  process.kill(pid, 'SIGTERM')
  await sleep(200)
  t.ok(alive(pid))
  n.send({ STOPPING: '1' })
  await n.close()
  await waitFor(() => r.messages().length === 2, 5000, 'STOPPING')
  t.same(datagrams(r), ['READY=1', 'STOPPING=1'])
  t.notOk(alive(pid))
})

t.test('close sends what is pending even when the sender has just died', { skip: needs('python3', 'perl') }, async t => {
  const r = await receiver(t)
  const n = notifier(t, { NOTIFY_SOCKET: r.socket })
  n.send({ READY: '1' })
  await waitFor(() => r.messages().length, 5000, 'READY')
  process.kill(n.pid!, 'SIGKILL')
  await waitFor(() => n.pid === undefined, 5000, 'the death noticed')
  n.send({ STOPPING: '1' })
  await n.close()
  await waitFor(() => r.messages().length === 2, 5000, 'STOPPING')
  t.same(datagrams(r), ['READY=1', 'STOPPING=1'])
})

t.test('close waits for the sender a bounded time, then kills it', { skip: needs('python3', 'perl') }, async t => {
  const s = standIn(t, 'exec sleep 100')
  const n = notifier(t, { NOTIFY_SOCKET: '/nonexistent/s' }, s.file)
  n.send({ READY: '1' })
  await waitFor(() => n.pid, 5000, 'the sender')
  const pid = n.pid!
  const t0 = Date.now()
  await n.close()
  const took = Date.now() - t0
  t.ok(took >= CLOSE_MS - 50 && took < CLOSE_MS + 2000, `${took} ms`)
  t.notOk(alive(pid))
})

const HERE = fileURLToPath(new URL('..', import.meta.url))

t.test('a busy systemd loses nothing: the sender waits for room in its queue', { skip: needs('python3', 'perl') }, async t => {
  // the kernel queues 10 datagrams (net.unix.max_dgram_qlen) for a socket that is not read
  const r = await notifyReceiver({ delayMs: 500 })
  t.teardown(() => r.close())
  const n = notifier(t, { NOTIFY_SOCKET: r.socket })
  for (let i = 0; i < 30; i++) n.send({ STATUS: String(i) })
  await waitFor(() => r.messages().length === 30, 5000, 'all thirty')
  t.same(datagrams(r), Array.from({ length: 30 }, (_, i) => `STATUS=${i}`))
})

t.test('the sender dies with autossh, even of SIGKILL, even while it waits on a full socket', { skip: needs('python3', 'perl') }, async t => {
  const r = await receiver(t)
  const stuck = await notifyReceiver({ delayMs: 1e9 })
  t.teardown(() => stuck.close())
  for (const [signal, socket, count] of [
    ['SIGKILL', r.socket, 1],
    ['SIGTERM', r.socket, 1],
    ['SIGKILL', stuck.socket, 30],
  ] as const) {
    const script = `
      import { createNotifier } from ${JSON.stringify(join(HERE, '../src/report/notify.ts'))}
      const n = createNotifier(process.env)
      for (let i = 0; i < ${count}; i++) n.send({ STATUS: String(i) })
      const wait = () => (n.pid ? console.log(n.pid) : setTimeout(wait, 10))
      wait()
      setTimeout(() => {}, 60000)
    `
    // without tap's coverage hooks, which would map this tsx-compiled copy of notify.ts onto the real one
    const c = spawn('env', ['-u', 'NODE_OPTIONS', '-u', 'NODE_V8_COVERAGE', process.execPath, '--import=tsx', '--input-type=module', '-e', script], {
      env: { ...process.env, NOTIFY_SOCKET: socket },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    t.teardown(() => c.kill('SIGKILL'))
    let out = ''
    c.stdout.on('data', d => (out += d))
    const sender = Number(await waitFor(() => out.trim(), 10000, 'the sender pid'))
    await sleep(300)
    t.ok(alive(sender))
    c.kill(signal)
    await waitFor(() => !alive(sender), 1500, `the sender gone after ${signal}`)
    t.pass(`gone with its parent's ${signal}${count > 1 ? ', from a full socket' : ''}`)
  }
})

t.test('watchdog period: half of WATCHDOG_USEC, when it is meant for us', async t => {
  t.equal(watchdogMs({}), undefined)
  t.equal(watchdogMs({ WATCHDOG_USEC: '30000000' }), 15000)
  t.equal(watchdogMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: String(process.pid) }), 15000)
  t.equal(watchdogMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '1' }), undefined, "another process's watchdog")
  t.equal(watchdogMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: 'x' }), undefined)
  t.equal(watchdogMs({ WATCHDOG_USEC: '30000000' }, 7), 15000)
  t.equal(watchdogMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '7' }, 7), 15000)
  t.equal(watchdogMs({ WATCHDOG_USEC: '0' }), undefined)
  t.equal(watchdogMs({ WATCHDOG_USEC: '' }), undefined)
  t.equal(watchdogMs({ WATCHDOG_USEC: '-5' }), undefined)
  t.equal(watchdogMs({ WATCHDOG_USEC: '1s' }), undefined)
  t.equal(watchdogMs({ WATCHDOG_USEC: '1' }), 1, 'never 0')
})
