// The supervise loop with real processes: a stand-in ssh, real signals.
import t, { type Test } from 'tap'
import { alive, Fake, sleep, start, waitFor } from '../helpers/autossh.js'
import { Logger } from '../../src/log/logger.js'
import type { Monitor } from '../../src/monitor/probe.js'
import { run } from '../../src/shell/run.js'
import { needs } from '../helpers/needs.js'

const fake = (t: Test, plan: string[]) => {
  const f = new Fake(plan)
  t.teardown(() => f.cleanup())
  return f
}

t.test('restarts on 255, exits on 0, with the log lines of 1.4g', async t => {
  const f = fake(t, ['255', '255', '0'])
  const r = start(['-M', '0', '-N', 'host'], f.env({ AUTOSSH_GATETIME: '0' }))
  t.equal(await r.done, 0)
  t.equal(f.runs().length, 3)
  t.same(f.messages().filter(m => !m.startsWith('ssh child pid')), [
    'port set to 0, monitoring disabled',
    'starting ssh (count 1)',
    'ssh exited with error status 255; restarting ssh',
    'starting ssh (count 2)',
    'ssh exited with error status 255; restarting ssh',
    'starting ssh (count 3)',
    'ssh exited with status 0; autossh exiting',
  ])
  t.equal(f.runs()[0]!.args.join(' '), '-N host')
})

t.test('SIGTERM: ssh is killed, autossh exits 1, no zombie', async t => {
  const f = fake(t, ['sleep'])
  const r = start(['-M', '0', 'host'], f.env())
  const [run] = await waitFor(() => (f.runs().length ? f.runs() : undefined), 10000, 'ssh to start')
  await waitFor(() => f.messages().some(m => m.startsWith('ssh child pid is')), 5000, 'child pid line')
  // the stand-in may not have written down its argv yet
  await waitFor(() => f.runs().length, 10000, 'ssh to record its start')
  r.child.kill('SIGTERM')
  t.equal(await r.done, 1)
  t.notOk(alive(run!.pid), 'ssh is gone')
  t.ok(f.messages().includes('received signal to exit (15)'))
})

for (const [sig, num] of [['SIGINT', 2], ['SIGQUIT', 3], ['SIGABRT', 6]] as const) {
  t.test(`${sig} ends it like SIGTERM`, async t => {
    const f = fake(t, ['sleep'])
    const r = start(['-M', '0', 'host'], f.env())
    await waitFor(() => f.messages().some(m => m.startsWith('ssh child pid is')), 10000, 'child pid line')
    await waitFor(() => f.runs().length, 10000, 'ssh to start')
    r.child.kill(sig)
    t.equal(await r.done, 1)
    t.ok(f.messages().includes(`received signal to exit (${num})`))
    t.notOk(alive(f.runs()[0]!.pid))
  })
}

t.test('SIGUSR1 kills and restarts ssh', async t => {
  const f = fake(t, ['sleep', 'sleep'])
  const r = start(['-M', '0', 'host'], f.env())
  await waitFor(() => f.messages().some(m => m.startsWith('ssh child pid is')), 10000, 'first ssh')
  // the stand-in may not have written down its argv yet
  await waitFor(() => f.runs().length, 10000, 'ssh to record its start')
  r.child.kill('SIGUSR1')
  await waitFor(() => f.runs().length === 2, 10000, 'second ssh')
  t.notOk(alive(f.runs()[0]!.pid), 'the first ssh is gone')
  t.ok(f.messages().includes('signalled to kill and restart ssh'))
  t.ok(alive(r.child.pid!), 'autossh lives on')
  r.child.kill('SIGTERM')
  t.equal(await r.done, 1)
})

t.test('ssh killed from outside is restarted', async t => {
  const f = fake(t, ['sleep', 'sleep'])
  const r = start(['-M', '0', 'host'], f.env())
  await waitFor(() => f.messages().some(m => m.startsWith('ssh child pid is')), 10000, 'first ssh')
  // the stand-in may not have written down its argv yet
  await waitFor(() => f.runs().length, 10000, 'ssh to record its start')
  process.kill(f.runs()[0]!.pid, 'SIGKILL')
  await waitFor(() => f.runs().length === 2, 10000, 'second ssh')
  t.ok(f.messages().includes('ssh exited on signal 9, restarting ssh'))
  r.child.kill('SIGTERM')
  await r.done
})

