// The stall rule, fed with what the kernel showed of ssh's socket on the
// kernel link (bench/kernel-link.ts in the kernel-link branch): a silent cut
// with the keepalive's 52 bytes outstanding, a moved address (window probes
// that never leave), and a 256 kbit/s link with a full queue.
import t from 'tap'
import { backoffsOf, judge, MIN_BACKOFFS, MIN_STALL_MS, provenSilenceMs, type Episode, type Reading, type Verdict } from '../../src/machine/stall.js'

const r = (txQueue: number, timerActive: number, timerMs: number, retransmits: number, rtoMs?: number, probes = 0): Reading => ({
  txQueue,
  timerActive,
  timerMs,
  retransmits,
  probes,
  ...(rtoMs === undefined ? {} : { rtoMs }),
})

/** readings at times (s); the verdicts */
const feed = (rows: [number, Reading][], from?: Episode): { verdicts: Verdict[]; episode?: Episode } => {
  let e = from
  const verdicts: Verdict[] = []
  for (const [at, reading] of rows) {
    const [next, v] = judge(e, reading, at * 1000)
    e = next
    verdicts.push(v)
  }
  return { verdicts, episode: e }
}

t.test('the thresholds', async t => {
  t.equal(MIN_BACKOFFS, 3)
  t.equal(MIN_STALL_MS, 5000)
})

t.test('backoffs: RTOs under the retransmit timer, unanswered probes under the probe timer, none otherwise', async t => {
  t.equal(backoffsOf(r(52, 1, 100, 3, 1690)), 3)
  t.equal(backoffsOf(r(52, 4, 100, 0, 210, 5)), 5)
  t.equal(backoffsOf(r(0, 2, 7198000, 0, 210, 1)), 0, 'keepalive probes are not ours to count')
  t.equal(backoffsOf(r(0, 0, 0, 2, 210)), 0)
})

t.test("the silence the kernel's numbers prove", async t => {
  // 3rd RTO fired 0.25 s ago (rto 1690, timer 1440): before it 211 + 422 + 845 ms
  t.equal(Math.round(provenSilenceMs(r(52, 1, 1440, 3, 1690))), 250 + Math.round((1690 / 8) * 7))
  t.equal(provenSilenceMs(r(52, 1, 100, 0, 210)), 0, 'no timeout yet (a loss probe is pending)')
  t.equal(provenSilenceMs(r(52, 1, 100, 3)), 0, 'no rto on the line: nothing proven')
  t.equal(provenSilenceMs(r(52, 4, 3000, 0, 210, 5)), 210 * 31, 'window probes back off from an unchanged rto')
  t.equal(provenSilenceMs(r(52, 1, 100000, 12, 120000)), 20000, 'at TCP_RTO_MAX only the last wait counts')
  t.equal(provenSilenceMs(r(52, 1, 3000, 1, 420)), 0 + 210, 'a timer longer than the rto (clock skew) counts as just fired')
})

t.test('a silent cut on a LAN: restarted 5 s after the first unanswered byte, once', async t => {
  // the keepalive at t=0, loss probe, then RTOs at 0.2 0.6 1.4 3.0 6.2 s
  const { verdicts, episode } = feed([
    [0.1, r(52, 1, 100, 0, 210)],
    [0.5, r(52, 1, 300, 1, 420)],
    [1.0, r(52, 1, 400, 2, 840)],
    [2.0, r(52, 1, 1000, 3, 1690)],
    [3.5, r(52, 1, 2900, 4, 3390)],
    [4.5, r(52, 1, 1900, 4, 3390)],
    [5.5, r(52, 1, 900, 4, 3390)],
    [6.5, r(52, 1, 6500, 5, 6780)],
  ])
  t.same(
    verdicts.map(v => v.stalled),
    [false, false, false, false, false, false, true, true],
  )
  t.match(verdicts[0], { stalled: false, why: 'no timeout' }, 'a loss probe is no timeout')
  t.match(verdicts[1], { why: '1 timeouts in a row' })
  t.match(verdicts[2], { why: '2 timeouts in a row' })
  t.match(verdicts[3], { why: /^3 timeouts in a row, \d+ ms$/ })
  const v = verdicts[6] as Verdict & { stalled: true }
  t.ok(v.forMs >= 5000 && v.forMs < 6000, `silent for ${v.forMs} ms`)
  t.match(v, { backoffs: 4, rtoMs: 3390, txQueue: 52, fresh: true })
  t.match(verdicts[7], { stalled: true, fresh: false }, 'told once')
  t.equal(episode!.told, true)
})

