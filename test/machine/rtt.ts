import t from 'tap'
import { deadlines, FLOOR_MS, measure, sample, timeout, type Estimates } from '../../src/machine/rtt.js'

t.test('RFC 6298: the first sample, then smoothing by 1/8 and 1/4', async t => {
  t.same(sample(undefined, 100), { srtt: 100, rttvar: 50 })
  t.same(sample({ srtt: 100, rttvar: 50 }, 200), { srtt: 112.5, rttvar: 62.5 })
})

t.test('the timeout: SRTT + max(G, 4 RTTVAR), within the floor and the ceiling', async t => {
  t.equal(timeout({ srtt: 1, rttvar: 0.5 }, 15000), FLOOR_MS, 'a fast line gets the floor')
  t.equal(timeout({ srtt: 800, rttvar: 5 }, 15000), 900, 'a steady slow line: its round trip and the margin')
  t.equal(timeout({ srtt: 800, rttvar: 200 }, 15000), 1600)
  t.equal(timeout({ srtt: 8000, rttvar: 2000 }, 5000), 5000, 'never above the ceiling')
})

t.test('a round trip that grows slowly moves the deadline with it', async t => {
  let e: Estimates = measure({}, 50, true)
  let rtt = 50
  for (let i = 0; i < 200; i++) {
    rtt *= 1.02
    const [d1] = deadlines(e, 15000)
    t.ok(d1! > rtt, `probe ${i}: ${Math.round(rtt)} ms fits in ${d1}`)
    e = measure(e, rtt, false)
    if (rtt > 5000) break
  }
})

t.test('deadlines: one whole timeout before anything is known; two tries within it after', async t => {
  t.same(deadlines({}, 15000), [15000])
  t.same(deadlines({ warm: { srtt: 1, rttvar: 0 } }, 15000), [15000], 'no fresh probe measured yet')
  const fast = measure(measure({}, 2, true), 1, false)
  t.same(deadlines(fast, 15000), [FLOOR_MS, 2 * FLOOR_MS], 'TCP-like back-off for the second try')
  const slow = measure(measure({}, 2400, true), 800, false)
  const [d1, d2] = deadlines(slow, 5000)
  t.ok(d1! <= 2500 && d1! + d2! <= 5000, 'both within 1.4g\'s timeout')
  t.ok(d2! >= 2400, 'the fresh try gets what a fresh probe took')
  // kept connections answer in 100 ms, fresh ones take 2 s (ssh opens the channels first): 2 s is above twice the first deadline
  const cold = measure(measure({}, 2000, true), 100, false)
  const [c1, c2] = deadlines(cold, 15000)
  t.ok(c2! >= 2000 && c2! > 2 * c1!, `a cold round trip above twice the first deadline is still tried (${c1} + ${c2})`)
  t.same(deadlines(measure({}, 3, true), 15000), [FLOOR_MS, 2 * FLOOR_MS], 'per-probe connections: all measures are fresh')
  t.same(deadlines(measure({}, 3, true), 600), [300, 300], 'a tiny poll: halves of it')
})

t.test('a jump from a fast line to a 1 s round trip passes: the late answer of the first try counts in the second', async t => {
  const fast = measure(measure({}, 5, true), 2, false)
  const [d1, d2] = deadlines(fast, 5000)
  t.ok(d1! + d2! > 1050, `${d1} + ${d2}`)
  t.ok(d1! + d2! < 1500, 'and a silent cut is still caught within 1.5 s of the poll')
})
