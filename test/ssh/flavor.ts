// OpenSSH's and Dropbear's option letters, the choice between them, and a
// tunnel through the real dbclient that is cut, caught and recovers.
import t, { type Test } from 'tap'
import { spawnSync } from 'node:child_process'
import { symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { flavorOf, isFlavor, optionString, SSH_OPTIONS } from '../../src/ssh/flavor.js'
import { alive, Fake, runAutossh, waitFor } from '../helpers/autossh.js'
import { count, startTunnel } from '../helpers/tunnel.js'
import { needs, path as where } from '../helpers/needs.js'
import { makeWorld, worldSkip } from '../world/index.js'

const noDbclient = needs('dbclient')

t.test('the tables, and the flavor by name', async t => {
  t.equal(optionString('openssh'), 'M:V1246ab:c:e:fgi:kl:m:no:p:qstvw:xyAB:CD:E:F:GI:J:KL:NO:P:Q:R:S:TW:XY', '1.4g\'s reading of OpenSSH')
  t.equal(optionString('dropbear'), `M:V${SSH_OPTIONS.dropbear}`)
  t.equal(flavorOf('/usr/bin/dbclient'), 'dropbear')
  t.equal(flavorOf('/usr/bin/ssh'), 'openssh')
  t.equal(flavorOf('/usr/bin/dropbear'), 'openssh', 'only dbclient is taken by its name')
  t.ok(isFlavor('dropbear'))
  t.notOk(isFlavor('constructor'))
})

t.test('the dropbear table is what the installed dbclient -h lists, less -V', { skip: noDbclient }, async t => {
  const help = spawnSync(where('dbclient'), ['-h'], { encoding: 'utf8' }).stderr
  const letters = new Map<string, boolean>()
  for (const line of help.split('\n')) {
    // `-p <remoteport>`, `-o option     Set…`, `-b    [bind_address]…` take an argument; `-t    Allocate…` does not
    const m = /^-(\w)( +)(\S+)/.exec(line)
    if (!m || letters.has(m[1]!)) continue
    letters.set(m[1]!, m[2] === ' ' || /^[<[]/.test(m[3]!))
  }
  letters.delete('V')
  const table = new Map<string, boolean>()
  for (const m of SSH_OPTIONS.dropbear.matchAll(/(\w)(:?)/g)) table.set(m[1]!, m[2] === ':')
  t.same(Object.fromEntries([...table].sort()), Object.fromEntries([...letters].sort()))
  t.ok(letters.get('K') && letters.get('I'), '-K and -I take an argument')
})

const fake = (t: Test) => {
  const f = new Fake(['0'])
  t.teardown(() => f.cleanup())
  return f
}

t.test('a program named dbclient, or AUTOSSH_SSH_FLAVOR=dropbear, gets its -K and -I with their arguments', async t => {
  const f = fake(t)
  const dbclient = join(f.dir, 'dbclient')
  symlinkSync(f.ssh, dbclient)
  const args = ['-M', '20000:7', '-K', '30', '-I600', '-N', 'host']
  const want = ['-L', '20000:127.0.0.1:7', '-K', '30', '-I600', '-N', 'host']
  for (const env of [{ AUTOSSH_PATH: dbclient }, { AUTOSSH_SSH_FLAVOR: 'dropbear' }] as Record<string, string>[]) {
    const r = await runAutossh(args, f.env({ AUTOSSH_GATETIME: '0', ...env }))
    t.equal(r.status, 0, JSON.stringify(env))
    t.same(f.runs().at(-1)!.args, want)
  }
  const r = await runAutossh(['-M', '0', '-K', '30', '-N', 'host'], f.env({ AUTOSSH_PATH: dbclient, AUTOSSH_SSH_FLAVOR: 'openssh', AUTOSSH_GATETIME: '0' }))
  t.equal(r.status, 0)
  t.same(f.runs().at(-1)!.args, ['-K', '-N', '30', 'host'], 'told openssh: OpenSSH\'s letters, as 1.4g')
})

t.test('a bad AUTOSSH_SSH_FLAVOR: one line, status 1, nothing started', async t => {
  const f = fake(t)
  const r = await runAutossh(['-M', '0', 'host'], { ...f.env({ AUTOSSH_SSH_FLAVOR: 'putty' }), AUTOSSH_LOGFILE: undefined })
  t.equal(r.status, 1)
  t.match(r.stderr, /^[^\n]*autossh\[\d+\]: invalid ssh flavor "putty" \(openssh or dropbear\)\n$/)
  t.equal(f.runs().length, 0)
})

// the real dbclient, with its keepalive and idle timeout, through the world's link
const modes = [
  { mode: 'echo' as const, netns: false },
  { mode: 'pair' as const, netns: true },
]
for (const { mode, netns } of modes) {
  const skip = needs('dbclient', 'dropbearconvert') || worldSkip({ netns })
  t.test(`dbclient -K 30 -I 600, ${mode} mode: comes up, is cut, is caught, recovers`, { skip }, async t => {
    const w = await makeWorld({ netns })
    t.teardown(() => w.close())
    const tun = await startTunnel(w, mode, {}, { path: where('dbclient'), options: ['-K', '30', '-I', '600', ...w.dbclientOptions] })
    t.teardown(() => tun.autossh.child.kill('SIGKILL'))

    t.ok(await tun.forwardWorks(), 'the user\'s forward passes data')
    await waitFor(() => count(tun, 'connection ok') >= 1, 15000, 'a passed probe')
    const [first] = tun.sshPids()

    w.link.cut()
    await waitFor(() => count(tun, 'port down, restarting ssh') >= 1, 20000, 'the monitor to notice')
    await waitFor(() => !alive(first!), 10000, 'the stuck dbclient to go')
    w.link.restore()
    t.ok(await tun.forwardWorks(20000), 'after restore the forward passes data again')
    await waitFor(
      () => tun.messages().lastIndexOf('connection ok') > tun.messages().lastIndexOf('port down, restarting ssh'),
      20000,
      'a passed probe on the new dbclient',
    )
    t.ok(tun.sshPids().length >= 2, 'dbclient started again')
    t.equal(count(tun, 'ssh exited with error status 1; restarting ssh'), 0, 'dbclient never refused its command line')

    tun.autossh.child.kill('SIGTERM')
    t.equal(await tun.autossh.done, 1)
    for (const pid of tun.sshPids()) t.notOk(alive(pid), `dbclient ${pid} is gone`)
  })
}