t.test('the first reading may come late: the kernel proves the silence on its own', async t => {
  const { verdicts } = feed([[10, r(52, 1, 5000, 5, 6780)]])
  t.match(verdicts[0], { stalled: true, fresh: true, backoffs: 5 })
  t.ok((verdicts[0] as { forMs: number }).forMs > 6000)
})

t.test('a line with no rto: the silence as watched', async t => {
  const { verdicts } = feed([
    [0, r(52, 1, 100, 1)],
    [2, r(52, 1, 100, 3)],
    [5, r(52, 1, 100, 4)],
  ])
  t.match(verdicts[2], { stalled: true, forMs: 5000, backoffs: 4 })
  t.notOk('rtoMs' in verdicts[2]!)
})

t.test('progress ends a stall: an ack, fewer bytes outstanding, the count reset', async t => {
  const stalled = feed([[10, r(52, 1, 5000, 5, 6780)]]).episode!
  t.match(feed([[11, r(0, 2, 7198000, 0, 210)]], stalled), { verdicts: [{ stalled: false, why: 'nothing outstanding' }], episode: undefined })
  t.match(feed([[11, r(30, 1, 300, 0, 210)]], stalled), { verdicts: [{ stalled: false, why: 'no timeout' }], episode: undefined })
  // the count went down: acked in between, then a fresh loss (a new stall, seen from now)
  const again = feed([[11, r(52, 1, 400, 3, 840)]], stalled)
  t.match(again.verdicts[0], { stalled: false })
  t.equal(again.episode!.told, false)
  t.equal(again.episode!.since, Math.min(11000, 11000 - provenSilenceMs(r(52, 1, 400, 3, 840))))
  const shrunk = feed([[11, r(40, 1, 5000, 5, 6780)]], stalled)
  t.match(shrunk.verdicts[0], { stalled: true, fresh: true }, 'fewer bytes outstanding: acked meanwhile, and stalled again since (by the kernel): told again')
  const grew = feed([[11, r(104, 1, 4000, 5, 6780)]], stalled)
  t.match(grew.verdicts[0], { stalled: true, fresh: false }, 'more bytes written into a stall: the same stall')
})

t.test('a moved address: window probes that never leave count as timeouts', async t => {
  const { verdicts } = feed([
    [7.1, r(52, 4, 60, 0, 210, 0)],
    [7.7, r(52, 4, 710, 0, 210, 2)],
    [9.0, r(52, 4, 1180, 0, 210, 3)],
    [10.3, r(52, 4, 3310, 0, 210, 4)],
    [12.5, r(52, 4, 1100, 0, 210, 4)],
  ])
  t.same(
    verdicts.map(v => v.stalled),
    [false, false, false, false, true],
  )
})

t.test('no false stall: a slow line, a full rate-limited queue, a spurious timeout', async t => {
  // 256 kbit/s, 1 s queue, a bulk transfer: 180 KB outstanding, rto up to 4.2 s, never a timeout
  const slow = feed(
    [0, 0.5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].map((at, i) => [at, r(179448 - i * 10000, 1, 2000, 0, 4200)] as [number, Reading]),
  )
  t.notOk(slow.verdicts.some(v => v.stalled), 'a full queue being acknowledged')
  // 0.4 s each way, delay jumping by 0.5 s: rto 2.5 s; one spurious timeout, then the ack
  const jumpy = feed([
    [0, r(500, 1, 2500, 0, 2500)],
    [2.6, r(500, 1, 4900, 1, 5000)],
    [3.5, r(200, 1, 2500, 0, 2500)],
    [6.2, r(200, 1, 4900, 1, 5000)],
    [7, r(0, 0, 0, 0, 2500)],
  ])
  t.notOk(jumpy.verdicts.some(v => v.stalled), 'a timeout now and then, answered')
  // three in a row on a fast line, but not yet 5 s: a blip
  const blip = feed([
    [0.3, r(52, 1, 300, 1, 420)],
    [1.5, r(52, 1, 1600, 3, 1690)],
    [3, r(0, 2, 7000000, 0, 210)],
  ])
  t.notOk(blip.verdicts.some(v => v.stalled), 'a 2 s blip on a LAN')
  // 5 s of silence with only 2 timeouts (a long RTO): not yet
  t.notOk(feed([[0, r(52, 1, 8000, 1, 8000)], [8, r(52, 1, 16000, 2, 16000)], [20, r(52, 1, 4000, 2, 16000)]]).verdicts.some(v => v.stalled))
})
