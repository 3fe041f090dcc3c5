// ssh's effective configuration: `ssh -G`'s output, recorded from OpenSSH 9.2
// (test/fixtures/ssh-G.json, from the config test/fixtures/ssh-config) and
// read again from the installed ssh; dbclient's from its arguments; the
// multiplexing trap and its way out, and the forwards' lines, on a real sshd.
// RECORD_SSH_G=1 writes what the installed ssh says into the fixture.
import t, { type Test } from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import net from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { getopt } from '../../src/options/getopt.js'
import { optionString } from '../../src/ssh/flavor.js'
import {
  isCompiled,
  keepaliveWarning,
  sharingNote,
  argvForwards,
  commandLineForwards,
  fromDbclientArgs,
  monitorHostFor,
  noMultiplexArgs,
  parseSshG,
  readEffectiveConfig,
  usesMultiplexing,
  warnNoKeepalive,
  type EffectiveConfig,
} from '../../src/ssh/config.js'
import { showEnd, type ForwardSpec } from '../../src/ssh/forward-spec.js'
import { classify, type SshSaid } from '../../src/ssh/says.js'
import { splitLines } from '../../src/os/lines.js'
import { freePort, makeWorld, own, stopProcess, talk, worldSkip } from '../world/index.js'
import { needs } from '../helpers/needs.js'

const CONFIG = fileURLToPath(new URL('../fixtures/ssh-config', import.meta.url))
const FIXTURE = fileURLToPath(new URL('../fixtures/ssh-G.json', import.meta.url))
const SSH = '/usr/bin/ssh'

/** a forward in one line: "local 127.0.0.1:22884 localhost:1884" */
const show = (fs: readonly ForwardSpec[]) => fs.map(f => `${f.kind} ${showEnd(f.listen)}${f.target === undefined ? '' : ` ${showEnd(f.target)}`}`)

const { forwards: _, ...NO_FORWARDS } = parseSshG('')

interface Case {
  /** ssh's arguments after -G; CONFIG stands for the config file */
  args: string[]
  forwards: string[]
  rest: Omit<EffectiveConfig, 'forwards'>
}

const CASES: Record<string, Case> = {
  forwards: {
    args: ['-F', 'CONFIG', 'fw'],
    // ssh 9.2 lists dynamic, local, remote; its ghost `dynamicforward` lines of the two local forwards to a socket are dropped
    forwards: [
      'dynamic 1080',
      'dynamic 127.0.0.1:1081',
      'dynamic [::1]:1082',
      'local 22883 localhost:1883',
      'local 127.0.0.1:22884 localhost:1884',
      'local [::1]:8080 [::1]:80',
      'local /tmp/l.sock /tmp/r.sock',
      'local 9000 /tmp/r2.sock',
      'local *:9001 host:9',
      'remote 0 localhost:22',
      'remote 8080',
      'remote 127.0.0.1:8081 localhost:81',
      'remote /tmp/rr.sock localhost:82',
    ],
    rest: {
      ...NO_FORWARDS,
      serverAliveInterval: 15,
      serverAliveCountMax: 4,
      controlMaster: 'auto',
      controlPersist: true,
      controlPath: '/tmp/autossh-cm-127.0.0.1:2222',
      addressFamily: 'inet6',
      host: '127.0.0.1',
      port: 2222,
    },
  },
  'command-line': {
    // a remote command is no matter to -G: it prints the configuration all the same
    args: ['-F', 'CONFIG', '-L', '1234:h:1', '-o', 'LocalForward=5555 h:5', '-D', '77', '-L', ':4444:h:4', '-R', '0:h:22', '-R', '9999', '-L', '[::1]:2222:[::2]:2', 'plain', 'echo', 'hi'],
    forwards: ['dynamic 77', 'local 1234 h:1', 'local 5555 h:5', 'local :4444 h:4', 'local [::1]:2222 [::2]:2', 'remote 0 h:22', 'remote 9999'],
    rest: { ...NO_FORWARDS, host: 'example.org', port: 22 },
  },
  persist: {
    args: ['-F', 'CONFIG', '-4', 'persist'],
    forwards: [],
    rest: {
      ...NO_FORWARDS,
      controlMaster: 'autoask',
      controlPersist: true,
      controlPath: 'CONTROL_HASH',
      exitOnForwardFailure: true,
      addressFamily: 'inet',
      logLevel: 'ERROR',
      host: 'broker.example',
      port: 22,
    },
  },
  ask: {
    args: ['-F', 'CONFIG', '-o', 'ControlMaster=yes', '-p', '2022', 'ask'],
    forwards: [],
    rest: { ...NO_FORWARDS, controlMaster: 'yes', controlPersist: true, addressFamily: 'inet', host: 'ask', port: 2022 },
  },
  'ask-persist-no': {
    args: ['-F', 'CONFIG', '-o', 'ControlMaster=ask', '-o', 'ControlPersist=no', 'fw'],
    forwards: [],
    rest: { ...NO_FORWARDS },
  },
  clear: {
    args: ['-F', 'CONFIG', '-L', '2:h:2', 'clear'],
    forwards: [],
    rest: { ...NO_FORWARDS, host: 'clear', port: 22 },
  },
  'no-multiplexing': {
    args: ['-F', 'CONFIG', ...noMultiplexArgs(), 'fw'],
    forwards: [],
    rest: { ...NO_FORWARDS },
  },
}

