// Signal handlers from the first moment: a signal during start-up is
// recorded, not fatal, and the supervise loop takes it as its first event.
import t, { type Test } from 'tap'
import { readFileSync } from 'node:fs'
import { constants } from 'node:os'
import { takeEarlySignals } from '../src/early.js'
import { alive, Fake, start, waitFor } from './helpers/autossh.js'

const nextTurn = () => new Promise(r => setTimeout(r, 50))

t.test('in order, until the loop takes them; never fatal', async t => {
  process.kill(process.pid, 'SIGHUP')
  await nextTurn()
  process.kill(process.pid, 'SIGUSR1')
  await nextTurn()
  process.kill(process.pid, 'SIGHUP')
  await nextTurn()
  t.same(takeEarlySignals(), ['SIGHUP', 'SIGUSR1', 'SIGHUP'])
  process.kill(process.pid, 'SIGHUP')
  await nextTurn()
  t.same(takeEarlySignals(), [], 'once taken, no more are recorded')
  t.pass('and this process lives on')
})

/** has the process a handler for this signal yet? (SigCgt in /proc/PID/status) */
const catches = (pid: number, signal: keyof typeof constants.signals): boolean => {
  try {
    const mask = BigInt('0x' + /^SigCgt:\s*([0-9a-f]+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1])
    return ((mask >> BigInt(constants.signals[signal] - 1)) & 1n) === 1n
  } catch {
    return false
  }
}

/**
 * Signal autossh as early as a test can be sure to: the moment cli.ts ignores
 * SIGPIPE, after every module of the bundle has been evaluated and before
 * main() starts. Before early.ts this was a moment without any handler.
 */
const signalAtStart = (pid: number, signal: NodeJS.Signals) => {
  const end = Date.now() + 10000
  while (!catches(pid, 'SIGPIPE')) if (Date.now() > end) throw new Error('autossh never got as far as cli.ts')
  process.kill(pid, signal)
}

/** its exit status, or 'still running' after 10 s */
const within = (done: Promise<number | string>) => Promise.race([done, new Promise(r => setTimeout(() => r('still running'), 10000))])

const fake = (t: Test, plan: string[]) => {
  const f = new Fake(plan)
  t.teardown(() => f.cleanup())
  return f
}

// DEBUG: tracing is loaded by import(), so start-up surely waits on I/O at
// least once before the loop exists, and the signal is handled in that time
const STARTUP = { AUTOSSH_GATETIME: '0', DEBUG: 'autossh:*' }

t.test('SIGTERM during start-up: as 1.4g, exit 1 and nothing left; no ssh started', async t => {
  const f = fake(t, ['sleep'])
  const pidFile = `${f.dir}/a.pid`
  const r = start(['-M', '0', '-N', 'host'], f.env({ ...STARTUP, AUTOSSH_PIDFILE: pidFile }))
  signalAtStart(r.child.pid!, 'SIGTERM')
  t.equal(await within(r.done), 1, 'not killed by the signal: exit 1, as 1.4g')
  // on a loaded machine the signal may come once the loop runs: then ssh was started and is gone again
  for (const run of f.runs()) t.notOk(alive(run.pid), `ssh ${run.pid} is gone`)
  t.match(f.messages().at(-1), /^(signalled to exit|received signal to exit \(15\))$/, 'the loop took it')
  if (f.runs().length === 0) t.same(f.messages(), ['port set to 0, monitoring disabled', 'signalled to exit'], 'as its first event')
  t.throws(() => readFileSync(pidFile), 'no pid file')
})

t.test('SIGHUP during start-up does not kill autossh; it runs on', async t => {
  const f = fake(t, ['sleep'])
  const r = start(['-M', '0', '-N', 'host'], f.env(STARTUP))
  signalAtStart(r.child.pid!, 'SIGHUP')
  const ssh = await waitFor(() => f.runs()[0], 10000, 'ssh')
  t.ok(alive(ssh.pid), 'ssh runs')
  r.child.kill('SIGTERM')
  t.equal(await within(r.done), 1)
  t.notOk(alive(ssh.pid), 'and goes with autossh')
})

t.test('-f: a hangup before the background copy exists does not kill the foreground', async t => {
  const f = fake(t, ['sleep'])
  const r = start(['-M', '0', '-f', '-N', 'host'], f.env({ AUTOSSH_GATETIME: '0' }))
  signalAtStart(r.child.pid!, 'SIGHUP')
  t.equal(await within(r.done), 0, 'the foreground exits 0 once the background runs')
  const ssh = await waitFor(() => f.runs()[0], 10000, 'ssh from the background copy')
  const background = Number(/autossh\[(\d+)\]: starting ssh/.exec(readFileSync(f.log, 'utf8'))![1])
  t.teardown(() => alive(background) && process.kill(background, 'SIGKILL'))
  t.ok(alive(ssh.pid), 'ssh runs')
  process.kill(background, 'SIGTERM')
  await waitFor(() => !alive(background) && !alive(ssh.pid), 10000, 'the background copy and ssh gone')
})

t.test('-f: SIGTERM before the background copy exists: exit 1, nothing started', async t => {
  const f = fake(t, ['sleep'])
  const r = start(['-M', '0', '-f', '-N', 'host'], f.env(STARTUP))
  signalAtStart(r.child.pid!, 'SIGTERM')
  t.equal(await within(r.done), 1)
  await new Promise(r => setTimeout(r, 1000))
  t.same(f.runs(), [], 'no ssh, no background copy')
})
