// Issue 14's timings (`npm run bench -- --kernel`): ours beside 1.4g's on
// the kernel link (test/world/kernel-link.ts: client, router and server
// namespaces; a silent cut is a blackhole in the router), where ssh's TCP
// connection is a real one and what the kernel knows of it is what our
// connection watch reads. Every run has a world of its own; once all are
// made, they all run side by side (about 2.5 minutes: the idle case's 120 s
// and 1.4g's monitored case, which waits its 90 s out, are the longest);
// then the watch's CPU cost (bench/tcpwatch-cost.ts, about 40 s, alone).
//   1  -M 0, ServerAlive 10 x 3, a silent cut 1, 4.5 and 8 s into the
//      keepalive period (3 runs): ssh restarted after
//   2  -M 20000 (pair mode), the default poll (600 s), a user's client on
//      one connection through the forward writing a line every 10 s, the
//      target answering; a silent cut 1 s after a write (the worst phase):
//      ssh restarted after, bounded at 90 s
//   3  -M 0, ServerAlive 10 x 3, the client's address moved (the old one
//      deleted for good): the user's forward works again after
//   4  -M 0, ServerAlive 10 x 3, a working link left idle: bytes on the
//      wire, both ways, for 120 s (the window aligned with the keepalives:
//      12 in it), twice: among 16 busy worlds a run now and then has a frame
//      more or less (alone, every run gives the same count), which over 60 s
//      would be 3 to 4 %, too much for a 5 % target
//   5  -M 0, ServerAlive 10 x 3, a link slowed to 256 kbit/s each way with a
//      1 s queue (tbf), a bulk transfer through the forward keeping it full
//      for 45 s: restarts
import net from 'node:net'
import { performance } from 'node:perf_hooks'
import { makeKernelLink, type KernelLink } from '../test/world/kernel-link.js'
import { own, track } from './cleanup.js'
import { childOf, forwardWorks, idleBytes, restartAfter, sleep, startAutossh, USER_PORT, type Impl } from './kernel-link.js'
import { CONNECTIONS, watchCost, type WatchCost } from './tcpwatch-cost.js'

const BOUND_MS = 90000
const CUT_PHASES_S = [1, 4.5, 8]
const IDLE_RUNS = 2
const IDLE_MS = 120000
const WRITE_EVERY_MS = 10000
const SLOW_KBIT = 256
const SLOW_QUEUE_MS = 1000
const BULK_MS = 45000

/** a run's figure: null when not within the bound */
interface Run {
  value: number | null
  /** the slow case: bytes echoed */
  echoed?: number
  error?: string
}

export interface KernelRow {
  case: string
  ours: Run[]
  g14: Run[]
  oursText: string
  g14Text: string
  target: string
}

export interface KernelResult {
  rows: KernelRow[]
  /** the watch's CPU (bench/tcpwatch-cost.ts) */
  cost?: { quiet: WatchCost; loaded: WatchCost }
  costError?: string
}

// ---- the runs ------------------------------------------------------------------

/** worlds being made at once: each starts two node helpers, and a 2-CPU machine takes 16 of them badly at the same moment */
const MAKING = 3
let making = 0
const waiting: (() => void)[] = []
/**
 * no run starts before every world is made: making one takes a CPU for a
 * while, and a run measuring meanwhile would measure that too (a cut found
 * 2 to 3 s late)
 */
let expected = 0
let arrived = 0
let open = () => {}
let allMade = Promise.resolve()

/** fn in a world of its own, closed when fn ends or the bench stops */
const inWorld = async <T>(fn: (kl: KernelLink) => Promise<T>): Promise<T> => {
  while (making >= MAKING) await new Promise<void>(r => waiting.push(r))
  making++
  let kl: KernelLink
  try {
    kl = await track(makeKernelLink({ expose: [USER_PORT] }))
  } finally {
    making--
    waiting.shift()?.()
    if (++arrived >= expected) open()
  }
  const release = own(() => kl.close())
  try {
    await allMade
    return await fn(kl)
  } finally {
    await release()
  }
}

const cutRun = (impl: Impl, atS: number) =>
  inWorld(async kl => {
    const { a, ssh, upAt } = await startAutossh(kl, impl, '0')
    await sleep(upAt + atS * 1000 - performance.now())
    const t0 = performance.now()
    await kl.cut()
    return restartAfter(a.child.pid!, ssh, t0, BOUND_MS)
  })

const monitoredRun = (impl: Impl) =>
  inWorld(async kl => {
    const { a, ssh } = await startAutossh(kl, impl, '20000', { keepalive: false })
    // the user's client (an MQTT client's keepalive, say): one connection, a line every 10 s
    const user = net.connect(kl.exposed(USER_PORT), '127.0.0.1')
    let answers = 0
    user.setEncoding('utf8')
    user.on('data', (d: string) => (answers += d.split('ok ping').length - 1))
    user.on('error', () => {})
    const write = () => user.write('ping\n')
    write()
    const writer = setInterval(write, WRITE_EVERY_MS)
    try {
      await sleep(WRITE_EVERY_MS + 1000)
      if (answers < 2) throw new Error(`${impl}: the user's client had ${answers} of 2 answers before the cut`)
      const t0 = performance.now()
      await kl.cut()
      return restartAfter(a.child.pid!, ssh, t0, BOUND_MS)
    } finally {
      clearInterval(writer)
      user.destroy()
    }
  })

