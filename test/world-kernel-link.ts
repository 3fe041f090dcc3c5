// The kernel link world (test/world/kernel-link.ts) on its own: plain ssh in
// the client namespace carries a user's forward to the server namespace
// through the router; a silent cut makes the forward hang with ssh none the
// wiser, restore brings it back; the client's address moving leaves the old
// connection useless while a new one works; close leaves nothing behind.
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { talk } from './world/index.js'
import { kernelLinkAvailable, makeKernelLink } from './world/kernel-link.js'

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))
const until = async (f: () => Promise<boolean> | boolean, ms: number) => {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) if (await f()) return true
  return f()
}
/** inside the client namespace, any port is free */
const USER_PORT = 2000
const available = kernelLinkAvailable()

t.test('a kernel link: cut, restore, slow, the client address moved', { skip: available === true ? false : available }, async t => {
  const kl = await makeKernelLink({ expose: [USER_PORT] })
  let closed = false
  t.teardown(() => (closed ? undefined : kl.close()))

  const ssh = kl.spawn(['/usr/bin/ssh', ...kl.sshOptions, '-N', '-L', `${USER_PORT}:127.0.0.1:${kl.targetPort}`, kl.host])
  const forward = (ms = 1000) => talk(kl.exposed(USER_PORT), 'hello', ms)
  t.ok(await until(async () => (await forward()) === 'ok hello', 15000), "the user's forward works through the router", { stderr: ssh.stderr() })
  /** ssh's connection as the client's kernel sees it: local address of the socket to the server's port 22 */
  const sshSocket = async () => (await kl.run('client', ['ss', '-Htn', 'state', 'established', 'dst', `${kl.serverAddress}:22`])).trim()
  t.match(await sshSocket(), new RegExp(`${kl.clientAddress().replaceAll('.', '\\.')}:\\d+\\s+${kl.serverAddress.replaceAll('.', '\\.')}:22`), 'a real TCP connection from the client address to the server')

  await kl.cut()
  t.ok(kl.isCut())
  t.equal(await forward(2000), null, 'cut: the forward hangs')
  t.equal(ssh.child.exitCode, null, 'cut: ssh is none the wiser (no ICMP, no reset)')
  t.not(await sshSocket(), '', 'cut: its socket is still established')
  await kl.restore()
  t.ok(await until(async () => (await forward()) === 'ok hello', 15000), 'restored: the forward works again')

  await kl.slow(256)
  t.match(await kl.run('router', ['tc', 'qdisc', 'show', 'dev', 'r0']), /tbf .*rate 256Kbit/, 'slow: tbf on the router')
  const before = await kl.wireBytes()
  t.equal(await forward(5000), 'ok hello', 'slow: the forward still works')
  const after = await kl.wireBytes()
  t.ok(after.fromClient > before.fromClient && after.toClient > before.toClient, 'the router counts the bytes both ways')
  await kl.slow(null)
  t.notMatch(await kl.run('router', ['tc', 'qdisc', 'show', 'dev', 'r0']), /tbf/, 'full speed again')

  const old = kl.clientAddress()
  await kl.changeClientAddress()
  const now = kl.clientAddress()
  t.not(now, old)
  const addrs = await kl.run('client', ['ip', '-o', '-4', 'addr', 'show', 'dev', 'c0'])
  t.match(addrs, now, 'moved: the new address')
  t.notMatch(addrs, old, 'moved: the old address is gone')
  t.match(await sshSocket(), old, "moved: ssh's socket is still bound to the old address")
  t.equal(await forward(3000), null, 'moved: the old connection carries nothing')
  const fresh = await kl.run('client', ['/usr/bin/ssh', ...kl.sshOptions, kl.host, 'echo', 'fresh'])
  t.equal(fresh.trim(), 'fresh', 'moved: a new connection works, from the new address')

  // a cut at close: the server's per-connection sshd would wait forever; close kills all in the namespaces
  await kl.cut()
  const pids = Object.values(kl.names).flatMap(n => execFileSync('ip', ['netns', 'pids', n], { encoding: 'utf8' }).split('\n').filter(Boolean))
  t.ok(pids.length >= 3, 'processes in the namespaces (ssh, sshd, services, bridge)')
  await kl.close()
  closed = true
  const list = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
  for (const n of Object.values(kl.names)) t.notMatch(list, n, `${n} deleted`)
  t.ok(await until(() => pids.every(p => !existsSync(`/proc/${p}`)), 5000), 'every process of the namespaces is gone')
  t.notOk(existsSync(kl.dir), 'the directory is gone')
})
