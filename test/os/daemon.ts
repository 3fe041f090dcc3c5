// -f: the background copy, its pid file and its log.
import t from 'tap'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { alive, Fake, runAutossh, start, waitFor } from '../helpers/autossh.js'

t.test('-f returns 0 once the background copy runs; it is a session leader in /', async t => {
  const f = new Fake(['sleep'])
  t.teardown(() => f.cleanup())
  const pidFile = join(f.dir, 'a.pid')
  // detached on purpose, so not tied to the test: the lifetime ends it should the test die first
  const r = await runAutossh(['-f', '-M', '0', 'h', '-N'], f.env({ AUTOSSH_PIDFILE: pidFile, AUTOSSH_MAXLIFETIME: '600' }))
  t.equal(r.status, 0)
  t.equal(r.stderr, '')
  const pid = Number(readFileSync(pidFile, 'utf8'))
  t.ok(alive(pid))
  t.teardown(() => alive(pid) && process.kill(pid, 'SIGKILL'))
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')
  t.equal(Number(stat[3]), pid, 'its own session')
  t.equal(Number(stat[4]), 0, 'no controlling terminal')
  t.equal(readFileSync(`/proc/${pid}/cmdline`, 'utf8').length > 0, true)
  const { readlinkSync } = await import('node:fs')
  t.equal(readlinkSync(`/proc/${pid}/cwd`), '/')
  t.equal(readlinkSync(`/proc/${pid}/fd/0`), '/dev/null')
  t.equal(readlinkSync(`/proc/${pid}/fd/2`), '/dev/null')
  await waitFor(() => f.runs().length, 10000, 'ssh')
  t.same(f.runs()[0]!.args, ['-N', 'h'], '-f is not passed on')
  t.notOk('AUTOSSH_DAEMON_READY_FD' in Object.fromEntries(readFileSync(`/proc/${f.runs()[0]!.pid}/environ`, 'utf8').split('\0').map(kv => kv.split('='))), 'no private variable for ssh')
  process.kill(pid, 'SIGTERM')
  await waitFor(() => !alive(pid), 10000, 'the daemon to exit')
  t.notOk(existsSync(pidFile), 'pid file removed')
  t.notOk(alive(f.runs()[0]!.pid), 'ssh gone')
  t.ok(f.messages().includes('received signal to exit (15)'))
})

t.test('-f sets the gate time to 0', async t => {
  const f = new Fake(['255', '255', '0'])
  t.teardown(() => f.cleanup())
  t.equal((await runAutossh(['-f', '-M', '0', 'h'], f.env())).status, 0)
  await waitFor(() => f.messages().includes('ssh exited with status 0; autossh exiting'), 10000, 'the end')
  t.equal(f.runs().length, 3)
})

t.test('-f with a relative log file logs where the user stood', async t => {
  const f = new Fake(['0'])
  t.teardown(() => f.cleanup())
  const { start } = await import('../helpers/autossh.js')
  const r = start(['-f', '-M', '0', 'h'], { AUTOSSH_PATH: f.ssh, AUTOSSH_LOGFILE: 'log' }, f.dir)
  t.equal(await r.done, 0)
  await waitFor(() => f.messages().includes('ssh exited with status 0; autossh exiting'), 10000, 'the log')
})

t.test('a set-up failure in the background reaches the foreground', async t => {
  const f = new Fake(['sleep'])
  t.teardown(() => f.cleanup())
  const r = await runAutossh(['-f', '-M', '0', 'h'], f.env({ AUTOSSH_PIDFILE: '/nonexistent/a.pid' }))
  t.equal(r.status, 1)
  t.equal(r.stderr, 'autossh: cannot open pid file "/nonexistent/a.pid": No such file or directory\n')
  t.equal(f.runs().length, 0)
})

t.test('-f without a log file: the background copy goes on all the same', async t => {
  const f = new Fake(['0'])
  t.teardown(() => f.cleanup())
  const r = await runAutossh(['-f', '-M', '0', 'h'], { AUTOSSH_PATH: f.ssh })
  t.equal(r.status, 0)
  await waitFor(() => f.runs().length, 10000, 'ssh')
})

t.test('-f whose background copy dies without a word (killed before it reports): the foreground exits 1 and says so', async t => {
  const f = new Fake(['sleep'])
  t.teardown(() => f.cleanup())
  // loaded into every node of the run; only the background copy has the report descriptor
  const die = join(f.dir, 'die.cjs')
  writeFileSync(die, `if (process.env.AUTOSSH_DAEMON_READY_FD) process.kill(process.pid, 'SIGKILL')\n`)
  const r = await runAutossh(['-f', '-M', '0', 'h'], f.env({ NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${die}` }))
  t.equal(r.status, 1)
  t.equal(r.stderr, 'autossh: background process exited\n')
  t.equal(f.runs().length, 0, 'no ssh')
})

t.test('-f: told to exit while the background copy starts: the foreground exits 1, the copy goes too, no ssh', async t => {
  const f = new Fake(['sleep'])
  t.teardown(() => f.cleanup())
  // the background copy is held up before it can report, so the signal comes while the foreground waits for it
  const slow = join(f.dir, 'slow.cjs')
  const started = join(f.dir, 'started')
  writeFileSync(
    slow,
    `if (process.env.AUTOSSH_DAEMON_READY_FD) { require('fs').writeFileSync(${JSON.stringify(started)}, String(process.pid)); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2000) }\n`,
  )
  const r = start(['-f', '-M', '0', 'h'], f.env({ NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${slow}` }))
  t.teardown(() => r.child.kill('SIGKILL'))
  const copy = Number(await waitFor(() => existsSync(started) && readFileSync(started, 'utf8'), 10000, 'the background copy'))
  r.child.kill('SIGTERM')
  t.equal(await r.done, 1, 'exit 1, as 1.4g killed before its fork')
  await waitFor(() => !alive(copy), 10000, 'the background copy gone')
  await new Promise(resolve => setTimeout(resolve, 500))
  t.equal(f.runs().length, 0, 'no ssh')
})

t.test('reporting to a foreground that is gone is not an error', async t => {
  const { report } = await import('../../src/os/daemon.js')
  t.doesNotThrow(() => report(987654, 'ready'))
})
