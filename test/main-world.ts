// Which watchers main starts: the network and resume watches only for a
// tunnel with a probe (AUTOSSH_NETWATCH), ssh's connection in every mode
// (AUTOSSH_CONNWATCH), one `ip monitor` for both; none with both off.
import t from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { worldEvents } from '../src/main.js'
import { start as startAutossh, waitFor } from './helpers/autossh.js'
import { needs, path as where } from './helpers/needs.js'

const start = (probeOnChange: boolean, connWatch: boolean) => {
  const said: string[] = []
  const sources = worldEvents({ probeOnChange, connWatch, say: m => said.push(m) })
  const opened = sources.map(s => s(() => t.fail('no event'), { sshPid: () => undefined }))
  opened.forEach(o => o.close())
  return { count: sources.length, said }
}

t.test('the sources for each setting', async t => {
  t.equal(start(true, true).count, 2, 'network (with the connection) and resume')
  t.equal(start(true, false).count, 2)
  t.equal(start(false, true).count, 1, '-M 0: the network, for the connection only')
  t.equal(start(false, false).count, 0, 'both off: nothing')
  t.same(start(false, true).said, [], 'proc readable here: nothing said')
})

// where /proc/net cannot be read, ssh's connection is not watched, and autossh says so once, at debug level
t.test("/proc/net unreadable: the connection watch is off, said at debug level", { skip: needs('unshare', 'ssh') || (process.getuid?.() === 0 ? false : 'needs root (a mount namespace)') }, async t => {
  const dir = t.testdir()
  const log = join(dir, 'autossh.log')
  // a tmpfs over this shell's /proc/<pid>/net, which node keeps when it is exec'd in its place
  const hide = 'mount -t tmpfs none /proc/$$/net && exec "$@"'
  const a = startAutossh(['-M', '0', '-N', '-o', 'BatchMode=yes', '-p', '1', '127.0.0.1'], {
    AUTOSSH_PATH: '/usr/bin/ssh',
    AUTOSSH_LOGFILE: log,
    AUTOSSH_LOGLEVEL: '7',
    AUTOSSH_GATETIME: '0',
    AUTOSSH_POLL: '10',
  }, undefined, [where('unshare'), '-m', 'sh', '-c', hide, 'sh'])
  t.teardown(() => a.child.kill('SIGKILL'))
  const text = () => (existsSync(log) ? readFileSync(log, 'utf8') : '')
  await waitFor(() => text().includes("ssh's connection is not watched"), 10000, 'the watch to say it is off')
  t.match(text(), /ssh's connection is not watched: \/proc\/self\/net cannot be read/)
  await waitFor(() => text().split('starting ssh (count').length > 2, 20000, 'a second start')
  t.equal(text().split("ssh's connection is not watched").length - 1, 1, 'said once')
  a.child.kill('SIGTERM')
  await a.done
})
