// Watching the network: the lines of `ip -o monitor` and `ip -o … show` read
// as facts; and the watcher itself, run against a network namespace this test
// makes (a veth pair inside it), whose links, addresses and routes it changes.
import t, { type Test } from 'tap'
import { execFileSync, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { agrees, apply, difference, parseFact, parseState, watchNetwork, SETTLE_MS } from '../../src/watch/network.js'
import { needs, path as where } from '../helpers/needs.js'
import { netnsSkip } from '../world/index.js'

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))

// lines as ip 6.1 printed them, in a namespace, while links went up and down
t.test('lines of ip monitor and ip show, as facts', async t => {
  const cases: [string, ReturnType<typeof parseFact>][] = [
    [
      '3: v0@v1: <NO-CARRIER,BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state LOWERLAYERDOWN group default \\    link/ether 92:30:be:d8:51:93 brd ff:ff:ff:ff:ff:ff',
      { key: 'link v0', value: 'LOWERLAYERDOWN', deleted: false },
    ],
    [
      '2: v1@v0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000\\    link/ether 9e:10:12:0f:07:ab brd ff:ff:ff:ff:ff:ff',
      { key: 'link v1', value: 'UP', deleted: false },
    ],
    [
      'Deleted 3: v0@NONE: <BROADCAST,MULTICAST> mtu 1400 qdisc noop state DOWN group default \\    link/ether f2:63:a5:e3:d5:64 brd ff:ff:ff:ff:ff:ff',
      { key: 'link v0', value: 'DOWN', deleted: true },
    ],
    ['1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00', { key: 'link lo', value: 'UNKNOWN', deleted: false }],
    ['3: v0    inet 10.9.0.1/24 scope global v0\\       valid_lft forever preferred_lft forever', { key: 'addr v0 10.9.0.1/24', value: '', deleted: false }],
    ['3: v0    inet 10.9.0.1/24 scope global dynamic v0\\       valid_lft 90sec preferred_lft 80sec', { key: 'addr v0 10.9.0.1/24', value: '', deleted: false }],
    ['3: v0    inet 10.9.0.5 peer 10.9.0.6/32 scope global v0\\       valid_lft forever preferred_lft forever', { key: 'addr v0 10.9.0.5 peer 10.9.0.6/32', value: '', deleted: false }],
    ['Deleted 3: v0    inet 10.9.0.1/24 scope global v0\\       valid_lft forever preferred_lft forever', { key: 'addr v0 10.9.0.1/24', value: '', deleted: true }],
    ['3: v0    inet6 fd00::1/64 scope global nodad \\       valid_lft forever preferred_lft forever', { key: 'addr v0 fd00::1/64', value: '', deleted: false }],
    ['3: v0    inet6 fd00::1/64 scope global deprecated dynamic \\       valid_lft 100sec preferred_lft 0sec', { key: 'addr v0 fd00::1/64', value: 'deprecated', deleted: false }],
    // still in duplicate address detection: not there yet
    ['3: v0    inet6 fd00::1/64 scope global tentative \\       valid_lft forever preferred_lft forever', { key: 'addr v0 fd00::1/64', value: '', deleted: true }],
    ['3: v0    inet6 fe80::9030:beff:fed8:5193/64 scope link \\       valid_lft forever preferred_lft forever', undefined],
    ['default via 10.9.0.2 dev v0 ', { key: 'route default via 10.9.0.2 dev v0', value: '', deleted: false }],
    ['Deleted default via 10.9.0.2 dev v0 ', { key: 'route default via 10.9.0.2 dev v0', value: '', deleted: true }],
    ['default via fd00::2 dev v0 metric 1024 expires 199sec pref medium', { key: 'route default via fd00::2 dev v0 metric 1024 pref medium', value: '', deleted: false }],
    ['192.0.2.0/24 via 10.9.0.3 dev v0 proto static metric 5 ', { key: 'route 192.0.2.0/24 via 10.9.0.3 dev v0 proto static metric 5', value: '', deleted: false }],
    ['10.9.0.0/24 dev v0 proto kernel scope link src 10.9.0.1 ', undefined],
    ['local 10.9.0.1 dev v0 table local proto kernel scope host src 10.9.0.1 ', undefined],
    ['broadcast 10.9.0.255 dev v0 table local proto kernel scope link src 10.9.0.1 linkdown ', undefined],
    ['multicast ff00::/8 dev v0 table local proto kernel metric 256 pref medium', undefined],
    ['Deleted fe80::/64 dev v0 proto kernel metric 256 pref medium', undefined],
    ['anycast fd00:: dev v0 proto kernel metric 0 pref medium', undefined],
    ['2001:db8::1 via fe80::1 dev v0 metric 1024 cache expires 500sec mtu 1400 pref medium', undefined],
    ['', undefined],
  ]
  for (const [line, fact] of cases) t.same(parseFact(line), fact, line)
})

