// The listening port and the probe, in-process, against stand-in tunnels:
// strangers on the listening port can neither pass nor fail a probe.
import t, { type Test } from 'tap'
import net from 'node:net'
import { listen } from '../../src/monitor/listen.js'
import { Monitor, MAX_STRANGERS } from '../../src/monitor/probe.js'
import { freePortPair } from '../world/index.js'

type Behaviour = 'loop' | 'echo' | 'swallow' | 'hangup'

/** a stand-in for ssh's -L listener on port: loop to port+1, echo, swallow or hang up */
const tunnel = async (t: Test, port: number, how: Behaviour) => {
  let connections = 0
  const sockets = new Set<net.Socket>()
  const server = net.createServer(c => {
    connections++
    sockets.add(c)
    c.on('error', () => {})
    if (how === 'loop') {
      const back = net.connect(port + 1, '127.0.0.1')
      sockets.add(back)
      back.on('error', () => c.destroy())
      c.pipe(back).pipe(c)
    } else if (how === 'echo') c.pipe(c)
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
  return { connections: () => connections, hangUpAll }
}

const monitorFor = async (t: Test, mode: 'pair' | 'echo', keep = true) => {
  const port = await freePortPair()
  const logs: string[] = []
  const listener = mode === 'pair' ? await listen(port + 1) : undefined
  const m = new Monitor({ mode, port, listener, message: 'hi', keep, strangerMs: 2000, log: (l, msg) => logs.push(`${l} ${msg}`) })
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
