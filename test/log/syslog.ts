// What a real syslog receiver gets: a datagram socket that the test binds.
import t, { type Test } from 'tap'
import { existsSync, readFileSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { alive, Fake, runAutossh, sleep, start, waitFor } from '../helpers/autossh.js'
import { children, loggerOf, message, receiver, shortDir, wchan } from '../helpers/syslog.js'
import { LOG_INFO } from '../../src/log/levels.js'
import { syslogAvailable, syslogTarget } from '../../src/log/syslog.js'
import { needs } from '../helpers/needs.js'

t.test('without AUTOSSH_LOGFILE, messages go to syslog: facility user, tag autossh[pid], their level', { skip: needs('python3', 'logger') }, async t => {
  const f = new Fake(['0'])
  t.teardown(() => f.cleanup())
  const sock = join(shortDir(t), 's')
  const r = await receiver(t, sock)
  t.ok(syslogAvailable(sock))
  const run = await runAutossh(['-M', '0', 'h'], { AUTOSSH_PATH: f.ssh, AUTOSSH_SYSLOG_SOCKET: sock })
  t.equal(run.status, 1)
  t.equal(run.stderr, '', 'nothing on stderr')
  await waitFor(() => r.lines().length >= 4, 5000, 'four datagrams')
  t.same(r.lines().map(message).filter(m => !m.startsWith('14 ssh child pid')), [
    '14 port set to 0, monitoring disabled',
    '14 starting ssh (count 1)',
    '11 ssh exited prematurely with status 0; autossh exiting',
  ])
  t.ok(r.lines().every(l => /autossh\[\d+\]: /.test(l)))
})

t.test('AUTOSSH_DEBUG: debug level, and every line on stderr too', { skip: needs('python3', 'logger') }, async t => {
  const f = new Fake(['0'])
  t.teardown(() => f.cleanup())
  const sock = join(shortDir(t), 's')
  const r = await receiver(t, sock)
  const run = await runAutossh(['-M', '0', 'h'], { AUTOSSH_PATH: f.ssh, AUTOSSH_SYSLOG_SOCKET: sock, AUTOSSH_DEBUG: '1' })
  await waitFor(() => r.lines().some(l => l.includes('prematurely')), 5000, 'the last line')
  t.ok(r.lines().some(l => l.startsWith('<15>') && l.includes('checking for grace period, tries = 0')))
  t.match(run.stderr, /^autossh\[\d+\]: checking for grace period, tries = 0$/m)
})

t.test('a fatal error reaches stderr as well as syslog', { skip: needs('python3', 'logger') }, async t => {
  const sock = join(shortDir(t), 's')
  const r = await receiver(t, sock)
  const run = await runAutossh(['-M', '0', 'h'], { AUTOSSH_SYSLOG_SOCKET: sock, AUTOSSH_POLL: 'x' })
  t.equal(run.status, 1)
  t.equal(run.stderr, 'autossh: invalid poll time "x"\n')
  await waitFor(() => r.lines().length, 5000, 'the datagram')
  t.match(r.lines()[0], /^<11>.* autossh\[\d+\]: invalid poll time "x"$/)
})

t.test('the first logger starts on the next turn: what is started along with the first line (ssh) goes first', async t => {
  const sock = join(shortDir(t), 's')
  const r = await receiver(t, sock)
  const log = syslogTarget(sock, { tie: false })
  t.teardown(() => log.close())
  log.write(LOG_INFO, 'one')
  log.write(LOG_INFO, 'two')
  t.same(children(process.pid).filter(c => c.comm === 'logger'), [], 'not in the turn of the first line')
  await waitFor(() => r.lines().length >= 2, 5000, 'both lines')
  t.same(r.lines().map(message), ['14 one', '14 two'], 'then the lines, in order')
})

t.test('no syslog socket: stderr', async t => {
  t.notOk(syslogAvailable('/nonexistent/log'))
  t.notOk(syslogAvailable('/etc/hostname'), 'a file is not a socket')
})

/** autossh supervising a stand-in ssh that sleeps; SIGUSR1 makes three lines */
const sleeper = (t: Test, sock: string) => {
  const f = new Fake(['sleep'])
  t.teardown(() => f.cleanup())
  const a = start(['-M', '0', 'h'], { AUTOSSH_PATH: f.ssh, AUTOSSH_SYSLOG_SOCKET: sock })
  t.teardown(() => a.child.kill('SIGKILL'))
  /** SIGUSR1, and wait for the ssh after it */
  const restart = async () => {
    const n = f.runs().length
    a.child.kill('SIGUSR1')
    await waitFor(() => f.runs().length > n, 5000, 'ssh started again')
  }
  return { f, a, restart }
}

const RESTART = ['14 signalled to kill and restart ssh', /^14 starting ssh \(count \d+\)$/, /^14 ssh child pid is \d+$/]

t.test('a system log that comes up after autossh is used from then on, and one that goes leaves lines on stderr', { skip: needs('python3', 'logger') }, async t => {
  const sock = join(shortDir(t), 's')
  const { a, f, restart } = sleeper(t, sock)
  await waitFor(() => f.runs().length, 5000, 'ssh')
  await waitFor(() => a.stderr().includes('ssh child pid is'), 5000, 'the first lines, on stderr')
  const r = await receiver(t, sock)
  await restart()
  await waitFor(() => r.lines().length >= 3, 5000, 'the lines after the socket came')
  t.match(r.lines().map(message), RESTART)
  t.notMatch(a.stderr(), /signalled/, 'those lines are not on stderr')

  r.stop()
  unlinkSync(sock)
  await restart()
  await waitFor(() => a.stderr().includes('signalled'), 5000, 'stderr again')
  t.equal(r.lines().length, 3)
  a.child.kill('SIGTERM')
  t.equal(await a.done, 1)
})

t.test('a logger that dies is replaced, and no line after its death is lost', { skip: needs('python3', 'logger') }, async t => {
  const sock = join(shortDir(t), 's')
  const r = await receiver(t, sock)
  const { a, restart } = sleeper(t, sock)
  await waitFor(() => r.lines().length >= 3, 5000, 'the first lines')
  let dead: number | undefined
  // three rounds in quick succession: from the second on, the next logger
  // waits for a second after the last start, its lines in the queue. Each
  // logger is killed once it has sent what it was given, and the next line
  // comes once it is dead: a line in its pipe when it dies is lost.
  for (let round = 1; round <= 3; round++) {
    dead = (await loggerOf(a.child.pid!, dead)).pid
    await waitFor(() => r.lines().length === 3 * round, 5000, `the lines of round ${round - 1}`)
    process.kill(dead, 'SIGKILL')
    // SIGKILL takes a moment: the next line must come after the death
    await waitFor(() => !alive(dead!), 2000, 'the logger dead')
    await restart()
  }
  await waitFor(() => r.lines().length >= 12, 10000, 'every line')
  t.match(r.lines().map(message), [
    '14 port set to 0, monitoring disabled',
    '14 starting ssh (count 1)',
    /^14 ssh child pid is \d+$/,
    ...RESTART,
    ...RESTART,
    ...RESTART,
  ])
  t.equal(r.lines().length, 12)
  t.equal(a.stderr(), '')
  a.child.kill('SIGTERM')
  t.equal(await a.done, 1)
})

/** autossh whose logger is stuck on a system log that has stopped reading */
const stuck = async (t: Test) => {
  const sock = join(shortDir(t), 's')
  const r = await receiver(t, sock, true)
  const { a, restart } = sleeper(t, sock)
  const logger = await loggerOf(a.child.pid!)
  // more lines than the receiver's queue holds
  for (let i = 0; i < 5 && wchan(logger.pid) !== 'unix_wait_for_peer'; i++) await restart()
  await waitFor(() => wchan(logger.pid) === 'unix_wait_for_peer', 5000, 'the logger stuck on the full socket')
  return { a, r, logger }
}

t.test('after SIGTERM, a logger stuck on a system log that has stopped reading is not left behind', { skip: needs('python3', 'logger') }, async t => {
  const { a, r, logger } = await stuck(t)
  const ours = children(a.child.pid!)
  t.ok(ours.some(c => c.pid === logger.pid))
  a.child.kill('SIGTERM')
  t.equal(await a.done, 1)
  for (const c of ours) await waitFor(() => !alive(c.pid), 2000, `${c.comm} ${c.pid} gone`)
  t.equal(r.lines().length, 0)
})

// stuck, so that it does not just read the end of its input and leave
t.test('a logger dies with autossh even on SIGKILL (setpriv --pdeathsig)', { skip: needs('python3', 'logger', 'setpriv') }, async t => {
  const { a, logger } = await stuck(t)
  a.child.kill('SIGKILL')
  await a.done
  await waitFor(() => !alive(logger.pid), 2000, 'the logger gone')
})

// The target alone, in this process, with its limits made small.

t.test('a dead logger is replaced at most once a restartMs; close() sends what waited', { skip: needs('python3', 'logger') }, async t => {
  const sock = join(shortDir(t), 's')
  const r = await receiver(t, sock)
  const log = syslogTarget(sock, { tie: false, restartMs: 60_000 })
  t.equal(log.write(LOG_INFO, 'one'), false, 'not on stderr')
  await waitFor(() => r.lines().length, 5000, 'one')
  const first = await loggerOf(process.pid)
  process.kill(first.pid, 'SIGKILL')
  await waitFor(() => !alive(first.pid), 2000, 'the logger dead')
  log.write(LOG_INFO, 'two')
  await sleep(500)
  t.equal(r.lines().length, 1, 'no new logger within the minute')
  t.same(children(process.pid).filter(c => c.comm === 'logger'), [])
  log.close()
  await log.closed!(5000)
  await waitFor(() => r.lines().length >= 2, 5000, 'two')
  t.same(r.lines().map(message), ['14 one', '14 two'])
  t.equal(log.write(LOG_INFO, 'three'), false, 'after close, nothing')
  await sleep(200)
  t.equal(r.lines().length, 2)
})

t.test('the line that finds the logger dead goes to the next one', { skip: needs('python3', 'logger') }, async t => {
  const sock = join(shortDir(t), 's')
  const r = await receiver(t, sock)
  const log = syslogTarget(sock, { tie: false, restartMs: 0 })
  t.teardown(() => log.close())
  log.write(LOG_INFO, 'one')
  await waitFor(() => r.lines().length, 5000, 'one')
  const { pid } = await loggerOf(process.pid)
  process.kill(pid, 'SIGKILL')
  // wait for its death without a turn of the event loop, so that this
  // process has not heard of it when the next line comes
  // (a zombie counts as dead here: only node's reaping of it is held back)
  const running = () => existsSync(`/proc/${pid}/stat`) && !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  const end = Date.now() + 5000
  while (running() && Date.now() < end);
  t.notOk(running(), 'dead')
  log.write(LOG_INFO, 'two')
  log.write(LOG_INFO, 'three')
  await waitFor(() => r.lines().length >= 3, 5000, 'two and three')
  t.same(r.lines().map(message), ['14 one', '14 two', '14 three'])
})

t.test('lines wait for the next logger while the socket is gone, and go to it in order', { skip: needs('python3', 'logger') }, async t => {
  const sock = join(shortDir(t), 's')
  let r = await receiver(t, sock)
  const log = syslogTarget(sock, { tie: false, restartMs: 1500 })
  t.teardown(() => log.close())
  log.write(LOG_INFO, 'one')
  await waitFor(() => r.lines().length, 5000, 'one')
  let dead = (await loggerOf(process.pid)).pid
  process.kill(dead, 'SIGKILL')
  await waitFor(() => !alive(dead), 2000, 'the logger dead')
  log.write(LOG_INFO, 'two')
  // the socket goes before the restart is due: no logger is started for it
  r.stop()
  unlinkSync(sock)
  await sleep(2000)
  t.same(children(process.pid).filter(c => c.comm === 'logger'), [])
  r = await receiver(t, sock)
  log.write(LOG_INFO, 'three')
  await waitFor(() => r.lines().length >= 2, 5000, 'two and three')
  t.same(r.lines().map(message), ['14 two', '14 three'])

  // killed at once: its replacement comes when due, without another line to bring it
  dead = (await loggerOf(process.pid)).pid
  process.kill(dead, 'SIGKILL')
  await waitFor(() => !alive(dead), 2000, 'the logger dead')
  log.write(LOG_INFO, 'four')
  await waitFor(() => r.lines().length >= 3, 5000, 'four')
  t.same(r.lines().map(message), ['14 two', '14 three', '14 four'])
})

t.test('a system log that stops reading: bounded memory, the newest lines kept, the loss counted', { skip: needs('python3', 'logger') }, async t => {
  const sock = join(shortDir(t), 's')
  const r = await receiver(t, sock, true)
  const log = syslogTarget(sock, { tie: false, queueMax: 5 })
  t.teardown(() => log.close())
  const N = 3000
  for (let i = 0; i < N; i++) log.write(LOG_INFO, `line ${i} ${'x'.repeat(90)}`)
  r.resume()
  await waitFor(() => r.lines().some(l => l.includes(`line ${N - 1} `)), 10000, 'the last line')
  const got = r.lines().map(message)
  const note = got.findIndex(m => m.startsWith('12 lost '))
  t.ok(note > 0, 'a note of the loss')
  const before = got.slice(0, note).map(m => Number(m.split(' ')[2]))
  t.same(before, before.map((_, i) => i), 'the lines before it in order, none missing')
  t.equal(got[note], `12 lost ${N - before.length - 5} log messages while logger could not take them`)
  t.same(
    got.slice(note + 1).map(m => Number(m.split(' ')[2])),
    [5, 4, 3, 2, 1].map(k => N - k),
    'then the newest five',
  )
})

t.test('closed() kills a logger still stuck at its deadline', { skip: needs('python3', 'logger') }, async t => {
  const sock = join(shortDir(t), 's')
  await receiver(t, sock, true)
  const log = syslogTarget(sock, { tie: false })
  for (let i = 0; i < 30; i++) log.write(LOG_INFO, `line ${i}`)
  const logger = await loggerOf(process.pid)
  await waitFor(() => wchan(logger.pid) === 'unix_wait_for_peer', 5000, 'the logger stuck')
  log.close()
  await log.closed!(300)
  t.notOk(alive(logger.pid))
  await log.closed!(300)
  t.pass('and once it is gone, closed() resolves at once')
})

t.test('a logger that cannot be started: what waited for it at close goes where lines go without a system log', { skip: needs('python3', 'logger') }, async t => {
  const sock = join(shortDir(t), 's')
  const r = await receiver(t, sock)
  const elsewhere: string[] = []
  const fallback = (m: string) => (elsewhere.push(m), true as const)
  const log = syslogTarget(sock, { tie: false, logger: '/nonexistent/logger', restartMs: 60_000, fallback })
  t.equal(log.write(LOG_INFO, 'waited for a logger'), false)
  await sleep(300)
  t.same(elsewhere, [], 'kept for the next logger')
  r.stop()
  unlinkSync(sock)
  t.equal(log.write(LOG_INFO, 'no system log'), true, 'a line without a socket goes elsewhere at once')
  log.close()
  await log.closed!(1000)
  t.same(elsewhere, ['no system log', 'waited for a logger'])
})

t.test('a line that finds the logger dead while closing goes where lines go without a system log', { skip: needs('python3', 'logger') }, async t => {
  const sock = join(shortDir(t), 's')
  await receiver(t, sock)
  const elsewhere: string[] = []
  const log = syslogTarget(sock, { tie: false, logger: '/nonexistent/logger', fallback: m => (elsewhere.push(m), true) })
  log.write(LOG_INFO, 'last words')
  log.close()
  log.close()
  await log.closed!(1000)
  await waitFor(() => elsewhere.length, 2000, 'the line')
  t.same(elsewhere, ['last words'])
})
