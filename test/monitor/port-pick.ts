// No monitor port given: a free pair picked as Debian's wrapper picks it.
import t, { type Test } from 'tap'
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chooseMonitorPort, FALLBACK_PORT, localPorts, NO_FREE_PORT, PICK_TRIES, pickPort, usedPorts } from '../../src/monitor/port-pick.js'
import { CLI, runAutossh } from '../helpers/autossh.js'
import { needs, path as where, which } from '../helpers/needs.js'

/** a random source that says these, then 0 for ever */
const says = (...values: number[]) => () => values.shift() ?? 0

t.test('the first random port whose pair is free, from 32768 up', async t => {
  t.equal(pickPort(says(0x1234), new Set()), 0x9234, '16 random bits | 0x8000, as the wrapper')
  t.equal(pickPort(says(0x8000), new Set()), 0x8000)
  t.equal(pickPort(says(0x12345), new Set()), 0xa345, 'only 16 bits are taken')
  t.equal(pickPort(says(40000, 40010), new Set([40000])), 40010, 'the port itself in use')
  t.equal(pickPort(says(40000, 40010), new Set([40001])), 40010, 'the port after it in use')
  t.equal(pickPort(says(40000, 40010), new Set([39999, 40002])), 40000, 'neighbours do not matter')
  t.equal(pickPort(says(0xffff, 40000), new Set()), 40000, '65535 has no pair')
})

t.test(`${PICK_TRIES} tries, then ${FALLBACK_PORT}, then none`, async t => {
  const tries = (n: number) => Array.from({ length: n }, (_, i) => 40000 + 2 * i)
  const busy = new Set(tries(PICK_TRIES))
  t.equal(pickPort(says(...tries(PICK_TRIES - 1), 50000), busy), 50000, `the ${PICK_TRIES}th try still counts`)
  t.equal(pickPort(says(...tries(PICK_TRIES), 50000), busy), FALLBACK_PORT, `the ${PICK_TRIES + 1}th does not`)
  t.equal(pickPort(says(...tries(PICK_TRIES)), new Set([...busy, FALLBACK_PORT + 1])), undefined, 'the fallback pair taken')
  t.equal(pickPort(says(...tries(PICK_TRIES)), new Set([...busy, FALLBACK_PORT])), undefined)
})

t.test('the local ports of a /proc/net/tcp or tcp6 table, listening or connected', async t => {
  const tcp = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:B3E9 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 10208 1 0000000000000000 100 0 0 10 0
  12: 0100007F:9A7D 0100007F:B3E9 01 00000000:00000000 00:00000000 00000000     0        0 10367 1 0000000000000000 20 4 30 10 -1
`
  const tcp6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:521D 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
`
  t.same(localPorts(tcp), [0xb3e9, 0x9a7d], 'local, never remote')
  t.same(localPorts(tcp6), [21021])
  t.same(localPorts(''), [])
})

t.test('ports in use on this machine: IPv4 and IPv6 listeners, a missing table is empty', async t => {
  const v4 = net.createServer()
  const v6 = net.createServer()
  await new Promise<void>(r => v4.listen(0, '127.0.0.1', r))
  const ipv6 = await new Promise<boolean>(r => {
    v6.once('error', () => r(false))
    v6.listen({ port: 0, host: '::1', ipv6Only: true }, () => r(true))
  })
  t.teardown(() => {
    v4.close()
    if (ipv6) v6.close()
  })
  const used = usedPorts()
  t.ok(used.has((v4.address() as net.AddressInfo).port), 'an IPv4 listener')
  if (ipv6) t.ok(used.has((v6.address() as net.AddressInfo).port), 'an IPv6-only listener (the wrapper misses it)')
  t.notOk(usedPorts(['/proc/net/tcp']).has((v6.address() as net.AddressInfo).port), 'not in /proc/net/tcp')
  t.same(usedPorts(['/nonexistent/tcp']), new Set())
  const p = chooseMonitorPort()!
  t.ok(p >= 0x8000 && p < 65535, `a port from 32768 up: ${p}`)
  t.notOk(used.has(p) || used.has(p + 1), 'its pair is free')
})

