// The listening port and the probe, in-process, against stand-in tunnels:
// strangers on the listening port can neither pass nor fail a probe.
import t, { type Test } from 'tap'
import net from 'node:net'
import { networkInterfaces } from 'node:os'
import { listen } from '../../src/monitor/listen.js'
import { Monitor, MAX_STRANGERS } from '../../src/monitor/probe.js'
import { freePortPair } from '../world/index.js'

type Behaviour = 'loop' | 'echo' | 'swallow' | 'hangup'
/** what a loop or echo sends back for each line: the line, the line with another nonce, or the first line it ever saw */
type Answer = 'same' | 'mangle' | 'stale' | 'late'

/** the nonce, one more */
const mangle = (line: string) => line.replace(/ (\d+) ([^ ]*\r\n)$/, (_, nonce: string, rest: string) => ` ${BigInt(nonce) + 1n} ${rest}`)

/**
 * a stand-in for ssh's -L listener on port: loop to port+1 (a connection back
 * for each one in, as ssh's -R makes it), echo, swallow or hang up; cut() makes
 * a loop or echo swallow from then on, as a silent cut of the link does
 */
/** how late a 'late' answer comes */
const LATE_MS = 300

const tunnel = async (t: Test, port: number, how: Behaviour, answer: Answer = 'same', lateMs = LATE_MS) => {
  let connections = 0
  let cut = false
  let first: string | undefined
  const sockets = new Set<net.Socket>()
  const fronts = new Set<net.Socket>()
  const relay = (from: net.Socket, to: net.Socket) => {
    let buf = ''
    from.setEncoding('latin1')
    from.on('data', (d: string) => {
      buf += d
      for (let nl; (nl = buf.indexOf('\n')) >= 0; ) {
        const line = buf.slice(0, nl + 1)
        buf = buf.slice(nl + 1)
        first ??= line
        if (cut) continue
        if (answer === 'late') setTimeout(() => to.write(line), lateMs)
        else to.write(answer === 'mangle' ? mangle(line) : answer === 'stale' ? first : line)
      }
    })
  }
  const server = net.createServer(c => {
    connections++
    sockets.add(c)
    fronts.add(c)
    c.on('error', () => {})
    if (how === 'loop') {
      const back = net.connect(port + 1, '127.0.0.1')
      sockets.add(back)
      back.on('error', () => c.destroy())
      relay(c, back)
    } else if (how === 'echo') relay(c, c)
    else if (how === 'hangup') c.destroy()
    else c.resume()
  })
  await new Promise<void>(r => server.listen(port, '127.0.0.1', r))
  const hangUpAll = () => {
    for (const s of sockets) s.destroy()
    sockets.clear()
  }
  t.teardown(() => {
    hangUpAll()
    server.close()
  })
  return {
    connections: () => connections,
    hangUpAll,
    /** close the connections into the -L port only; those back to port+1 stay */
    hangUpFronts: () => fronts.forEach(s => s.destroy()),
    /** close the first connection into the -L port only */
    hangUpFirst: () => [...fronts][0]?.destroy(),
    cut: () => void (cut = true),
  }
}

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))

/** resolves with how long until the socket closed, or null if it is still open after ms */
const closedWithin = (s: net.Socket, ms: number) =>
  new Promise<number | null>(r => {
    const began = Date.now()
    const timer = setTimeout(() => r(null), ms)
    s.once('close', () => (clearTimeout(timer), r(Date.now() - began)))
  })

const monitorFor = async (t: Test, mode: 'pair' | 'echo', keep = true, strangerMs = 2000) => {
  const port = await freePortPair()
  const logs: string[] = []
  const listener = mode === 'pair' ? await listen(port + 1) : undefined
  const m = new Monitor({ mode, port, listener, message: 'hi', keep, strangerMs, log: (l, msg) => logs.push(`${l} ${msg}`) })
  t.teardown(() => m.close())
  return { m, port, logs }
}

/** one probe with one deadline, as 1.4g makes them: did the line come back? */
const passes = async (m: Monitor, ms: number, abort?: AbortSignal) => (await m.probe([ms], { abort })).ok

const client = (port: number) => {
  const s = net.connect(port, '127.0.0.1')
  s.on('error', () => {})
  return s
}

