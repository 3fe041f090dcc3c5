// The watch on ssh's own connection: over a /proc tree the test writes (what
// the kernel showed on the kernel link during a cut and a move), and over
// this machine's own /proc with a real child holding a real connection.
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { addressHere, AFTER_CHANGE_MS, CONN_INTERVAL_MS, FIND_MAX_MS, pickConnection, TABLE_SHARE, watchConnection, type LinkEvent } from '../../src/watch/connection.js'
import { parseTcpLine } from '../../src/watch/tcp-table.js'

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))
const TICK = 15
/** a few ticks */
const settle = () => sleep(TICK * 4)

const HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode'
/** a /proc/net/tcp line: ssh's connection 10.201.1.1:37806 -> 10.202.0.1:22 */
const line = (o: { inode?: number; st?: string; txq?: number; tr?: number; when?: number; retr?: number; probes?: number; rto?: number; local?: string; remote?: string }) =>
  `   3: ${o.local ?? '0101C90A:93AE'} ${o.remote ?? '0100CA0A:0016'} ${o.st ?? '01'} ${(o.txq ?? 0).toString(16).toUpperCase().padStart(8, '0')}:00000000 ${(o.tr ?? 2).toString(16).padStart(2, '0')}:${(o.when ?? 719800).toString(16).toUpperCase().padStart(8, '0')} ${(o.retr ?? 0).toString(16).padStart(8, '0')}     0 ${String(o.probes ?? 0).padStart(8)} ${o.inode ?? 1001} 2 00000000a0c0247e ${o.rto ?? 21} 4 30 10 -1`
/** ssh's forward listening on 127.0.0.1:2000, and a connection accepted on it */
const LISTENING = '   0: 0100007F:07D0 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1002 1 00000000d975780b 100 0 0 10 0'
const ACCEPTED = '   1: 0100007F:07D0 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 1000 1 00000000d975780c 20 0 0 10 -1'

const snmp = (retrans: number) =>
  `Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors\nTcp: 1 200 120000 -1 5 5 0 0 2 100 100 ${retrans} 0 0 0\n`

