// A resume from suspend: the decision on two clocks' samples, and the watch
// around it with clocks the test moves (a real suspend cannot be had here).
import t from 'tap'
import { bootTime, suspended, watchResume } from '../../src/watch/resume.js'

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
