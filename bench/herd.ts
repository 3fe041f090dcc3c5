// The herd: a fleet of autossh clients whose one server goes away and comes
// back. How hard do they hit it when it returns, how long do they take, how
// often do they knock while it is away? Two parts:
//
// - A simulation of N clients (10,000) with the real retry schedule
//   (src/machine/backoff.ts) and, beside it, a copy of 1.4g's grace_time(). Modelled:
//   the server restarts, which drops every session at once, so every client
//   starts retrying at t = 0 (the worst case, and the usual one: a server's
//   reboot or sshd's restart); each of its ssh fails 50 to 300 ms after it
//   starts (refused, or the banner never came), at random; once the server
//   is back, an ssh started succeeds. Nothing else limits the server (no
//   MaxStartups: the peak per second says what it would have to take).
// - Real processes: a few dozen of ours (dist/cli.cjs) and as many 1.4g's,
//   -M 0, each with a stand-in for ssh (a bash script: connect to the herd's
//   server, exit 255 when refused, hold the connection while it lasts),
//   against one server in this process that drops every connection, refuses
//   for a while, then accepts again.
//
// Reported, per outage: the peak of returning connections in any one second
// after the server is back, the median and the worst delay from its return
// to a client's connection, and the tries each client made during the
// outage. Targets (issue 9): peak under N/20 per second, median under 20 s,
// worst under 60 s, tries no more than 1.4g's.
import { spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CEILING_S, graceTime, type Random } from '../src/machine/backoff.js'
import { stopProcess } from '../test/world/index.js'
import { own } from './cleanup.js'
import { AUTOSSH_14G, CLI } from './contender.js'
import { alive } from './proc.js'

export const CLIENTS = 10000
export const SIM_OUTAGES_S = [120, 600]
/** the real run: clients per program, and its outage (short enough for the bench's time) */
export const REAL_CLIENTS = 30
export const REAL_OUTAGE_S = 90
const POLL_S = 600
const FAIL_MS = [50, 300] as const

export interface HerdRow {
  /** 'ours' or '1.4g', and how: simulated or real processes */
  who: string
  how: 'simulated' | 'real'
  clients: number
  outageS: number
  /** connections in the busiest second after the server's return */
  peakPerS: number
  medianS: number
  worstS: number
  /** tries per client while the server was away: mean, and the most any one made */
  triesMean: number
  triesMax: number
  /** clients not back by the end of the run (real processes only) */
  missing: number
  /** which clients are not back, and the last thing each logged */
  note?: string
  error?: string
}

type Grace = (tries: number, sinceLastStart: number, pollTime: number, random: Random) => { tries: number; waitMs: number }

/**
 * autossh 1.4g's grace_time(), copied from autossh.c for comparison only: NOT
 * our schedule. After N_FAST_TRIES (5) quick starts, it sleeps
 * (int)(poll/100 · t · t/3) s, t = tries - 5, at most the poll time.
 */
export const grace14g: Grace = (tries, sinceLastStart, pollTime) => {
  const minTime = Math.max(Math.floor(pollTime / 10), 10)
  if (sinceLastStart >= minTime) return { tries: 0, waitMs: 0 }
  const next = tries + 1
  if (next <= 5) return { tries: next, waitMs: 0 }
  const t = next - 5
  const n = Math.trunc((pollTime / 100) * (t * (t / 3)))
  return { tries: next, waitMs: Math.min(n, pollTime) * 1000 }
}

/** a seeded random source, so that the simulation's figures are the same each run (mulberry32) */
export const seeded = (seed: number): Random => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const round = (n: number, digits = 1) => Number(n.toFixed(digits))

/** the figures from each client's return (ms after the server's) and its tries during the outage */
const figures = (returns: number[], tries: number[]) => {
  const sorted = [...returns].sort((a, b) => a - b)
  const perSecond = new Map<number, number>()
  for (const r of sorted) perSecond.set(Math.floor(r / 1000), (perSecond.get(Math.floor(r / 1000)) ?? 0) + 1)
  return {
    peakPerS: Math.max(0, ...perSecond.values()),
    medianS: sorted.length ? round(sorted[Math.floor((sorted.length - 1) / 2)]! / 1000) : NaN,
    worstS: sorted.length ? round(sorted.at(-1)! / 1000) : NaN,
    triesMean: tries.length ? round(tries.reduce((a, b) => a + b, 0) / tries.length) : NaN,
    triesMax: Math.max(0, ...tries),
  }
}

/** one fleet through one outage, in simulated time */
export const simulate = (who: string, grace: Grace, clients: number, outageS: number, random: Random): HerdRow => {
  const back = outageS * 1000
  const returns: number[] = []
  const tries: number[] = []
  for (let c = 0; c < clients; c++) {
    // the session was up for long; the server's restart ends it at t = 0
    let now = 0
    let lastStart = -Infinity
    let count = 0
    let n = 0
    for (;;) {
      const g = grace(count, (now - lastStart) / 1000, POLL_S, random)
      count = g.tries
      now += g.waitMs
      lastStart = now
      if (now >= back) break
      n++
      now += FAIL_MS[0] + (FAIL_MS[1] - FAIL_MS[0]) * random()
    }
    returns.push(now - back)
    tries.push(n)
  }
  return { who, how: 'simulated', clients, outageS, ...figures(returns, tries), missing: 0 }
}