const argsOf = (c: Case) => c.args.map(a => (a === 'CONFIG' ? CONFIG : a))

interface Recorded {
  program: string
  cases: Record<string, { stdout: string }>
}

/** what a case must read as; the forwards of some cases are not the point */
const check = (t: Test, name: string, c: EffectiveConfig) => {
  const k = CASES[name]!
  const { forwards, ...rest } = c
  if (name === 'forwards' || name === 'command-line' || name === 'clear' || name === 'persist') t.same(show(forwards), k.forwards, `${name}: forwards`)
  if (name === 'ask-persist-no') {
    t.equal(c.controlMaster, 'ask')
    t.equal(c.controlPersist, false)
    t.ok(usesMultiplexing(c), 'ask, with a ControlPath: a master')
    return
  }
  if (name === 'no-multiplexing') {
    t.equal(c.controlMaster, 'no')
    t.equal(c.controlPath, undefined)
    t.equal(c.controlPersist, true, 'ControlPersist stays, and does nothing')
    t.notOk(usesMultiplexing(c), 'our options win over the config')
    return
  }
  const want = { ...k.rest }
  // %C is a hash of the local host name, the user and more
  if (want.controlPath === 'CONTROL_HASH') want.controlPath = c.controlPath!.startsWith('/tmp/autossh-cm-') ? c.controlPath : 'a hash'
  t.same(rest, want, `${name}: the rest`)
}

const recorded = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Recorded

t.test("ssh -G's output, recorded", async t => {
  t.match(recorded.program, /^OpenSSH_/)
  for (const name of Object.keys(CASES)) {
    const r = recorded.cases[name]
    if (t.ok(r, `${name} is recorded`)) check(t, name, parseSshG(r!.stdout))
  }
})

t.test('the installed ssh says the same', { skip: needs('ssh') }, async t => {
  const out: Recorded = { program: spawnSync(SSH, ['-V'], { encoding: 'utf8' }).stderr.trim(), cases: {} }
  for (const [name, c] of Object.entries(CASES)) {
    const r = await readEffectiveConfig(SSH, argsOf(c), 'openssh', 5000)
    if (!t.ok(r.ok, name, r)) continue
    check(t, name, (r as { config: EffectiveConfig }).config)
    out.cases[name] = { stdout: spawnSync(SSH, ['-G', ...argsOf(c)], { encoding: 'utf8' }).stdout }
  }
  if (process.env.RECORD_SSH_G === '1') writeFileSync(FIXTURE, JSON.stringify(out, null, 2) + '\n')
})

t.test("ssh -G's lines: defaults and odd values", async t => {
  t.same(parseSshG(''), {
    forwards: [],
    serverAliveInterval: 0,
    serverAliveCountMax: 3,
    exitOnForwardFailure: false,
    controlMaster: 'no',
    controlPersist: false,
    addressFamily: 'any',
    logLevel: 'INFO',
  })
  const odd = parseSshG(
    ['serveraliveinterval x', 'serveralivecountmax -1', 'controlmaster maybe', 'controlpersist 0', 'addressfamily both', 'port none', '', '   ', 'localforward bad', 'dynamicforward 1 2'].join('\n'),
  )
  t.same(odd, { ...parseSshG(''), port: 22 }, 'what is not understood is ssh\'s default')
  const ghosts = parseSshG(['dynamicforward 9000', 'dynamicforward 9000', 'localforward 9000 /tmp/x', 'localforward [::1]:9000 [h]:1'].join('\n'))
  t.same(show(ghosts.forwards), ['dynamic 9000', 'local 9000 /tmp/x', 'local [::1]:9000 h:1'], 'one ghost per local forward to a socket; a real -D on the same port stays')
  t.equal(parseSshG('controlpath none').controlPath, undefined)
})

