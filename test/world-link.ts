// The test world's link (test/world/link.ts), on its own: a relay to a plain
// echo server, slowed, cut and moved; and extra sshd options reaching sshd.
import t, { type Test } from 'tap'
import { execFile, execFileSync } from 'node:child_process'
import { promisify } from 'node:util'
import { readdirSync, readFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { path as where } from './helpers/needs.js'
import { makeWorld, serve, worldSkip } from './world/index.js'
import { startLink } from './world/link.js'

/** an echo server behind a fresh link; sockets: the server's side of each connection */
const echoLink = async (t: Test) => {
  const sockets = new Set<net.Socket>()
  const server = await serve(
    net.createServer(s => {
      sockets.add(s)
      s.on('close', () => sockets.delete(s))
      s.on('error', () => {})
      s.on('data', d => (d.toString() === 'bye\n' ? s.end('bye\n') : s.write(d)))
    }),
    0,
  )
  const link = await startLink({ port: (server.address() as net.AddressInfo).port })
  t.teardown(async () => {
    await link.close()
    for (const s of sockets) s.destroy()
    await new Promise(r => server.close(r))
  })
  return { link, sockets }
}

/** a client connection that notes what comes back, when, and whether it closed */
const client = async (t: Test, port: number) => {
  const s = net.connect(port, '127.0.0.1')
  t.teardown(() => void s.destroy())
  const got: { text: string; at: number }[] = []
  let closed = false
  s.on('data', d => got.push({ text: d.toString(), at: performance.now() }))
  s.on('close', () => (closed = true))
  s.on('error', () => {})
  await new Promise(r => s.once('connect', r))
  return { s, got, text: () => got.map(g => g.text).join(''), closed: () => closed }
}

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))
const until = async (fn: () => boolean, ms = 3000) => {
  const end = performance.now() + ms
  while (!fn() && performance.now() < end) await sleep(5)
  return fn()
}

t.test('a delay holds each chunk that long each way, in order', async t => {
  const { link } = await echoLink(t)
  const c = await client(t, link.port)
  c.s.write('fast\n')
  t.ok(await until(() => c.text() === 'fast\n'), 'no delay: back at once')

  link.setDelay(150)
  t.equal(link.delay(), 150)
  const sent = performance.now()
  c.s.write('a\n')
  t.ok(await until(() => c.text() === 'fast\na\n'), 'back')
  const rtt = c.got.at(-1)!.at - sent
  t.ok(rtt >= 295 && rtt < 1500, `a round trip of two delays (${Math.round(rtt)} ms)`)

  // the delay drops while 'b' is on its way: 'c' must not overtake it
  c.s.write('b\n')
  await sleep(20)
  link.setDelay(0)
  c.s.write('c\n')
  t.ok(await until(() => c.text().length === 'fast\na\nb\nc\n'.length), 'both back')
  t.equal(c.text(), 'fast\na\nb\nc\n', 'in the order sent')
})

t.test('delayed data and the end that follows arrive, in that order', async t => {
  const { link } = await echoLink(t)
  link.setDelay(100)
  const c = await client(t, link.port)
  c.s.write('bye\n')
  t.ok(await until(() => c.closed()), 'the end crosses too')
  t.equal(c.text(), 'bye\n', 'after the data')
})

t.test('a cut holds delayed data; the restore delivers it', async t => {
  const { link } = await echoLink(t)
  link.setDelay(100)
  const c = await client(t, link.port)
  c.s.write('x\n')
  link.cut()
  await sleep(300)
  t.equal(c.text(), '', 'nothing while cut')
  link.restore()
  t.ok(await until(() => c.text() === 'x\n'), 'delivered once restored')
})

t.test('a moved path: open connections go silent for good, new ones pass', async t => {
  const { link, sockets } = await echoLink(t)
  const old = await client(t, link.port)
  old.s.write('1\n')
  t.ok(await until(() => old.text() === '1\n'))
  link.move()
  old.s.write('2\n')
  const fresh = await client(t, link.port)
  fresh.s.write('new\n')
  t.ok(await until(() => fresh.text() === 'new\n'), 'a new connection passes')
  await sleep(300)
  t.equal(old.text(), '1\n', 'nothing more on the old one')
  t.notOk(old.closed(), 'the old one is not closed on the client side')
  t.equal(sockets.size, 2, 'nor on the server side')
  for (const s of sockets) s.end()
  await sleep(200)
  t.notOk(old.closed(), 'even when the server ends it')
  link.cut()
  link.restore()
  await sleep(100)
  t.equal(old.text(), '1\n', 'a cut and a restore do not bring it back')
  t.equal(link.connections(), 2)
})

t.test('a world with extra sshd options: sshd takes them over its own', { skip: worldSkip() }, async t => {
  const w = await makeWorld({ sshd: ['ClientAliveInterval 2', 'ClientAliveCountMax 2'] })
  t.teardown(() => w.close())
  const config = readdirSync(w.dir).find(f => f.startsWith('sshd_config'))!
  t.match(readFileSync(join(w.dir, config), 'utf8'), /^ClientAliveInterval 2\nClientAliveCountMax 2\n/)
  const effective = execFileSync(where('sshd'), ['-T', '-f', join(w.dir, config)], { encoding: 'utf8' })
  t.match(effective, /^clientaliveinterval 2$/m)
  t.match(effective, /^clientalivecountmax 2$/m)
  // and ssh works through it (not execFileSync: the link runs in this process)
  const { stdout } = await promisify(execFile)('ssh', ['-n', ...w.sshOptions, w.host, 'echo', 'hi'], { encoding: 'utf8', timeout: 15000 })
  t.equal(stdout, 'hi\n')
})