const moveRun = (impl: Impl) =>
  inWorld(async kl => {
    const { upAt } = await startAutossh(kl, impl, '0')
    await sleep(upAt + 3000 - performance.now())
    const t0 = performance.now()
    await kl.changeClientAddress()
    // a try every 0.1 s, not waiting for the one before: one stuck on the old ssh must not hide the new one
    return new Promise<number | undefined>(resolve => {
      const finish = (v: number | undefined) => {
        clearInterval(tries)
        clearTimeout(bound)
        resolve(v)
      }
      const tries = setInterval(() => void forwardWorks(kl, 'target', 1000).then(ok => ok && finish((performance.now() - t0) / 1000)), 100)
      const bound = setTimeout(() => finish(undefined), BOUND_MS)
    })
  })

const idleRun = (impl: Impl) =>
  inWorld(async kl => {
    const b = await idleBytes(kl, impl, IDLE_MS)
    return b.fromClient + b.toClient
  })

const slowRun = (impl: Impl) =>
  inWorld(async kl => {
    const { a, ssh } = await startAutossh(kl, impl, '0', { to: 'echo' })
    await kl.slow(SLOW_KBIT, SLOW_QUEUE_MS)
    const seen = new Set([ssh])
    let echoed = 0
    const bulk = net.connect(kl.exposed(USER_PORT), '127.0.0.1')
    bulk.on('data', d => (echoed += d.length))
    bulk.on('error', () => {})
    const chunk = Buffer.alloc(16384, 120)
    const feed = setInterval(() => bulk.writableLength < 65536 && bulk.write(chunk), 100)
    try {
      for (const end = performance.now() + BULK_MS; performance.now() < end; await sleep(200)) {
        const now = childOf(a.child.pid!)
        if (now !== undefined) seen.add(now)
      }
    } finally {
      clearInterval(feed)
      bulk.destroy()
    }
    return { value: seen.size - 1, echoed }
  })

const settle = (p: Promise<number | undefined | Run>): Promise<Run> =>
  p.then(
    v => (typeof v === 'object' ? v : { value: v ?? null }),
    (e: Error) => ({ value: null, error: e.message }),
  )

// ---- the cells -----------------------------------------------------------------

const secs = (r: Run) => (r.error ? 'error' : r.value === null ? `> ${BOUND_MS / 1000} s` : `${r.value.toFixed(1)} s`)

/** one run's time, or the median of several and their range */
const timeText = (runs: Run[]): string => {
  if (runs.length === 0) return '—'
  if (runs.length === 1) return secs(runs[0]!)
  const ok = runs.filter(r => !r.error)
  if (ok.length === 0) return 'error'
  const v = ok.map(r => r.value ?? Infinity).sort((x, y) => x - y)
  const median = ok.length % 2 ? v[(ok.length - 1) / 2]! : (v[ok.length / 2 - 1]! + v[ok.length / 2]!) / 2
  const s = (n: number) => (n === Infinity ? `> ${BOUND_MS / 1000}` : n.toFixed(1))
  const failed = runs.length - ok.length
  return `${s(median)} s (${s(v[0]!)}–${s(v[v.length - 1]!)}${failed ? `; ${failed} of ${runs.length} failed` : ''})`
}

const mean = (runs: Run[]): number | undefined =>
  runs.length === 0 || runs.some(r => r.error || r.value === null) ? undefined : runs.reduce((a, r) => a + r.value!, 0) / runs.length

/** the mean of the runs, each run, and how far from 1.4g's mean */
const bytesText = (runs: Run[], of?: Run[]): string => {
  if (runs.length === 0) return '—'
  const m = mean(runs)
  if (m === undefined) return 'error'
  const base = of && mean(of)
  const pct = base ? `; ${m >= base ? '+' : ''}${(((m - base) / base) * 100).toFixed(1)} %` : ''
  return `${m.toFixed(0)} B (${runs.map(r => r.value).join(', ')}${pct})`
}

const restartsText = (runs: Run[]): string => {
  const r = runs[0]
  if (!r) return '—'
  return r.error || r.value === null ? 'error' : `${r.value} (${((r.echoed ?? 0) / 1024).toFixed(0)} KB echoed)`
}

// ---- all of it -----------------------------------------------------------------