t.test('the forwards of a command line', async t => {
  const tokens = (argv: string[], flavor: 'openssh' | 'dropbear' = 'openssh') => getopt(argv, optionString(flavor)).tokens
  t.same(
    show(commandLineForwards(tokens(['-M', '0', '-NL', '1:h:1', '-o', 'LocalForward "2 h:2"', '-oRemoteForward=0 h:3', '-o', 'dynamicforward=4', '-R9', '-D', '5', '-o', 'ServerAliveInterval=5', 'host', '-L', '6:h:6']))),
    ['local 1 h:1', 'local 2 h:2', 'remote 0 h:3', 'dynamic 4', 'remote 9', 'dynamic 5', 'local 6 h:6'],
    'in the order given, -o forms too',
  )
  t.same(commandLineForwards(tokens(['-L', 'bad', 'host'])), [], 'what ssh refuses is none')
  t.same(show(commandLineForwards(tokens(['-o', 'LocalForward=1 h:1', '-L', '2:h:2', 'host'], 'dropbear'), 'dropbear')), ['local 2 h:2'], 'dbclient has no forward options')
  t.same(show(argvForwards(['-L', '20000:127.0.0.1:20000', '-R', '20000:127.0.0.1:20001'])), ['local 20000 127.0.0.1:20000', 'remote 20000 127.0.0.1:20001'])
  t.same(show(argvForwards(['-L', '20000:[::1]:7'], 'dropbear')), ['local 20000 [::1]:7'])
})

t.test("dbclient's, from its arguments", async t => {
  const db = (...argv: string[]) => fromDbclientArgs(getopt(argv, optionString('dropbear')).tokens)
  const c = db('-K', '10', '-I', '600', '-o', 'ExitOnForwardFailure=yes', '-p', '2222', '-L', '127.0.0.1:8080:h:80', '-R', '0:localhost:22', 'me@broker', 'uptime')
  t.same(show(c.forwards), ['local 127.0.0.1:8080 h:80', 'remote 0 localhost:22'])
  t.same({ ...c, forwards: [] }, {
    ...NO_FORWARDS,
    forwards: [],
    serverAliveInterval: 10,
    idleTimeout: 600,
    exitOnForwardFailure: true,
    host: 'broker',
    port: 2222,
  })
  t.match(db('-o', 'exitonforwardfailure = no', 'jump,me@broker/2200'), { exitOnForwardFailure: false, host: 'broker', port: 2200, serverAliveInterval: 0, idleTimeout: 0 })
  t.match(db('broker^2201'), { host: 'broker', port: 2201 })
  t.match(db('-K', 'x', '-p', 'y', 'broker'), { serverAliveInterval: 0, port: 22 })
  t.equal(db('-N').host, undefined)
  t.equal(db('-N').port, undefined)
})

t.test('the helpers', async t => {
  const base = parseSshG('')
  t.notOk(usesMultiplexing(base))
  t.notOk(usesMultiplexing({ ...base, controlMaster: 'auto' }), 'no ControlPath: no socket, no master')
  t.ok(usesMultiplexing({ ...base, controlMaster: 'auto', controlPath: '/tmp/cm' }))
  t.ok(usesMultiplexing({ ...base, controlPersist: true, controlPath: '/tmp/cm' }))
  t.ok(usesMultiplexing({ ...base, controlPath: '/tmp/cm' }) === false, 'ControlMaster no, no ControlPersist: only a client of an existing master... which -G cannot see')
  t.same(noMultiplexArgs(), ['-o', 'ControlMaster=no', '-o', 'ControlPath=none'])
  t.ok(warnNoKeepalive(base, true))
  t.notOk(warnNoKeepalive(base, false), 'the monitor watches')
  t.notOk(warnNoKeepalive({ ...base, serverAliveInterval: 30 }, true))
  t.equal(monitorHostFor(base), '127.0.0.1')
  t.equal(monitorHostFor({ ...base, addressFamily: 'inet' }), '127.0.0.1')
  t.equal(monitorHostFor({ ...base, addressFamily: 'inet6' }), '::1')
})

/** a stand-in for ssh: a shell script */
const fake = (dir: string, name: string, body: string): string => {
  const path = join(dir, name)
  writeFileSync(path, `#!/bin/sh\n${body}\n`)
  chmodSync(path, 0o755)
  return path
}

