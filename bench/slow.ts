// The slow line: a tunnel that works, over a link that is slow (0.4 s each
// way), or whose delay jumps between 0 and 0.5 s. A supervisor should leave
// it alone. For 60 s from the moment the user's forward first works, count
// the restarts of ssh and check the user's forward every few seconds, for
// ours and for 1.4g, echo mode, poll 10 s (the case: with a poll
// under 30 s, 1.4g gives a probe poll/2).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { freePort, makeWorld, talk, type World } from '../test/world/index.js'
import { own, track } from './cleanup.js'
import { startSupervisor } from './contender.js'
import { seeded } from './herd.js'

export const SLOW_POLL_S = 10
export const SLOW_WINDOW_S = 60
/** a check through the user's forward starts this often ... */
const CHECK_EVERY_MS = 3000
/** ... and fails when no answer comes in this long (a new channel over 0.4 s each way needs about 1.6 s) */
const CHECK_TIMEOUT_MS = 5000
const STEADY_MS = 400
/** the jumping link: 0 or this, changing after 1 to 4 s (the same sequence for every contender) */
const JUMP_MS = 500

export type LinkKind = 'steady' | 'jumpy'

export interface SlowRow {
  contender: string
  link: string
  /** spawn to the first line through the user's forward */
  upS: number | null
  /** ssh started again within the window */
  restarts: number | null
  checks: number
  failed: number
  error?: string
}

export const linkName = (kind: LinkKind) => (kind === 'steady' ? `${STEADY_MS} ms each way` : `0 ↔ ${JUMP_MS} ms each way, jumping`)

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))
const round = (n: number, digits = 1) => Number(n.toFixed(digits))

/** the link's delay, changing as `kind` says until stop() */
const drive = (w: World, kind: LinkKind): { stop(): void } => {
  if (kind === 'steady') {
    w.link.setDelay(STEADY_MS)
    return { stop() {} }
  }
  const random = seeded(9)
  let high = true
  let timer: NodeJS.Timeout
  const next = () => {
    w.link.setDelay(high ? JUMP_MS : 0)
    high = !high
    timer = setTimeout(next, 1000 + 3000 * random())
  }
  next()
  return { stop: () => clearTimeout(timer) }
}

export const runSlow = async (impl: 'ts' | '1.4g', kind: LinkKind, progress: (s: string) => void): Promise<SlowRow> => {
  const contender = impl === 'ts' ? 'autossh-ts echo' : 'autossh 1.4g echo'
  const row: SlowRow = { contender, link: linkName(kind), upS: null, restarts: null, checks: 0, failed: 0 }
  const dir = mkdtempSync(join(tmpdir(), 'autossh-slow-'))
  const release = [own(() => rmSync(dir, { recursive: true, force: true }))]
  try {
    const world = await track(makeWorld({ netns: false }))
    release.unshift(own(() => world.close()))
    const line = drive(world, kind)
    release.unshift(own(() => line.stop()))

    const userPort = await freePort()
    const args = ['-M', `${await freePort()}:${world.echoPort}`, '-N', '-L', `${userPort}:127.0.0.1:${world.targetPort}`, ...world.sshOptions, world.host]
    const t0 = performance.now()
    const { tail } = startSupervisor(impl, args, dir, release, { AUTOSSH_POLL: String(SLOW_POLL_S) })

    const works = async () => (await talk(userPort, 'x', CHECK_TIMEOUT_MS)) === 'ok x'
    const upBy = t0 + 30000
    while (!(await works()) && performance.now() < upBy) await sleep(100)
    const from = performance.now()
    row.upS = from < upBy ? round((from - t0) / 1000) : null
    progress(row.upS === null ? 'the forward did not work within 30 s; counting anyway' : `forward up in ${row.upS} s`)

    const startsBefore = tail.sshPids().length
    const end = from + SLOW_WINDOW_S * 1000
    while (performance.now() < end) {
      const began = performance.now()
      row.checks++
      if (!(await works())) row.failed++
      await sleep(began + CHECK_EVERY_MS - performance.now())
    }
    tail.stop()
    row.restarts = tail.sshPids().length - startsBefore
    progress(`${row.restarts} restarts, ${row.failed} of ${row.checks} checks failed`)
  } catch (err) {
    row.error = (err as Error).message
  } finally {
    for (const r of release) await r()
  }
  return row
}

/** every slow row, all at once (each in its own world): about 70 s */
export const runSlowAll = async (has14g: boolean, progress: (s: string) => void): Promise<SlowRow[]> => {
  const cases = (['steady', 'jumpy'] as const).flatMap(kind => [['ts', kind] as const, ...(has14g ? [['1.4g', kind] as const] : [])])
  return Promise.all(cases.map(([impl, kind]) => runSlow(impl, kind, s => progress(`slow line ${impl} ${kind}: ${s}`))))
}

export const slowTable = (rows: SlowRow[]): string[] => {
  const head = ['slow line', 'link', 'up s', 'restarts', 'forward checks failed']
  const body = rows.map(r => [r.contender, r.link, r.upS === null ? '—' : String(r.upS), r.restarts === null ? '—' : String(r.restarts), `${r.failed} of ${r.checks}`])
  const widths = head.map((h, i) => Math.max(h.length, ...body.map(r => r[i]!.length)))
  const line = (r: string[]) => r.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')
  return [
    line(head),
    widths.map(w => '-'.repeat(w)).join('  '),
    ...body.map(line),
    `targets: 0 restarts, 0 failed checks. Poll ${SLOW_POLL_S} s, echo mode, ${SLOW_WINDOW_S} s from the first line through the ` +
      `user's forward; a check every ${CHECK_EVERY_MS / 1000} s, failed when no answer in ${CHECK_TIMEOUT_MS / 1000} s`,
    ...rows.filter(r => r.error).map(r => `${r.contender}, ${r.link}: ${r.error}`),
  ]
}