t.test('an ssh that ignores SIGTERM gets SIGKILL after the grace period', async t => {
  const f = fake(t, ['stubborn'])
  const r = start(['-M', '0', 'host'], f.env({ AUTOSSH_DEBUG: '1' }))
  await waitFor(() => f.messages().some(m => m.startsWith('ssh child pid is')), 10000, 'ssh')
  // the stand-in may not have written down its argv yet
  await waitFor(() => f.runs().length, 10000, 'ssh to record its start')
  await new Promise(r => setTimeout(r, 300))
  r.child.kill('SIGTERM')
  t.equal(await r.done, 1)
  t.notOk(alive(f.runs()[0]!.pid))
  t.ok(f.messages().some(m => /did not exit after 5 seconds, sending SIGKILL/.test(m)))
})

t.test('HUP cuts a backoff wait short; SIGPIPE does not kill autossh', async t => {
  // poll 600: after 5 quick restarts, random waits of 1 to 16 s, 1 to 32 s, then 20 to 50 s: one of 5 s or more soon
  const f = fake(t, ['255'])
  const r = start(['-M', '0', 'host'], f.env({ AUTOSSH_GATETIME: '0', AUTOSSH_DEBUG: '1' }))
  const long = (m: string) => Number(/^sleeping for grace time (\d+) secs$/.exec(m)?.[1]) >= 5
  await waitFor(() => f.messages().some(long), 30000, 'a wait of 5 s or more')
  const runs = f.runs().length
  r.child.kill('SIGPIPE')
  r.child.kill('SIGHUP')
  await waitFor(() => f.runs().length === runs + 1, 3000, 'start right after HUP')
  t.ok(alive(r.child.pid!))
  r.child.kill('SIGTERM')
  t.equal(await r.done, 1)
})

t.test('SIGTERM during a backoff wait', async t => {
  const f = fake(t, ['255'])
  const r = start(['-M', '0', 'host'], f.env({ AUTOSSH_GATETIME: '0', AUTOSSH_DEBUG: '1' }))
  await waitFor(() => f.messages().some(m => m.startsWith('sleeping for grace time')), 15000, 'a wait')
  r.child.kill('SIGTERM')
  t.equal(await r.done, 1)
  t.equal(f.messages().at(-1), 'signalled to exit')
})

t.test('max start count and lifetime', async t => {
  const f = fake(t, ['255'])
  t.equal(await start(['-M', '0', 'host'], f.env({ AUTOSSH_GATETIME: '0', AUTOSSH_MAXSTART: '3' })).done, 0)
  t.equal(f.runs().length, 3)
  t.equal(f.messages().at(-1), 'max start count reached; exiting')

  const g = fake(t, ['sleep'])
  const r = start(['-M', '0', 'host'], g.env({ AUTOSSH_MAXLIFETIME: '2' }))
  t.equal(await r.done, 0)
  t.equal(g.messages().at(-1), 'exceeded maximum time to live, shutting down')
  t.notOk(alive(g.runs()[0]!.pid))
})

t.test('gate time: a quick first failure ends it', async t => {
  const f = fake(t, ['255'])
  t.equal(await start(['-M', '0', 'host'], f.env()).done, 1)
  t.equal(f.messages().at(-1), 'ssh exited prematurely with status 255; autossh exiting')
})

// ssh dies under a probe, with the test line taken and never answered: either it
// exits 255 after 5 s, its sockets kept open a while (the probe, started after
// 2 s, would wait 15 s at poll 60), or it exits the moment the line comes, its
// forward closing as it goes. Either way the restart is for ssh's exit.
for (const [plan, name] of [
  ['swallow:5', 'ssh exits while a probe is in flight: the probe is dropped, ssh restarted'],
  ['die-on-data', 'ssh dies as a probe reaches it: the log says ssh exited, not port down'],
] as const) {
  t.test(name, { skip: needs('python3') }, async t => {
    const { freePortPair } = await import('../world/index.js')
    const port = await freePortPair()
    const f = fake(t, [plan, 'sleep'])
    const r = start(['-M', String(port), 'host'], f.env({ AUTOSSH_GATETIME: '0', AUTOSSH_POLL: '60', AUTOSSH_FIRST_POLL: '2' }))
    await waitFor(() => f.runs().length === 2, 15000, 'second ssh')
    // long enough for a late probe result to have been (wrongly) acted on
    await sleep(300)
    const said = f.messages()
    t.ok(said.includes('ssh exited with error status 255; restarting ssh'))
    t.notOk(said.includes('port down, restarting ssh'), 'the probe counts for nothing')
    r.child.kill('SIGTERM')
    t.equal(await r.done, 1)
  })
}

