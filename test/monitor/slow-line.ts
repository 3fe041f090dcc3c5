// A slow line is not a dead one: over real OpenSSH through a link that is
// slowed, probes must pass and no working ssh may be restarted. (Issue 9's
// first row: with a fixed 1.4 s probe, a 0.8 s round trip restarted ssh at
// every poll.) The bench measures the same over 60 s beside autossh 1.4g.
import t from 'tap'
import { sleep, waitFor } from '../helpers/autossh.js'
import { count, startTunnel, type Tunnel } from '../helpers/tunnel.js'
import { makeWorld, worldSkip, type World } from '../world/index.js'

const RUN_MS = 20000
const env = { AUTOSSH_POLL: '10', AUTOSSH_FIRST_POLL: '10' }

/** watch a tunnel for a while: how often ssh started, how many user checks failed */
const watch = async (tun: Tunnel, shape: (elapsed: number) => void) => {
  const began = Date.now()
  let checks = 0
  let failed = 0
  while (Date.now() - began < RUN_MS) {
    shape(Date.now() - began)
    checks++
    // a new connection through a slow line: a channel to open, then the line's round trip
    if (!(await tun.forwardWorks(8000, 4000))) failed++
    await sleep(2000)
  }
  return { starts: tun.sshPids().length, checks, failed, passed: count(tun, 'connection ok') }
}

const cases = [
  { name: '0.4 s each way', netns: false, mode: 'echo' as const, shape: (w: World) => () => w.link.setDelay(400) },
  { name: '0.4 s each way', netns: true, mode: 'pair' as const, shape: (w: World) => () => w.link.setDelay(400) },
  {
    name: 'a delay that jumps between 0 and 0.5 s',
    netns: false,
    mode: 'echo' as const,
    // 6 s fast, 6 s slow: each poll may find the line changed since the last
    shape: (w: World) => (elapsed: number) => w.link.setDelay(Math.floor(elapsed / 6000) % 2 ? 500 : 0),
  },
]

for (const c of cases) {
  const skip = worldSkip({ netns: c.netns })
  t.test(`${c.mode} mode, ${c.name}: no restarts, the forward keeps working`, { skip, timeout: 120000 }, async t => {
    const w = await makeWorld({ netns: c.netns })
    t.teardown(() => w.close())
    const shape = c.shape(w)
    shape(0)
    const tun = await startTunnel(w, c.mode, env)
    t.teardown(() => tun.autossh.child.kill('SIGKILL'))
    await waitFor(() => tun.messages().some(m => m.startsWith('tunnel up')), 30000, 'tunnel up')
    const r = await watch(tun, shape)
    t.equal(r.starts, 1, 'ssh was never restarted')
    t.equal(count(tun, 'port down, restarting ssh'), 0, 'no probe failed')
    t.ok(r.passed >= 3, `probes passed (${r.passed})`)
    t.equal(r.failed, 0, `the user's forward answered ${r.checks} checks`)
  })
}
