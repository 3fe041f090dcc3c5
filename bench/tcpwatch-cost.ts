// What the watch on ssh's connection (src/watch/connection.ts) costs in CPU:
// at rest on a quiet machine, and with 10,000 established loopback
// connections open (20,000 sockets in the table), per hour at its rate of
// one look a second. A stand-in ssh (a child holding one TCP connection) is
// watched; the watch runs at a fast tick for a while, and its CPU, less that
// of an empty timer at the same tick, is its cost per look. Also measured:
// one read of the whole table (what a look costs when RetransSegs moves, or
// when ssh's socket is looked for), the worst case of a busy server whose
// counter moves every second.
// Usage: node --import tsx bench/tcpwatch-cost.ts [connections=10000]
// (`npm run bench -- --kernel` gives its two figures: at rest, and a busy server's.)
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import net from 'node:net'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { TABLE_SHARE, watchConnection } from '../src/watch/connection.js'
import { findTcpLine, parseTcpTable } from '../src/watch/tcp-table.js'
import { tied } from '../test/helpers/tied.js'

export const CONNECTIONS = 10000
const TICK_MS = 1
const RUN_MS = 5000
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))

/** CPU ms of this process while fn runs for ms with a timer at TICK_MS; the ticks that ran */
const cpuWhile = async (ms: number, start: (onTick: () => void) => { close(): void }): Promise<{ cpuMs: number; ticks: number }> => {
  let ticks = 0
  const c0 = process.cpuUsage()
  const w = start(() => ticks++)
  await sleep(ms)
  w.close()
  const c = process.cpuUsage(c0)
  return { cpuMs: (c.user + c.system) / 1000, ticks }
}

/** children holding n established loopback connections to themselves (2n sockets), 2,500 each: the hard limit on open files may be low (20,000 here, and not to be raised) */
const holders = async (n: number, out: ChildProcess[]): Promise<void> => {
  for (let i = 0; i < n; i += 2500) out.push(await holder(Math.min(2500, n - i)))
}

const holder = async (n: number): Promise<ChildProcess> => {
  const script = `
    const net = require('net'); const held = [];
    const s = net.createServer(c => held.push(c)).listen(0, '127.0.0.1', async () => {
      const port = s.address().port;
      for (let i = 0; i < ${n}; i += 500) {
        await Promise.all(Array.from({ length: Math.min(500, ${n} - i) }, () => new Promise((ok, ko) => { const c = net.connect(port, '127.0.0.1', () => ok()); c.on('error', ko); held.push(c) })));
      }
      console.log('ready');
    });`
  // two fds per connection, and some room
  // tied: killed with this process, however it ends
  const [file, ...argv] = tied(['sh', '-c', `ulimit -n ${2 * n + 1000} && exec "$0" -e "$1"`, process.execPath, script])
  const c = spawn(file!, argv, { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise<void>((resolve, reject) => {
    c.stdout!.on('data', d => String(d).includes('ready') && resolve())
    c.once('exit', code => reject(new Error(`holder exited ${code}`)))
  })
  return c
}

/** the stand-in ssh: one connection out, kept */
const standIn = async (): Promise<{ child: ChildProcess; server: net.Server }> => {
  const server = net.createServer(c => c.resume())
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as net.AddressInfo).port
  const [file, ...argv] = tied([process.execPath, '-e', `require('net').connect(${port}, '127.0.0.1'); setInterval(() => {}, 1e6)`])
  const child = spawn(file!, argv, { stdio: 'ignore' })
  await new Promise(r => server.once('connection', r))
  return { child, server }
}

/** the watch's CPU with this table: a look at rest, per hour at 1 a second; a busy server's (the counter moving every second), per hour */
export interface WatchCost {
  sockets: number
  restCpuSPerHour: number
  busyCpuSPerHour: number
}

const measure = async (label: string, print: boolean): Promise<WatchCost> => {
  const { child, server } = await standIn()
  try {
    const pid = child.pid!
    const table = readFileSync(`/proc/${pid}/net/tcp`, 'latin1')
    const lines = table.split('\n').length - 2
    // one look: RetransSegs only (the counter still)
    const empty = await cpuWhile(RUN_MS, onTick => {
      const i = setInterval(onTick, TICK_MS)
      return { close: () => clearInterval(i) }
    })
    const watched = await cpuWhile(RUN_MS, onTick => {
      const i = setInterval(onTick, TICK_MS)
      const w = watchConnection(() => {}, { sshPid: () => pid, intervalMs: TICK_MS })
      return {
        close: () => {
          clearInterval(i)
          w.close()
        },
      }
    })
    const perLookUs = ((watched.cpuMs / watched.ticks - empty.cpuMs / empty.ticks) * 1000)
    // one read of the table and the line of ssh's socket found in it (what a look costs when the counter moves)
    const reads = 20
    const c0 = process.cpuUsage()
    let found = 0
    for (let i = 0; i < reads; i++) {
      const text = readFileSync(`/proc/${pid}/net/tcp`, 'latin1')
      if (findTcpLine(text, 1) === undefined) found++
    }
    const c = process.cpuUsage(c0)
    const tableMs = (c.user + c.system) / 1000 / reads
    // looking for ssh's socket: the whole table parsed for its inodes
    const f0 = process.cpuUsage()
    parseTcpTable(readFileSync(`/proc/${pid}/net/tcp`, 'latin1'), new Set([1]))
    const f = process.cpuUsage(f0)
    const busyEveryS = Math.max(1000, tableMs * TABLE_SHARE) / 1000
    const cost = { sockets: lines, restCpuSPerHour: (perLookUs * 3600) / 1e6, busyCpuSPerHour: ((3600 / busyEveryS) * tableMs) / 1000 }
    if (print) console.log(
      `${label}: ${lines} sockets in the table (${(table.length / 1024).toFixed(0)} KB)\n` +
        `  one look at rest (RetransSegs read, unchanged): ${perLookUs.toFixed(1)} us CPU; at 1 a second: ${((perLookUs * 3600) / 1e6).toFixed(2)} CPU-s an hour\n` +
        `  one read of the table for ssh's line: ${tableMs.toFixed(2)} ms CPU; were it read every second: ${((tableMs * 3600) / 1000).toFixed(1)} CPU-s an hour\n` +
        `  a busy server (the counter moving every second): read every ${busyEveryS.toFixed(1)} s, ${cost.busyCpuSPerHour.toFixed(1)} CPU-s an hour\n` +
        `  looking for ssh's socket (whole table, by inode): ${((f.user + f.system) / 1000).toFixed(2)} ms CPU`,
    )
    void found
    return cost
  } finally {
    child.kill('SIGKILL')
    server.close()
  }
}

/** on this machine as it is, then with `connections` established loopback connections open (about 40 s) */
export const watchCost = async (connections = CONNECTIONS, print = false): Promise<{ quiet: WatchCost; loaded: WatchCost }> => {
  const quiet = await measure('quiet machine', print)
  const held: ChildProcess[] = []
  try {
    await holders(connections, held)
    return { quiet, loaded: await measure(`${connections} established loopback connections`, print) }
  } finally {
    held.forEach(h => h.kill('SIGKILL'))
  }
}

if (resolve(process.argv[1] ?? '') === fileURLToPath(import.meta.url)) await watchCost(Number(process.argv[2] ?? CONNECTIONS), true)