t.test('state, agreement, difference', async t => {
  const s = parseState(
    [
      '3: v0@v1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000\\    link/ether 3a:9b:f6:2c:c6:a4 brd ff:ff:ff:ff:ff:ff',
      '3: v0    inet 10.9.0.1/24 scope global dynamic v0\\       valid_lft 90sec preferred_lft 80sec',
      '3: v0    inet6 fe80::389b:f6ff:fe2c:c6a4/64 scope link \\       valid_lft forever preferred_lft forever',
      '3: v0    inet6 fd00::2/64 scope global tentative \\       valid_lft forever preferred_lft forever',
      'default via 10.9.0.2 dev v0 ',
      '10.9.0.0/24 dev v0 proto kernel scope link src 10.9.0.1 ',
      '',
    ].join('\n'),
  )
  t.same([...s], [['link v0', 'UP'], ['addr v0 10.9.0.1/24', ''], ['route default via 10.9.0.2 dev v0', '']])
  t.ok(agrees(s, { key: 'addr v0 10.9.0.1/24', value: '', deleted: false }), 'a refreshed address is no news')
  t.ok(agrees(s, { key: 'addr v0 10.9.9.9/24', value: '', deleted: true }), 'deleting what is not there is no news')
  t.notOk(agrees(s, { key: 'link v0', value: 'DOWN', deleted: false }))
  t.notOk(agrees(s, { key: 'route default via 10.9.0.2 dev v0', value: '', deleted: true }))
  const next = apply(apply(apply(s, { key: 'link v0', value: 'DOWN', deleted: false }), { key: 'addr v0 10.9.1.1/24', value: '', deleted: false }), {
    key: 'route default via 10.9.0.2 dev v0',
    value: '',
    deleted: true,
  })
  t.same([...s].length, 3, 'apply leaves the state it was given alone')
  t.equal(difference(s, next), '+addr v0 10.9.1.1/24, link v0 DOWN, -route default via 10.9.0.2 dev v0')
  t.equal(difference(s, apply(s, { key: 'addr v0 fd00::1/64', value: 'deprecated', deleted: false })), '+addr v0 fd00::1/64 deprecated')
  t.equal(difference(s, s), '')
  const many = new Map(Array.from({ length: 50 }, (_, i) => [`addr v0 10.0.0.${i}/32`, '']))
  const d = difference(new Map(), many)
  t.equal(d.length, 300, 'the words are bounded')
  t.ok(d.endsWith('...'))
})

// ---- the watcher, against a namespace of our own ---------------------------

interface Netns {
  /** argv prefix that runs a command in the namespace */
  enter: string[]
  /** ip -batch: several changes at once, as one burst */
  ip(batch: string): void
}

const makeNetns = (t: Test): Netns => {
  const holder = spawn(where('unshare'), ['-n', '--', 'sleep', '600'], { stdio: 'ignore' })
  t.teardown(() => void holder.kill('SIGKILL'))
  const enter = [where('nsenter'), `--net=/proc/${holder.pid}/ns/net`]
  // unshare has made the namespace once it has become sleep
  for (let i = 0; i < 200 && readFileSync(`/proc/${holder.pid}/comm`, 'utf8').trim() !== 'sleep'; i++) execFileSync('sleep', ['0.01'])
  const ns: Netns = {
    enter,
    ip: batch => void execFileSync(enter[0]!, [...enter.slice(1), 'ip', '-batch', '-'], { input: batch + '\n' }),
  }
  ns.ip('link set lo up\nlink add v0 type veth peer name v1')
  return ns
}

/** the ip children of a process */
const ipChildren = (pid: number): number[] => {
  let kids: number[] = []
  try {
    kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
  } catch {
    return []
  }
  return kids.filter(k => {
    try {
      return readFileSync(`/proc/${k}/comm`, 'utf8').trim() === 'ip'
    } catch {
      return false
    }
  })
}

const waitFor = async (f: () => boolean, ms: number) => {
  for (const end = Date.now() + ms; !f() && Date.now() < end; ) await sleep(20)
  return f()
}

/** quiet after a burst: long enough for a second call to come, if one were coming */
const QUIET_MS = SETTLE_MS + 1200

const noNetns = netnsSkip()