t.test('readEffectiveConfig: a failure is an answer, never an exception', async t => {
  const dir = t.testdir()
  t.same(await readEffectiveConfig(SSH, ['-F', CONFIG, '-o', 'NoSuchOption=1', 'fw'], 'openssh'), {
    ok: false,
    why: `ssh -G exited with status 255: command-line: line 0: Bad configuration option: nosuchoption`,
  })
  t.same(await readEffectiveConfig(fake(dir, 'fail', 'exit 3'), [], 'openssh'), { ok: false, why: 'ssh -G exited with status 3' })
  t.same(await readEffectiveConfig(fake(dir, 'slow', 'exec sleep 5'), [], 'openssh', 200), { ok: false, why: 'ssh -G gave no answer in 200 ms' })
  t.same(await readEffectiveConfig(fake(dir, 'killed', 'kill -TERM $$'), [], 'openssh'), { ok: false, why: 'ssh -G was killed by SIGTERM' })
  t.same(await readEffectiveConfig(fake(dir, 'echo', 'echo "$@"; echo a warning >&2'), ['host'], 'openssh'), { ok: false, why: 'ssh -G printed no configuration: a warning' })
  t.same(await readEffectiveConfig(fake(dir, 'chatty', 'echo hostname h; exec head -c 3000000 /dev/zero'), [], 'openssh'), { ok: false, why: 'ssh -G printed more than a configuration' })
  t.same(await readEffectiveConfig(join(dir, 'missing'), [], 'openssh'), { ok: false, why: `cannot run ${join(dir, 'missing')}: No such file or directory` })
  const args = fake(dir, 'args', 'printf "hostname h\\n"; printf "%s\\n" "$@" >&2')
  t.same(await readEffectiveConfig(args, ['-N', 'host'], 'openssh'), { ok: true, config: { ...parseSshG(''), host: 'h' } }, '-G first, then the arguments')
  const db = await readEffectiveConfig(join(dir, 'missing'), ['-K', '5', '-L', '1:h:1', 'host'], 'dropbear')
  t.match(db, { ok: true, config: { serverAliveInterval: 5, host: 'host', forwards: [{ kind: 'local' }] } }, 'dbclient is not run')
})

// ---- a real sshd --------------------------------------------------------

/** the world's options, with another config file and ssh's own log level */
const sshArgv = (w: Awaited<ReturnType<typeof makeWorld>>, config: string) =>
  w.sshOptions.map((o, i) => (w.sshOptions[i - 1] === '-F' ? config : o === 'LogLevel=ERROR' ? 'LogLevel=INFO' : o))

const exited = (c: ReturnType<typeof spawn>, ms: number): Promise<number | null | 'running'> =>
  new Promise(resolve => {
    const timer = setTimeout(() => resolve('running'), ms)
    c.once('exit', code => {
      clearTimeout(timer)
      resolve(code)
    })
  })