export const simulateAll = (outages = SIM_OUTAGES_S): HerdRow[] =>
  outages.flatMap(outageS => [
    simulate('ours', graceTime, CLIENTS, outageS, seeded(outageS)),
    simulate('1.4g', grace14g, CLIENTS, outageS, seeded(outageS)),
  ])

// ---- real processes -------------------------------------------------------------

/** a stand-in for ssh: note the try (id, time, pid), hold a connection to the server while it lasts; refused: 255 */
const standIn = (log: string, port: number) => `#!/bin/bash
id=\${!#}
echo "$id $EPOCHREALTIME $$" >> '${log}'
exec 2>/dev/null
exec 3<>/dev/tcp/127.0.0.1/${port} || exit 255
echo "$id" >&3
read -r -u 3 _
exit 255
`

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))

/**
 * A free port below the kernel's ephemeral range (32768 up, on Linux): while
 * the server is away, no one else's port 0 can land on it (another program's
 * listener would swallow a client's try) and no try can connect to itself.
 */
const quietPort = async (): Promise<number> => {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 12000)
    const free = await new Promise<boolean>(resolve => {
      const s = net.createServer()
      s.once('error', () => resolve(false))
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)))
    })
    if (free) return port
  }
}

/** a zombie is an ssh that has exited and that its supervisor has not noticed */
const sshState = (pid: number): string => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z' ? 'has exited, not reaped' : 'is still running'
  } catch {
    return 'is gone'
  }
}

/** the herd's server: notes who connected when; can drop everyone and stop listening, and listen again */
class Server {
  private server?: net.Server
  private sockets = new Set<net.Socket>()
  /** id → ms (epoch) of each connection that said who it is */
  readonly connected: { id: string; at: number }[] = []

  constructor(private port: number) {}

  async listen(): Promise<void> {
    const server = net.createServer(s => {
      this.sockets.add(s)
      s.on('close', () => this.sockets.delete(s))
      s.on('error', () => {})
      let buf = ''
      s.setEncoding('utf8')
      s.on('data', (d: string) => {
        if (buf.includes('\n')) return
        buf += d
        const nl = buf.indexOf('\n')
        if (nl >= 0) this.connected.push({ id: buf.slice(0, nl), at: Date.now() })
      })
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.port, '127.0.0.1', () => resolve())
    })
    this.server = server
  }

  /** a restart: every session dropped, and nothing listening */
  async drop(): Promise<void> {
    const server = this.server
    this.server = undefined
    const closed = server ? new Promise(r => server.close(r)) : Promise.resolve()
    for (const s of this.sockets) s.destroy()
    await closed
  }

  /** ids that have connected since `from` (ms, epoch) */
  seen(from = 0): Set<string> {
    return new Set(this.connected.filter(c => c.at >= from).map(c => c.id))
  }
}

