// What watching for events costs. The network, two ways: the `ip -o monitor` child that
// src/watch/network.ts keeps (its memory, CPU and wake-ups while nothing happens,
// and the readings after a burst), against reading the state at a fixed rate
// (/proc/net/route, /proc/net/if_inet6 and `ip -o addr`, since IPv4 addresses
// are in no /proc file), the way a poller would have to for a 5 s reaction.
// And the resume watch: one read of /proc/uptime per look.
// Run: node --import=tsx bench/events-cost.ts [idle seconds, default 60]
import { spawn, execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { CLK_TCK, cpuSeconds, rssMB } from './proc.js'
import { watchNetwork } from '../src/watch/network.js'
import { bootTime, RESUME_INTERVAL_MS } from '../src/watch/resume.js'

const idleS = Number(process.argv[2] ?? 60)

const ctxt = (pid: number | 'self'): number => {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(s)![1]) + Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(s)![1])
}
const childrenOf = (pid: number): number[] => {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
  } catch {
    return []
  }
}
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))

// 1. the monitor child, idle
const w = watchNetwork(what => console.log('change:', what))
await sleep(1000)
const ip = childrenOf(process.pid).find(p => readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'ip')!
const c0 = cpuSeconds(ip)!
const x0 = ctxt(ip)
await sleep(idleS * 1000)
console.log(
  `ip monitor: RSS ${rssMB(ip)!.toFixed(1)} MB, CPU ${((cpuSeconds(ip)! - c0) * 1000).toFixed(0)} ms and ${ctxt(ip) - x0} wake-ups in ${idleS} s idle (CLK_TCK ${CLK_TCK})`,
)
w.close()

// 2. one reading of the state after a burst: links, addresses, routes, by one `ip -batch`
const t0 = performance.now()
const cpu0 = process.cpuUsage()
const N = 20
for (let i = 0; i < N; i++) {
  await new Promise(r => {
    const c = spawn('ip', ['-o', '-batch', '-'], { stdio: ['pipe', 'ignore', 'ignore'] })
    c.stdin.end('link show\naddr show\nroute show table all\n')
    c.on('close', r)
  })
}
const self = process.cpuUsage(cpu0)
console.log(
  `reading after a burst: ${((performance.now() - t0) / N).toFixed(1)} ms wall, ${((self.user + self.system) / 1000 / N).toFixed(1)} ms of our CPU (one ip -batch)`,
)

// 3. a poller's one look: two /proc files and `ip -o addr`
const p0 = process.cpuUsage()
const t1 = performance.now()
for (let i = 0; i < N; i++) {
  readFileSync('/proc/net/route', 'utf8')
  readFileSync('/proc/net/if_inet6', 'utf8')
  execFileSync('ip', ['-o', 'addr', 'show'])
}
const poll = process.cpuUsage(p0)
const perPollMs = (poll.user + poll.system) / 1000 / N
console.log(
  `one poll: ${((performance.now() - t1) / N).toFixed(1)} ms wall, ${perPollMs.toFixed(1)} ms of our CPU; every 2 s (for a 5 s reaction) that is ${(
    (perPollMs * 43200) /
    1000
  ).toFixed(0)} s CPU, 43200 processes and 43200+ wake-ups a day`,
)
console.log(`this process: RSS ${rssMB('self')!.toFixed(1)} MB, ${ctxt('self')} context switches`)

// 4. the resume watch's look
const r0 = process.cpuUsage()
const M = 10000
for (let i = 0; i < M; i++) bootTime()
const r = process.cpuUsage(r0)
const perLookUs = (r.user + r.system) / M
console.log(
  `resume look: ${perLookUs.toFixed(1)} µs CPU; every ${RESUME_INTERVAL_MS / 1000} s that is ${((perLookUs * 86400) / (RESUME_INTERVAL_MS / 1000) / 1e6).toFixed(2)} s CPU and ${86400 / (RESUME_INTERVAL_MS / 1000)} wake-ups a day`,
)