/** every case, ours and 1.4g's (when it is there) side by side, then the watch's cost */
export const runKernel = async (has14g: boolean, progress: (s: string) => void): Promise<KernelResult> => {
  const impls: Impl[] = has14g ? ['ts', '1.4g'] : ['ts']
  const both = (what: string, run: (impl: Impl) => Promise<number | undefined | Run>) =>
    Promise.all(
      impls.map(async impl => {
        const r = await settle(run(impl))
        progress(`kernel: ${what}, ${impl}: ${r.error ?? (r.value === null ? 'not within the bound' : Number(r.value.toFixed(1)))}`)
        return r
      }),
    )
  expected = impls.length * (CUT_PHASES_S.length + IDLE_RUNS + 3)
  arrived = 0
  allMade = new Promise<void>(r => (open = () => (progress('kernel: every world made; the runs start'), r())))
  progress(`kernel: ${expected} worlds, made 3 at a time, then every run side by side (about 2.5 minutes)`)
  const [cut, monitored, moved, idle, slow] = await Promise.all([
    Promise.all(CUT_PHASES_S.map(at => both(`cut ${at} s into the keepalive period`, impl => cutRun(impl, at)))),
    both('monitored, cut', monitoredRun),
    both('address moved', moveRun),
    Promise.all(Array.from({ length: IDLE_RUNS }, (_, i) => both(`idle bytes, run ${i + 1}`, idleRun))),
    both('slow line', slowRun),
  ])
  const pick = (runs: Run[][], i: number) => runs.flatMap(r => (r[i] ? [r[i]] : []))
  const g = (runs: Run[]) => (has14g ? runs.slice(1, 2) : [])
  const row = (c: string, ours: Run[], g14: Run[], text: (r: Run[], of?: Run[]) => string, target: string): KernelRow => ({
    case: c,
    ours,
    g14,
    oursText: text(ours, g14),
    g14Text: has14g ? text(g14) : '—',
    target,
  })
  const rows = [
    row(
      `1. -M 0, ServerAlive 10×3, silent cut (at ${CUT_PHASES_S.join(', ')} s into the keepalive period) → ssh restarted after: median (range)`,
      pick(cut, 0),
      pick(cut, 1),
      timeText,
      '≤ 18 s (1.4g ~31–39 s)',
    ),
    row(
      '2. -M 20000 (pair), poll 600 s, a client writing a line every 10 s through the forward, silent cut 1 s after a write → ssh restarted after',
      monitored.slice(0, 1),
      g(monitored),
      timeText,
      `≤ 20 s (1.4g: not within ${BOUND_MS / 1000} s)`,
    ),
    row('3. -M 0, ServerAlive 10×3, the client\'s address changed → the forward works again after', moved.slice(0, 1), g(moved), timeText, '≤ 3 s (1.4g ~36–38 s)'),
    row(
      `4. -M 0, ServerAlive 10×3, idle working link ${IDLE_MS / 1000} s → bytes on the wire, both ways (router counters): mean (each of ${IDLE_RUNS} runs; ours against 1.4g)`,
      pick(idle, 0),
      pick(idle, 1),
      bytesText,
      "within 5 % of 1.4g's",
    ),
    row(
      `5. -M 0, ServerAlive 10×3, ${SLOW_KBIT} kbit/s, ${SLOW_QUEUE_MS / 1000} s queue (tbf), bulk transfer through the forward ${BULK_MS / 1000} s → restarts`,
      slow.slice(0, 1),
      g(slow),
      restartsText,
      '0 and 0',
    ),
  ]
  progress(`kernel: the watch's CPU cost (bench/tcpwatch-cost.ts: a quiet table, then ${CONNECTIONS} connections open; about 40 s)`)
  try {
    return { rows, cost: await watchCost() }
  } catch (e) {
    return { rows, costError: (e as Error).message }
  }
}

export const kernelTable = (k: KernelResult): string[] => {
  const cell = (s: string) => s.replace(/\|/g, '\\|')
  const out = [
    '| case | autossh-ts | autossh 1.4g | target |',
    '|---|---|---|---|',
    ...k.rows.map(r => `| ${[r.case, r.oursText, r.g14Text, r.target].map(cell).join(' | ')} |`),
    '',
    `kernel link (issue 14): client, router and server namespaces, a silent cut a blackhole in the router; every run in a world of its own, ` +
      `side by side; ServerAlive options placed before the world's ServerAliveInterval=0 (ssh keeps the first); bound ${BOUND_MS / 1000} s; ` +
      `4: from 5 s after the forward's check, so the ${IDLE_MS / 10000} keepalives fall inside the window whatever the run`,
  ]
  const c = k.cost
  if (c)
    out.push(
      `the watch's CPU (bench/tcpwatch-cost.ts): at rest ${c.quiet.restCpuSPerHour.toFixed(2)} CPU-s an hour (${c.quiet.sockets} sockets in the table), ` +
        `${c.loaded.restCpuSPerHour.toFixed(2)} with ${c.loaded.sockets} (${CONNECTIONS} connections open); a busy server's (the retransmit counter moving every second, ` +
        `${c.loaded.sockets} sockets): ${c.loaded.busyCpuSPerHour.toFixed(1)} CPU-s an hour`,
    )
  else out.push(`the watch's CPU: failed (${k.costError}); node --import tsx bench/tcpwatch-cost.ts measures it alone`)
  for (const r of k.rows)
    for (const [who, runs] of [['autossh-ts', r.ours], ['1.4g', r.g14]] as const)
      for (const run of runs) if (run.error) out.push(`${r.case.split('.')[0]}, ${who}: ${run.error}`)
  return out
}