t.test('pair mode through a working loop: passes, one connection kept for many probes', async t => {
  const { m, port, logs } = await monitorFor(t, 'pair')
  const tun = await tunnel(t, port, 'loop')
  for (let i = 0; i < 3; i++) t.equal(await passes(m, 1500), true)
  t.equal(tun.connections(), 1, 'the test connection stays open')
  t.equal(logs.filter(l => l === '7 connection ok').length, 3)
})

t.test('per-probe mode opens a connection each time', async t => {
  const { m, port } = await monitorFor(t, 'pair', false)
  const tun = await tunnel(t, port, 'loop')
  t.equal(await passes(m, 1500), true)
  t.equal(await passes(m, 1500), true)
  t.equal(tun.connections(), 2)
})

t.test('strangers writing garbage, or nothing, change nothing for a live tunnel', async t => {
  const { m, port } = await monitorFor(t, 'pair')
  await tunnel(t, port, 'loop')
  let evicted = 0
  const silent = Array.from({ length: MAX_STRANGERS + 8 }, () => client(port + 1).once('close', () => evicted++))
  const noisy = client(port + 1)
  const spam = setInterval(() => noisy.write('garbage\r\n'), 20)
  t.teardown(() => {
    clearInterval(spam)
    for (const s of [...silent, noisy]) s.destroy()
  })
  await Promise.all(silent.map(s => new Promise(r => (s.readyState === 'open' ? r(null) : s.once('connect', r)))))
  await new Promise(r => setTimeout(r, 200))
  t.ok(evicted >= 8, 'the oldest silent ones were closed to make room')
  for (let i = 0; i < 3; i++) t.equal(await passes(m, 1500), true, `probe ${i + 1}`)
})

t.test('a stranger sending an endless line is closed', async t => {
  const { port } = await monitorFor(t, 'pair')
  const s = client(port + 1)
  t.teardown(() => s.destroy())
  s.write('x'.repeat(4000))
  const closed = await new Promise<boolean>(r => {
    const timer = setTimeout(() => r(false), 1500)
    s.once('close', () => (clearTimeout(timer), r(true)))
  })
  t.ok(closed, 'long before its 2 s to speak are up')
})

t.test('the return connection lost: the next probe gets a new one', async t => {
  const { m, port } = await monitorFor(t, 'pair')
  const tun = await tunnel(t, port, 'loop')
  t.equal(await passes(m, 1500), true)
  tun.hangUpAll()
  t.equal(await passes(m, 1500), true)
  t.equal(tun.connections(), 2)
})

// a false 'port down' (and a restart of a working ssh) if a dead connection were written into
for (const [what, mode, hangUp] of [
  ['both test connections dropped', 'pair', 'hangUpAll'],
  ['the connection into the -L port dropped, the one back still open', 'pair', 'hangUpFronts'],
  ['the echo connection dropped', 'echo', 'hangUpAll'],
] as const) {
  t.test(`${what} while no probe waits: forgotten at once, the next probe passes`, async t => {
    const { m, port } = await monitorFor(t, mode)
    const tun = await tunnel(t, port, mode === 'pair' ? 'loop' : 'echo')
    t.equal(await passes(m, 1500), true)
    tun[hangUp]()
    await sleep(100)
    t.equal(await passes(m, 1500), true, 'not a false port down')
    t.equal(tun.connections(), 2, 'on a new connection')
  })
}

t.test('pair mode, kept connections: a silent cut logs 1.4g\'s info line, timeout polling to accept read connection', async t => {
  const { m, port, logs } = await monitorFor(t, 'pair')
  const tun = await tunnel(t, port, 'loop')
  t.equal(await passes(m, 1500), true)
  tun.cut()
  t.equal(await passes(m, 600), false)
  t.equal(tun.connections(), 1, 'the line went into the kept connection')
  t.same(logs.filter(l => l.startsWith('6 ')), ['6 timeout polling to accept read connection'])
})

t.test('echo mode: a silent cut is told at debug level only, as 1.4g does', async t => {
  const { m, port, logs } = await monitorFor(t, 'echo')
  const tun = await tunnel(t, port, 'echo')
  t.equal(await passes(m, 1500), true)
  tun.cut()
  t.equal(await passes(m, 600), false)
  t.same(logs.filter(l => l.startsWith('6 ')), [])
  t.ok(logs.includes('7 timeout on io poll, looping to accept again'))
})

