// Side by side with the real autossh 1.4g (Debian's /usr/lib/autossh/autossh):
// the same command line and environment, the same stand-in ssh, and the
// same argv for ssh, exit status and log lines out of both. Where we differ
// on purpose (see DIFFERENCES in the manual), the case says what we do.
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { CLI, Fake } from './helpers/autossh.js'
import { freePortPair } from './world/index.js'

const AUTOSSH_14G = '/usr/lib/autossh/autossh'
const skip = existsSync(AUTOSSH_14G) ? false : `${AUTOSSH_14G} is missing (apt-get install autossh)`

interface Outcome {
  status: number | string
  /** ssh's argv, one entry per start */
  runs: string[][]
  /** log lines without time and pids */
  log: string[]
  /** stderr, with the program's name as autossh */
  stderr: string
}

type Env = Record<string, string>

const runOne = (program: string[], args: string[], env: Env, plan: string[]): Promise<Outcome> => {
  const f = new Fake(plan)
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AUTOSSH_')))
  const child = spawn(program[0]!, [...program.slice(1), ...args], {
    env: { ...clean, AUTOSSH_SYSLOG_SOCKET: '/nonexistent/log', ...f.env(), ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr!.on('data', d => (stderr += d))
  const timer = setTimeout(() => child.kill('SIGKILL'), 15000)
  return new Promise(resolve =>
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      const outcome = {
        status: code ?? signal!,
        runs: f.runs().map(r => r.args),
        log: f.messages().map(m => m.replace(/^ssh child pid is \d+$/, 'ssh child pid is P')),
        stderr: stderr.replaceAll(AUTOSSH_14G, 'autossh'),
      }
      f.cleanup()
      resolve(outcome)
    }),
  )
}

/** run 1.4g, then ours (one after the other: both bind the monitor port) */
const both = async (args: string[], env: Env = {}, plan = ['0']) => ({
  theirs: await runOne([AUTOSSH_14G], args, env, plan),
  ours: await runOne([process.execPath, CLI], args, env, plan),
})

/**
 * the same argv for ssh, status and log; not stderr: notes that 1.4g sends to
 * syslog before its log file is open come to stderr here, where there is no syslog
 */
const same = async (t: Test, args: string[], env: Env = {}, plan = ['0']) => {
  const { theirs, ours } = await both(args, env, plan)
  t.same({ ...ours, stderr: '' }, { ...theirs, stderr: '' }, args.join(' ') || '(no arguments)')
  return ours
}

t.test('ssh gets the same argv', { skip }, async t => {
  const gate = { AUTOSSH_GATETIME: '0' }
  const [p, q] = [await freePortPair(), await freePortPair()]
  const cases: string[][] = [
    ['-M', '0', 'host'],
    ['-M0', 'host'],
    ['-M', '0', '-N', '-L', '8080:localhost:80', 'host'],
    ['-M', String(p), 'host'],
    [`-M${p}`, '-N', 'host'],
    ['-M', `${p}:7`, 'host'],
    ['-M', `${q}`, '-N', '-M', `${p}`, 'host'],
    ['host', '-M', '0', '-N'],
    ['-N', 'host', '-M', String(p), '-L', '1:h:2', 'uptime'],
    ['-M', '0', 'host', '--', 'ls', '-l'],
    ['-M', '0', '--', 'host', '-M', '5'],
    ['-M', '0', 'host', '--', 'a', '--', 'b'],
    ['--', '-M', '0', 'host'],
    ['-M', '0', '-p2222', '-oBatchMode=yes', 'host'],
    ['-M', '0', '-p', '2222', '-o', 'ServerAliveInterval=30', 'host'],
    ['-M', '0', '-W', 'h:22', 'host'],
    ['-M', '0', '-E', 'log.txt', '-F', '/dev/null', 'host'],
    ['-M', '0', '-D', '1080', '-C', '-q', 'host'],
    ['-M', '0', '-46Ax', 'host'],
    ['-M', '0', '-vvv', '-T', 'host'],
    ['-M', '0', '-i', '/dev/null', '-l', 'user', 'host'],
    ['-M', '0', '-R', '2222:localhost:22', '-o', 'ExitOnForwardFailure=yes', 'host'],
    ['-M', '0', '-S', 'none', '-O', 'check', 'host'],
    ['-M', '0', '-c', 'aes128-ctr', '-m', 'hmac-sha2-256', '-b', '127.0.0.1', 'host'],
    ['-M', '0', '-e', 'none', '-w', '0:1', '-Q', 'cipher', 'host'],
    ['-M', '0', 'user@host', 'echo', 'a b', 'c'],
    ['-M', '0', '-Np', '22', 'host'],
    ['-M', '0', '-Lp:h:1', 'host'],
  ]
  for (const args of cases) await same(t, args, gate)
})

t.test('AUTOSSH_PORT without -M: forwards before the first argument', { skip }, async t => {
  const p = await freePortPair()
  await same(t, ['-N', 'host'], { AUTOSSH_PORT: String(p), AUTOSSH_GATETIME: '0' })
  await same(t, ['host'], { AUTOSSH_PORT: '0', AUTOSSH_GATETIME: '0' })
  await same(t, ['host'], { AUTOSSH_PORT: `${p}:7`, AUTOSSH_GATETIME: '0' })
})

t.test('usage and bad options: the same status and the same first words', { skip }, async t => {
  for (const args of [['-M', '0'], ['host'], ['-M'], ['-Z', '-M', '0', 'host'], ['-M', '0', 'host', 'ls', '-l'], []]) {
    const { theirs, ours } = await both(args)
    t.equal(ours.status, theirs.status, `${args.join(' ')}: status`)
    t.same(ours.runs, theirs.runs, 'no ssh')
    t.equal(ours.stderr.split('\n')[0], theirs.stderr.split('\n')[0], 'the first line')
    t.match(ours.stderr, /usage: autossh \[-V\] \[-M monitor_port\[:echo_port\]\] \[-f\] \[SSH_OPTIONS\]/)
  }
})

t.test('-V', { skip }, async t => {
  const { theirs, ours } = await both(['-V'])
  t.equal(ours.status, theirs.status)
  t.same(ours.runs, [])
})

t.test('a bad -M: the same message in the log, the same status', { skip }, async t => {
  for (const spec of ['abc', '65535', '70000', '-1', '20000:abc', '20000:0', '20000:', ':7']) {
    const { theirs, ours } = await both(['-M', spec, 'host'])
    t.same({ ...ours, stderr: '' }, { ...theirs, stderr: '' }, `-M ${spec}`)
    // ours also says it where a person at a terminal sees it
    t.match(ours.stderr, theirs.log[0] ?? '')
  }
})

t.test('bad environment values: the same status, no ssh; ours says why on stderr', { skip }, async t => {
  const cases: [Env, string][] = [
    [{ AUTOSSH_POLL: 'abc' }, 'invalid poll time "abc"'],
    [{ AUTOSSH_POLL: '0' }, 'invalid poll time "0"'],
    [{ AUTOSSH_FIRST_POLL: 'x' }, 'invalid first poll time "x"'],
    [{ AUTOSSH_GATETIME: '-1' }, 'invalid gate time "-1"'],
    [{ AUTOSSH_MAXSTART: '-2' }, 'invalid max start number "-2"'],
    [{ AUTOSSH_MAXLIFETIME: 'x' }, 'invalid max lifetime "x"'],
    [{ AUTOSSH_LOGLEVEL: '9' }, 'invalid log level "9"'],
    [{ AUTOSSH_MESSAGE: 'x'.repeat(65) }, 'echo message may only be 64 bytes long'],
  ]
  for (const [env, message] of cases) {
    const { theirs, ours } = await both(['-M', '0', 'host'], env)
    t.same({ ...ours, stderr: '' }, { ...theirs, stderr: '' }, message)
    t.match(ours.stderr, message)
  }
})

t.test('good environment values change nothing on the way to ssh', { skip }, async t => {
  const cases: Env[] = [
    { AUTOSSH_POLL: '5' },
    { AUTOSSH_POLL: '40', AUTOSSH_FIRST_POLL: '10' },
    { AUTOSSH_MAXLIFETIME: '100' },
    { AUTOSSH_MESSAGE: 'x'.repeat(64) },
    { AUTOSSH_LOGLEVEL: '3' },
    { AUTOSSH_LOGLEVEL: '5' },
    { AUTOSSH_MAXSTART: '-1' },
  ]
  for (const env of cases) await same(t, ['-M', '0', 'host'], { AUTOSSH_GATETIME: '0', ...env })
})

t.test('what an exit of ssh means', { skip }, async t => {
  const cases: [Env, string[]][] = [
    [{ AUTOSSH_GATETIME: '0' }, ['255', '255', '0']],
    [{ AUTOSSH_GATETIME: '0' }, ['1', '2', '0']],
    [{ AUTOSSH_GATETIME: '0' }, ['3']],
    [{ AUTOSSH_GATETIME: '0' }, ['254', '0']],
    [{ AUTOSSH_GATETIME: '0' }, ['kill:TERM', 'kill:HUP', '0']],
    [{}, ['0']],
    [{}, ['1']],
    [{}, ['255']],
    [{}, ['kill:KILL', '0']],
    [{ AUTOSSH_GATETIME: '0', AUTOSSH_MAXSTART: '2' }, ['255']],
    [{ AUTOSSH_GATETIME: '0', AUTOSSH_MAXSTART: '1' }, ['1']],
    [{ AUTOSSH_GATETIME: '0', AUTOSSH_MAXSTART: '0' }, ['0']],
  ]
  for (const [env, plan] of cases) {
    const ours = await same(t, ['-M', '0', 'host'], env, plan)
    t.ok(ours.log.length > 0, `${plan.join(',')}: something was logged`)
  }
})

t.test('where we differ on purpose (DIFFERENCES FROM AUTOSSH 1.4G)', { skip }, async t => {
  const gate = { AUTOSSH_GATETIME: '0' }
  const cases: [string[], string[], string][] = [
    [['-M', '0', '-m', '-vf', 'host'], ['-m', '-vf', 'host'], 'an option argument keeps its f'],
    [['-M', '0', '-F', '--', 'host'], ['-F', '--', 'host'], 'an option argument is not the terminator'],
    [['-M', '0', 'host', '-J', 'jump'], ['-J', 'jump', 'host'], '-J takes an argument, as OpenSSH'],
    [['-M', '0', 'host', '-B', 'eth0'], ['-B', 'eth0', 'host'], '-B is an OpenSSH option'],
    [['-M', '0', '-o', '', 'host'], ['-o', '', 'host'], 'an empty option argument is kept'],
  ]
  for (const [args, expected, why] of cases) {
    const { theirs, ours } = await both(args, gate)
    t.same(ours.runs, [expected], why)
    t.notSame(theirs.runs, ours.runs, `${why}: 1.4g does otherwise`)
  }
})