t.test('one call per burst of changes, none while nothing changes', { skip: noNetns }, async t => {
  const ns = makeNetns(t)
  const calls: string[] = []
  const w = watchNetwork(what => calls.push(what), { ip: [...ns.enter, 'ip'] })
  t.teardown(() => w.close())
  await sleep(QUIET_MS)
  t.same(calls, [], 'nothing changed: no call')

  const burst = async (batch: string, what: RegExp, name: string) => {
    const before = calls.length
    ns.ip(batch)
    await waitFor(() => calls.length > before, 5000)
    await sleep(QUIET_MS)
    t.equal(calls.length - before, 1, `${name}: one call`)
    t.match(calls.at(-1), what, name)
  }
  await burst('link set v1 up\nlink set v0 up', /\blink v0 UP\b/, 'links up')
  await burst('addr add 10.9.0.1/24 dev v0\nroute add default via 10.9.0.2', /\+addr v0 10\.9\.0\.1\/24.*\+route default via 10\.9\.0\.2 dev v0/, 'an address and a default route')
  await burst('addr add fd00::1/64 dev v0 nodad\nroute add default via fd00::2 expires 300', /\+addr v0 fd00::1\/64.*\+route default via fd00::2/, 'IPv6')
  // the address moves and the default route follows: what the case does
  await burst(
    'addr add 10.9.1.1/24 dev v0\nroute replace default via 10.9.1.2\naddr del 10.9.0.1/24 dev v0',
    /\+addr v0 10\.9\.1\.1\/24.*\+route default via 10\.9\.1\.2 dev v0.*-addr v0 10\.9\.0\.1\/24.*-route default via 10\.9\.0\.2 dev v0/,
    'the address moves',
  )

  // refreshes that change nothing: lifetimes (DHCP, router advertisements), the
  // same route again, another MTU, a neighbour
  const before = calls.length
  ns.ip(
    [
      'addr change 10.9.1.1/24 dev v0 valid_lft 100 preferred_lft 100',
      'addr change 10.9.1.1/24 dev v0 valid_lft 90 preferred_lft 80',
      'route replace default via fd00::2 expires 200',
      'route replace default via 10.9.1.2',
      'link set v0 mtu 1400',
      'neigh add 10.9.1.3 lladdr 02:00:00:00:00:03 dev v0',
      // and an address that comes and goes within the burst
      'addr add 10.9.7.1/32 dev v0',
      'addr del 10.9.7.1/32 dev v0',
    ].join('\n'),
  )
  await sleep(QUIET_MS)
  t.equal(calls.length, before, 'refreshes: no call')

  await burst('route replace default via 10.9.1.3', /\+route default via 10\.9\.1\.3 dev v0.*-route default via 10\.9\.1\.2 dev v0/, 'another gateway')
  await burst('route replace default via 10.9.1.2', /\+route default via 10\.9\.1\.2 dev v0/, 'the gateway put back')
  // the peer flaps: v0 loses its carrier and gets it back, and nothing else is different after
  await burst('link set v1 down\nlink set v1 up', /link v1 DOWN.*link v1 UP/, 'a flap that leaves all as it was')
  // v0 itself goes down: the kernel drops its routes and IPv6 addresses
  await burst('link set v0 down\nlink set v0 up', /-route default via 10\.9\.1\.2 dev v0/, 'a flap that loses the routes')
  await burst('link add v2 type veth peer name v3', /\+link v2 DOWN/, 'a new link')
  await burst('link del v2', /-link v2/, 'a link gone')
  await sleep(QUIET_MS)
  t.equal(calls.length, 10, 'and nothing after')
})

t.test('a storm of changes is reported at least every maxDelayMs', { skip: noNetns }, async t => {
  const ns = makeNetns(t)
  ns.ip('link set v1 up\nlink set v0 up')
  const calls: number[] = []
  const w = watchNetwork(() => calls.push(performance.now()), { ip: [...ns.enter, 'ip'], settleMs: 400, maxDelayMs: 900 })
  t.teardown(() => w.close())
  await sleep(500)
  const start = performance.now()
  for (let i = 0; i < 12; i++) {
    ns.ip(`addr add 10.9.2.${i}/32 dev v0`)
    await sleep(150)
  }
  await sleep(QUIET_MS)
  t.ok(calls.length >= 2 && calls.length <= 6, `${calls.length} calls for 12 changes in 1.8 s`)
  t.ok(calls[0]! - start < 1500, 'the first within about maxDelayMs')
})