for (const mode of ['pair', 'echo'] as const) {
  t.test(`${mode} mode: a line back with another nonce fails the probe`, async t => {
    const { m, port, logs } = await monitorFor(t, mode)
    await tunnel(t, port, mode === 'pair' ? 'loop' : 'echo', 'mangle')
    t.equal(await passes(m, 600), false)
    t.notOk(logs.includes('7 connection ok'))
  })

  t.test(`${mode} mode: the previous probe's line back (a replay) fails the probe`, async t => {
    const { m, port, logs } = await monitorFor(t, mode)
    await tunnel(t, port, mode === 'pair' ? 'loop' : 'echo', 'stale')
    t.equal(await passes(m, 1500), true, 'the first line is its own')
    t.equal(await passes(m, 600), false, 'the second gets the first one back')
    t.equal(logs.filter(l => l === '7 connection ok').length, 1)
  })
}

t.test('a stranger that sends a wrong line is closed at once, not kept till its time is up', async t => {
  const { port } = await monitorFor(t, 'pair', true, 2000)
  const s = client(port + 1)
  t.teardown(() => s.destroy())
  s.write('garbage\r\n')
  const took = await closedWithin(s, 1000)
  t.ok(took !== null, 'closed long before its 2 s to speak are up')
})

t.test('a silent stranger is closed when its time to speak is up, not before, not much later', async t => {
  const { port } = await monitorFor(t, 'pair', true, 300)
  const s = client(port + 1)
  t.teardown(() => s.destroy())
  const took = await closedWithin(s, 3000)
  t.ok(took !== null, 'closed')
  t.ok(took! >= 250 && took! < 1500, `after about 300 ms (took ${took} ms)`)
})

t.test('listen: the listening port is on 127.0.0.1 only, not on every interface', async t => {
  const port = (await freePortPair()) + 1
  const server = await listen(port)
  t.teardown(() => server.close())
  t.match(server.address(), { address: '127.0.0.1', port })
  const others = ['127.0.0.2', ...Object.values(networkInterfaces()).flatMap(list => (list ?? []).filter(a => a.family === 'IPv4' && a.address !== '127.0.0.1').map(a => a.address))]
  for (const host of others) {
    const code = await new Promise(r => {
      const s = net.connect(port, host)
      s.once('connect', () => (s.destroy(), r('connected')))
      s.once('error', (e: NodeJS.ErrnoException) => r(e.code))
    })
    t.equal(code, 'ECONNREFUSED', `not reachable on ${host}`)
  }
  const ok = await new Promise(r => net.connect(port, '127.0.0.1').once('connect', function (this: net.Socket) { this.destroy(); r(true) }))
  t.ok(ok, 'reachable on 127.0.0.1')
})

t.test('echo mode: an endless line instead of the echo fails the probe', async t => {
  const { m, port } = await monitorFor(t, 'echo')
  const server = net.createServer(c => {
    c.on('error', () => {})
    c.write('y'.repeat(4000))
  })
  await new Promise<void>(r => server.listen(port, '127.0.0.1', r))
  t.teardown(() => server.close())
  t.equal(await passes(m, 1500), false)
})

t.test('close() ends a probe in flight', async t => {
  const { m, port } = await monitorFor(t, 'echo')
  await tunnel(t, port, 'swallow')
  const probe = passes(m, 10000)
  setTimeout(() => m.close(), 100)
  t.equal(await probe, false)
})

t.test('a stranger cannot pass a probe for a dead tunnel', async t => {
  const { m, port, logs } = await monitorFor(t, 'pair')
  await tunnel(t, port, 'swallow')
  // it even sends lines that look like ours
  const liar = client(port + 1)
  const spam = setInterval(() => liar.write(`host autossh ${process.pid} 12345 hi\r\n`), 20)
  t.teardown(() => {
    clearInterval(spam)
    liar.destroy()
  })
  t.equal(await passes(m, 600), false)
  t.ok(logs.includes('6 timeout polling to accept read connection'))
})

t.test('echo mode: echo passes, silence fails at the deadline, hang-ups fail after two rounds', async t => {
  const a = await monitorFor(t, 'echo')
  await tunnel(t, a.port, 'echo')
  t.equal(await passes(a.m, 1500), true)
  t.equal(await passes(a.m, 1500), true)

  const b = await monitorFor(t, 'echo')
  await tunnel(t, b.port, 'swallow')
  const started = Date.now()
  t.equal(await passes(b.m, 500), false)
  t.ok(Date.now() - started >= 450, 'waited for the deadline')
  t.ok(b.logs.includes('7 timeout on io poll, looping to accept again'))

  const c = await monitorFor(t, 'echo')
  const tun = await tunnel(t, c.port, 'hangup')
  t.equal(await passes(c.m, 1500), false)
  t.equal(tun.connections(), 2, 'tried twice')
  t.ok(c.logs.includes('7 tried connection 2 times and failed'))
})

