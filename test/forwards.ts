// The tunnel the user has (issue 13), with real OpenSSH: forwards written in
// ~/.ssh/config rather than on the command line, connection sharing turned on
// for every host (ControlMaster auto, ControlPersist), a -R 0 whose port the
// server picks, a forward whose target is down. autossh reads what ssh will
// do (ssh -G), keeps its ssh its own, and shows each forward in the status file.
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { sleep, start, waitFor } from './helpers/autossh.js'
import { freePort, makeWorld, talk, worldSkip, type World } from './world/index.js'

const alive = (pid: number) => existsSync(`/proc/${pid}`)
const parentOf = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[1])

/** a Host block for the world's sshd, as a user writes one, plus lines of the test's */
const hostBlock = (w: World, name: string, more: string[]): string => {
  const key = w.sshOptions[w.sshOptions.indexOf('-i') + 1]
  return [
    `Host ${name}`,
    '  HostName 127.0.0.1',
    `  Port ${w.link.port}`,
    `  User ${userInfo().username}`,
    `  IdentityFile ${key}`,
    '  IdentitiesOnly yes',
    '  BatchMode yes',
    '  StrictHostKeyChecking no',
    '  UserKnownHostsFile /dev/null',
    ...more.map(l => `  ${l}`),
    '',
  ].join('\n')
}

const readStatus = (file: string) => (existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined)

t.test('a LocalForward in a Host block with ControlMaster auto and ControlPersist: ssh stays our child, the forward is shown', { skip: worldSkip(), timeout: 90000 }, async t => {
  const w = await makeWorld()
  t.teardown(() => w.close())
  // the control socket's directory: short, under the system's temporary directory
  const control = mkdtempSync(join(tmpdir(), 'cm-'))
  t.teardown(() => rmSync(control, { recursive: true, force: true }))
  const userPort = await freePort()
  const config = join(w.dir, 'config')
  writeFileSync(
    config,
    hostBlock(w, 'broker', [`LocalForward ${userPort} 127.0.0.1:${w.targetPort}`, 'ControlMaster auto', `ControlPath ${control}/%C`, 'ControlPersist 10m']),
  )
  const log = join(w.dir, 'autossh.log')
  const status = join(w.dir, 'status.json')
  // BatchMode makes ssh's keepalive 300 s unless told: turned off here, as a user's ssh has it
  const a = start(['-M', '0', '-N', '-o', 'ServerAliveInterval=0', '-F', config, 'broker'], {
    AUTOSSH_PATH: '/usr/bin/ssh',
    AUTOSSH_LOGFILE: log,
    AUTOSSH_STATUSFILE: status,
    AUTOSSH_GATETIME: '0',
  })
  t.teardown(() => a.child.kill('SIGKILL'))
  const messages = () => (existsSync(log) ? readFileSync(log, 'utf8') : '')
  t.teardown(() => {
    if (!t.passing()) t.comment(messages() + a.stderr())
  })
  const works = async () => (await talk(userPort, 'hi', 1000)) === 'ok hi'

  await waitFor(works, 15000, 'the forward from the config file')
  await waitFor(() => readStatus(status)?.state === 'up', 15000, 'up')
  const s = readStatus(status)
  t.ok(alive(s.ssh_pid) && parentOf(s.ssh_pid) === a.child.pid, "the ssh that holds the forward is autossh's own child")
  t.same(readdirSync(control), [], 'no control socket: no master in the background')
  t.match(messages(), /ssh's configuration shares connections \(ControlMaster auto, ControlPersist\): autossh's ssh keeps a connection of its own/)
  t.match(messages(), /monitoring is off and ssh has no keepalive \(ServerAliveInterval\): a dead connection may go unnoticed/)
  t.strictSame(s.forwards, [
    { kind: 'local', listen: String(userPort), target: `127.0.0.1:${w.targetPort}`, state: 'listening', port: userPort, last_error: null },
  ], 'the forward from the config file, in the status file')

  // the user adds a forward to the config file, then ssh dies: the new ssh has both, and so does the status
  const second = await freePort()
  writeFileSync(
    config,
    hostBlock(w, 'broker', [
      `LocalForward ${userPort} 127.0.0.1:${w.targetPort}`,
      `LocalForward ${second} 127.0.0.1:${w.targetPort}`,
      'ControlMaster auto',
      `ControlPath ${control}/%C`,
      'ControlPersist 10m',
    ]),
  )
  process.kill(s.ssh_pid, 'SIGKILL')
  await waitFor(() => messages().includes('starting ssh (count 2)'), 15000, 'a new ssh')
  await waitFor(works, 15000, 'the forward again')
  t.equal(await talk(second, 'hi', 1000), 'ok hi', 'the forward added meanwhile')
  await waitFor(() => readStatus(status)?.forwards.length === 2 && readStatus(status)?.state === 'up', 15000, 'both forwards in the status file')
  t.same(readStatus(status).forwards.map((f: { listen: string; state: string }) => [f.listen, f.state]), [[String(userPort), 'listening'], [String(second), 'listening']])
  t.equal(messages().split('shares connections').length - 1, 1, 'the sharing is told once')

  a.child.kill('SIGTERM')
  await a.done
  await sleep(200)
  t.notOk(alive(s.ssh_pid), 'no ssh left')
  t.same(readdirSync(control), [], 'no control socket left')
  t.notOk(existsSync(status), 'the status file is gone')
})

