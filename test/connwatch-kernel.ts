// ssh's own connection watched, end to end on the kernel link (client,
// router and server namespaces; a silent cut is a blackhole in the router):
//  - -M 0 with ServerAliveInterval 10 x 3: a silent cut restarts ssh well
//    before ssh gives up by itself (30 to 40 s); with AUTOSSH_CONNWATCH=off
//    it takes that long, as in 1.4g (this case goes red when the watch is
//    broken);
//  - -M 0, the client's address moved: the forward works again at once;
//  - a monitor at the default poll and a user writing every 10 s: a cut is
//    probed as soon as the user's bytes go unacknowledged;
//  - a slow, rate-limited line with a full queue and a delay that jumps:
//    no restart.
// The cases run side by side, each in namespaces of its own.
import t, { type Test } from 'tap'
import net from 'node:net'
import { performance } from 'node:perf_hooks'
import { CLI } from './helpers/autossh.js'
import { talk } from './world/index.js'
import { kernelLinkAvailable, makeKernelLink, type KernelLink, type Spawned } from './world/kernel-link.js'

const available = kernelLinkAvailable()
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))
const USER_PORT = 2000
const KEEPALIVE = ['-o', 'ServerAliveInterval=10', '-o', 'ServerAliveCountMax=3']

interface Tunnel {
  kl: KernelLink
  a: Spawned
  /** the ssh pids autossh has logged, in order */
  pids(): number[]
  lines(): string[]
  forward(ms?: number): Promise<boolean>
}

/** autossh (ours) in the client namespace, its forward to the server's target working */
const tunnel = async (t: Test, args: string[], env: Record<string, string> = {}, target: 'target' | 'echo' = 'target'): Promise<Tunnel> => {
  const kl = await makeKernelLink({ expose: [USER_PORT] })
  t.teardown(() => kl.close())
  const port = target === 'target' ? kl.targetPort : kl.echoPort
  const a = kl.spawn([process.execPath, CLI, ...args, '-N', ...KEEPALIVE, ...kl.sshOptions, '-L', `${USER_PORT}:127.0.0.1:${port}`, kl.host], {
    env: { AUTOSSH_PATH: '/usr/bin/ssh', AUTOSSH_GATETIME: '0', AUTOSSH_SYSLOG_SOCKET: '/nonexistent/log', AUTOSSH_LOGLEVEL: '7', ...env },
  })
  const lines = () => a.stderr().split('\n')
  const pids = () => lines().flatMap(l => /ssh child pid is (\d+)/.exec(l)?.slice(1).map(Number) ?? [])
  const forward = async (ms = 1000) => {
    const got = await talk(kl.exposed(USER_PORT), 'hi', ms)
    return target === 'target' ? got === 'ok hi' : got === 'hi'
  }
  for (const end = performance.now() + 20000; !(await forward()); await sleep(200))
    if (performance.now() > end) throw new Error(`the forward never worked: ${a.stderr()}`)
  return { kl, a, pids, lines, forward }
}


/** ms from now until autossh logs a new ssh pid, or undefined after boundMs */
const restartWithin = async (tu: Tunnel, boundMs: number): Promise<number | undefined> => {
  const before = tu.pids().length
  const t0 = performance.now()
  while (performance.now() - t0 < boundMs) {
    if (tu.pids().length > before) return performance.now() - t0
    await sleep(100)
  }
  return undefined
}

