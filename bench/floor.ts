// The floor of the machine: the fewest open files, the least address space
// and the least memory (a memory cgroup, as systemd's MemoryMax) with which
// the built autossh still does a whole short run in the real-ssh world:
// port-pair mode, syslog through logger, probes every 2 s, the link cut
// (port down, ssh restarted) and restored, lifetime reached, status 0. Each
// limit is found by bisection, in the foreground and with -f. A measurement,
// not a test; root (network namespace, cgroup), about 10 minutes.
//
//   node --import=tsx bench/floor.ts [--only=files|as|memory] [--node-options=...]
//
// --node-options: NODE_OPTIONS for autossh, e.g. --jitless (no JIT: Node then
// needs far less address space).
//
// AUTOSSH_LIMIT_CHECK=0 is passed to autossh so that its own start-up check
// does not stop it: the point is where it really falls over.
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CLI } from '../test/helpers/autossh.js'
import { freePort, freePortPair, makeWorld, netnsAvailable, type World } from '../test/world/index.js'

const MB = 1024 * 1024
const LIFETIME_S = 10
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))
const say = (s: string) => process.stderr.write(s + '\n')

const only = process.argv.find(a => a.startsWith('--only='))?.slice(7)
const nodeOptions = process.argv.find(a => a.startsWith('--node-options='))?.slice(15)
if (!netnsAvailable()) {
  say('floor: needs a network namespace (root)')
  process.exit(2)
}

const RECEIVER = `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
f = open(sys.argv[2], "ab", 0)
while True:
    f.write(s.recv(65536).replace(b"\\n", b" ") + b"\\n")
`

interface Limit {
  /** a prefix to the command: prlimit, or a shell that joins a cgroup */
  wrap: string[]
  label: string
}

interface Trial {
  ok: boolean
  why: string
  /** peak open files and VmHWM (kB) of autossh seen while it ran (with -f: the background copy) */
  peakFiles: number
  peakKB: number
  /** with -f: the same of the foreground */
  fgFiles: number
  fgKB: number
  /** the cgroup's peak, bytes, when run in one */
  cgroupPeak?: number
}

const dir = mkdtempSync(join(tmpdir(), 'autossh-floor-'))
const cgroupRoot = '/sys/fs/cgroup/memory'
const cgroup = join(cgroupRoot, `autossh-floor-${process.pid}`)

/** open files of a process, 0 once it is gone */
const files = (pid: number) => {
  try {
    return readdirSync(`/proc/${pid}/fd`).length
  } catch {
    return 0
  }
}
const hwm = (pid: number) => {
  try {
    return Number(/^VmHWM:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0)
  } catch {
    return 0
  }
}

