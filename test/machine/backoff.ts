import t from 'tap'
import { ceiling, graceTime, heldPortWait, minTime, monitorReaskWait, waitBounds, type Random } from '../../src/machine/backoff.js'

const fixed =
  (...values: number[]): Random =>
  () =>
    values.length > 1 ? values.shift()! : values[0]!

t.test('an ssh that stayed up resets the count', async t => {
  t.same(graceTime(7, Infinity, 600), { tries: 0, waitMs: 0, why: 'first start' })
  t.same(graceTime(7, 60, 600), { tries: 0, waitMs: 0, why: 'ssh stayed up 60 s (≥ 60 s): tries reset' }, 'poll/10 = 60 s is long enough')
  t.same(graceTime(7, 10, 30).tries, 0, 'at least 10 s')
  t.same(graceTime(7, 9.5, 30).tries, 8, 'less is quick')
  t.equal(minTime(4), 10)
  t.equal(minTime(600), 60)
})

t.test('five quick tries, then random waits under a cap that doubles to a ceiling', async t => {
  const run = (pollTime: number, random: Random, n = 12) => {
    let tries = 0
    const waits: number[] = []
    for (let i = 0; i < n; i++) {
      const g = graceTime(tries, 1, pollTime, random)
      t.equal(g.tries, tries + 1)
      tries = g.tries
      waits.push(g.waitMs / 1000)
    }
    return waits
  }
  // the lowest and the highest waits the random source can give
  t.same(run(600, () => 0), [0, 0, 0, 0, 0, 1, 1, 20, 20, 20, 20, 20])
  t.same(run(600, () => 0.999999), [0, 0, 0, 0, 0, 16, 32, 50, 50, 50, 50, 50])
  t.same(run(600, () => 0.5), [0, 0, 0, 0, 0, 8.5, 16.5, 35, 35, 35, 35, 35])
  t.same(graceTime(40, 1, 600, () => 0.5), { tries: 41, waitMs: 35000, why: 'try 41: a random wait between 20 s and 50 s' })
  t.same(graceTime(2, 1, 600, () => 0.5), { tries: 3, waitMs: 0, why: 'quick try 3 of 5' })
  t.same(graceTime(5, 1, 600, fixed(0.25)).why, 'try 6: a random wait between 1 s and 16 s')
})

t.test('the ceiling stays a quarter of the poll at most', async t => {
  t.equal(ceiling(600), 50)
  t.equal(ceiling(200), 50)
  t.equal(ceiling(100), 25)
  t.equal(ceiling(10), 2.5)
  t.same(waitBounds(1, 100), { floor: 1, cap: 16 })
  t.same(waitBounds(2, 100), { floor: 10, cap: 25 })
  t.same(waitBounds(1, 4), { floor: 0.4, cap: 1 }, 'short polls: the ceiling at once')
  const over: string[] = []
  for (const poll of [1, 4, 5, 10, 30, 60, 100, 600, 86400])
    for (let tries = 5; tries < 30; tries++) {
      const most = graceTime(tries, 1, poll, () => 0.999999).waitMs
      const least = graceTime(tries, 1, poll, () => 0).waitMs
      if (most > (poll * 1000) / 4 || most > 50000 || least <= 0) over.push(`poll ${poll}, try ${tries + 1}: ${least} to ${most} ms`)
    }
  t.same(over, [], 'every wait: some, but at most a quarter of the poll and 50 s')
  t.same(graceTime(5, 1, 4, () => 0.5), { tries: 6, waitMs: 700, why: 'try 6: a random wait between 0.4 s and 1 s' })
})

t.test('the default random source stays within the bounds', async t => {
  const waits = Array.from({ length: 200 }, () => graceTime(5, 1, 600).waitMs)
  const held = Array.from({ length: 200 }, () => heldPortWait(0))
  t.same(waits.filter(w => w < 1000 || w > 16000), [], 'waits within 1 to 16 s')
  t.same(held.filter(w => w < 2000 || w > 4000), [], 'held-port waits within 2 to 4 s')
  t.ok(new Set(waits).size > 100, 'and random')
  t.ok(new Set(held).size > 100, 'held-port waits too: a fleet refused at once does not retry at one instant')
})

t.test('a port still held: quick jittered tries, then a tenth of the time held, at most a login a minute', async t => {
  t.equal(heldPortWait(0, () => 0), 2000)
  t.equal(heldPortWait(0, () => 0.5), 3000)
  t.equal(heldPortWait(0, () => 0.999999), 4000)
  t.equal(heldPortWait(30000, () => 0.5), 3000, 'held 30 s: still quick')
  t.equal(heldPortWait(100000, () => 0), 10000, 'held 100 s: a tenth of it')
  t.equal(heldPortWait(100000, () => 0.5), 9000, 'jittered down, never up')
  t.equal(heldPortWait(200000, () => 0.999999), 16000)
  t.equal(heldPortWait(3600000, () => 0), 60000, 'held an hour: a login a minute')
  // a server that never lets go: the logins in the fourth minute, whatever the jitter
  for (const r of [0, 0.5, 0.999999]) {
    let at = 0
    const since = 0
    let fourth = 0
    while (at < 240000) {
      at += heldPortWait(at - since, () => r) + 500 // and the login's own time
      if (at >= 180000 && at < 240000) fourth++
    }
    t.ok(fourth <= 4, `random ${r}: ${fourth} logins in the fourth minute`)
  }
  t.ok(new Set(Array.from({ length: 50 }, () => heldPortWait(600000))).size > 10, 'the default source is random')
})

t.test('the monitor port held: ssh is kept, and asked for again no sooner than 30 s, growing, jittered up', async t => {
  t.equal(monitorReaskWait(0, () => 0), 30000)
  t.equal(monitorReaskWait(0, () => 0.999999), 37500)
  t.equal(monitorReaskWait(200000, () => 0), 50000, 'a quarter of the time held')
  t.equal(monitorReaskWait(3600000, () => 0), 300000, 'at most 5 min')
  const waits = new Set(Array.from({ length: 50 }, () => monitorReaskWait(0)))
  t.ok(waits.size > 10, 'the default source is random')
})
