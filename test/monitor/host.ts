// The monitor's address: 127.0.0.1, AUTOSSH_MHOST, or ::1 when ssh is told -6;
// in ssh's argv, the listening port, the probe and the log, then with real
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
// OpenSSH over IPv6 loopback.
import t, { type Test } from 'tap'
import net from 'node:net'
import { hostPort, isMonitorHost } from '../../src/monitor/host.js'
import { listen } from '../../src/monitor/listen.js'
import { Fake, runAutossh, start, waitFor } from '../helpers/autossh.js'
import { count, startTunnel } from '../helpers/tunnel.js'
import { freePortPair, makeWorld, worldSkip } from '../world/index.js'

t.test('host:port, IPv6 in brackets', async t => {
  t.equal(hostPort('127.0.0.1', 5), '127.0.0.1:5')
  t.equal(hostPort('::1', 5), '[::1]:5')
  t.equal(hostPort('::ffff:127.0.0.1', 5), '[::ffff:127.0.0.1]:5')
  t.ok(isMonitorHost('::1'))
  t.notOk(isMonitorHost('localhost'))
  t.notOk(isMonitorHost('0.0.0.0'))
})

t.test('the listening port binds the monitor host only', async t => {
  const port = (await freePortPair()) + 1
  const server = await listen(port, '::1')
  t.teardown(() => server.close())
  t.same(server.address(), { address: '::1', family: 'IPv6', port })
})

const fake = (t: Test, plan: string[]) => {
  const f = new Fake(plan)
  t.teardown(() => f.cleanup())
  return f
}

t.test('the forwards ssh gets: 127.0.0.1; ::1 with -6; AUTOSSH_MHOST above both', async t => {
  const f = fake(t, ['0'])
  const cases: [string[], Record<string, string>, string][] = [
    [[], {}, '127.0.0.1'],
    [['-4'], {}, '127.0.0.1'],
    [['-6'], {}, '[::1]'],
    [['-6N'], {}, '[::1]'],
    [['-N', '-o', 'AddressFamily=inet6'], {}, '[::1]'],
    [['-6', '-4'], {}, '127.0.0.1'],
    [[], { AUTOSSH_MHOST: '::1' }, '[::1]'],
    [['-6'], { AUTOSSH_MHOST: '127.0.0.2' }, '127.0.0.2'],
    [[], { AUTOSSH_MHOST: '' }, '127.0.0.1'],
  ]
  for (const [opts, env, host] of cases) {
    const before = f.runs().length
    const port = await freePortPair()
    const r = await runAutossh(['-M', String(port), ...opts, 'h'], f.env({ AUTOSSH_GATETIME: '0', ...env }))
    t.equal(r.status, 0, `${opts.join(' ')} ${JSON.stringify(env)}`)
    t.same(f.runs()[before]!.args, ['-L', `${port}:${host}:${port}`, '-R', `${port}:${host}:${port + 1}`, ...opts, 'h'])
  }
  // echo mode too
  const r = await runAutossh(['-M', '20000:7', '-6', 'h'], f.env({ AUTOSSH_GATETIME: '0' }))
  t.equal(r.status, 0)
  t.same(f.runs().at(-1)!.args, ['-L', '20000:[::1]:7', '-6', 'h'])
})

t.test('a bad AUTOSSH_MHOST: one line, status 1, nothing started', async t => {
  const f = fake(t, ['0'])
  for (const [env, message] of [
    [{ AUTOSSH_MHOST: 'localhost' }, 'invalid monitor host "localhost" (an IP address, such as 127.0.0.1 or ::1)'],
    [{ AUTOSSH_MHOST: '::1', AUTOSSH_SSH_FLAVOR: 'dropbear' }, 'invalid monitor host "::1" (dbclient forwards IPv4 only)'],
  ] as const) {
    const r = await runAutossh(['-M', '20000', 'h'], { ...f.env(env), AUTOSSH_LOGFILE: undefined })
    t.equal(r.status, 1)
    t.match(r.stderr, new RegExp(`^[^\n]*autossh\\[\\d+\\]: ${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\n$`), 'one line')
    t.equal(f.runs().length, 0, 'no ssh')
  }
})

t.test('the log says the IPv6 host in brackets: a refused probe, a port taken', async t => {
  const f = fake(t, ['sleep'])
  const port = await freePortPair()
  const a = start(['-M', `${port}:7`, '-6', 'h'], f.env({ AUTOSSH_POLL: '1', AUTOSSH_GATETIME: '0' }))
  t.teardown(() => a.child.kill('SIGKILL'))
  // the stand-in listens nowhere: the probe to [::1] is refused
  await waitFor(() => f.messages().includes(`[::1]:${port}: Connection refused`), 10000, 'a refused probe')
  a.child.kill('SIGTERM')
  await a.done

  const taken = net.createServer().listen(port + 1, '::1')
  await new Promise(r => taken.once('listening', r))
  t.teardown(() => taken.close())
  const r = await runAutossh(['-M', String(port), 'h'], f.env({ AUTOSSH_MHOST: '::1' }))
  t.equal(r.status, 1)
  t.match(r.stderr, `bind on [::1]:${port + 1}: Address already in use`)
})

// real OpenSSH: with -6 it listens on ::1 only, so a monitor on 127.0.0.1
// would fail every probe; the world's echo service, without netns, answers
// on ::1 only, so a monitor that ignored AUTOSSH_MHOST fails too
const modes = [
  { mode: 'echo' as const, netns: false },
  { mode: 'pair' as const, netns: true },
]
const ways: { name: string; env: Record<string, string>; opts: string[]; config?: string }[] = [
  { name: 'ssh -6', env: {}, opts: ['-6'] },
  { name: 'AUTOSSH_MHOST=::1', env: { AUTOSSH_MHOST: '::1' }, opts: [] },
  // only ssh -G tells: the command line says nothing of it
  { name: 'AddressFamily inet6 in ssh_config', env: {}, opts: [], config: 'Host *\n  AddressFamily inet6\n' },
]
for (const { mode, netns } of modes) {
  for (const way of ways) {
    const skip = worldSkip({ netns })
    t.test(`${mode} mode, ${way.name}: the tunnel comes up over IPv6 loopback and its probes pass`, { skip }, async t => {
      const w = await makeWorld({ netns, ipv6: true })
      t.teardown(() => w.close())
      const config = join(w.dir, 'ssh_config')
      if (way.config) writeFileSync(config, way.config)
      const tun = await startTunnel(w, mode, way.env, {
        path: '/usr/bin/ssh',
        // ssh reads the last -F
        options: [...way.opts, ...w.sshOptions, ...(way.config ? ['-F', config] : [])],
      })
      t.teardown(() => tun.autossh.child.kill('SIGKILL'))
      await waitFor(() => count(tun, 'connection ok') >= 2, 20000, 'two passed probes').catch(() => {})
      t.ok(count(tun, 'connection ok') >= 2, 'probes pass')
      t.equal(count(tun, 'port down, restarting ssh'), 0, 'no restart')
      t.equal(tun.sshPids().length, 1, 'one ssh')
      tun.autossh.child.kill('SIGTERM')
      t.equal(await tun.autossh.done, 1)
    })
  }
}
