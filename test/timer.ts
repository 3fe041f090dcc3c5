import t from 'tap'
import { after, now } from '../src/timer.js'

t.test('fires once, after the time', async t => {
  const start = now()
  await new Promise<void>(r => after(30, r))
  t.ok(now() - start >= 29)
})

t.test('a delay longer than setTimeout allows is waited in parts', async t => {
  const start = now()
  // a 10 ms limit makes 60 ms take several rounds
  await new Promise<void>(r => after(60, r, 10))
  t.ok(now() - start >= 59)
})

t.test('cancel stops it', async t => {
  let fired = false
  after(20, () => (fired = true)).cancel()
  await new Promise(r => setTimeout(r, 60))
  t.equal(fired, false)
})