t.test('the connection watch on a kernel link', { skip: available === true ? false : available }, async t => {
  // the cases side by side: each has its own namespaces
  const cut = async (env: Record<string, string>, boundMs: number) => {
    const tu = await tunnel(t, ['-M', '0'], env)
    // a random phase of the keepalive period
    await sleep(Math.random() * 10000)
    await tu.kl.cut()
    const ms = await restartWithin(tu, boundMs)
    return { ms, lines: tu.lines() }
  }
  const move = async () => {
    const tu = await tunnel(t, ['-M', '0'])
    await sleep(2000)
    await tu.kl.changeClientAddress()
    const t0 = performance.now()
    while (performance.now() - t0 < 20000 && !(await tu.forward(500))) await sleep(100)
    return { ms: performance.now() - t0, lines: tu.lines(), pids: tu.pids() }
  }
  const monitored = async () => {
    const tu = await tunnel(t, ['-M', '20000'])
    // the user writes every 10 s; the cut at a random phase of it
    const writer = setInterval(() => void tu.forward(3000), 10000)
    try {
      await sleep(2000 + Math.random() * 10000)
      await tu.kl.cut()
      const ms = await restartWithin(tu, 60000)
      return { ms, lines: tu.lines() }
    } finally {
      clearInterval(writer)
    }
  }
  const slow = async () => {
    const tu = await tunnel(t, ['-M', '0'], {}, 'echo')
    // a bulk transfer there and back through a slow link whose rate (so queueing delay) jumps
    await tu.kl.slow(256, 1000)
    let stop = false
    const jumps = (async () => {
      while (!stop) {
        await tu.kl.slow([64, 128, 256, 512][Math.floor(Math.random() * 4)]!, 1000)
        await sleep(500 + Math.random() * 1000)
      }
    })()
    let echoed = 0
    const s = net.connect(tu.kl.exposed(USER_PORT), '127.0.0.1')
    s.on('data', d => (echoed += d.length))
    s.on('error', () => {})
    const chunk = Buffer.alloc(16384, 120)
    const feed = setInterval(() => s.writableLength < 65536 && s.write(chunk), 100)
    await sleep(45000)
    stop = true
    clearInterval(feed)
    await jumps
    s.destroy()
    return { echoed, pids: tu.pids(), lines: tu.lines() }
  }

  const [watched, unwatched, moved, mon, slowLine] = await Promise.all([
    cut({}, 45000),
    cut({ AUTOSSH_CONNWATCH: 'off' }, 60000),
    move(),
    monitored(),
    slow(),
  ])

  t.ok(watched.ms !== undefined && watched.ms < 25000, `-M 0, ServerAlive 10 x 3, silent cut: ssh restarted after ${watched.ms?.toFixed(0)} ms (target 18 s)`, {
    lines: watched.lines,
  })
  t.ok(
    watched.lines.some(l => /ssh's connection to 10\.202\.0\.1:22 has had no acknowledgement for \d+ s: restarting ssh/.test(l)),
    'said in words',
  )
  t.ok(unwatched.ms === undefined || unwatched.ms > 25000, `AUTOSSH_CONNWATCH=off: ssh alone, after ${unwatched.ms?.toFixed(0)} ms (1.4g: 30 to 40 s)`, {
    lines: unwatched.lines,
  })
  t.notOk(unwatched.lines.some(l => l.includes('no acknowledgement')), 'off: nothing said of the connection')

  t.ok(moved.ms < 5000, `-M 0, the address moved: the forward works again after ${moved.ms.toFixed(0)} ms (target 3 s)`, { lines: moved.lines })
  t.ok(moved.lines.some(l => l.includes("this machine's address 10.201.1.1 is gone: restarting ssh")), 'said in words')
  t.equal(moved.pids.length, 2, 'one restart')

  t.ok(mon.ms !== undefined && mon.ms < 30000, `a monitor, a user writing every 10 s: ssh restarted ${mon.ms?.toFixed(0)} ms after the cut (target 20 s)`, {
    lines: mon.lines,
  })
  t.ok(mon.lines.some(l => / has had no acknowledgement for \d+ s: probing now/.test(l)), 'the stall probed at once', { lines: mon.lines })

  t.equal(slowLine.pids.length, 1, `a slow jumpy line with a full queue: no restart (${slowLine.echoed} bytes echoed)`, { lines: slowLine.lines })
  t.ok(slowLine.echoed > 100000, 'and the data went through')
})
