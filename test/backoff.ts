import t from 'tap'
import { graceTime } from '../src/backoff.js'

t.test('an ssh that stayed up resets the count', async t => {
  t.same(graceTime(7, Infinity, 600), { tries: 0, waitMs: 0 })
  t.same(graceTime(7, 60, 600), { tries: 0, waitMs: 0 }, 'poll/10 = 60 s is long enough')
  t.same(graceTime(7, 10, 30), { tries: 0, waitMs: 0 }, 'at least 10 s')
})

t.test('five quick tries, then waits growing with the square, capped at the poll', async t => {
  let tries = 0
  const waits: number[] = []
  for (let i = 0; i < 14; i++) {
    const g = graceTime(tries, 1, 600)
    tries = g.tries
    waits.push(g.waitMs / 1000)
  }
  // (600/100) * t*t/3 for t = tries - 5
  t.same(waits, [0, 0, 0, 0, 0, 2, 8, 18, 32, 50, 72, 98, 128, 162])
  t.same(graceTime(40, 1, 600), { tries: 41, waitMs: 600000 })
  t.same(graceTime(5, 1, 4), { tries: 6, waitMs: 0 }, 'short polls barely wait')
})