// The rule that outlives any way of choosing the probe deadline: on a fast
// link, with polls under 30 s, a silent cut is caught (ssh killed) within a
// poll and 1.5 s. Poll 10 s, so that the net timeout (5 s) is not enough.
t.test('poll 10 s: a silent cut right after a passed probe gets ssh killed after the next poll, within poll + 1.5 s (here + 4 s)', { skip: needs('python3') }, async t => {
  const { freePortPair } = await import('../world/index.js')
  const port = await freePortPair()
  const f = fake(t, ['forward:1', 'sleep'])
  const r = start(['-M', String(port), 'host'], f.env({ AUTOSSH_GATETIME: '0', AUTOSSH_POLL: '10', AUTOSSH_FIRST_POLL: '1' }))
  await waitFor(() => f.read('term'), 25000, 'ssh to be killed')
  const took = Number(f.read('term')) - Number(f.read('cut'))
  t.ok(took >= 9.5, `not before the next poll (${took.toFixed(2)} s after the cut)`)
  t.ok(took < 14, `within poll + 4 s (${took.toFixed(2)} s after the cut)`)
  t.ok(f.messages().includes('port down, restarting ssh'))
  r.child.kill('SIGTERM')
  t.equal(await r.done, 1)
})

t.test('the world is watched once ssh is on its way; told to exit before that, it is not watched at all', async t => {
  const said: string[] = []
  const log = new Logger({ name: 'file', write: (_level, message) => {
      said.push(message)
      return false
    }, close: () => {} }, 7, false)
  const plan = { maxStart: -1, gateTime: 0, pollTime: 600, firstPollTime: 600, maxLifetime: 0, monitoring: false, netTimeoutMs: 300 }
  // a SIGTERM before the loop exists (early.ts records it): the loop ends at once, ssh never starts
  process.emit('SIGTERM', 'SIGTERM')
  let opened = 0
  const source = () => {
    opened++
    return { close: () => {} }
  }
  t.equal(await run({ plan, sshPath: '/bin/sleep', sshArgs: ['1000'], log, sources: [source] }), 1)
  t.equal(opened, 0, 'no watcher started')
  let seen: string[] = []
  let closed = false
  const watcher = () => {
    seen = [...said]
    return { close: () => void (closed = true) }
  }
  const ended = run({ plan, sshPath: '/bin/sleep', sshArgs: ['1000'], log, sources: [watcher] })
  t.ok(seen.some(m => m.includes('starting ssh (count 1)')), 'opened after ssh was started')
  await waitFor(() => said.some(m => m.includes('ssh child pid is')), 10000, 'ssh to start')
  process.emit('SIGTERM', 'SIGTERM')
  t.equal(await ended, 1)
  t.ok(closed, 'and closed on the way out')
})

// In-process: a probe that never ends stands for a stuck loop. The poll is due at
// 0.2 s; its probe may take the net timeout (0.3 s) and 5 s of slack, then the
// loop counts as stuck and WATCHDOG=1 is no longer sent (systemd restarts autossh).
t.test('the watchdog: healthy while a probe may still end, not once a poll is long overdue', async t => {
  const began = performance.now()
  const ticks: { at: number; healthy: boolean }[] = []
  const monitor = { probe: () => new Promise<never>(() => {}), reset: () => {}, close: () => {} } as unknown as Monitor
  const status = await run({
    plan: { maxStart: -1, gateTime: 0, pollTime: 600, firstPollTime: 0.2, maxLifetime: 6.5, monitoring: true, netTimeoutMs: 300 },
    sshPath: '/bin/sleep',
    sshArgs: ['1000'],
    log: new Logger({ name: 'file', write: () => false, close: () => {} }, 7, false),
    monitor,
    sources: [],
    reporter: { state: () => {}, probe: () => {}, forwards: () => {}, tick: healthy => void ticks.push({ at: performance.now() - began, healthy }), tickMs: 200 },
  })
  t.equal(status, 0, 'ended by its lifetime')
  const before = ticks.filter(k => k.at < 5000)
  const after = ticks.filter(k => k.at > 6000)
  t.ok(before.length > 10 && before.every(k => k.healthy), 'healthy for 5 s after the poll was due')
  t.ok(after.length > 0 && after.every(k => !k.healthy), `stuck 5.8 s after the poll was due: ${JSON.stringify(after)}`)
})
