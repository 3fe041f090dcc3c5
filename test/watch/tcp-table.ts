// The kernel's text about TCP sockets and counters, parsed: lines as this
// machine printed them, and a real connection of this process found by the
// inode its fd link names.
import t from 'tap'
import net from 'node:net'
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import {
  decodeAddress,
  findTcpLine,
  hostPort,
  parseCounters,
  parseTcpLine,
  parseTcpTable,
  retransSegs,
  socketInode,
  TCP_ESTABLISHED,
  TCP_LISTEN,
} from '../../src/watch/tcp-table.js'

// from the kernel link world (1.4g's ssh during a silent cut) and from this machine
const CUT = '   3: 0101C90A:93AE 0100CA0A:0016 01 00000034:00000000 01:000000A9 00000003     0        0 123456 2 00000000a0c0247e 169 4 30 1 -1'
const HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode'
const LISTEN6 = '   0: 00000000000000000000000000000000:999F 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 250457 1 00000000d975780b 100 0 0 10 0'
const LOOP6 = '   1: 00000000000000000000000001000000:EA12 00000000000000000000000001000000:999F 01 00000000:00000000 00:00000000 00000000  1000        0 250458 2 00000000071a95de 20 0 0 10 -1'
const MAPPED = '   2: 0000000000000000FFFF00000100007F:999F 0000000000000000FFFF00000100007F:E97E 01 00000000:00000000 00:00000000 00000000     0        0 250461 1 00000000a0c0247e 20 0 0 10 -1'
const TIME_WAIT = '   4: 0100007F:9C40 0100007F:0016 06 00000000:00000000 03:00001770 00000000     0        0 0 3 00000000c0ffee00'
const DUE = '   5: 0101C90A:93AE 0100CA0A:0016 01 00000034:00000000 01:FFFFFFFE 00000001     0        0 7 2 00000000a0c0247e 42 4 30 1 -1'

t.test('a line of /proc/net/tcp: every field', async t => {
  t.same(parseTcpLine(CUT), {
    local: '10.201.1.1:37806',
    remote: '10.202.0.1:22',
    localAddress: '10.201.1.1',
    localPort: 37806,
    remoteAddress: '10.202.0.1',
    remotePort: 22,
    state: TCP_ESTABLISHED,
    txQueue: 52,
    rxQueue: 0,
    timerActive: 1,
    timerMs: 1690,
    retransmits: 3,
    uid: 0,
    probes: 0,
    inode: 123456,
    rtoMs: 1690,
  })
  t.equal(parseTcpLine(HEADER), undefined, 'the header')
  t.equal(parseTcpLine(''), undefined)
  t.equal(parseTcpLine('   1: 0101C90A:93AE'), undefined, 'cut short')
  t.equal(parseTcpLine(CUT.replace('0101C90A', '0101C90')), undefined, 'an address of no family')
  t.equal(parseTcpLine(CUT.replace(':0016', ':16')), undefined, 'a port not of 4 digits')
  t.equal(parseTcpLine(CUT.replace('00000003', 'zz')), undefined, 'a count not hex')
  t.equal(parseTcpLine(CUT.replace('00000034:00000000', '00000034')), undefined, 'no rx_queue')
  t.equal(parseTcpLine(DUE)!.timerMs, 0, 'a timer already due prints as a negative delta on older kernels')
})

t.test('short lines: TIME_WAIT has no rto, and no inode', async t => {
  const s = parseTcpLine(TIME_WAIT)!
  t.equal(s.state, 6)
  t.equal(s.inode, 0)
  t.equal(s.timerActive, 3)
  t.equal(s.rtoMs, undefined)
  t.notOk('rtoMs' in s)
})

/** an IPv6 address written out in full, as the kernel prints it: four words, each in host (little-endian) order */
const encode = (full: string): string => {
  const b = Buffer.from(full.replaceAll(':', ''), 'hex')
  return [0, 4, 8, 12].map(i => b.readUInt32LE(i).toString(16).toUpperCase().padStart(8, '0')).join('')
}

t.test('IPv6 lines: words in host order, the zeros shortened, IPv4-mapped as ssh says it', async t => {
  const l = parseTcpLine(LISTEN6)!
  t.equal(l.state, TCP_LISTEN)
  t.equal(l.local, '[::]:39327')
  const c = parseTcpLine(LOOP6)!
  t.equal(c.local, '[::1]:59922')
  t.equal(c.remote, '[::1]:39327')
  t.equal(c.uid, 1000)
  t.equal(c.rtoMs, 200)
  t.equal(parseTcpLine(MAPPED)!.localAddress, '::ffff:127.0.0.1')
  t.equal(decodeAddress(encode('2001:0db8:0000:0000:0000:0000:0000:0001')), '2001:db8::1')
  t.equal(decodeAddress(encode('2001:0db8:0000:0001:0000:0002:0000:0003')), '2001:db8:0:1:0:2:0:3', 'single zero groups stay')
  t.equal(decodeAddress(encode('2001:0db8:0000:0000:0001:0000:0000:0000')), '2001:db8:0:0:1::', 'the longest run of zeros')
  t.equal(decodeAddress(encode('fe80:0000:0000:0000:0000:0000:0000:0000')), 'fe80::')
  t.equal(decodeAddress(encode('2001:0db8:0001:0001:0001:0001:0001:0001')), '2001:db8:1:1:1:1:1:1', 'no zeros')
  t.equal(decodeAddress('123'), undefined)
  t.equal(hostPort('::1', 22), '[::1]:22')
  t.equal(hostPort('10.0.0.1', 22), '10.0.0.1:22')
})

