// The long run: our Monitor, in this process, probing a real tunnel (plain
// ssh carrying the monitor forwards) 10,000 times back to back. Memory and
// open files are read at the start, after 1,000 probes and at the end: a leak
// per probe (a socket, a listener, a timer) would show as growth.
import { spawn } from 'node:child_process'
import { performance } from 'node:perf_hooks'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { listen } from '../src/monitor/listen.js'
import { Monitor } from '../src/monitor/probe.js'
import { forwards, type MonitorSpec } from '../src/monitor/spec.js'
import { netTimeoutMs } from '../src/options/settings.js'
import { deadlines, measure, type Estimates } from '../src/machine/rtt.js'
import { freePort, freePortPair, makeWorld, stopProcess } from '../test/world/index.js'
import { own, track } from './cleanup.js'
import { SSH, POLL_S } from './contender.js'
import { fdCount, rssMB } from './proc.js'

export const PROBES = 10000
const CHECKPOINT = 1000

// a full collection before each reading, so that garbage not yet collected does not pass for growth
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

export interface Snapshot {
  rssMB: number
  heapMB: number
  fds: number
}

export interface LongRow {
  case: string
  probes: number
  failed: number
  probesPerSec: number
  /** warm probes' round trips */
  rttMs?: { p50: number; p99: number; max: number }
  start: Snapshot
  after1000: Snapshot
  end: Snapshot
  error?: string
}

const snapshot = (): Snapshot => {
  gc()
  const r = (n: number) => Number(n.toFixed(1))
  return { rssMB: r(rssMB('self') ?? NaN), heapMB: r(process.memoryUsage().heapUsed / 2 ** 20), fds: fdCount() }
}

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))

export const runLong = async (mode: 'pair' | 'echo', keep: boolean, netns: boolean, progress: (s: string) => void): Promise<LongRow> => {
  const name = `${mode} ${keep ? 'keep' : 'per-probe'}`
  const world = await track(makeWorld({ netns }))
  const closeWorld = own(() => world.close())
  const release: (() => Promise<void>)[] = [closeWorld]
  try {
    const port = mode === 'pair' ? await freePortPair() : await freePort()
    const spec: MonitorSpec = mode === 'pair' ? { mode, port } : { mode, port, echoPort: world.echoPort }
    const listener = mode === 'pair' ? await listen(port + 1) : undefined
    let passed = 0
    const monitor = new Monitor({
      mode,
      port,
      listener,
      message: '',
      keep,
      strangerMs: netTimeoutMs(POLL_S),
      log: (_, message) => void (message === 'connection ok' && passed++),
    })
    release.unshift(own(() => monitor.close()))

    const ssh = spawn(SSH, ['-N', ...forwards(spec), ...world.sshOptions, world.host], { stdio: ['ignore', 'ignore', 'pipe'] })
    ssh.on('error', () => {})
    release.unshift(own(() => stopProcess(ssh, 5000)))

    // the forwards come up a moment after ssh starts
    let est: Estimates = {}
    const probe = async () => {
      const r = await monitor.probe(deadlines(est, netTimeoutMs(POLL_S)))
      if (r.ok) {
        est = measure(est, r.rttMs, r.fresh)
        rtts.push(r.rttMs)
      }
      return r.ok
    }
    const rtts: number[] = []
    const upBy = performance.now() + 20000
    while (!(await probe())) {
      if (ssh.exitCode !== null) throw new Error(`ssh exited (${ssh.exitCode})`)
      if (performance.now() > upBy) throw new Error('the tunnel never passed a probe')
      await sleep(100)
    }

    const start = snapshot()
    let after1000 = start
    let failed = 0
    const t0 = performance.now()
    for (let i = 1; i <= PROBES; i++) {
      if (!(await probe())) failed++
      if (i === CHECKPOINT) after1000 = snapshot()
      if (i % 2500 === 0) progress(`${name}: ${i} probes`)
    }
    const secs = (performance.now() - t0) / 1000
    const end = snapshot()
    if (passed - 1 !== PROBES - failed) throw new Error(`${passed - 1} passes logged for ${PROBES - failed} probes that passed`)
    // the round trips the probe deadline's floor (src/machine/rtt.ts) must stand above
    const sorted = rtts.slice(1).sort((a, b) => a - b)
    const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! * 10) / 10
    const rttMs = { p50: at(0.5), p99: at(0.99), max: at(1) }
    return { case: name, probes: PROBES, failed, probesPerSec: Math.round(PROBES / secs), rttMs, start, after1000, end }
  } finally {
    for (const r of release) await r()
  }
}
