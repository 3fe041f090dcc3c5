// The command as a whole: bad input, version, usage, log targets, pid file.
import t, { type Test } from 'tap'
import { existsSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import net from 'node:net'
import { spawnSync } from 'node:child_process'
import { alive, Fake, runAutossh, start, waitFor } from './helpers/autossh.js'
import { IN_NAMESPACE, RECEIVER } from './helpers/devlog.js'
import { needs, path as where } from './helpers/needs.js'
import { main } from '../src/main.js'
import { listen } from '../src/monitor/listen.js'
import { freePortPair } from './world/index.js'

/** can a mount namespace with a /dev of our own be had (root)? */
const devLog =
  needs('unshare', 'perl') ||
  (spawnSync(where('unshare'), ['-m', 'true'], { stdio: 'ignore', timeout: 5000 }).status === 0 ? false : 'no mount namespace (unshare -m) for a /dev/log of our own')

/** exactly one line on stderr: autossh's message, as a fatal line or a stderr log line */
const oneLine = (message: string) =>
  new RegExp(`^(autossh|\\d{4}/\\d\\d/\\d\\d \\d\\d:\\d\\d:\\d\\d autossh\\[\\d+\\]): ${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\n$`)

const fake = (t: Test, plan: string[]) => {
  const f = new Fake(plan)
  t.teardown(() => f.cleanup())
  return f
}

t.test('-V prints the version on stdout', async t => {
  const r = await runAutossh(['-V'])
  t.equal(r.status, 0)
  t.match(r.stdout, /^autossh 1\.4g\S*\n$/)
})

t.test('usage: no host, unknown option', async t => {
  for (const args of [[], ['-N'], ['-M', '0'], ['-M', '0', '-Z', 'host']]) {
    const r = await runAutossh(args)
    t.equal(r.status, 1, args.join(' '))
    t.match(r.stderr, /usage: autossh \[-V\] \[-M monitor_port\[:echo_port\]\] \[-f\] \[SSH_OPTIONS\]/)
    t.match(r.stderr, /AUTOSSH_DEBUG/)
  }
  t.match((await runAutossh(['-M', '0', '-Z', 'host'])).stderr, /^autossh: invalid option -- 'Z'\n/)
})

t.test('bad input: one line on stderr naming the value, status 1, nothing left behind', async t => {
  const f = fake(t, ['0'])
  // environment values are checked before the log file is opened; -M after, as 1.4g
  const cases: [Record<string, string>, string[], string, 'no log' | 'logged'][] = [
    [{ AUTOSSH_POLL: 'abc' }, ['-M', '0', 'h'], 'invalid poll time "abc"', 'no log'],
    [{ AUTOSSH_GATETIME: '-1' }, ['-M', '0', 'h'], 'invalid gate time "-1"', 'no log'],
    [{ AUTOSSH_MAXSTART: '-2' }, ['-M', '0', 'h'], 'invalid max start number "-2"', 'no log'],
    [{ AUTOSSH_LOGLEVEL: '9' }, ['-M', '0', 'h'], 'invalid log level "9"', 'no log'],
    [{ AUTOSSH_MESSAGE: 'x'.repeat(65) }, ['-M', '0', 'h'], 'echo message may only be 64 bytes long', 'no log'],
    [{}, ['-M', 'abc', 'h'], 'invalid port "abc"', 'logged'],
    [{}, ['-M', '65535', 'h'], 'monitor port (65535) out of range', 'logged'],
    [{}, ['-M', '20000:x', 'h'], 'invalid echo port  "x"', 'logged'],
    [{ AUTOSSH_PORT: 'abc' }, ['-M', '0', 'h'], 'invalid port "abc"', 'logged'],
  ]
  for (const [env, args, message, logged] of cases) {
    const pid = join(f.dir, 'p.pid')
    rmSync(f.log, { force: true })
    const r = await runAutossh(args, f.env({ ...env, AUTOSSH_PIDFILE: pid }))
    t.equal(r.status, 1, message)
    t.match(r.stderr, oneLine(message))
    t.equal(f.runs().length, 0, 'no ssh')
    t.notOk(existsSync(pid), 'no pid file')
    if (logged === 'no log') t.notOk(existsSync(f.log), 'no log file')
    else t.same(f.messages(), [message], 'the log has it too')
  }
})

t.test('a log file that cannot be opened', async t => {
  const r = await runAutossh(['-M', '0', 'h'], { AUTOSSH_LOGFILE: '/nonexistent/dir/log' })
  t.equal(r.status, 1)
  t.match(r.stderr, oneLine('/nonexistent/dir/log: No such file or directory'))
})

t.test('an ssh that cannot be executed', async t => {
  const f = fake(t, ['0'])
  for (const [path, why] of [
    [join(f.dir, 'nope'), 'No such file or directory'],
    [f.dir, 'Permission denied'],
    [join(f.dir, 'plan'), 'Permission denied'],
    ['no-such-ssh-anywhere', 'No such file or directory'],
  ]) {
    const r = await runAutossh(['-M', '0', 'h'], f.env({ AUTOSSH_PATH: path! }))
    t.equal(r.status, 1, path)
    t.equal(f.messages().at(-1), `${path}: ${why}`)
    t.equal(r.stderr, `autossh: ${path}: ${why}\n`, 'on stderr too')
  }
})

t.test('AUTOSSH_DEBUG copies every line to stderr, at debug level', async t => {
  const f = fake(t, ['0'])
  const r = await runAutossh(['-M', '0', 'h'], f.env({ AUTOSSH_DEBUG: '1', AUTOSSH_GATETIME: '0' }))
  t.equal(r.status, 0)
  t.match(r.stderr, /^autossh\[\d+\]: checking for grace period, tries = 0$/m)
  t.match(r.stderr, /^autossh\[\d+\]: ssh exited with status 0; autossh exiting$/m)
  t.ok(f.messages().includes('checking for grace period, tries = 0'))
})

t.test('without a log file or syslog, lines go to stderr', async t => {
  const f = fake(t, ['0'])
  const r = await runAutossh(['-M', '0', 'h'], { AUTOSSH_PATH: f.ssh, AUTOSSH_GATETIME: '0' })
  t.match(r.stderr, /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d autossh\[\d+\]: starting ssh \(count 1\)$/m)
})

t.test('AUTOSSH_LOGLEVEL filters', async t => {
  const f = fake(t, ['0'])
  await runAutossh(['-M', '0', 'h'], f.env({ AUTOSSH_LOGLEVEL: '5', AUTOSSH_GATETIME: '0' }))
  t.same(f.messages(), [])
  await runAutossh(['-M', '0', 'h'], f.env({ AUTOSSH_LOGLEVEL: '3' }))
  t.same(f.messages(), ['ssh exited prematurely with status 0; autossh exiting'])
})

t.test('the pid file: written once set up, removed on the way out', async t => {
  const f = fake(t, ['sleep'])
  const pid = join(f.dir, 'autossh.pid')
  const r = start(['-M', '0', 'h'], f.env({ AUTOSSH_PIDFILE: pid }))
  await waitFor(() => existsSync(pid), 10000, 'pid file')
  t.equal(readFileSync(pid, 'utf8'), `${r.child.pid}\n`)
  r.child.kill('SIGTERM')
  await r.done
  t.notOk(existsSync(pid))
  t.same(readdirSync(f.dir).filter(n => n.includes('pid')), [], 'no temporary file either')

  const g = fake(t, ['255'])
  const gp = join(g.dir, 'a.pid')
  t.equal(await start(['-M', '0', 'h'], g.env({ AUTOSSH_PIDFILE: gp })).done, 1)
  t.notOk(existsSync(gp), 'gone after a fatal exit too')
})

t.test('a crash takes the pid file and the status file with it', async t => {
  const f = fake(t, ['sleep'])
  const pid = join(f.dir, 'autossh.pid')
  const status = join(f.dir, 'status.json')
  const crashed = join(f.dir, 'crashed')
  // loaded into autossh before its own code: an uncaught exception once the status file is there
  const crash = join(f.dir, 'crash.cjs')
  writeFileSync(
    crash,
    `const { existsSync, writeFileSync } = require('node:fs')
const timer = setInterval(() => {
  if (!existsSync(${JSON.stringify(status)})) return
  clearInterval(timer)
  writeFileSync(${JSON.stringify(crashed)}, '')
  throw new Error('a crash, for the test')
}, 20)
`,
  )
  // NODE_OPTIONS of its own, without tap's coverage hook
  const r = start(['-M', '0', 'h'], f.env({ AUTOSSH_PIDFILE: pid, AUTOSSH_STATUSFILE: status, NODE_OPTIONS: `--require=${crash}` }))
  t.teardown(() => r.child.kill('SIGKILL'))
  t.equal(await r.done, 1)
  t.ok(existsSync(crashed), 'it crashed')
  t.notOk(existsSync(status), 'no status file')
  t.notOk(existsSync(pid), 'no pid file')
})

t.test('the pid file is never written through a planted symlink', async t => {
  const f = fake(t, ['sleep'])
  const victim = join(f.dir, 'victim')
  writeFileSync(victim, 'precious\n')
  const pid = join(f.dir, 'autossh.pid')
  symlinkSync(victim, pid)
  const r = start(['-M', '0', 'h'], f.env({ AUTOSSH_PIDFILE: pid }))
  await waitFor(() => f.runs().length, 10000, 'ssh')
  t.equal(readFileSync(victim, 'utf8'), 'precious\n')
  t.equal(readFileSync(pid, 'utf8'), `${r.child.pid}\n`)
  r.child.kill('SIGTERM')
  await r.done
})

t.test('a pid file in a missing directory is fatal', async t => {
  const f = fake(t, ['sleep'])
  const r = await runAutossh(['-M', '0', 'h'], f.env({ AUTOSSH_PIDFILE: '/nonexistent/x.pid' }))
  t.equal(r.status, 1)
  t.equal(r.stderr, 'autossh: cannot open pid file "/nonexistent/x.pid": No such file or directory\n')
  t.equal(f.runs().length, 0)
})

t.test('a status file that cannot be written is fatal, and leaves no pid file', async t => {
  const f = fake(t, ['sleep'])
  const pid = `${f.dir}/x.pid`
  const r = await runAutossh(['-M', '0', 'h'], f.env({ AUTOSSH_STATUSFILE: '/nonexistent/s.json', AUTOSSH_PIDFILE: pid }))
  t.equal(r.status, 1)
  t.equal(r.stderr, 'autossh: cannot open status file "/nonexistent/s.json": No such file or directory\n')
  t.equal(f.runs().length, 0, 'no ssh')
  t.notOk(existsSync(pid), 'no pid file')
})

t.test('the monitor port in use: a clean error, status 1', async t => {
  const f = fake(t, ['sleep'])
  const busy = net.createServer()
  await new Promise<void>(r => busy.listen(0, '127.0.0.1', r))
  const port = (busy.address() as net.AddressInfo).port
  t.teardown(() => busy.close())
  const r = await runAutossh(['-M', String(port - 1), 'h'], f.env())
  t.equal(r.status, 1)
  t.equal(r.stderr, `autossh: bind on 127.0.0.1:${port}: Address already in use\n`)
  t.equal(f.messages().at(-1), `bind on 127.0.0.1:${port}: Address already in use`)
  t.equal(f.runs().length, 0)
})

t.test('SIGKILL of autossh takes ssh with it (no orphan holding the ports)', async t => {
  const f = fake(t, ['sleep'])
  const r = start(['-M', '0', 'h'], f.env())
  await waitFor(() => f.messages().some(m => m.startsWith('ssh child pid')), 10000, 'ssh')
  // the stand-in may not have written down its argv yet
  await waitFor(() => f.runs().length, 10000, 'ssh to record its start')
  const ssh = f.runs()[0]!.pid
  r.child.kill('SIGKILL')
  await r.done
  await waitFor(() => !alive(ssh), 1000, 'ssh to die within a second')
  t.pass('ssh died with its parent')
})

t.test('with no syslog socket named, the system\'s is tried, and a fatal line still reaches stderr', async t => {
  const r = await runAutossh(['-M', '0', 'h'], { AUTOSSH_SYSLOG_SOCKET: undefined, AUTOSSH_POLL: 'abc' })
  t.equal(r.status, 1)
  t.match(r.stderr, oneLine('invalid poll time "abc"'))
})

t.test('a set-up failure after the monitor port was bound closes it before main returns', async t => {
  const f = fake(t, ['sleep'])
  const port = await freePortPair()
  const status = await main(['-M', String(port), 'h'], {
    AUTOSSH_PATH: f.ssh,
    AUTOSSH_LOGFILE: f.log,
    AUTOSSH_SYSLOG_SOCKET: '/nonexistent/log',
    AUTOSSH_PIDFILE: '/nonexistent/x.pid',
  })
  t.equal(status, 1)
  t.equal(f.messages().at(-1), 'cannot open pid file "/nonexistent/x.pid": No such file or directory')
  t.equal(f.runs().length, 0)
  const again = await listen(port + 1)
  t.pass(`port ${port + 1} free again`)
  await new Promise(r => again.close(r))
})

t.test('with AUTOSSH_SYSLOG_SOCKET unset the system log is /dev/log', { skip: devLog }, async t => {
  const f = fake(t, ['0'])
  const out = join(f.dir, 'syslog')
  const r = start(['-M', '0', 'h'], { ...f.env({ AUTOSSH_GATETIME: '0' }), AUTOSSH_LOGFILE: undefined, AUTOSSH_SYSLOG_SOCKET: undefined, RECEIVER }, undefined, [
    where('unshare'), '-m', 'sh', '-c', IN_NAMESPACE, 'sh', out,
  ])
  t.equal(await r.done, 0, r.stderr())
  const said = existsSync(out) ? readFileSync(out, 'utf8').split('\0').filter(Boolean) : []
  t.match(said[0], /^<14>\w{3} [ \d]\d \d\d:\d\d:\d\d autossh\[\d+\]: port set to 0, monitoring disabled\n?$/, 'the first line, at user.info')
  t.ok(said.some(l => l.includes('ssh exited with status 0; autossh exiting')), 'the last')
  t.notOk(existsSync(f.log), 'no log file')
  t.equal(r.stderr(), '', 'nothing on stderr')
})

/** the stand-in's lines and connections, once `probes` probes passed */
const probed = async (t: Test, env: Record<string, string>, probes: number) => {
  const f = fake(t, ['forward'])
  const port = await freePortPair()
  const r = start(['-M', String(port), 'h'], f.env({ AUTOSSH_LOGLEVEL: '7', AUTOSSH_POLL: '1', AUTOSSH_FIRST_POLL: '2', ...env }))
  t.teardown(() => r.child.kill('SIGKILL'))
  await waitFor(() => f.messages().filter(m => m === 'connection ok').length >= probes, 15000, `${probes} passed probes`)
  r.child.kill('SIGTERM')
  await r.done
  return { lines: f.read('lines').split('\n').filter(Boolean), accepts: f.read('accepts').split('\n').filter(Boolean).length, messages: f.messages() }
}

t.test('AUTOSSH_MESSAGE rides at the end of every test line', { skip: needs('python3') }, async t => {
  const { lines } = await probed(t, { AUTOSSH_MESSAGE: 'hello there' }, 2)
  t.ok(lines.length >= 2)
  for (const l of lines) t.match(l, /^\S+ autossh \d+ \d+ hello there\r$/)
})

t.test('AUTOSSH_PROBE_CONNECTION: kept, one test connection for all probes; per-probe, one for each', { skip: needs('python3') }, async t => {
  const kept = await probed(t, {}, 3)
  t.equal(kept.accepts, 1, 'keep (the default)')
  t.equal((await probed(t, { AUTOSSH_PROBE_CONNECTION: 'keep' }, 3)).accepts, 1, 'keep')
  const each = await probed(t, { AUTOSSH_PROBE_CONNECTION: 'per-probe' }, 3)
  t.equal(each.accepts, each.messages.filter(m => m === 'connection ok').length, 'per-probe')
  t.ok(each.accepts >= 3)
})

t.test('a silent stranger on the listening port is closed after the net timeout (half the poll time, when short)', async t => {
  const f = fake(t, ['sleep'])
  const port = await freePortPair()
  const r = start(['-M', String(port), 'h'], f.env({ AUTOSSH_POLL: '2' }))
  t.teardown(() => r.child.kill('SIGKILL'))
  await waitFor(() => f.messages().some(m => m.startsWith('ssh child pid')), 10000, 'ssh')
  const began = Date.now()
  const s = net.connect(port + 1, '127.0.0.1')
  s.on('error', () => {})
  const took = await new Promise<number | null>(resolve => {
    const timer = setTimeout(() => resolve(null), 5000)
    s.once('close', () => (clearTimeout(timer), resolve(Date.now() - began)))
  })
  s.destroy()
  t.ok(took !== null && took >= 800 && took < 3000, `closed after about 1 s (took ${took} ms)`)
  r.child.kill('SIGTERM')
  await r.done
})