export const runRealHerd = async (progress: (s: string) => void, clients = REAL_CLIENTS, outageS = REAL_OUTAGE_S): Promise<HerdRow[]> => {
  const programs = [
    { who: 'ours', prefix: 'ts', file: process.execPath, argv: [CLI] },
    ...(existsSync(AUTOSSH_14G) ? [{ who: '1.4g', prefix: 'g', file: AUTOSSH_14G, argv: [] as string[] }] : []),
  ]
  const dir = mkdtempSync(join(tmpdir(), 'autossh-herd-'))
  const release = [own(() => rmSync(dir, { recursive: true, force: true }))]
  const row = (who: string, error: string): HerdRow => ({
    who, how: 'real', clients, outageS, peakPerS: NaN, medianS: NaN, worstS: NaN, triesMean: NaN, triesMax: NaN, missing: clients, error,
  })
  try {
    const port = await quietPort()
    const log = join(dir, 'tries')
    const script = join(dir, 'ssh')
    writeFileSync(script, standIn(log, port))
    chmodSync(script, 0o755)
    const server = new Server(port)
    await server.listen()
    release.unshift(own(() => server.drop()))

    const children: ChildProcess[] = []
    release.unshift(
      own(async () => {
        await Promise.all(children.map(c => stopProcess(c, 8000)))
        // a stand-in left behind by a supervisor that did not take it along
        if (existsSync(log))
          for (const line of readFileSync(log, 'utf8').split('\n')) {
            const pid = Number(line.split(' ')[2])
            if (pid && alive(pid)) process.kill(pid, 'SIGKILL')
          }
      }),
    )
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AUTOSSH_')))
    const ids: string[] = []
    for (const p of programs)
      for (let i = 0; i < clients; i++) {
        const id = `${p.prefix}${i}`
        ids.push(id)
        const child = spawn(p.file, [...p.argv, '-M', '0', id], {
          env: {
            ...inherited,
            AUTOSSH_PATH: script,
            AUTOSSH_GATETIME: '0',
            AUTOSSH_LOGFILE: join(dir, `${id}.log`),
            AUTOSSH_LOGLEVEL: '7',
            AUTOSSH_SYSLOG_SOCKET: '/nonexistent/log',
          },
          stdio: 'ignore',
        })
        child.on('error', () => {})
        children.push(child)
      }
    const end = Date.now() + 30000
    while (server.seen().size < ids.length && Date.now() < end) await sleep(100)
    if (server.seen().size < ids.length) throw new Error(`only ${server.seen().size} of ${ids.length} clients connected within 30 s`)
    progress(`${ids.length} clients connected; the server drops them all and refuses for ${outageS} s`)
    await sleep(1000)

    const downAt = Date.now()
    await server.drop()
    await sleep(outageS * 1000 - (Date.now() - downAt))
    const upAt = Date.now()
    await server.listen()
    progress('the server is back')
    // ours are back within the 50 s ceiling; 1.4g's next try comes when its formula says
    const late14g = simulate('1.4g', grace14g, 1, outageS, seeded(1)).worstS
    const deadline = upAt + (Math.max(CEILING_S, late14g) + 10) * 1000
    const backIds = () => server.seen(upAt)
    let reported = 0
    while (backIds().size < ids.length && Date.now() < deadline) {
      await sleep(200)
      const n = backIds().size
      if (n >= reported + 10) progress(`${(reported = n)} of ${ids.length} back after ${round((Date.now() - upAt) / 1000)} s`)
    }

    const triesLog = readFileSync(log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map(l => l.split(' '))
      .map(([id, at, pid]) => ({ id: id!, at: Number(at) * 1000, pid: Number(pid) }))
    return programs.map(p => {
      const mine = ids.filter(id => id.startsWith(p.prefix) && /^\d+$/.test(id.slice(p.prefix.length)))
      const returns: number[] = []
      const tries: number[] = []
      for (const id of mine) {
        const first = server.connected.find(c => c.id === id && c.at >= upAt)
        if (first) returns.push(first.at - upAt)
        tries.push(triesLog.filter(t => t.id === id && t.at >= downAt && t.at < upAt).length)
      }
      const missing = mine.filter(id => !server.connected.some(c => c.id === id && c.at >= upAt))
      // why one is not back: the last thing it logged, and what became of its last ssh
      const why = (id: string) => {
        const logged = readFileSync(join(dir, `${id}.log`), { encoding: 'utf8', flag: 'a+' }).trim().split('\n').at(-1)
        const pid = triesLog.filter(t => t.id === id).at(-1)?.pid
        return `${id}: last logged "${logged}"; its last ssh (${pid}) ${pid ? sshState(pid) : 'never ran'}`
      }
      const note = missing.length ? `not back: ${missing.map(why).join('; ')}` : undefined
      return { who: p.who, how: 'real' as const, clients, outageS, ...figures(returns, tries), missing: missing.length, note }
    })
  } catch (err) {
    return programs.map(p => row(p.who, (err as Error).message))
  } finally {
    for (const r of release) await r()
  }
}

// ---- output ----------------------------------------------------------------------

export const herdTable = (rows: HerdRow[]): string[] => {
  const head = ['herd', 'clients', 'outage s', 'peak/s back', 'median s', 'worst s', 'tries in outage', 'most tries', 'not back']
  const body = rows.map(r => [
    `${r.who} ${r.how}`,
    String(r.clients),
    String(r.outageS),
    r.error ? '—' : `${r.peakPerS} (${round((r.peakPerS / r.clients) * 100)}%)`,
    r.error ? '—' : String(r.medianS),
    r.error ? '—' : String(r.worstS),
    r.error ? '—' : String(r.triesMean),
    r.error ? '—' : String(r.triesMax),
    r.error ? '—' : String(r.missing),
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...body.map(r => r[i]!.length)))
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')
  return [
    line(head),
    widths.map(w => '-'.repeat(w)).join('  '),
    ...body.map(line),
    'targets: peak under 5% of the clients per second, median under 20 s, worst under 60 s, tries no more than 1.4g\'s; ' +
      `poll ${POLL_S} s. Simulated: ${CLIENTS} clients, real backoff module (1.4g: its formula), all sessions dropped at t = 0, ` +
      `each ssh failing ${FAIL_MS[0]}-${FAIL_MS[1]} ms after its start` +
      (rows.some(r => r.how === 'real')
        ? '. Real: -M 0, a stand-in ssh (bash, TCP connect) against one server in the bench; its sessions had been up for ' +
          'seconds, not the 60 s that make a start not quick, so the drop counts as the first quick try (the same for both)'
        : ''),
    ...rows.flatMap(r => [r.error, r.note].filter(Boolean).map(m => `${r.who} ${r.how}: ${m}`)),
  ]
}
