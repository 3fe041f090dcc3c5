// One row of the bench: one supervisor (autossh-ts, autossh 1.4g, or ssh's
// own keepalive under autossh-ts -M 0) in a fresh world, through a whole
// life: start, idle monitoring, a cut, a restore.
import { spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { freePort, freePortPair, makeWorld, stopProcess, talk, type World } from '../test/world/index.js'
import { own, track } from './cleanup.js'
import { LogTail } from '../test/helpers/logtail.js'
import { alive, cpuSeconds, rssMB } from './proc.js'

export const CLI = fileURLToPath(new URL('../dist/cli.cjs', import.meta.url))
export const AUTOSSH_14G = '/usr/lib/autossh/autossh'
export const SSH = '/usr/bin/ssh'

/** the poll every row uses: autossh's AUTOSSH_POLL, ssh's ServerAliveInterval for the keepalive row */
export const POLL_S = 4
/** probes the idle window spans */
export const WINDOW_PROBES = 3
const KEEPALIVE_S = 1
/** the keepalive row's window, as long as the others' */
const KEEPALIVE_WINDOW_S = POLL_S * WINDOW_PROBES
/**
 * The idle window starts no sooner than this after the spawn: Node does a
 * one-off round of garbage collection some 8 s after it starts (about 30 ms
 * of CPU), which is start-up, not the cost of idling.
 */
const SETTLE_MS = 10000

export interface Contender {
  name: string
  impl: 'ts' | '1.4g'
  /** keepalive: -M 0, ssh's ServerAliveInterval finds the cut */
  mode: 'pair' | 'echo' | 'keepalive'
}

export interface Row {
  contender: string
  /** spawn to a line through the user's forward */
  startToTunnelMs: number | null
  /** link cut right after a passed probe, to the stuck ssh gone */
  cutToKillMs: number | null
  /** link restored to a line through the user's forward again */
  restoreToForwardMs: number | null
  /** link bytes (both ways) per probe, or per keepalive interval, with the link idle */
  bytesPerProbe: number | null
  /** probes (or keepalive intervals) in the idle window */
  probesInWindow: number | null
  /** the supervisor's VmRSS while monitoring, the most seen in the window */
  rssMB: number | null
  /** the supervisor's CPU time over the idle window, per wall time */
  idleCpuPct: number | null
  /** spawn of the supervisor to the exec of ssh */
  execToSshMs: number | null
  error?: string
}

export const emptyRow = (contender: string): Row => ({
  contender,
  startToTunnelMs: null,
  cutToKillMs: null,
  restoreToForwardMs: null,
  bytesPerProbe: null,
  probesInWindow: null,
  rssMB: null,
  idleCpuPct: null,
  execToSshMs: null,
})

export const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))
export const round = (n: number, digits = 0) => Number(n.toFixed(digits))

/** poll fn every everyMs until it is true; false after timeoutMs */
export const until = async (fn: () => boolean | Promise<boolean>, everyMs: number, timeoutMs: number): Promise<boolean> => {
  const end = performance.now() + timeoutMs
  for (;;) {
    if (await fn()) return true
    if (performance.now() > end) return false
    await sleep(everyMs)
  }
}

/** ssh options with `ServerAliveInterval=0` swapped out: in ssh the first -o of a kind wins, so appending would not do */
const keepaliveOptions = (w: World): string[] =>
  w.sshOptions.flatMap(o =>
    o === 'ServerAliveInterval=0' ? [`ServerAliveInterval=${KEEPALIVE_S}`, '-o', 'ServerAliveCountMax=1'] : [o],
  )

/** a stand-in for ssh that notes the time of its exec (ns since the epoch), then becomes ssh */
const writeWrapper = (dir: string): { path: string; times: string } => {
  const path = join(dir, 'ssh')
  const times = join(dir, 'exec-times')
  writeFileSync(path, `#!/bin/sh\ndate +%s%N >> '${times}'\nexec ${SSH} "$@"\n`)
  chmodSync(path, 0o755)
  return { path, times }
}

/** the supervisor takes its ssh along on SIGTERM; SIGKILL only past ssh's own kill grace */
const SUPERVISOR_GRACE_MS = 8000

export interface Supervisor {
  child: ChildProcess
  /** its log, followed */
  tail: LogTail
  stderr(): string
}

/**
 * autossh (ours or 1.4g) started with args and the bench's environment: none
 * of the caller's AUTOSSH_ variables, a log at level 7 in dir, gate time 0,
 * no syslog, real ssh unless env says otherwise. Stopped, its ssh too (1.4g's
 * has no parent-death signal), by the undo put first in release.
 */