t.test('a -R 0 port the server picks, and a forward whose target is down: recorded, never a restart', { skip: worldSkip(), timeout: 90000 }, async t => {
  const w = await makeWorld()
  t.teardown(() => w.close())
  const userPort = await freePort()
  const closed = await freePort()
  const log = join(w.dir, 'autossh.log')
  const status = join(w.dir, 'status.json')
  const a = start(
    ['-M', '0', '-N', '-o', 'LogLevel=INFO', '-o', 'ServerAliveInterval=30', '-R', `0:127.0.0.1:${w.targetPort}`, '-L', `${userPort}:127.0.0.1:${closed}`, ...w.sshOptions, w.host],
    { AUTOSSH_PATH: '/usr/bin/ssh', AUTOSSH_LOGFILE: log, AUTOSSH_STATUSFILE: status, AUTOSSH_GATETIME: '0' },
  )
  t.teardown(() => a.child.kill('SIGKILL'))
  const messages = () => (existsSync(log) ? readFileSync(log, 'utf8') : '')
  t.teardown(() => {
    if (!t.passing()) t.comment(messages() + a.stderr())
  })
  await waitFor(() => readStatus(status)?.state === 'up', 15000, 'up')
  const remote = await waitFor(() => readStatus(status)?.forwards.find((f: { kind: string }) => f.kind === 'remote'), 5000, 'the -R 0')
  t.match(remote, { listen: '0', target: `127.0.0.1:${w.targetPort}`, state: 'granted' })
  t.ok(remote.port > 0, `the port the server picked: ${remote.port}`)
  t.equal(await talk(remote.port, 'hi', 2000), 'ok hi', 'and it reaches the target')
  t.notMatch(messages(), /no keepalive/, 'ServerAliveInterval set: no warning')

  // the -L target refuses: said once, recorded on the forward, ssh kept
  for (let i = 0; i < 3; i++) await talk(userPort, 'x', 1000)
  await waitFor(() => readStatus(status)?.forwards.find((f: { kind: string }) => f.kind === 'local')?.last_error, 5000, 'the error recorded')
  const local = readStatus(status).forwards.find((f: { kind: string }) => f.kind === 'local')
  t.match(local.last_error, { words: /Connection refused/ })
  t.equal(local.state, 'listening', 'still listening')
  t.equal(messages().split('Connection refused').length - 1, 1, 'said once')
  t.equal(messages().split('starting ssh (count').length - 1, 1, 'never a restart')
  t.equal(execFileSync('pgrep', ['-P', String(a.child.pid)]).toString().trim().split('\n').length >= 1, true)
  a.child.kill('SIGTERM')
  await a.done
})
