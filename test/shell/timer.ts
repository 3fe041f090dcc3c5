import t, { type Test } from 'tap'
import { after, now } from '../../src/shell/timer.js'

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))

/** the delays src/shell/timer.ts hands to setTimeout, recorded */
const spySetTimeout = (t: Test) => {
  const delays: number[] = []
  const real = globalThis.setTimeout
  globalThis.setTimeout = ((fn: () => void, ms?: number) => {
    if (new Error().stack!.includes('/src/shell/timer.ts')) delays.push(ms ?? 0)
    return real(fn, ms)
  }) as typeof setTimeout
  t.teardown(() => void (globalThis.setTimeout = real))
  return delays
}

t.test('fires once, after the time, and never again', async t => {
  const start = now()
  let calls = 0
  let at = 0
  after(30, () => {
    calls++
    at = now() - start
  })
  await sleep(200)
  t.equal(calls, 1, 'once')
  t.ok(at >= 29, `not before its time (${at} ms)`)
})

t.test('a delay longer than setTimeout allows is waited in parts, each within the limit, and fires once', async t => {
  const delays = spySetTimeout(t)
  const start = now()
  let calls = 0
  // a 10 ms limit makes 60 ms take several rounds
  await new Promise<void>(r =>
    after(
      60,
      () => {
        calls++
        r()
      },
      10,
    ),
  )
  t.ok(now() - start >= 59)
  t.ok(delays.length >= 3, `re-armed (${delays.length} rounds)`)
  t.ok(delays.every(d => d <= 10), `no round over the limit: ${delays.join(', ')}`)
  await sleep(50)
  t.equal(calls, 1)
})

t.test('a timer of 30 days neither fires at once nor asks setTimeout for more than it can (it would fire after 1 ms)', async t => {
  const delays = spySetTimeout(t)
  let fired = false
  const timer = after(30 * 24 * 3600 * 1000, () => (fired = true))
  await sleep(50)
  timer.cancel()
  t.equal(fired, false)
  t.same(delays, [2 ** 31 - 1], 'one round, at the limit')
})

t.test('cancel stops it', async t => {
  let fired = false
  after(20, () => (fired = true)).cancel()
  await sleep(60)
  t.equal(fired, false)
})
