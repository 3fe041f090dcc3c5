// The client namespace of the test world: a command runs in a network
// namespace of its own, reaches the world's sshd through the bridge, and
// keeps doing so while the test changes the namespace's addresses, link and
// default route. Here the command is plain ssh carrying a user's forward.
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { path as where } from './helpers/needs.js'
import { freePort, makeWorld, netnsSkip, talk, worldSkip } from './world/index.js'
import { netnsOf, startInNetns } from './world/netns-client.js'

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))
const until = async (f: () => Promise<boolean> | boolean, ms: number) => {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) if (await f()) return true
  return f()
}

t.test('ssh in a namespace of its own, through the bridge, while its network changes', { skip: worldSkip() || netnsSkip() }, async t => {
  const w = await makeWorld()
  t.teardown(() => w.close())
  const userPort = await freePort()
  const sockets = () => readdirSync(tmpdir()).filter(f => f.startsWith('ans-'))
  const before = sockets()
  const c = await startInNetns([where('ssh'), ...w.sshOptions, '-N', '-L', `${userPort}:127.0.0.1:${w.targetPort}`, w.host], {}, { reach: [w.link.port], expose: [userPort] })
  let closed = false
  t.teardown(() => (closed ? undefined : c.close()))

  t.ok(await until(() => c.child.pid !== undefined && existsSync(`/proc/${c.child.pid}`), 5000))
  // nsenter enters the namespace a moment after it starts, then becomes ssh (same pid)
  t.ok(await until(() => netnsOf(c.child.pid!) !== netnsOf('self'), 5000), 'ssh runs in another network namespace')
  const forward = () => talk(c.exposed(userPort), 'hello', 1000)
  t.ok(await until(async () => (await forward()) === 'ok hello', 10000), "the user's forward works through the bridge", { stderr: c.stderr() })
  t.throws(() => c.exposed(1), /not exposed/)

  const state = () => execFileSync(c.enter[0]!, [...c.enter.slice(1), 'ip', '-o', '-4', 'addr', 'show', 'dev', 'v0'], { encoding: 'utf8' }) + execFileSync(c.enter[0]!, [...c.enter.slice(1), 'ip', 'route', 'show', 'default'], { encoding: 'utf8' })
  t.match(state(), /inet 10\.77\.0\.1\/24[^]*default via 10\.77\.0\.2 dev v0/, 'first: 10.77.0.1, default via 10.77.0.2')
  await c.changeNetwork('address')
  t.match(state(), /inet 10\.77\.1\.1\/24[^]*default via 10\.77\.1\.2 dev v0/, 'address: moved to 10.77.1.1, the route follows')
  t.notMatch(state(), /10\.77\.0\.1/)
  await c.changeNetwork('route')
  t.match(state(), /default via 10\.77\.1\.3 dev v0/, 'route: another gateway')
  await c.changeNetwork('link')
  t.match(state(), /default via 10\.77\.1\.3 dev v0/, 'link: down and up, the default route put back')
  await c.changeNetwork('all')
  t.match(state(), /inet 10\.77\.2\.1\/24[^]*default via 10\.77\.2\.2 dev v0/, 'all: all three at once')
  t.equal(await forward(), 'ok hello', 'the forward still works: ssh goes over loopback, the bridge is untouched')

  await c.close()
  closed = true
  t.ok(await until(() => !existsSync(`/proc/${c.child.pid}`) || c.child.exitCode !== null || c.child.signalCode !== null, 5000), 'ssh is gone')
  t.same(sockets(), before, 'no socket left behind')
})