const trial = async (w: World, limit: Limit, daemon: boolean): Promise<Trial> => {
  const sock = join(dir, 'log.sock')
  const out = join(dir, 'syslog')
  rmSync(sock, { force: true })
  rmSync(out, { force: true })
  const receiver = spawn('python3', ['-c', RECEIVER, sock, out], { stdio: 'ignore' })
  while (!existsSync(sock)) await sleep(10)
  const port = await freePortPair()
  const userPort = await freePort()
  const args = ['-M', String(port), ...(daemon ? ['-f'] : []), '-N', '-L', `${userPort}:127.0.0.1:${w.targetPort}`, ...w.sshOptions, w.host]
  const env = {
    PATH: process.env.PATH,
    AUTOSSH_PATH: '/usr/bin/ssh',
    AUTOSSH_SYSLOG_SOCKET: sock,
    AUTOSSH_LOGLEVEL: '7',
    AUTOSSH_GATETIME: '0',
    AUTOSSH_POLL: '2',
    AUTOSSH_FIRST_POLL: '1',
    AUTOSSH_MAXLIFETIME: String(LIFETIME_S),
    AUTOSSH_LIMIT_CHECK: '0',
    ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}),
  }
  const child = spawn(limit.wrap[0]!, [...limit.wrap.slice(1), process.execPath, CLI, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  // --jitless says so once at start
  child.stderr!.on('data', d => (stderr += String(d).replace(/^Warning: disabling flag --expose_wasm due to conflicting flags\n/m, '')))
  const status = new Promise<number | string>(r => child.on('close', (code, sig) => r(code ?? sig!)))
  const lines = () => (existsSync(out) ? readFileSync(out, 'utf8').split('\n').filter(Boolean) : [])
  // the process that starts ssh; with -f, the background copy
  const ownPid = () => {
    if (!daemon) return child.pid!
    const m = /autossh\[(\d+)\]: starting ssh/.exec(lines().find(l => l.includes('starting ssh')) ?? '')
    return m ? Number(m[1]) : 0
  }
  let peakFiles = 0
  let peakKB = 0
  let fgFiles = 0
  let fgKB = 0
  let gone = false
  let fgStatus: number | string | undefined
  void status.then(s => (fgStatus = s))
  const began = Date.now()
  let cut = false
  let restored = false
  // sample until autossh is gone (with -f: the background copy, found by its log tag)
  while (Date.now() - began < (LIFETIME_S + 8) * 1000) {
    const pid = ownPid()
    if (pid) {
      peakFiles = Math.max(peakFiles, files(pid))
      peakKB = Math.max(peakKB, hwm(pid))
    }
    // the wrapper (prlimit, sh) execs node in the same process
    if (daemon && fgStatus === undefined) {
      fgFiles = Math.max(fgFiles, files(child.pid!))
      fgKB = Math.max(fgKB, hwm(child.pid!))
    }
    const t = Date.now() - began
    if (!cut && t > 3500) {
      w.link.cut()
      cut = true
    }
    if (!restored && t > 6500) {
      w.link.restore()
      restored = true
    }
    if (lines().some(l => l.includes('exceeded maximum time to live')) && fgStatus !== undefined && !existsSync(`/proc/${pid}`)) {
      gone = true
      break
    }
    if (fgStatus !== undefined && fgStatus !== 0) break
    if (!daemon && fgStatus !== undefined) break
    await sleep(20)
  }
  if (!restored) w.link.restore()
  const pid = ownPid()
  if (pid && existsSync(`/proc/${pid}`)) process.kill(pid, 'SIGKILL')
  if (fgStatus === undefined) child.kill('SIGKILL')
  const fg = await status
  receiver.kill('SIGKILL')
  const said = lines().map(l => l.replace(/^<\d+>.{15} autossh\[\d+\]: /, ''))
  const need = ['connection ok', 'port down, restarting ssh', 'starting ssh (count 2)', 'exceeded maximum time to live, shutting down']
  const missing = need.filter(n => !said.includes(n))
  const ok = fg === 0 && missing.length === 0 && (gone || !daemon) && stderr === ''
  const why = ok ? 'ok' : `status ${fg}${missing.length ? `, missing: ${missing.join('; ')}` : ''}${stderr ? `, stderr: ${stderr.trim().split('\n').slice(0, 3).join(' | ').slice(0, 200)}` : ''}`
  return { ok, why, peakFiles, peakKB, fgFiles, fgKB }
}

/** the least value in [lo, hi] (a multiple of step) for which the run works, assuming it works at hi */
const bisect = async (name: string, lo: number, hi: number, step: number, run: (v: number) => Promise<Trial>, show: (v: number) => string) => {
  let good = hi
  let bad = lo - step
  while (good - bad > step) {
    const mid = Math.ceil((bad + good) / 2 / step) * step
    const r = await run(mid)
    say(`  ${name} ${show(mid)}: ${r.why}`)
    if (r.ok) good = mid
    else bad = mid
  }
  return good
}

const prlimit = (flag: string, v: number): Limit => ({ wrap: ['prlimit', `--${flag}=${v}:${v}`], label: `${flag} ${v}` })

const inCgroup = (bytes: number): Limit => {
  writeFileSync(join(cgroup, 'memory.limit_in_bytes'), String(bytes))
  return { wrap: ['sh', '-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', cgroup], label: `memory ${bytes / MB} MB` }
}

const main = async () => {
  const w = await makeWorld({ netns: true })
  const results: Record<string, unknown> = {}
  try {
    for (const daemon of [false, true]) {
      const mode = daemon ? '-f' : 'foreground'
      say(`${mode}: unlimited`)
      const free = await trial(w, { wrap: ['env'], label: 'none' }, daemon)
      say(`  ${free.why}; peak ${free.peakFiles} open files, VmHWM ${(free.peakKB / 1024).toFixed(1)} MB`)
      if (!free.ok) throw new Error('the run fails without limits')
      results[`${mode} peak open files`] = free.peakFiles
      results[`${mode} VmHWM MB`] = +(free.peakKB / 1024).toFixed(1)
      if (daemon) {
        say(`  the foreground: peak ${free.fgFiles} open files, VmHWM ${(free.fgKB / 1024).toFixed(1)} MB`)
        results[`${mode} foreground peak open files`] = free.fgFiles
        results[`${mode} foreground VmHWM MB`] = +(free.fgKB / 1024).toFixed(1)
      }
      if (!only || only === 'files') {
        results[`${mode} open files floor`] = await bisect('open files', 17, 64, 1, v => trial(w, prlimit('nofile', v), daemon), String)
      }
      if (!only || only === 'as') {
        const v = await bisect('address space', (nodeOptions ? 64 : 640) * MB, 2048 * MB, 8 * MB, v => trial(w, prlimit('as', v), daemon), v => `${v / MB} MB`)
        results[`${mode} address space floor MB`] = v / MB
      }
      if ((!only || only === 'memory') && existsSync(cgroupRoot)) {
        mkdirSync(cgroup)
        try {
          writeFileSync(join(cgroup, 'memory.limit_in_bytes'), String(1024 * MB))
          const r = await trial(w, { wrap: ['sh', '-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', cgroup], label: 'cgroup' }, daemon)
          const peak = Number(readFileSync(join(cgroup, 'memory.max_usage_in_bytes'), 'utf8'))
          say(`  cgroup without a limit that bites: ${r.why}; peak ${(peak / MB).toFixed(1)} MB (autossh and ssh)`)
          results[`${mode} cgroup peak MB`] = +(peak / MB).toFixed(1)
          const v = await bisect('memory', 4 * MB, 128 * MB, 2 * MB, v => trial(w, inCgroup(v), daemon), v => `${v / MB} MB`)
          results[`${mode} memory floor MB`] = v / MB
        } finally {
          // the cgroup must be empty to go: what a killed run left in it goes too
          const left = () => readFileSync(join(cgroup, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number)
          for (let i = 0; i < 100 && left().length > 0; i++) {
            for (const pid of left()) {
              try {
                process.kill(pid, 'SIGKILL')
              } catch {}
            }
            await sleep(100)
          }
          rmdirSync(cgroup)
        }
      }
    }
  } finally {
    await w.close()
    rmSync(dir, { recursive: true, force: true })
  }
  process.stdout.write(JSON.stringify(results, null, 2) + '\n')
}

await main()