t.test('on a real sshd', { skip: worldSkip() }, async t => {
  const w = await makeWorld()
  t.teardown(() => w.close())
  const dir = t.testdir()

  await t.test('multiplexing: a master in the background, or ssh holding its own', async t => {
    const muxConfig = join(dir, 'mux_config')
    // a unix socket: under the system's temporary directory, not the checkout (107 bytes at most)
    const sockets = mkdtempSync(join(tmpdir(), 'cm-'))
    t.teardown(() => rmSync(sockets, { recursive: true, force: true }))
    const socket = join(sockets, 'cm')
    writeFileSync(muxConfig, `Host *\n  ControlMaster auto\n  ControlPath ${socket}\n  ControlPersist 10m\n`)
    const base = sshArgv(w, muxConfig)
    const port = await freePort()
    const user = [...base, '-N', '-L', `127.0.0.1:${port}:127.0.0.1:${w.targetPort}`, w.host]

    const read = await readEffectiveConfig(SSH, user, 'openssh')
    t.ok(read.ok && usesMultiplexing(read.config), 'ssh -G shows it')
    const fixed = await readEffectiveConfig(SSH, [...noMultiplexArgs(), ...user], 'openssh')
    t.ok(fixed.ok && !usesMultiplexing(fixed.config), 'and that our options undo it')

    // the trap: ssh hands all to a master it puts in the background, and exits 0 at once
    const plain = own(spawn(SSH, user, { stdio: 'ignore' }))
    t.equal(await exited(plain, 10_000), 0, 'plain ssh exits 0')
    t.ok(existsSync(socket), 'leaving a master behind')
    t.equal(await talk(port, 'hi', 3000), 'ok hi', 'which holds the forward')
    spawnSync(SSH, [...base, '-O', 'exit', w.host], { stdio: 'ignore', timeout: 5000 })

    const port2 = await freePort()
    const held = own(spawn(SSH, [...noMultiplexArgs(), ...base, '-N', '-L', `127.0.0.1:${port2}:127.0.0.1:${w.targetPort}`, w.host], { stdio: 'ignore' }))
    t.teardown(() => stopProcess(held))
    t.equal(await exited(held, 1500), 'running', 'with our options ssh stays')
    let answer: string | null = null
    for (let i = 0; i < 50 && answer === null; i++) answer = await talk(port2, 'hi', 1000)
    t.equal(answer, 'ok hi', 'holding the forward itself')
    t.notOk(existsSync(socket), 'and no master, no socket')
    await stopProcess(held)
  })

  await t.test("the forwards' lines at LogLevel INFO", async t => {
    const closed = await freePort()
    const [local, remote] = [await freePort(), await freePort()]
    const argv = [
      ...sshArgv(w, '/dev/null'),
      '-o', 'ExitOnForwardFailure=no',
      '-N',
      '-L', `127.0.0.1:${local}:127.0.0.1:${closed}`,
      '-R', `0:127.0.0.1:${w.targetPort}`,
      '-R', `127.0.0.1:${remote}:127.0.0.1:${closed}`,
      w.host,
    ]
    const ssh = own(spawn(SSH, argv, { stdio: ['ignore', 'ignore', 'pipe'] }))
    t.teardown(() => stopProcess(ssh))
    const heard: SshSaid[] = []
    const lines = splitLines(l => {
      const s = classify(l)
      if (s) heard.push(s)
    })
    ssh.stderr!.on('data', (d: Buffer) => lines.push(d))
    const until = async (n: number) => {
      for (let i = 0; i < 100 && heard.length < n; i++) await new Promise(r => setTimeout(r, 50))
    }
    await until(1)
    t.match(heard[0], { kind: 'remote-forward-allocated', target: `127.0.0.1:${w.targetPort}` })
    const poke = (port: number) =>
      new Promise<void>(resolve => {
        const s = net.connect(port, '127.0.0.1', () => s.end('hi\n'))
        s.on('error', () => resolve())
        s.on('close', () => resolve())
      })
    for (let i = 0; i < 50 && heard.length < 2; i++) {
      await poke(local)
      await until(2)
    }
    t.match(heard[1], { kind: 'forward-open-failed', reason: 'connect failed: Connection refused' }, "a -L's target refuses: the line names no forward")
    await poke(remote)
    await until(3)
    t.same(heard[2], { kind: 'forward-connect-failed', host: '127.0.0.1', port: closed }, "a -R's target refuses: ssh names it")
    await stopProcess(ssh)
  })
})

t.test('isCompiled: ssh itself is asked for its configuration, a wrapper script is not', async t => {
  const dir = t.testdir({ 'wrapper': '#!/bin/sh\nexec ssh "$@"\n', 'short': 'ab' })
  t.equal(isCompiled(process.execPath), true, 'a compiled program')
  t.equal(isCompiled(join(dir, 'wrapper')), false, 'a script')
  t.equal(isCompiled(join(dir, 'short')), false, 'too short to say')
  t.equal(isCompiled(join(dir, 'missing')), false, 'not there')
})

t.test('the lines autossh logs of the configuration', async t => {
  const c = parseSshG('hostname h\ncontrolmaster auto\ncontrolpath /tmp/%C\ncontrolpersist no\n')
  t.equal(sharingNote(c), "ssh's configuration shares connections (ControlMaster auto): autossh's ssh keeps a connection of its own (ControlMaster=no, ControlPath=none)")
  t.equal(sharingNote({ ...c, controlPersist: true }), "ssh's configuration shares connections (ControlMaster auto, ControlPersist): autossh's ssh keeps a connection of its own (ControlMaster=no, ControlPath=none)")
  t.equal(keepaliveWarning('openssh'), 'monitoring is off and ssh has no keepalive (ServerAliveInterval): a dead connection may go unnoticed')
  t.equal(keepaliveWarning('dropbear'), 'monitoring is off and ssh has no keepalive (dbclient -K): a dead connection may go unnoticed')
})