/** a stand-in ssh that records AUTOSSH_PORT from its environment and its arguments, then exits 0 */
const standIn = (t: Test) => {
  const dir = mkdtempSync(join(tmpdir(), 'autossh-pick-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const ssh = join(dir, 'ssh')
  const out = join(dir, 'out')
  writeFileSync(ssh, `#!/bin/sh\nprintf '%s\\n' "AUTOSSH_PORT=$AUTOSSH_PORT" "$@" >> ${JSON.stringify(out)}\n`)
  chmodSync(ssh, 0o755)
  return { ssh, out, lines: () => (existsSync(out) ? readFileSync(out, 'utf8').trim().split('\n') : []) }
}

const pairArgs = (p: number) => ['-L', `${p}:127.0.0.1:${p}`, '-R', `${p}:127.0.0.1:${p + 1}`]

t.test('autossh without -M: runs on a picked pair, AUTOSSH_PORT set for ssh, as the wrapper', async t => {
  const s = standIn(t)
  for (const env of [{}, { AUTOSSH_PORT: '' }]) {
    const r = await runAutossh(['-N', 'host'], { AUTOSSH_PATH: s.ssh, AUTOSSH_GATETIME: '0', ...env })
    t.equal(r.status, 0, r.stderr)
    const [port, ...args] = s.lines()
    const p = Number(port!.replace('AUTOSSH_PORT=', ''))
    t.ok(p >= 0x8000 && p < 65535, `port ${p}`)
    t.same(args, [...pairArgs(p), '-N', 'host'])
    rmSync(s.out)
  }
})

// a network namespace of its own, where a holder takes every even port from
// 32768 up on ::1 (IPv6 only), and 21021 on 127.0.0.1 when asked, then runs the command
const HOLD = `
import resource, socket, subprocess, sys
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
held = []
for p in range(32768, 65536, 2):
    s = socket.socket(socket.AF_INET6)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind(("::1", p))
    s.listen(1)
    held.append(s)
if sys.argv[1] == "fallback-too":
    s = socket.socket()
    s.bind(("127.0.0.1", ${FALLBACK_PORT}))
    s.listen(1)
    held.append(s)
sys.exit(subprocess.run(sys.argv[2:]).returncode)
`
const netns = which('unshare') !== undefined && spawnSync(where('unshare'), ['-n', 'true'], { stdio: 'ignore', timeout: 5000 }).status === 0
const hardFiles = /^Max open files +\S+ +(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1]
const hold = needs('unshare', 'python3') || (!netns
  ? 'no network namespace (unshare -n)'
  : hardFiles !== 'unlimited' && Number(hardFiles) < 16500
    ? `the open files limit (${hardFiles}) is too low to hold every other port`
    : false)

t.test('every pair busy: the fallback, then "unable to find a suitable tunnel port"', { skip: hold }, async t => {
  const s = standIn(t)
  const inNs = (hold: string) => {
    const r = spawnSync(where('unshare'), ['-n', where('python3'), '-c', HOLD, hold, process.execPath, CLI, '-N', 'host'], {
      env: { PATH: process.env.PATH, AUTOSSH_PATH: s.ssh, AUTOSSH_GATETIME: '0', AUTOSSH_SYSLOG_SOCKET: '/nonexistent/log' },
      encoding: 'utf8',
      timeout: 60000,
    })
    return { status: r.status, stderr: r.stderr, stdout: r.stdout }
  }
  const fallback = inNs('random-only')
  t.equal(fallback.status, 0, fallback.stderr)
  t.same(s.lines(), [`AUTOSSH_PORT=${FALLBACK_PORT}`, ...pairArgs(FALLBACK_PORT), '-N', 'host'], `every random pair busy (on IPv6): ${FALLBACK_PORT}`)
  rmSync(s.out)
  const none = inNs('fallback-too')
  t.equal(none.status, 1)
  t.match(none.stderr, /^(autossh|\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d autossh\[\d+\]): [^\n]*\n$/, 'one line on stderr')
  t.equal(none.stderr.slice(none.stderr.indexOf(': ') + 2), `${NO_FREE_PORT}\n`)
  t.equal(none.stdout, '')
  t.same(s.lines(), [], 'no ssh')
})

// bound but not listening, a socket holds its port without showing in /proc/net/tcp:
// every pick looks free and is not, as when another program takes it in between
const BIND_ONLY = `
import os, resource, signal, socket, subprocess, sys
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
# two holders, each with half of the ports: one process may not have files enough for all
r, w = os.pipe()
child = os.fork()
held = []
for p in range(32768 if child == 0 else 32769, 65536, 2):
    s = socket.socket()
    s.bind(("127.0.0.1", p))
    held.append(s)
if child == 0:
    os.write(w, b"x")
    signal.pause()
    os._exit(0)
os.read(r, 1)
code = subprocess.run(sys.argv[1:]).returncode
os.kill(child, signal.SIGKILL)
sys.exit(code)
`

t.test('a picked port taken between the look and the bind: picked again, a few times, then the bind error', { skip: hold }, async t => {
  const s = standIn(t)
  const r = spawnSync(where('unshare'), ['-n', where('python3'), '-c', BIND_ONLY, process.execPath, CLI, '-N', 'host'], {
    env: { PATH: process.env.PATH, AUTOSSH_PATH: s.ssh, AUTOSSH_GATETIME: '0', AUTOSSH_SYSLOG_SOCKET: '/nonexistent/log', AUTOSSH_DEBUG: '1' },
    encoding: 'utf8',
    timeout: 60000,
  })
  t.equal(r.status, 1)
  t.equal(r.stderr.match(/picked monitor port \d+ taken meanwhile; trying \d+/g)?.length, 4, 'four more picks')
  t.match(r.stderr, /bind on 127\.0\.0\.1:\d+: Address already in use\n$/, 'then the bind error')
  t.same(s.lines(), [], 'no ssh')
})