t.test('a table: all sockets, or those of given inodes; one socket found without splitting the rest', async t => {
  const text = [HEADER, CUT, TIME_WAIT, DUE, ''].join('\n')
  t.same(parseTcpTable(text).map(s => s.inode), [123456, 0, 7])
  t.same(parseTcpTable(text, new Set([7])).map(s => s.inode), [7])
  t.equal(findTcpLine(text, 123456)!.retransmits, 3)
  t.equal(findTcpLine(text, 7)!.inode, 7)
  t.equal(findTcpLine(text, 99), undefined)
  // " 0 " is in many lines without being their inode
  t.equal(findTcpLine([HEADER, CUT].join('\n'), 0), undefined, 'a number that is another field')
  t.equal(findTcpLine(CUT, 123456)!.inode, 123456, 'the last line, without a newline')
})

t.test('counters: Tcp of /proc/net/snmp, TcpExt of /proc/net/netstat', async t => {
  const snmp = [
    'Ip: Forwarding DefaultTTL',
    'Ip: 1 64',
    'Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors',
    'Tcp: 1 200 120000 -1 1469 1264 174 117 0 20474 19841 42 0 313 0',
    'Udp: InDatagrams',
    'Udp: 5',
    '',
  ].join('\n')
  t.equal(retransSegs(snmp), 42)
  t.equal(parseCounters(snmp, 'Tcp').get('MaxConn'), -1)
  t.equal(parseCounters(snmp, 'Udp').get('InDatagrams'), 5)
  t.equal(retransSegs('Tcp: RetransSegs\n'), undefined, 'names with no values')
  t.equal(retransSegs('Ip: 1\nTcp: 1 2\n'), undefined, 'values with no names')
  t.equal(retransSegs('Tcp: RetransSegs\nUdp: 3\n'), undefined, 'names followed by another section')
  t.equal(parseCounters('TcpExt: TCPTimeouts TCPLossProbes\nTcpExt: 7 9\n', 'TcpExt').get('TCPTimeouts'), 7)
  const real = readFileSync('/proc/self/net/snmp', 'utf8')
  t.type(retransSegs(real), 'number', "this machine's RetransSegs")
  t.ok(parseCounters(readFileSync('/proc/self/net/netstat', 'utf8'), 'TcpExt').has('TCPTimeouts'), "this machine's TCPTimeouts")
})

t.test('fd links', async t => {
  t.equal(socketInode('socket:[250458]'), 250458)
  t.equal(socketInode('pipe:[250458]'), undefined)
  t.equal(socketInode('/dev/null'), undefined)
})

t.test("a real connection of this process: found from its fd, its fields as the kernel has them", async t => {
  const server = net.createServer(c => c.resume())
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as net.AddressInfo).port
  const client = net.connect(port, '127.0.0.1')
  await new Promise(r => client.once('connect', r))
  t.teardown(() => {
    client.destroy()
    server.close()
  })
  const inodes = new Set<number>()
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const i = socketInode(readlinkSync(`/proc/self/fd/${fd}`))
      if (i !== undefined) inodes.add(i)
    } catch {
      // the fd of readdir itself
    }
  }
  const text = readFileSync('/proc/self/net/tcp', 'utf8')
  const mine = parseTcpTable(text, inodes).filter(s => s.state === TCP_ESTABLISHED)
  const out = mine.find(s => s.remotePort === port)!
  t.ok(out, 'the client end, among this process sockets')
  t.equal(out.local, `127.0.0.1:${client.localPort}`)
  t.equal(out.remote, `127.0.0.1:${port}`)
  t.equal(out.uid, process.getuid!())
  t.equal(out.txQueue, 0, 'nothing written')
  t.equal(findTcpLine(text, out.inode)!.local, out.local)
  client.write(Buffer.alloc(1000))
  await new Promise(r => setTimeout(r, 100))
  const after = parseTcpTable(readFileSync('/proc/self/net/tcp', 'utf8'), inodes)
  t.equal(after.find(s => s.inode === out.inode)!.txQueue, 0, 'written and acknowledged: nothing outstanding')
  t.ok(out.rtoMs! >= 200, `rto ${out.rtoMs} ms`)
})
