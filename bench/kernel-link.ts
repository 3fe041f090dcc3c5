// What the kernel shows of ssh's own TCP connection when the path goes away,
// for issue 14's watcher, measured on the kernel link world with autossh
// 1.4g -M 0 and ssh's ServerAliveInterval 10 x 3:
//   cut   a silent cut (blackhole in the router), at several phases of the
//         keepalive period, with and without a write by the user: time until
//         ssh is restarted, and every 0.5 s ssh's socket in /proc/PID/net/tcp,
//         in `ss -tin`, and the client namespace's Tcp/TcpExt counters
//   move  the client's address moves from under ssh's socket: the same samples
//   idle  60 s of an idle link: bytes through the router's client-side veth
//   slow  no cut, a slow link (tbf, full queue) with a bulk transfer through
//         the forward: how far the same fields go when nothing is wrong
// Usage: node --import tsx bench/kernel-link.ts [cut|move|idle ...] (all by default)
// Root only (ip netns). Raw samples go to a JSON file named at the end.
import { readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { stopProcess, talk } from '../test/world/index.js'
import { kernelLinkAvailable, makeKernelLink, type KernelLink, type Spawned } from '../test/world/kernel-link.js'
import { AUTOSSH_14G, CLI, SSH } from './contender.js'
import { alive } from './proc.js'

/** the user's -L port, in the client namespace */
export const USER_PORT = 2000
/** ssh's keepalive, 10 s x 3: before the world's options, since ssh keeps the first ServerAliveInterval */
export const KEEPALIVE = ['-o', 'ServerAliveInterval=10', '-o', 'ServerAliveCountMax=3']
const SAMPLE_MS = 500
/** ServerAliveInterval 10 x 3 gives up 30 to 40 s after the cut; a bound well past it */
const RESTART_BOUND_MS = 90000
const IDLE_MS = 60000

export const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))

/** autossh's ssh: its child named ssh, not the short-lived `ssh -G` ours runs before each start (nor ours' `ip monitor`) */
export const childOf = (pid: number): number | undefined => {
  try {
    for (const c of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ').filter(Boolean)) {
      const argv = readFileSync(`/proc/${c}/cmdline`, 'utf8').split('\0')
      if (readFileSync(`/proc/${c}/comm`, 'utf8').trim() === 'ssh' && !argv.includes('-G')) return Number(c)
    }
  } catch {
    // gone meanwhile
  }
  return undefined
}

const socketInodes = (pid: number): Set<string> => {
  const out = new Set<string>()
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))
        if (m) out.add(m[1]!)
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    // gone
  }
  return out
}

const hexAddr = (h: string): string => {
  const [a, p] = h.split(':')
  const b = Buffer.from(a!, 'hex')
  return `${b[3]}.${b[2]}.${b[1]}.${b[0]}:${parseInt(p!, 16)}`
}

/**
 * One line of /proc/net/tcp (get_tcp4_sock): st, tx_queue (write_seq -
 * snd_una: bytes written and not acked, sent or not), tr (1 retransmit/RACK/
 * loss-probe timer, 2 keepalive, 4 zero-window probe, 0 none), tm->when (time
 * to that timer, 1/100 s), retrnsmt (icsk_retransmits: RTOs in a row without
 * an ack), timeout (icsk_probes_out), inode, ... rto (1/100 s).
 */
interface ProcTcp {
  local: string
  st: number
  txQueue: number
  rxQueue: number
  tr: number
  whenS: number
  retrnsmt: number
  probes: number
  rtoMs: number
}

