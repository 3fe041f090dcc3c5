// A resume from suspend: the decision on two clocks' samples, and the watch
// around it with clocks the test moves (a real suspend cannot be had here);
// then autossh's use of it, with /proc/uptime as the built CLI reads it moved
// forward (needs npm run build).
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { bootTime, suspended, watchResume } from '../../src/watch/resume.js'
import { Fake, start, waitFor } from '../helpers/autossh.js'
import { freePortPair } from '../world/index.js'

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))

t.test('suspended: the boot clock running ahead of the monotonic one', async t => {
  t.equal(suspended(1000, 6000, 500, 5500, 1000), undefined, 'both ran 5 s: awake')
  t.equal(suspended(1000, 6010, 500, 5500, 1000), undefined, "/proc/uptime's 10 ms steps")
  t.equal(suspended(1000, 65000, 500, 5500, 1000), 59000, 'a minute passed, 5 s of it awake')
  t.equal(suspended(1000, 7000, 500, 5500, 1000), undefined, 'exactly the threshold is not enough')
  t.equal(suspended(1000, 7001, 500, 5500, 1000), 1001)
  t.equal(suspended(1000, 1000, 500, 60500, 1000), undefined, 'a boot clock behind never counts')
})

t.test('bootTime reads CLOCK_BOOTTIME, which runs with the monotonic clock while awake', async t => {
  const b0 = bootTime()
  const m0 = performance.now()
  t.ok(b0 > 0)
  await sleep(300)
  const drift = bootTime() - b0 - (performance.now() - m0)
  t.ok(Math.abs(drift) < 50, `drift ${drift} ms in 300 ms`)
})

t.test('the watch calls onResume once per suspend, with the time slept', async t => {
  let boot = 100000
  let mono = 0
  const calls: number[] = []
  const w = watchResume(ms => calls.push(ms), { intervalMs: 20, readBoot: () => boot, readMono: () => mono })
  t.teardown(() => w.close())
  const tick = async (dBoot: number, dMono: number) => {
    boot += dBoot
    mono += dMono
    await sleep(60)
  }
  await tick(20, 20)
  await tick(20, 20)
  t.same(calls, [], 'awake: no call')
  await tick(30000, 20)
  t.same(calls, [29980], 'asleep for 30 s: one call')
  await tick(20, 20)
  await tick(20, 20)
  t.same(calls, [29980], 'and no more')
  await tick(500, 20)
  t.same(calls, [29980], 'under the threshold: no call')
  w.close()
  await tick(60000, 0)
  t.same(calls, [29980], 'closed: no call')
})

t.test('defaults: /proc/uptime and performance.now, every 5 s', async t => {
  const w = watchResume(() => t.fail('not asleep'))
  await sleep(50)
  w.close()
})

t.test('defaults: a second and more asleep is a resume', async t => {
  let boot = 100000
  let mono = 0
  const calls: number[] = []
  const w = watchResume(ms => calls.push(ms), { intervalMs: 20, readBoot: () => boot, readMono: () => mono })
  t.teardown(() => w.close())
  boot += 920
  mono += 20
  await sleep(60)
  t.same(calls, [], '0.9 s: no')
  boot += 1520
  mono += 20
  await sleep(60)
  t.same(calls, [1500], '1.5 s: yes')
})

t.test('defaults: a resume is told within 5 s', async t => {
  let boot = 100000
  const calls: number[] = []
  const began = Date.now()
  const w = watchResume(ms => calls.push(ms), { readBoot: () => boot, readMono: () => 0 })
  t.teardown(() => w.close())
  boot += 60000
  await waitFor(() => calls.length, 6500, 'the resume to be told').catch(() => {})
  t.same(calls, [60000], `told after ${Date.now() - began} ms`)
})

t.test('autossh probes when the machine wakes: the boot clock 2 s ahead of the monotonic one after the first look', { timeout: 30000 }, async t => {
  const f = new Fake(['sleep'])
  t.teardown(() => f.cleanup())
  // loaded into autossh before its own code: /proc/uptime read as if the machine slept 2 s after the first look
  const preload = join(f.dir, 'slept.cjs')
  writeFileSync(
    preload,
    `const fs = require('node:fs')
const read = fs.readFileSync
let looks = 0
fs.readFileSync = function (path, ...rest) {
  const text = read.call(this, path, ...rest)
  if (path !== '/proc/uptime' || looks++ === 0) return text
  const [up, idle] = String(text).split(' ')
  return (Number(up) + 2).toFixed(2) + ' ' + idle
}
`,
  )
  const port = await freePortPair()
  const began = Date.now()
  const r = start(['-M', String(port), 'host'], f.env({ AUTOSSH_POLL: '60', AUTOSSH_FIRST_POLL: '30', DEBUG: 'autossh:supervise', NODE_OPTIONS: `--require=${preload}` }))
  t.teardown(() => r.child.kill('SIGKILL'))
  const told = await waitFor(() => /resumed after 2 s asleep/.test(r.stderr()), 12000, 'the resume').catch(() => false)
  t.ok(told, `the loop hears of the resume, within 5 s of it (${Date.now() - began} ms after start)`)
  r.child.kill('SIGTERM')
  t.equal(await r.done, 1)
})

t.test('without /proc/uptime the wall clock stands in; a failed look is skipped', async t => {
  const calls: number[] = []
  let mono = 0
  const w = watchResume(ms => calls.push(ms), {
    intervalMs: 20,
    readBoot: () => {
      throw new Error('ENOENT')
    },
    readMono: () => mono,
  })
  await sleep(100)
  t.same(calls, [], 'the wall clock and the monotonic clock run together')
  w.close()
  let fail = false
  const v = watchResume(ms => calls.push(ms), {
    intervalMs: 20,
    readBoot: () => {
      if (fail) throw new Error('EMFILE')
      return 0
    },
    readMono: () => 0,
  })
  fail = true
  await sleep(100)
  t.same(calls, [])
  v.close()
})