export const startSupervisor = (
  impl: 'ts' | '1.4g',
  args: string[],
  dir: string,
  release: (() => Promise<void>)[],
  env: Record<string, string> = {},
): Supervisor => {
  const logFile = join(dir, 'autossh.log')
  const tail = new LogTail(logFile)
  release.unshift(own(() => tail.stop()))
  const [file, argv] = impl === 'ts' ? [process.execPath, [CLI, ...args]] : [AUTOSSH_14G, args]
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AUTOSSH_')))
  const child = spawn(file, argv, {
    env: {
      ...inherited,
      AUTOSSH_PATH: SSH,
      AUTOSSH_LOGFILE: logFile,
      AUTOSSH_LOGLEVEL: '7',
      AUTOSSH_GATETIME: '0',
      // ours would otherwise log to syslog as well; 1.4g does not know it
      AUTOSSH_SYSLOG_SOCKET: '/nonexistent/log',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr!.on('data', d => (stderr += d))
  child.on('error', () => {})
  release.unshift(
    own(async () => {
      await stopProcess(child, SUPERVISOR_GRACE_MS)
      for (const pid of tail.sshPids()) if (alive(pid)) process.kill(pid, 'SIGKILL')
    }),
  )
  return { child, tail, stderr: () => stderr }
}

export const runContender = async (c: Contender, netns: boolean, progress: (s: string) => void): Promise<Row> => {
  const row = emptyRow(c.name)
  const dir = mkdtempSync(join(tmpdir(), 'autossh-bench-'))
  const release = [own(() => rmSync(dir, { recursive: true, force: true }))]
  try {
    const world = await track(makeWorld({ netns }))
    release.unshift(own(() => world.close()))
    const { link } = world

    const wrapper = writeWrapper(dir)
    const userPort = await freePort()
    const monitorSpec =
      c.mode === 'keepalive' ? '0' : c.mode === 'pair' ? String(await freePortPair()) : `${await freePort()}:${world.echoPort}`
    const sshOptions = c.mode === 'keepalive' ? keepaliveOptions(world) : world.sshOptions
    const args = ['-M', monitorSpec, '-N', '-L', `${userPort}:127.0.0.1:${world.targetPort}`, ...sshOptions, world.host]

    // ---- start → tunnel, and exec → ssh
    // the wrapper's clock is the epoch in ns; Date.now() is the same clock, to the ms
    const spawnEpochMs = Date.now()
    const t0 = performance.now()
    const { child, tail, stderr } = startSupervisor(c.impl, args, dir, release, {
      AUTOSSH_PATH: wrapper.path,
      AUTOSSH_POLL: String(POLL_S),
      // the first probe comes sooner only to save bench time; no figure depends on it
      AUTOSSH_FIRST_POLL: '2',
    })
    const died = () => {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`${c.name} exited (${child.exitCode ?? child.signalCode}): ${stderr().trim()}`)
      }
    }
    const forwardWorks = async () => (await talk(userPort, 'x', 1000)) === 'ok x'

    if (!(await until(forwardWorks, 20, 20000))) {
      died()
      throw new Error('the forward never worked')
    }
    row.startToTunnelMs = round(performance.now() - t0)
    if (existsSync(wrapper.times)) {
      const first = readFileSync(wrapper.times, 'utf8').split('\n')[0]!
      row.execToSshMs = round(Number(BigInt(first) / 1000n) / 1000 - spawnEpochMs, 1)
    }
    progress(`tunnel up in ${row.startToTunnelMs} ms`)

    // ---- the idle window
    const sample = () => {
      const rss = rssMB(child.pid!)
      if (rss !== undefined) row.rssMB = Math.max(row.rssMB ?? 0, round(rss, 1))
    }
    let begin: { at: number; bytes: number; cpu: number }
    let end: typeof begin
    const measure = (at: number) => {
      const b = link.bytes()
      return { at, bytes: b.up + b.down, cpu: cpuSeconds(child.pid!) ?? NaN }
    }
    await sleep(t0 + SETTLE_MS - performance.now())
    if (c.mode === 'keepalive') {
      begin = measure(performance.now())
      for (let s = 0; s < KEEPALIVE_WINDOW_S; s++) {
        await sleep(1000)
        sample()
      }
      end = measure(performance.now())
      row.probesInWindow = round((end.at - begin.at) / 1000 / KEEPALIVE_S)
    } else {
      const ok = (m: string) => m === 'connection ok'
      // from right after a passed probe to right after the Nth one after it: N probes' worth of bytes, exactly
      let i = await tail.waitFor(ok, tail.entries.length, (POLL_S + 5) * 1000, 'passed probe')
      begin = measure(performance.now())
      for (let n = 0; n < WINDOW_PROBES; n++) {
        i = await tail.waitFor(ok, i + 1, (POLL_S + 5) * 1000, 'passed probe')
        if (n < WINDOW_PROBES - 1) sample()
      }
      end = measure(performance.now())
      sample()
      row.probesInWindow = WINDOW_PROBES
    }
    const wallS = (end.at - begin.at) / 1000
    row.bytesPerProbe = round((end.bytes - begin.bytes) / row.probesInWindow)
    row.idleCpuPct = round(((end.cpu - begin.cpu) / wallS) * 100, 2)
    progress(`${row.bytesPerProbe} B/probe, ${row.rssMB} MB, ${row.idleCpuPct}% CPU idle`)

    // ---- cut → kill: right after a passed probe, the longest way to the next one
    const pids = tail.sshPids()
    const stuck = pids[pids.length - 1]!
    const cutAt = performance.now()
    link.cut()
    const gone = await until(() => !alive(stuck) || tail.sshPids().length > pids.length, 5, 30000)
    if (!gone) {
      link.restore()
      died()
      throw new Error(`the stuck ssh ${stuck} was still there 30 s after the cut`)
    }
    row.cutToKillMs = round(performance.now() - cutAt)

    // ---- restore → forward
    const restoredAt = performance.now()
    link.restore()
    if (!(await until(forwardWorks, 20, 30000))) {
      died()
      throw new Error('the forward did not come back within 30 s of the restore')
    }
    row.restoreToForwardMs = round(performance.now() - restoredAt)
    progress(`cut→kill ${row.cutToKillMs} ms, restore→forward ${row.restoreToForwardMs} ms`)
  } catch (err) {
    row.error = (err as Error).message
  } finally {
    for (const r of release) await r()
  }
  return row
}
