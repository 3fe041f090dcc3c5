// `npm run bench`: autossh-ts against autossh 1.4g and against ssh's own
// keepalive, each supervising a real OpenSSH tunnel in a fresh private world
// (test/world): how fast the tunnel comes up, how fast a silent cut is found
// and the stuck ssh killed, how fast the forward is back once the network
// is, what idle monitoring costs on the wire, in memory and in CPU, and how
// long it takes to exec ssh (bench/startup.ts: 15 runs of each, beside 1.4g); then whether a slow but working line is left
// alone (bench/slow.ts), and how a fleet comes back after its server's outage
// (bench/herd.ts). A benchmark, not a test: it prints figures and the targets
// to hold them to, it does not judge.
//
//   npm run bench                  the table, the slow line, the herd simulated (about 4 minutes)
//   npm run -s bench -- --json     the same figures as JSON: { rows, startup, slow, herd, long, held, kernel? } (-s: no npm banner on stdout)
//   npm run bench -- --long        all that, then 10,000 probes in-process
//                                  against a real tunnel, watching for growth
//   npm run bench -- --long-only   only the long run
//   npm run bench -- --slow        only the slow line (about 70 s)
//   npm run bench -- --herd        only the herd: simulated, and real processes (about 3 minutes)
//   npm run bench -- --held        only held ports (bench/held.ts): the monitor's port held for good,
//                                  then a -R held until ClientAlive frees it; ours and 1.4g at once (about 4 minutes)
//   npm run bench -- --held-long   only a -R held for good: logins per minute over 4 minutes (about 5 minutes)
//   npm run bench -- --kernel      only issue 14's rows on the kernel link, ours beside 1.4g's, and the
//                                  connection watch's CPU (bench/kernel.ts; root; about 3 minutes, so
//                                  not in the default run, which would go well past its 5 minutes)
//   npm run bench -- --startup     only exec→ssh, ours and 1.4g's (about 20 s)
//
// The only-options combine. The held ports are not in the default run, which
// takes about 4 of its 5 minutes already. Progress goes to stderr; stdout has
// only the results.
import { existsSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { netnsAvailable } from '../test/world/index.js'
import { kernelLinkAvailable } from '../test/world/kernel-link.js'
import { cleanupAll, cleanUpOnSignals, isStopping } from './cleanup.js'
import { AUTOSSH_14G, emptyRow, POLL_S, runContender, type Contender, type Row } from './contender.js'
import { heldTables, runHeld, runHeldLongAll, type HeldResults } from './held.js'
import { herdTable, REAL_OUTAGE_S, runRealHerd, simulateAll, SIM_OUTAGES_S, type HerdRow } from './herd.js'
import { kernelTable, runKernel, type KernelResult } from './kernel.js'
import { PROBES, runLong, type LongRow } from './long.js'
import { runSlowAll, slowTable, type SlowRow } from './slow.js'
import { cell, table } from './table.js'
import { runStartup, STARTUP_RUNS, type StartupRow } from './startup.js'

const args = process.argv.slice(2)
const known = ['--json', '--long', '--long-only', '--slow', '--herd', '--held', '--held-long', '--kernel', '--startup']
const unknown = args.filter(a => !known.includes(a))
if (unknown.length > 0) {
  process.stderr.write(`bench: unknown argument ${unknown.join(' ')} (known: ${known.join(' ')})\n`)
  process.exit(2)
}
const json = args.includes('--json')
const only = ['--long-only', '--slow', '--herd', '--held', '--held-long', '--kernel', '--startup'].some(a => args.includes(a))
const long = args.includes('--long-only') || (!only && args.includes('--long'))
const runTable = !only
const runStartupTable = !only || args.includes('--startup')
const runSlow = !only || args.includes('--slow')
const runHerdSim = !only || args.includes('--herd')
const runHerdReal = args.includes('--herd')
const runHeldShort = args.includes('--held')
const runHeldLong = args.includes('--held-long')
const runKernelRows = args.includes('--kernel')

const t0 = performance.now()
/** no row starts after this much of the bench's 5 minutes */
const BUDGET_MS = 240000
const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(1)}s`
const progress = (s: string) => void (isStopping() || process.stderr.write(`[${elapsed().padStart(6)}] ${s}\n`))

// ---- what runs -----------------------------------------------------------------

const netns = netnsAvailable()
const has14g = existsSync(AUTOSSH_14G)
const notes: string[] = []
if (!netns) notes.push('pair rows skipped: port-pair mode needs a network namespace (run as root, or where unshare -n works)')
if (!has14g) notes.push(`autossh 1.4g rows skipped: ${AUTOSSH_14G} is missing (apt-get install autossh provides it)`)
const kernelLink = runKernelRows ? kernelLinkAvailable() : true
if (runKernelRows && kernelLink !== true) notes.push(`kernel link rows skipped: ${kernelLink}`)
if (!runKernelRows) notes.push("issue 14's kernel link rows: npm run bench -- --kernel (root, about 3 minutes)")

const contenders: Contender[] = [
  ...(netns ? [{ name: 'autossh-ts pair', impl: 'ts', mode: 'pair' } as const] : []),
  { name: 'autossh-ts echo', impl: 'ts', mode: 'echo' },
  ...(netns && has14g ? [{ name: 'autossh 1.4g pair', impl: '1.4g', mode: 'pair' } as const] : []),
  ...(has14g ? [{ name: 'autossh 1.4g echo', impl: '1.4g', mode: 'echo' } as const] : []),
  { name: 'ssh keepalive', impl: 'ts', mode: 'keepalive' },
]

// ---- output --------------------------------------------------------------------

const rowsTable = (rows: Row[]): string =>
  table(
    ['contender', 'start→tunnel ms', 'cut→kill ms', 'restore→forward ms', 'bytes/probe', 'RSS MB', 'idle CPU %', 'exec→ssh ms'],
    rows.map(r => [
      r.contender,
      cell(r.startToTunnelMs),
      cell(r.cutToKillMs),
      cell(r.restoreToForwardMs),
      cell(r.bytesPerProbe),
      cell(r.rssMB),
      // CPU time comes in clock ticks (10 ms): none in the window reads as 0, which means less than a tick's worth
      r.idleCpuPct === 0 ? '<0.1' : cell(r.idleCpuPct),
      cell(r.execToSshMs),
    ]),
  )

const targets = (rows: Row[]): string[] => {
  // the link counts payload only; the keepalive row says what one keepalive round trip is in those terms
  const keepalive = rows.find(r => r.contender === 'ssh keepalive')?.bytesPerProbe
  const measured = keepalive ? `; ${keepalive} B of link payload here` : ''
  return [
    `targets: bytes/probe ≤ one ServerAlive keepalive (~330 B${measured}); ` +
      `cut→kill ≤ poll + 1.5 s (${POLL_S * 1000 + 1500} ms); restore→forward ≤ 3000 ms; exec→ssh < 100 ms; RSS < 45 MB`,
    'exec→ssh here: one run through a shell stand-in, which autossh-ts does not ask for ssh -G; the exec→ssh table has the medians, with ssh -G read',
    `poll ${POLL_S} s, gate time 0; the idle window (bytes, CPU, RSS) runs from right after a passed probe to right after ` +
      'the 3rd one after it, from 10 s after the spawn on (keepalive row: 12 s, bytes per 1 s ServerAliveInterval); ' +
      'cut→kill: cut right after a passed probe',
  ]
}

const spread = ([median, q1, q3]: [number, number, number]) => `${median} (${q1}–${q3})`
const startupTable = (rows: StartupRow[]): string[] => [
  table(
    ['exec→ssh', 'contender', 'runs', 'exec→ssh ms', 'CPU ms until then'],
    rows.map(r => [r.case, r.contender, String(r.runs), spread(r.execToSshMs), spread(r.cpuMs)]),
  ),
  'medians (middle half); a compiled stand-in ssh, so that autossh-ts reads ssh -G as it would the real one. ' +
    '-M 0: no monitor, no syslog, no systemd; service: pair mode, a syslog socket and NOTIFY_SOCKET. ' +
    'CPU: the supervisor\'s, all its threads, from its exec to ssh\'s',
]

const snap = (s: LongRow['start']) => `${s.rssMB}/${s.heapMB}/${s.fds}`
const longTable = (rows: LongRow[]): string =>
  table(
    ['long run', 'probes', 'failed', 'probes/s', 'start RSS/heap MB/fds', 'after 1000', 'end'],
    rows.map(r =>
      r.error
        ? [r.case, '—', '—', '—', '—', '—', '—']
        : [r.case, String(r.probes), String(r.failed), String(r.probesPerSec), snap(r.start), snap(r.after1000), snap(r.end)],
    ),
  )

// ---- run -----------------------------------------------------------------------

const main = async () => {
  cleanUpOnSignals()
  const rows: Row[] = []
  if (runTable) {
    for (const c of contenders) {
      if (isStopping()) return
      // a row takes about 30 s; past this, one gone slow (timeouts) must not take the bench past 5 minutes
      if (performance.now() - t0 > BUDGET_MS) {
        rows.push({ ...emptyRow(c.name), error: `skipped: the bench had run ${elapsed()}, over its budget` })
        continue
      }
      progress(`${c.name}: starting`)
      const row = await runContender(c, netns, s => progress(`${c.name}: ${s}`))
      if (row.error) progress(`${c.name}: failed: ${row.error}`)
      rows.push(row)
    }
  }

  const startupRows: StartupRow[] = []
  if (runStartupTable) {
    if (isStopping()) return
    progress(`exec→ssh: ${STARTUP_RUNS} runs of each, ours and 1.4g's taking turns`)
    const got = await runStartup(progress)
    if (typeof got === 'string') notes.push(got)
    else startupRows.push(...got)
  }

  const slowRows: SlowRow[] = []
  if (runSlow) {
    if (isStopping()) return
    progress('slow line: ours and 1.4g, steady and jumping delay, side by side')
    slowRows.push(...(await runSlowAll(has14g, progress)))
  }

  const herdRows: HerdRow[] = []
  if (runHerdSim) {
    if (isStopping()) return
    const outages = runHerdReal ? [REAL_OUTAGE_S, ...SIM_OUTAGES_S] : SIM_OUTAGES_S
    progress(`herd: simulating outages of ${outages.join(', ')} s`)
    herdRows.push(...simulateAll(outages))
  }
  if (runHerdReal) {
    if (isStopping()) return
    progress(`herd: real processes, a ${REAL_OUTAGE_S} s outage`)
    herdRows.push(...(await runRealHerd(s => progress(`herd: ${s}`))))
  }

  const held: HeldResults = { monitor: [], freed: [], long: [] }
  if (runHeldShort) {
    if (isStopping()) return
    progress('held ports: the monitor port held for good (pair mode), then a -R freed by ClientAlive')
    Object.assign(held, await runHeld(has14g, netns, progress))
  }
  if (runHeldLong) {
    if (isStopping()) return
    progress('held ports: a -R held for good, 4 minutes from the move, ours and 1.4g at once')
    held.long = await runHeldLongAll(has14g, progress)
  }
  let kernel: KernelResult | undefined
  if (runKernelRows && kernelLink === true) {
    if (isStopping()) return
    kernel = await runKernel(has14g, progress)
  }

  const longRows: LongRow[] = []
  if (long) {
    const cases = [...(netns ? (['pair'] as const) : []), 'echo' as const].flatMap(mode => [
      [mode, true] as const,
      [mode, false] as const,
    ])
    for (const [mode, keep] of cases) {
      if (isStopping()) return
      progress(`long run: ${mode} ${keep ? 'keep' : 'per-probe'}: ${PROBES} probes`)
      try {
        longRows.push(await runLong(mode, keep, netns, progress))
      } catch (err) {
        if (isStopping()) return
        const zero = { rssMB: NaN, heapMB: NaN, fds: NaN }
        const message = (err as Error).message
        progress(`long run: failed: ${message}`)
        longRows.push({ case: `${mode} ${keep ? 'keep' : 'per-probe'}`, probes: 0, failed: 0, probesPerSec: 0, start: zero, after1000: zero, end: zero, error: message })
      }
    }
  }
  if (isStopping()) return

  const total = elapsed()
  if (json) {
    process.stdout.write(JSON.stringify({ rows, startup: startupRows, slow: slowRows, herd: herdRows, long: longRows, held, ...(kernel ? { kernel } : {}) }, null, 2) + '\n')
    process.stderr.write(`total ${total}\n`)
    return
  }
  const out: string[] = []
  if (rows.length > 0) {
    out.push(rowsTable(rows), '', ...targets(rows))
    for (const r of rows) if (r.error) out.push(`${r.contender}: ${r.error}`)
  }
  if (startupRows.length > 0) {
    if (out.length > 0) out.push('')
    out.push(...startupTable(startupRows))
  }
  if (slowRows.length > 0) {
    if (out.length > 0) out.push('')
    out.push(...slowTable(slowRows))
  }
  if (herdRows.length > 0) {
    if (out.length > 0) out.push('')
    out.push(...herdTable(herdRows))
  }
  const heldOut = heldTables(held)
  if (heldOut.length > 0) {
    if (out.length > 0) out.push('')
    out.push(...heldOut)
  }
  if (kernel) {
    if (out.length > 0) out.push('')
    out.push(...kernelTable(kernel))
  }
  if (longRows.length > 0) {
    if (out.length > 0) out.push('')
    out.push(
      longTable(longRows),
      `${PROBES} probes back to back per case, in-process Monitor over plain ssh, read after a full GC. RSS is the whole ` +
        `bench process's (the world's relay too) and is not given back after a GC: heap and fds are what a leak would move`,
    )
    for (const r of longRows) if (r.error) out.push(`${r.case}: ${r.error}`)
  }
  out.push(...notes, `total ${total}`)
  process.stdout.write(out.join('\n') + '\n')
}

main().then(
  async () => {
    if (isStopping()) return // the signal handler exits
    await cleanupAll()
    process.exit(0)
  },
  async err => {
    if (isStopping()) return
    process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`)
    await cleanupAll()
    process.exit(1)
  },
)