t.test('nothing listening on the -L port: fails at once, in autossh\'s words', async t => {
  const { m, port, logs } = await monitorFor(t, 'echo')
  const started = Date.now()
  t.equal(await passes(m, 5000), false)
  t.ok(Date.now() - started < 2000)
  t.ok(logs.includes(`6 127.0.0.1:${port}: Connection refused`))
})

t.test('an abort ends a probe at once', async t => {
  const { m, port } = await monitorFor(t, 'echo')
  await tunnel(t, port, 'swallow')
  const ac = new AbortController()
  setTimeout(() => ac.abort(), 100)
  const started = Date.now()
  t.equal(await passes(m, 10000, ac.signal), false)
  t.ok(Date.now() - started < 2000)
})

t.test('lines that are not ours are ignored on the echo connection', async t => {
  const { m, port, logs } = await monitorFor(t, 'echo')
  const server = net.createServer(c => {
    c.on('error', () => {})
    c.setEncoding('latin1')
    c.on('data', (d: string) => {
      c.write('noise\r\n' + d)
      setTimeout(() => c.write('late\r\n'), 50)
    })
  })
  await new Promise<void>(r => server.listen(port, '127.0.0.1', r))
  t.teardown(() => server.close())
  t.equal(await passes(m, 1500), true)
  t.ok(logs.some(l => l.startsWith('7 not what I sent: "') && l.endsWith('" : "noise\r\n"')))
  await new Promise(r => setTimeout(r, 150))
  t.ok(logs.includes('7 not what I sent: "" : "late\r\n"'), 'a line when no probe waits')
})

t.test('listen: a port in use is an error', async t => {
  const port = (await freePortPair()) + 1
  const a = await listen(port)
  t.teardown(() => a.close())
  await t.rejects(listen(port), { code: 'EADDRINUSE' })
})

t.test('two tries: the late answer to the first counts during the second, measured from its own write', async t => {
  // every line is answered 600 ms late: the first try's answer comes at 600 ms, within
  // both deadlines (700 ms); the second try's own would come at 800 ms, too late to pass
  const late = 600
  const { m, port, logs } = await monitorFor(t, 'echo')
  const tun = await tunnel(t, port, 'echo', 'late', late)
  const r = await m.probe([200, 500])
  t.equal(r.ok, true, "the first try's answer passes the probe")
  if (r.ok) t.ok(r.rttMs >= late - 10 && r.rttMs < late + 100, `the first line's round trip (${Math.round(r.rttMs)} ms)`)
  t.equal(tun.connections(), 2, 'the second try went on a fresh connection')
  t.ok(logs.includes('7 no answer in 200 ms, trying again on a fresh connection'))
})

t.test("two tries: the first try's connection closing during the second does not end it", async t => {
  const { m, port } = await monitorFor(t, 'echo')
  const tun = await tunnel(t, port, 'swallow')
  const began = Date.now()
  setTimeout(() => tun.hangUpFirst(), 250)
  t.same(await m.probe([100, 600]), { ok: false, timedOut: true }, 'the second try runs to its deadline')
  t.ok(Date.now() - began >= 690, 'both deadlines')
})

t.test("two tries: the second try's connection closing ends the probe at once", async t => {
  const { m, port } = await monitorFor(t, 'echo')
  const tun = await tunnel(t, port, 'swallow')
  const began = Date.now()
  setTimeout(() => tun.hangUpFronts(), 250)
  t.same(await m.probe([100, 5000]), { ok: false, timedOut: false }, 'closed, not timed out')
  t.ok(Date.now() - began < 2000, 'at once, not at the deadline')
})

t.test('two tries, both silent: timed out after both deadlines', async t => {
  const { m, port } = await monitorFor(t, 'echo')
  await tunnel(t, port, 'swallow')
  const began = Date.now()
  t.same(await m.probe([100, 200]), { ok: false, timedOut: true })
  t.ok(Date.now() - began >= 290, 'both deadlines')
})