const procTcp = (pid: number, inodes: Set<string>): ProcTcp | undefined => {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/net/tcp`, 'utf8')
  } catch {
    return undefined
  }
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/)
    if (f.length < 17 || !inodes.has(f[9]!) || !f[2]!.endsWith(':0016')) continue
    const [tx, rx] = f[4]!.split(':')
    const [tr, when] = f[5]!.split(':')
    return {
      local: hexAddr(f[1]!),
      st: parseInt(f[3]!, 16),
      txQueue: parseInt(tx!, 16),
      rxQueue: parseInt(rx!, 16),
      tr: parseInt(tr!, 16),
      // a timer already due prints as a negative delta, which is two's complement here
      whenS: (parseInt(when!, 16) | 0) / 100,
      retrnsmt: parseInt(f[6]!, 16),
      probes: Number(f[8]),
      rtoMs: Number(f[12]) * 10,
    }
  }
  return undefined
}

/** Tcp (snmp) and TcpExt (netstat) counters of the namespace the pid is in */
const counters = (pid: number): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const file of ['snmp', 'netstat']) {
    let lines: string[]
    try {
      lines = readFileSync(`/proc/${pid}/net/${file}`, 'utf8').split('\n')
    } catch {
      continue
    }
    for (let i = 0; i + 1 < lines.length; i += 2) {
      const names = lines[i]!.split(/\s+/)
      const values = lines[i + 1]!.split(/\s+/)
      if (names[0] !== 'Tcp:' && names[0] !== 'TcpExt:') continue
      names.slice(1).forEach((n, j) => (out[`${names[0]}${n}`] = Number(values[j + 1])))
    }
  }
  return out
}

/** the fields of `ss -tin` a watcher might use */
const ssInfo = async (kl: KernelLink, local: string): Promise<Record<string, string>> => {
  const port = local.split(':')[1]
  const out = await kl.run('client', ['ss', '-tinH', 'sport', '=', `:${port}`]).catch(() => '')
  const pick: Record<string, string> = {}
  for (const key of ['rto', 'backoff', 'lastsnd', 'lastrcv', 'lastack', 'unacked', 'retrans', 'lost', 'notsent', 'bytes_retrans', 'bytes_acked'])
    pick[key] = new RegExp(`\\b${key}:(\\S+)`).exec(out)?.[1] ?? '-'
  pick.state = out.split(/\s+/)[0] ?? '-'
  return pick
}

interface Sample {
  t: number
  proc?: ProcTcp
  ss?: Record<string, string>
  /** counters that moved since the event, by how much */
  moved: Record<string, number>
}

/** samples every 0.5 s while ssh (pid) lives, from `start` on, until stop() */
const sampler = (kl: KernelLink, pid: number, start: number) => {
  const samples: Sample[] = []
  const base = counters(pid)
  const inodes = socketInodes(pid)
  let stopped = false
  const done = (async () => {
    while (!stopped && alive(pid)) {
      const t = (performance.now() - start) / 1000
      const proc = procTcp(pid, inodes)
      const now = counters(pid)
      const moved: Record<string, number> = {}
      for (const [k, v] of Object.entries(now)) if (v !== base[k] && !/Curr|InSegs|OutSegs|Estab/.test(k)) moved[k] = v - (base[k] ?? 0)
      samples.push({ t, proc, ss: proc ? await ssInfo(kl, proc.local) : undefined, moved })
      await sleep(SAMPLE_MS)
    }
  })()
  return {
    samples,
    stop: async () => {
      stopped = true
      await done
    },
  }
}

/** the counters shown (the JSON has every one that moved): retransmits of any kind, RTOs, tail loss probes, fast retransmits */
const SHOWN = ['Tcp:RetransSegs', 'TcpExt:TCPTimeouts', 'TcpExt:TCPLossProbes', 'TcpExt:TCPFastRetrans']

/** a compact line per sample where something changed */
const show = (samples: Sample[]): string[] => {
  let last = ''
  const lines: string[] = []
  for (const s of samples) {
    const p = s.proc
    const row = p
      ? `st=${p.st} txq=${p.txQueue} tr=${p.tr} when=${p.whenS.toFixed(2)} retr=${p.retrnsmt} rto=${p.rtoMs} | ss backoff=${s.ss!.backoff} unacked=${s.ss!.unacked} retrans=${s.ss!.retrans} lastack=${s.ss!.lastack} lastsnd=${s.ss!.lastsnd} | ${SHOWN.map(k => `${k}+${s.moved[k] ?? 0}`).join(' ')}`
      : 'no socket'
    // the timer's countdown changes every sample: not a change worth a line
    const key = row.replace(/when=\S+ /, '').replace(/last\w+=\S+ ?/g, '')
    if (key !== last) lines.push(`  t=${s.t.toFixed(1)}s ${row}`)
    last = key
  }
  return lines
}

export type Impl = 'ts' | '1.4g'

/** a line through the user's forward, to the target (`ok hi` back) or the echo service (`hi` back) */
export const forwardWorks = async (kl: KernelLink, to: 'target' | 'echo' = 'target', ms = 1000): Promise<boolean> =>
  (await talk(kl.exposed(USER_PORT), 'hi', ms)) === (to === 'target' ? 'ok hi' : 'hi')

/**
 * autossh (ours or 1.4g) in the client namespace: -M monitor, maybe ssh's
 * keepalive 10 x 3 (ssh takes the first value of an option: it goes before
 * the world's ServerAliveInterval=0), the user's forward to the target or the
 * echo service; resolves once a line goes through the forward
 */
export const startAutossh = async (kl: KernelLink, impl: Impl, monitor: string, o: { keepalive?: boolean; to?: 'target' | 'echo' } = {}) => {
  const to = o.to ?? 'target'
  const args = ['-M', monitor, '-N', ...(o.keepalive === false ? [] : KEEPALIVE), ...kl.sshOptions, '-L', `${USER_PORT}:127.0.0.1:${to === 'target' ? kl.targetPort : kl.echoPort}`, kl.host]
  const a: Spawned = kl.spawn(impl === 'ts' ? [process.execPath, CLI, ...args] : [AUTOSSH_14G, ...args], {
    env: { AUTOSSH_PATH: SSH, AUTOSSH_GATETIME: '0', AUTOSSH_SYSLOG_SOCKET: '/nonexistent/log' },
  })
  for (const end = performance.now() + 20000; !(await forwardWorks(kl, to)); await sleep(200))
    if (performance.now() > end) throw new Error(`${impl}: the forward never worked: ${a.stderr()}`)
  const ssh = childOf(a.child.pid!)
  if (!ssh) throw new Error(`${impl}: no ssh child`)
  return { a, ssh, upAt: performance.now() }
}

/** s from t0 until autossh (pid) has an ssh other than `ssh`, or undefined past boundMs; each() every 0.1 s meanwhile */
export const restartAfter = async (pid: number, ssh: number, t0: number, boundMs: number, each?: (t: number) => void): Promise<number | undefined> => {
  while (performance.now() - t0 < boundMs) {
    const t = (performance.now() - t0) / 1000
    each?.(t)
    const now = childOf(pid)
    if (now !== undefined && now !== ssh) return t
    await sleep(100)
  }
  return undefined
}

interface Trial {
  name: string
  /** the event (cut or move) this long after the forward first worked */
  atS: number
  write: boolean
  sshExitS?: number
  restartS?: number
  samples: Sample[]
}

/** one 1.4g life: up, wait atS, the event, maybe a user's write 1 s later, until ssh is restarted */
const trial = async (name: string, event: 'cut' | 'move', atS: number, write: boolean): Promise<Trial> => {
  const kl = await makeKernelLink({ expose: [USER_PORT] })
  try {
    const { a, ssh, upAt } = await startAutossh(kl, '1.4g', '0')
    await sleep(upAt + atS * 1000 - performance.now())
    const t0 = performance.now()
    const smp = sampler(kl, ssh, t0)
    if (event === 'cut') await kl.cut()
    else await kl.changeClientAddress()
    if (write) setTimeout(() => void talk(kl.exposed(USER_PORT), 'user', 3000), 1000)
    const out: Trial = { name, atS, write, samples: smp.samples }
    out.restartS = await restartAfter(a.child.pid!, ssh, t0, RESTART_BOUND_MS, t => {
      if (out.sshExitS === undefined && !alive(ssh)) out.sshExitS = t
    })
    await smp.stop()
    await stopProcess(a.child)
    return out
  } finally {
    await kl.close()
  }
}

/**
 * bytes through the router's client-side veth, both ways, in ms (a multiple
 * of 10 s) of a working, idle link under autossh (impl) -M 0 with ssh's
 * keepalive 10 x 3; from 5 s after the forward's check, whose bytes are the
 * last before the keepalives: those come at +10, +20, ... s, ms / 10 s of
 * them inside the window with 5 s to spare at either end, whatever the run
 */
export const idleBytes = async (kl: KernelLink, impl: Impl, ms = IDLE_MS) => {
  const { a, upAt } = await startAutossh(kl, impl, '0')
  await sleep(upAt + 5000 - performance.now())
  const b0 = await kl.wireBytes()
  await sleep(ms)
  const b1 = await kl.wireBytes()
  await stopProcess(a.child)
  return { seconds: ms / 1000, fromClient: b1.fromClient - b0.fromClient, toClient: b1.toClient - b0.toClient }
}

const idle = async () => {
  const kl = await makeKernelLink({ expose: [USER_PORT] })
  try {
    return await idleBytes(kl, '1.4g')
  } finally {
    await kl.close()
  }
}

const SLOW_KBIT = 256
const SLOW_QUEUE_MS = 1000
const BULK_BYTES = 256 * 1024

/** plain ssh, a forward to the echo service, the link slowed, BULK_BYTES there and back */
const slowBulk = async () => {
  const kl = await makeKernelLink({ expose: [USER_PORT] })
  try {
    const ssh = kl.spawn(['/usr/bin/ssh', '-o', 'ServerAliveInterval=10', ...kl.sshOptions, '-N', '-L', `${USER_PORT}:127.0.0.1:${kl.echoPort}`, kl.host])
    for (const end = performance.now() + 20000; (await talk(kl.exposed(USER_PORT), 'hi', 1000)) !== 'hi'; await sleep(200))
      if (performance.now() > end) throw new Error(`slow: the forward never worked: ${ssh.stderr()}`)
    await kl.slow(SLOW_KBIT, SLOW_QUEUE_MS)
    const t0 = performance.now()
    const smp = sampler(kl, ssh.child.pid!, t0)
    const got = await new Promise<number>(resolve => {
      let n = 0
      const s = net.connect(kl.exposed(USER_PORT), '127.0.0.1', () => s.write(Buffer.alloc(BULK_BYTES, 120)))
      const timer = setTimeout(() => (s.destroy(), resolve(n)), 120000)
      s.on('data', d => {
        n += d.length
        if (n >= BULK_BYTES) (clearTimeout(timer), s.destroy(), resolve(n))
      })
      s.on('error', () => (clearTimeout(timer), resolve(n)))
    })
    const seconds = (performance.now() - t0) / 1000
    await smp.stop()
    const procs = smp.samples.flatMap(x => (x.proc ? [x.proc] : []))
    return {
      kbit: SLOW_KBIT,
      queueMs: SLOW_QUEUE_MS,
      bytes: got,
      seconds,
      maxTxQueue: Math.max(...procs.map(p => p.txQueue)),
      maxRetrnsmt: Math.max(...procs.map(p => p.retrnsmt)),
      maxProbes: Math.max(...procs.map(p => p.probes)),
      maxRtoMs: Math.max(...procs.map(p => p.rtoMs)),
      samples: smp.samples,
    }
  } finally {
    await kl.close()
  }
}

const main = async () => {
  process.on('SIGINT', () => process.exit(130))
  process.on('SIGTERM', () => process.exit(143))
  const why = kernelLinkAvailable()
  if (why !== true) {
    console.log(`skipped: ${why}`)
    return
  }
  const want = new Set(process.argv.slice(2).length ? process.argv.slice(2) : ['cut', 'move', 'idle', 'slow'])
  const trials: Trial[] = []
  const runs: [string, 'cut' | 'move', number, boolean][] = []
  if (want.has('cut')) runs.push(['cut, idle', 'cut', 1, false], ['cut, idle', 'cut', 4.5, false], ['cut, idle', 'cut', 8, false], ['cut, user write at +1 s', 'cut', 3, true])
  if (want.has('move')) runs.push(['move, idle', 'move', 3, false], ['move, user write at +1 s', 'move', 3, true])
  // run in parallel: each trial has its own namespaces
  const results = await Promise.all(runs.map(([name, ev, at, w]) => trial(name, ev, at, w)))
  trials.push(...results)
  for (const r of trials) {
    console.log(`${r.name}, event ${r.atS} s after up: ssh exited at +${r.sshExitS?.toFixed(1) ?? '-'} s, restarted at +${r.restartS?.toFixed(1) ?? '-'} s`)
    for (const l of show(r.samples)) console.log(l)
  }
  const file = join(tmpdir(), `kernel-link-bench-${process.pid}.json`)
  const out: Record<string, unknown> = { trials }
  if (want.has('idle')) {
    const i = await idle()
    out.idle = i
    console.log(`idle ${i.seconds} s, 1.4g -M 0, ServerAliveInterval 10 x 3: ${i.fromClient} bytes from the client, ${i.toClient} to it (Ethernet frames on the router's veth)`)
  }
  if (want.has('slow')) {
    const r = await slowBulk()
    out.slow = r
    console.log(`slow ${r.kbit} kbit/s, queue ${r.queueMs} ms, ${r.bytes} bytes there and back in ${r.seconds.toFixed(1)} s: max tx_queue ${r.maxTxQueue}, max retrnsmt ${r.maxRetrnsmt}, max probes ${r.maxProbes}, max rto ${r.maxRtoMs} ms`)
    for (const l of show(r.samples)) console.log(l)
  }
  writeFileSync(file, JSON.stringify(out, null, 1))
  console.log(`raw samples: ${file}`)
}

// a script, and a library for bench/kernel.ts
if (resolve(process.argv[1] ?? '') === fileURLToPath(import.meta.url)) await main()