t.test('changes while the state is being read give one more look', { skip: noNetns }, async t => {
  const ns = makeNetns(t)
  // reading the state is slow here: each `ip … show` takes 400 ms more after it has read
  const slowShow = [...ns.enter, 'sh', '-c', 'case "$2" in monitor) exec ip "$@" ;; *) ip "$@" && sleep 0.4 ;; esac', 'sh']
  const calls: string[] = []
  const w = watchNetwork(what => calls.push(what), { ip: slowShow, settleMs: 200 })
  t.teardown(() => w.close())
  await sleep(800)
  ns.ip('addr add 10.9.3.1/32 dev v0')
  await sleep(400) // the state was read at 200, the reading ends at 600
  ns.ip('addr add 10.9.3.2/32 dev v0')
  await waitFor(() => calls.length >= 2, 5000)
  await sleep(QUIET_MS)
  t.equal(calls.length, 2)
  t.match(calls[0], /10\.9\.3\.1/)
  t.match(calls[1], /10\.9\.3\.2/)

  // closed while reading: no call after close
  ns.ip('addr add 10.9.3.3/32 dev v0')
  await sleep(350)
  w.close()
  await sleep(800)
  t.equal(calls.length, 2, 'no call after close')
})

t.test('closed while a burst settles: no call', { skip: noNetns }, async t => {
  const ns = makeNetns(t)
  const calls: string[] = []
  const w = watchNetwork(what => calls.push(what), { ip: [...ns.enter, 'ip'] })
  await sleep(500)
  ns.ip('addr add 10.9.4.1/32 dev v0')
  await sleep(100)
  w.close()
  w.close()
  await sleep(QUIET_MS)
  t.same(calls, [])
})

t.test('when the state cannot be read, a change is reported anyway', { skip: noNetns }, async t => {
  const ns = makeNetns(t)
  const failingShow = [...ns.enter, 'sh', '-c', 'case "$2" in monitor) exec ip "$@" ;; *) exit 1 ;; esac', 'sh']
  const calls: string[] = []
  const w = watchNetwork(what => calls.push(what), { ip: failingShow })
  t.teardown(() => w.close())
  await sleep(500)
  ns.ip('addr add 10.9.5.1/32 dev v0')
  await waitFor(() => calls.length > 0, 5000)
  await sleep(QUIET_MS)
  t.same(calls, ['network changed'])
  ns.ip('link set v1 up\nlink set v0 up')
  await waitFor(() => calls.length > 1, 5000)
  await sleep(QUIET_MS)
  t.equal(calls.length, 2)
  t.match(calls[1], /link v0/, 'what the lines told, when they told it')
})

t.test('no ip, or an ip that cannot start: nothing is watched, nothing breaks', async t => {
  const none = watchNetwork(() => t.fail('no call'), { searchPath: '/nonexistent' })
  none.close()
  const broken = watchNetwork(() => t.fail('no call'), { ip: ['/nonexistent/ip'], tie: false })
  const tied = watchNetwork(() => t.fail('no call'), { ip: ['/nonexistent/ip'], tie: true })
  await sleep(500)
  broken.close()
  tied.close()
})

t.test('the ip child dies with close(), and with its parent even on SIGKILL', { skip: needs('ip', 'setpriv') }, async t => {
  const w = watchNetwork(() => {})
  await waitFor(() => ipChildren(process.pid).length === 1, 3000)
  const [ip] = ipChildren(process.pid)
  t.ok(ip, 'ip monitor runs')
  w.close()
  t.ok(await waitFor(() => ipChildren(process.pid).length === 0, 3000), 'gone after close()')

  const src = fileURLToPath(new URL('../../src/watch/network.ts', import.meta.url))
  const holder = spawn(process.execPath, ['--import', 'tsx', '-e', `import(${JSON.stringify(src)}).then(m => { m.watchNetwork(() => {}); setInterval(() => {}, 1000) })`], {
    stdio: 'ignore',
  })
  t.teardown(() => void holder.kill('SIGKILL'))
  t.ok(await waitFor(() => ipChildren(holder.pid!).length === 1, 10000), 'a process watching')
  const [orphan] = ipChildren(holder.pid!)
  holder.kill('SIGKILL')
  const gone = () => {
    try {
      return /^\d+ \(.*\) [ZX]/.test(readFileSync(`/proc/${orphan}/stat`, 'utf8'))
    } catch {
      return true
    }
  }
  t.ok(await waitFor(gone, 3000), 'its ip goes when it is killed')
})

t.test('a monitor that dies is traced, and nothing else happens', { skip: noNetns }, async t => {
  const ns = makeNetns(t)
  const calls: string[] = []
  const w = watchNetwork(what => calls.push(what), { ip: [...ns.enter, 'ip'], tie: false })
  t.teardown(() => w.close())
  // the first reading's ip are gone: the one left is the monitor
  await sleep(1000)
  t.equal(ipChildren(process.pid).length, 1)
  for (const p of ipChildren(process.pid)) process.kill(p, 'SIGKILL')
  await sleep(300)
  ns.ip('addr add 10.9.6.1/32 dev v0')
  await sleep(QUIET_MS)
  t.same(calls, [])
})