/** a proc tree: self and one ssh (pid 500), in one network namespace unless told */
const procTree = (t: Test, opts: { otherNetns?: boolean } = {}) => {
  const root = mkdtempSync(join(tmpdir(), 'connwatch-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  for (const d of ['self/net', 'self/ns', '500/net', '500/fd', '500/ns']) mkdirSync(join(root, d), { recursive: true })
  writeFileSync(join(root, 'self/net/snmp'), snmp(0))
  writeFileSync(join(root, 'self/net/tcp'), HEADER + '\n')
  writeFileSync(join(root, '500/ns/net'), '')
  if (opts.otherNetns) writeFileSync(join(root, 'self/ns/net'), '')
  else symlinkSync(join(root, '500/ns/net'), join(root, 'self/ns/net'))
  const fd = (n: number, target: string) => symlinkSync(target, join(root, `500/fd/${n}`))
  fd(0, '/dev/null')
  fd(2, 'pipe:[77]')
  const w = {
    root,
    fd,
    retrans: (n: number) => writeFileSync(join(root, '500/net/snmp'), snmp(n)),
    tcp: (...lines: string[]) => writeFileSync(join(root, '500/net/tcp'), [HEADER, ...lines, ''].join('\n')),
    tcp6: (...lines: string[]) => writeFileSync(join(root, '500/net/tcp6'), [HEADER, ...lines, ''].join('\n')),
  }
  w.retrans(0)
  w.tcp()
  w.tcp6()
  return w
}

const start = (t: Test, root: string, o: { pid?: () => number | undefined; here?: (a: string) => Promise<boolean>; clock?: { ms: number } } = {}) => {
  const events: LinkEvent[] = []
  const clock = o.clock ?? { ms: 0 }
  const checked: string[] = []
  const w = watchConnection(e => events.push(e), {
    sshPid: o.pid ?? (() => 500),
    proc: root,
    intervalMs: TICK,
    now: () => clock.ms,
    addressHere: async a => {
      checked.push(a)
      return o.here ? o.here(a) : true
    },
  })
  t.teardown(() => w.close())
  return { w, events, clock, checked }
}

t.test('the defaults', async t => {
  t.equal(CONN_INTERVAL_MS, 1000)
  t.equal(AFTER_CHANGE_MS, 30000)
  t.equal(FIND_MAX_MS, 64000)
})

t.test("ssh's connection: the lowest fd, established, not one accepted on its own forward", async t => {
  const s = (l: string) => parseTcpLine(l)!
  const conn = s(line({ inode: 1001 }))
  const fds = new Map([
    [1000, 3],
    [1001, 4],
    [1002, 5],
  ])
  t.equal(pickConnection([s(ACCEPTED), conn, s(LISTENING)], fds), conn, 'an accepted one at a lower fd is not it')
  const other = s(line({ inode: 1003, remote: '0200CA0A:0016' }))
  t.equal(pickConnection([other, conn], new Map([...fds, [1003, 9]])), conn, 'a later connection (a -R target) is not it')
  t.equal(pickConnection([s(LISTENING), s(line({ inode: 1001, st: '02' }))], fds), undefined, 'still connecting: none')
})

t.test('a silent cut: the table read only when RetransSegs moves, the stall told once', async t => {
  const p = procTree(t)
  p.fd(3, 'socket:[1001]')
  p.fd(5, 'socket:[1002]')
  p.fd(6, 'socket:[1000]')
  p.tcp(LISTENING, ACCEPTED, line({}))
  const { events, clock } = start(t, p.root)
  await settle()
  // the table is not read again until the counter moves: a line that would be a stall goes unseen
  p.tcp(LISTENING, ACCEPTED, line({ txq: 52, tr: 1, when: 100, retr: 5, rto: 678 }))
  clock.ms = 30000
  await settle()
  t.same(events, [], 'RetransSegs still: the table is not read')
  p.retrans(3)
  await settle()
  t.same(events, [{ type: 'link-stalled', pid: 500, remote: '10.202.0.1:22', forMs: 6780 - 1000 + Math.round((6780 / 32) * 31) }], 'it moved: the stall, proven by the kernel (the 5th timeout 5.8 s ago, 31/32 of 6.8 s before)')
  clock.ms = 31000
  p.retrans(4)
  await settle()
  t.equal(events.length, 1, 'told once')
  // acked: the stall is over; a new one is told again
  p.tcp(LISTENING, ACCEPTED, line({ txq: 0 }))
  clock.ms = 32000
  await settle()
  p.tcp(LISTENING, ACCEPTED, line({ txq: 52, tr: 1, when: 100, retr: 5, rto: 678 }))
  p.retrans(9)
  clock.ms = 50000
  await settle()
  t.equal(events.length, 2, 'a new stall after progress is told again')
})

t.test('the table is read no more often than 100 times what a read takes; a move in between is not forgotten', async t => {
  t.equal(TABLE_SHARE, 100)
  const p = procTree(t)
  p.fd(3, 'socket:[1001]')
  p.tcp(line({}))
  const { events, clock } = start(t, p.root)
  await settle()
  p.retrans(1)
  clock.ms = 1000
  await settle()
  // read at 1000: the next read not before 1000 + 100 x (a read's time, > 0)
  p.tcp(line({ txq: 52, tr: 1, when: 100, retr: 5, rto: 678 }))
  p.retrans(2)
  await settle()
  t.same(events, [], 'the clock still at the last read: not read again')
  clock.ms = 2000
  await settle()
  t.match(events, [{ type: 'link-stalled' }], 'later: read, for the move it had seen')
})

t.test('a stall is followed at every look once it has begun, though the counter is still', async t => {
  const p = procTree(t)
  p.fd(3, 'socket:[1001]')
  p.tcp(line({}))
  const { events, clock } = start(t, p.root)
  await settle()
  p.tcp(line({ txq: 52, tr: 1, when: 50, retr: 1, rto: 42 }))
  p.retrans(2)
  clock.ms = 1000
  await settle()
  p.tcp(line({ txq: 52, tr: 1, when: 100, retr: 3, rto: 169 }))
  clock.ms = 2000
  await settle()
  t.same(events, [], '3 timeouts, 2 s: not yet')
  clock.ms = 6500
  await settle()
  t.match(events, [{ type: 'link-stalled' }], 'no timeout since, the counter still: the watch went on looking')
  t.ok(events[0]!.type === 'link-stalled' && events[0]!.forMs > 6500, 'silent since before the first look, as the kernel proves')
})

t.test("the address gone: told when the network changes, once; ssh's own address only", async t => {
  const p = procTree(t)
  p.fd(3, 'socket:[1001]')
  p.tcp(line({}))
  let gone = false
  const { w, events, checked } = start(t, p.root, { here: async () => !gone })
  await settle()
  w.networkChanged()
  await settle()
  t.same(events, [], 'still here')
  t.same(checked, ['10.201.1.1'])
  gone = true
  w.networkChanged()
  await settle()
  t.same(events, [{ type: 'link-dead', why: 'address-gone', pid: 500, address: '10.201.1.1', remote: '10.202.0.1:22' }])
  w.networkChanged()
  await settle()
  t.equal(events.length, 1, 'once')
  t.equal(checked.length, 2)
})

t.test('after a network change the socket is read at every look, for window probes that never leave', async t => {
  const p = procTree(t)
  p.fd(3, 'socket:[1001]')
  p.tcp(line({}))
  const { w, events, clock } = start(t, p.root)
  await settle()
  w.networkChanged()
  p.tcp(line({ txq: 52, tr: 4, when: 300, probes: 4 }))
  clock.ms = 1000
  await settle()
  clock.ms = 6000
  await settle()
  t.match(events, [{ type: 'link-stalled', pid: 500 }], 'the counter never moved')
  const later = procTree(t)
  later.fd(3, 'socket:[1001]')
  later.tcp(line({}))
  const second = start(t, later.root)
  await settle()
  second.w.networkChanged()
  later.tcp(line({ txq: 52, tr: 4, when: 300, probes: 4 }))
  second.clock.ms = AFTER_CHANGE_MS + 1
  await settle()
  t.same(second.events, [], 'long after the change: not read')
})

t.test('another network namespace, or one that cannot be told: the address is not checked', async t => {
  for (const how of ['other', 'unknown']) {
    const p = procTree(t, { otherNetns: true })
    if (how === 'unknown') rmSync(join(p.root, '500/ns/net'))
    p.fd(3, 'socket:[1001]')
    p.tcp(line({}))
    const { w, events, checked } = start(t, p.root, { here: async () => false })
    await settle()
    w.networkChanged()
    await settle()
    t.same(checked, [], how)
    t.same(events, [], how)
  }
})

t.test('IPv6: the socket in tcp6; the lower fd wins over the other table', async t => {
  const p = procTree(t)
  p.fd(4, 'socket:[1001]')
  p.fd(3, 'socket:[2001]')
  p.tcp(line({}))
  p.tcp6(line({ inode: 2001, local: 'B80D0120000000000000000005000000:93AE', remote: 'B80D0120000000000000000001000000:0016' }))
  const { w, events } = start(t, p.root, { here: async () => false })
  await settle()
  w.networkChanged()
  await settle()
  t.match(events, [{ type: 'link-dead', address: '2001:db8::5', remote: '[2001:db8::1]:22' }])
})

t.test('no connection yet: looked for again, less and less often; a network change looks at once', async t => {
  const p = procTree(t)
  p.fd(7, join(p.root, 'self'))
  writeFileSync(join(p.root, '500/fd/8'), 'not a link')
  const { w, events, clock } = start(t, p.root, { here: async () => false })
  await settle()
  clock.ms = TICK
  await settle()
  // looked at 0 and at 1 tick; the next look is 2 ticks later
  p.fd(3, 'socket:[1001]')
  p.tcp(line({}))
  clock.ms = TICK * 3 - 1
  await settle()
  w.networkChanged()
  await settle()
  t.same(events, [], 'not looked for before its time: nothing known to check')
  w.networkChanged()
  await settle()
  t.match(events, [{ type: 'link-dead' }], 'found after the change, and checked at the next')
})

t.test('ssh restarts, goes, or closes its connection: the watch follows', async t => {
  const p = procTree(t)
  p.fd(3, 'socket:[1001]')
  p.tcp(line({}))
  let pid: number | undefined = 500
  let gone = false
  const { w, events, clock } = start(t, p.root, { pid: () => pid, here: async () => !gone })
  await settle()
  pid = undefined
  await settle()
  gone = true
  w.networkChanged()
  await settle()
  t.same(events, [], 'no ssh: nothing known')
  pid = 501
  await settle()
  t.same(events, [], 'an ssh whose /proc cannot be read: nothing')
  pid = 500
  await settle()
  // the connection closes: the table has it no more, then cannot be read at all
  rmSync(join(p.root, '500/net/tcp'))
  p.retrans(1)
  clock.ms = 1000
  await settle()
  w.networkChanged()
  await settle()
  t.same(events, [], 'its connection closed: nothing to check')
  p.tcp(line({ inode: 1001 }))
  clock.ms = 2000
  await settle()
  w.networkChanged()
  await settle()
  t.match(events, [{ type: 'link-dead', pid: 500 }], 'found again')
  w.close()
  w.close()
})

t.test('a check that answers after the watch closed, or after ssh changed, tells nothing', async t => {
  const p = procTree(t)
  p.fd(3, 'socket:[1001]')
  p.tcp(line({}))
  let answer: (yes: boolean) => void = () => {}
  const { w, events } = start(t, p.root, { here: () => new Promise(r => (answer = r)) })
  await settle()
  w.networkChanged()
  w.close()
  answer(false)
  await settle()
  t.same(events, [])
})

t.test('an unreadable fd directory: looked for again later', async t => {
  const p = procTree(t)
  rmSync(join(p.root, '500/fd'), { recursive: true })
  const { events } = start(t, p.root)
  await settle()
  t.same(events, [])
})

t.test('where proc cannot be read, nothing is watched, and that is said once', async t => {
  const said: string[] = []
  const w = watchConnection(() => t.fail('no event'), { sshPid: () => 1, proc: '/nonexistent', say: m => said.push(m) })
  w.networkChanged()
  w.close()
  t.match(said, [/^ssh's connection is not watched: \/nonexistent\/self\/net cannot be read \(ENOENT/])
  t.doesNotThrow(() => watchConnection(() => {}, { sshPid: () => 1, proc: '/nonexistent' }).close(), 'nothing said when nobody listens')
})

t.test('addressHere: a bind, nothing sent', async t => {
  t.equal(await addressHere('127.0.0.1'), true)
  t.equal(await addressHere('::ffff:127.0.0.1'), true, 'IPv4-mapped')
  t.equal(await addressHere('10.255.255.77'), false, 'an address this machine does not have')
  t.equal(await addressHere('fe80::1'), true, 'link-local without its interface: cannot tell')
})

t.test('this machine: a real child holding a real connection, found from its fds, the default clock', async t => {
  const server = net.createServer(c => c.resume())
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as net.AddressInfo).port
  const child = spawn(process.execPath, ['-e', `require('net').connect(${port}, '127.0.0.1'); setInterval(() => {}, 1000)`], { stdio: 'ignore' })
  t.teardown(() => {
    child.kill('SIGKILL')
    server.close()
  })
  await new Promise(r => server.once('connection', r))
  const events: LinkEvent[] = []
  const w = watchConnection(e => events.push(e), { sshPid: () => child.pid, intervalMs: 20 })
  t.teardown(() => w.close())
  await sleep(200)
  w.networkChanged()
  await sleep(200)
  t.same(events, [], 'its address 127.0.0.1 is here; nothing outstanding')
})
