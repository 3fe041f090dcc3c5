// Held ports (issue 13): the path moves under a working tunnel (the open
// connection goes silent for good, new ones pass) and the server keeps the
// dead session, with the ports it forwards, ours beside 1.4g, each in a world
// of its own, side by side.
//   monitor  pair mode, sshd at OpenSSH's defaults (no ClientAliveInterval):
//            the monitor's own -R port is held for good. For 60 s from the
//            move, the user's -L checked every 0.5 s, ssh starts counted
//   freed    a user's -R, sshd with ClientAliveInterval 10 x 3: the port is
//            held until the server gives the old session up (30 to 40 s).
//            From the port free (the old listener gone) to the -R working
//   long     a user's -R held for good (OpenSSH's defaults), echo mode
//            without ExitOnForwardFailure: logins per minute over 4 minutes
// Every case: AUTOSSH_POLL 4, `-o LogLevel=INFO -o ExitOnForwardFailure=...`
// before the world's options (ssh keeps the first value of an option; the
// world's say LogLevel=ERROR, ExitOnForwardFailure=yes).
import { mkdtempSync, rmSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { freePort, freePortPair, makeWorld, remoteTalk, talk, type World } from '../test/world/index.js'
import { startTarget } from '../test/world/services.js'
import { own, track } from './cleanup.js'
import { round, sleep, startSupervisor, until, type Supervisor } from './contender.js'
import { listeners } from './proc.js'
import { cell, table } from './table.js'

export const HELD_POLL_S = 4
const CHECK_GAP_MS = 500
const CHECK_TIMEOUT_MS = 1000
export const MONITOR_WINDOW_S = 60
export const LONG_MINUTES = 4
const CLIENT_ALIVE = ['ClientAliveInterval 10', 'ClientAliveCountMax 3']
/** bounds: the server lets go of the old session, then the user's -R is back */
const FREE_BOUND_S = 90
const BACK_BOUND_S = 60

type Impl = 'ts' | '1.4g'
type YesNo = 'yes' | 'no'

interface Case {
  impl: Impl
  /** pair: the remote in a network namespace of its own, so that the monitor's ports do not collide */
  mode: 'pair' | 'echo'
  exitOnFailure: YesNo
  /** the user's forward: -L to the remote's target, or -R to a target here */
  forward: 'L' | 'R'
  sshd?: string[]
}

const nameOf = (c: Case) => `${c.impl === 'ts' ? 'autossh-ts' : 'autossh 1.4g'} ${c.mode}`

interface Moved {
  world: World
  sup: Supervisor
  /** the user's forward answers (a -R's port asked from where the remote is) */
  works(): Promise<boolean>
  /** the user's forward's port: here for -L, on the remote for -R */
  port: number
  movedAt: number
}

/** ssh started (its pid logged) in [from, to) */
const startsIn = (sup: Supervisor, from: number, to = Infinity): number =>
  sup.tail.entries.filter(e => e.at >= from && e.at < to && /^ssh child pid is \d+$/.test(e.message)).length

/** the case's world and supervisor, the tunnel up (the user's forward works, a probe passed), the path moved; then body; all undone after */
const withMovedTunnel = async (c: Case, progress: (s: string) => void, body: (m: Moved) => Promise<void>): Promise<void> => {
  const dir = mkdtempSync(join(tmpdir(), 'autossh-held-'))
  const release = [own(() => rmSync(dir, { recursive: true, force: true }))]
  try {
    const world = await track(makeWorld({ netns: c.mode === 'pair', sshd: c.sshd }))
    release.unshift(own(() => world.close()))
    let port: number
    let target: string
    if (c.forward === 'L') {
      port = await freePort()
      target = `127.0.0.1:${world.targetPort}`
    } else {
      const server = await startTarget(0)
      release.unshift(own(() => void server.close()))
      port = world.netns ? 2222 : await freePort()
      target = `127.0.0.1:${(server.address() as AddressInfo).port}`
    }
    const works = async () =>
      (await (c.forward === 'L' ? talk(port, 'hi', CHECK_TIMEOUT_MS) : remoteTalk(world, port, 'hi', CHECK_TIMEOUT_MS))) === 'ok hi'
    const monitor = c.mode === 'pair' ? String(await freePortPair()) : `${await freePort()}:${world.echoPort}`
    const args = ['-M', monitor, '-N', '-o', 'LogLevel=INFO', '-o', `ExitOnForwardFailure=${c.exitOnFailure}`, `-${c.forward}`, `${port}:${target}`, ...world.sshOptions, world.host]
    const sup = startSupervisor(c.impl, args, dir, release, { AUTOSSH_POLL: String(HELD_POLL_S), AUTOSSH_FIRST_POLL: '2' })
    if (!(await until(works, 100, 30000))) {
      const { exitCode, signalCode } = sup.child
      throw new Error(`the forward never worked${exitCode ?? signalCode ? ` (exited ${exitCode ?? signalCode}: ${sup.stderr().trim()})` : ''}`)
    }
    await sup.tail.waitFor(m => m === 'connection ok', 0, (HELD_POLL_S + 10) * 1000, 'passed probe')
    progress('tunnel up, path moved')
    world.link.move()
    await body({ world, sup, works, port, movedAt: performance.now() })
  } finally {
    for (const r of release) await r()
  }
}

const caught = async <R extends { error?: string }>(row: R, run: () => Promise<void>): Promise<R> => {
  try {
    await run()
  } catch (err) {
    row.error = (err as Error).message
  }
  return row
}

// ---- the monitor's port held for good ------------------------------------------

export interface HeldMonitorRow {
  contender: string
  exitOnFailure: YesNo
  /** checks of the user's forward over the 60 s from the move, and how many answered */
  checks: number
  passed: number
  /** the same from the first check that answered on */
  checksFromFirst: number
  passedFromFirst: number
  /** ssh started in the 60 s */
  sshStarts: number | null
  /** the move to the first check that answered */
  moveToWorkingS: number | null
  /** when the checks that did not answer began, s from the move */
  failedAtS: number[]
  error?: string
}

export const runHeldMonitor = (impl: Impl, exitOnFailure: YesNo, progress: (s: string) => void): Promise<HeldMonitorRow> => {
  const c: Case = { impl, mode: 'pair', exitOnFailure, forward: 'L' }
  const row: HeldMonitorRow = { contender: nameOf(c), exitOnFailure, checks: 0, passed: 0, checksFromFirst: 0, passedFromFirst: 0, sshStarts: null, moveToWorkingS: null, failedAtS: [] }
  return caught(row, () =>
    withMovedTunnel(c, progress, async ({ sup, works, movedAt }) => {
      const end = movedAt + MONITOR_WINDOW_S * 1000
      while (performance.now() < end) {
        const at = performance.now()
        const ok = await works()
        row.checks++
        if (ok) row.passed++
        else row.failedAtS.push(round((at - movedAt) / 1000, 1))
        if (ok && row.moveToWorkingS === null) row.moveToWorkingS = round((at - movedAt) / 1000, 1)
        if (row.moveToWorkingS !== null) {
          row.checksFromFirst++
          if (ok) row.passedFromFirst++
        }
        await sleep(CHECK_GAP_MS)
      }
      row.sshStarts = startsIn(sup, movedAt, end)
      progress(`${row.passed} of ${row.checks} checks, ${row.sshStarts} ssh starts`)
    }),
  )
}

// ---- a user's -R port, held until the server's ClientAlive gives up ----------

export interface HeldFreedRow {
  contender: string
  exitOnFailure: YesNo
  /** the move to the old session's listener gone */
  heldS: number | null
  /** the port free to the user's -R answering again */
  freeToForwardS: number | null
  /** ssh started from the move to the -R back (or the bound) */
  sshStarts: number | null
  error?: string
}

export const runHeldFreed = (impl: Impl, mode: 'pair' | 'echo', progress: (s: string) => void): Promise<HeldFreedRow> => {
  // pair mode with ExitOnForwardFailure (ssh exits, the supervisor's backoff); echo without (ssh runs on without the forward)
  const exitOnFailure = mode === 'pair' ? 'yes' : 'no'
  const c: Case = { impl, mode, exitOnFailure, forward: 'R', sshd: CLIENT_ALIVE }
  const row: HeldFreedRow = { contender: nameOf(c), exitOnFailure, heldS: null, freeToForwardS: null, sshStarts: null }
  return caught(row, () =>
    withMovedTunnel(c, progress, async ({ world, sup, works, port, movedAt }) => {
      const ns = world.remotePid ?? 'self'
      const old = listeners(port, ns)
      if (old.size === 0) throw new Error(`nothing listens on the remote's port ${port} at the move`)
      const free = () => ![...listeners(port, ns)].some(i => old.has(i))
      if (!(await until(free, 50, FREE_BOUND_S * 1000))) throw new Error(`the server still held port ${port} ${FREE_BOUND_S} s after the move`)
      const freedAt = performance.now()
      row.heldS = round((freedAt - movedAt) / 1000, 1)
      progress(`port free ${row.heldS} s after the move`)
      const back = await until(works, CHECK_GAP_MS, BACK_BOUND_S * 1000)
      row.freeToForwardS = back ? round((performance.now() - freedAt) / 1000, 1) : null
      row.sshStarts = startsIn(sup, movedAt)
      if (!back) row.error = `the -R not back within ${BACK_BOUND_S} s of the port free`
      progress(back ? `-R back ${row.freeToForwardS} s after the port was free` : row.error!)
    }),
  )
}

// ---- a user's -R port held for good: logins per minute -----------------------

export interface HeldLongRow {
  contender: string
  /** connections through the link (logins) in each minute from the move */
  logins: number[]
  /** ssh started in each minute */
  sshStarts: number[]
  /** the user's -R answers at the end */
  forwardAtEnd: boolean | null
  error?: string
}

export const runHeldLong = (impl: Impl, progress: (s: string) => void): Promise<HeldLongRow> => {
  const c: Case = { impl, mode: 'echo', exitOnFailure: 'no', forward: 'R' }
  const row: HeldLongRow = { contender: nameOf(c), logins: [], sshStarts: [], forwardAtEnd: null }
  return caught(row, () =>
    withMovedTunnel(c, progress, async ({ world, sup, works, movedAt }) => {
      let connections = world.link.connections()
      for (let m = 1; m <= LONG_MINUTES; m++) {
        await sleep(movedAt + m * 60000 - performance.now())
        const now = world.link.connections()
        row.logins.push(now - connections)
        connections = now
        row.sshStarts.push(startsIn(sup, movedAt + (m - 1) * 60000, movedAt + m * 60000))
        progress(`minute ${m}: ${row.logins[m - 1]} logins, ${row.sshStarts[m - 1]} ssh starts`)
      }
      row.forwardAtEnd = await works()
    }),
  )
}

// ---- all of them -----------------------------------------------------------------

export interface HeldResults {
  monitor: HeldMonitorRow[]
  freed: HeldFreedRow[]
  long: HeldLongRow[]
}

const impls = (has14g: boolean): Impl[] => (has14g ? ['ts', '1.4g'] : ['ts'])

/**
 * The monitor port, every case at once (about 70 s), then the freed -R, every
 * case at once (about 2.5 minutes): apart, since ssh restarting over and over
 * in the one group loads the machine under the other's 1 s checks.
 */
export const runHeld = async (has14g: boolean, netns: boolean, progress: (s: string) => void): Promise<Omit<HeldResults, 'long'>> => {
  const say = (what: string) => (s: string) => progress(`${what}: ${s}`)
  const monitor = await Promise.all(
    netns ? impls(has14g).flatMap(impl => (['no', 'yes'] as const).map(e => runHeldMonitor(impl, e, say(`held monitor ${impl} ExitOnForwardFailure=${e}`)))) : [],
  )
  const modes = netns ? (['echo', 'pair'] as const) : (['echo'] as const)
  const freed = await Promise.all(impls(has14g).flatMap(impl => modes.map(mode => runHeldFreed(impl, mode, say(`held -R freed ${impl} ${mode}`)))))
  return { monitor, freed }
}

/** the -R held for good, ours and 1.4g at once: about 4.5 minutes */
export const runHeldLongAll = (has14g: boolean, progress: (s: string) => void): Promise<HeldLongRow[]> =>
  Promise.all(impls(has14g).map(impl => runHeldLong(impl, s => progress(`held -R for good ${impl}: ${s}`))))

const pct = (n: number, of: number) => (of === 0 ? '—' : `${n} of ${of} (${round((100 * n) / of)} %)`)

export const heldTables = (r: HeldResults): string[] => {
  const out: string[] = []
  const gap = () => out.length > 0 && out.push('')
  if (r.monitor.length > 0) {
    out.push(
      table(
        ['held monitor port', 'ExitOnForwardFailure', `checks ok, ${MONITOR_WINDOW_S} s from the move`, 'from the first ok on', `ssh starts in ${MONITOR_WINDOW_S} s`, 'move→first ok s'],
        r.monitor.map(m => [m.contender, m.exitOnFailure, pct(m.passed, m.checks), pct(m.passedFromFirst, m.checksFromFirst), cell(m.sshStarts), cell(m.moveToWorkingS)]),
        true,
      ),
      `targets: ≥ 98 % of checks, ≤ 2 ssh starts in ${MONITOR_WINDOW_S} s (1.4g was measured at 113 of 113). Pair mode, sshd at ` +
        `OpenSSH's defaults, the user's -L checked every ${CHECK_GAP_MS / 1000} s (fails after ${CHECK_TIMEOUT_MS / 1000} s) from the move, poll ${HELD_POLL_S} s`,
      ...r.monitor.filter(m => m.error).map(m => `${m.contender}, ExitOnForwardFailure=${m.exitOnFailure}: ${m.error}`),
    )
  }
  if (r.freed.length > 0) {
    gap()
    out.push(
      table(
        ['held -R, freed by ClientAlive', 'ExitOnForwardFailure', 'held s', 'free→forward s', 'ssh starts'],
        r.freed.map(f => [f.contender, f.exitOnFailure, cell(f.heldS), cell(f.freeToForwardS), cell(f.sshStarts)]),
        true,
      ),
      `target: free→forward ≤ max(10 s, held / 10). sshd ClientAliveInterval 10 × 3; held: the move to the old session's ` +
        `listener gone; ssh starts from the move to the -R back; poll ${HELD_POLL_S} s`,
      ...r.freed.filter(f => f.error).map(f => `${f.contender}: ${f.error}`),
    )
  }
  if (r.long.length > 0) {
    gap()
    const minutes = Array.from({ length: LONG_MINUTES }, (_, i) => `min ${i + 1}`)
    out.push(
      table(
        ['held -R, for good', ...minutes.map(m => `logins ${m}`), 'ssh starts per minute', '-R works at the end'],
        r.long.map(l => [
          l.contender,
          ...minutes.map((_, i) => cell(l.logins[i])),
          l.sshStarts.join(', ') || '—',
          l.forwardAtEnd === null ? '—' : l.forwardAtEnd ? 'yes' : 'no',
        ]),
        true,
      ),
      `targets: ours ≤ 4 ssh starts in minute ${LONG_MINUTES}; 1.4g: one ssh, without its forward. Echo mode, ` +
        `ExitOnForwardFailure=no, sshd at OpenSSH's defaults; logins: connections through the link; poll ${HELD_POLL_S} s`,
      ...r.long.filter(l => l.error).map(l => `${l.contender}: ${l.error}`),
    )
  }
  return out
}
