// What a real syslog receiver gets: a datagram socket that the test binds.
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { Fake, runAutossh, waitFor } from '../helpers/autossh.js'
import { syslogAvailable } from '../../src/log/syslog.js'

const RECEIVER = `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print('ready', flush=True)
while True:
    print(s.recv(65536).decode(errors='replace').replace('\\n', ' '), flush=True)
`

const receiver = async (t: Test, path: string) => {
  const py = spawn('python3', ['-c', RECEIVER, path], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => py.kill('SIGKILL'))
  let got = ''
  py.stdout.on('data', d => (got += d))
  await waitFor(() => got.startsWith('ready'), 5000, 'the receiver')
  return () => got.split('\n').slice(1).filter(Boolean)
}

t.test('without AUTOSSH_LOGFILE, messages go to syslog: facility user, tag autossh[pid], their level', async t => {
  const f = new Fake(['0'])
  t.teardown(() => f.cleanup())
  const sock = join(f.dir, 'log.sock')
  const lines = await receiver(t, sock)
  t.ok(syslogAvailable(sock))
  const r = await runAutossh(['-M', '0', 'h'], { AUTOSSH_PATH: f.ssh, AUTOSSH_SYSLOG_SOCKET: sock })
  t.equal(r.status, 1)
  t.equal(r.stderr, '', 'nothing on stderr')
  await waitFor(() => lines().length >= 4, 5000, 'four datagrams')
  const msgs = lines().map(l => l.replace(/^<(\d+)>\w{3} [ \d]\d \d\d:\d\d:\d\d autossh\[(\d+)\]: /, '$1 '))
  t.same(msgs.filter(m => !m.startsWith('14 ssh child pid')), [
    '14 port set to 0, monitoring disabled',
    '14 starting ssh (count 1)',
    '11 ssh exited prematurely with status 0; autossh exiting',
  ])
  t.ok(lines().every(l => new RegExp(`autossh\\[\\d+\\]: `).test(l)))
})

t.test('AUTOSSH_DEBUG: debug level, and every line on stderr too', async t => {
  const f = new Fake(['0'])
  t.teardown(() => f.cleanup())
  const sock = join(f.dir, 'log.sock')
  const lines = await receiver(t, sock)
  const r = await runAutossh(['-M', '0', 'h'], { AUTOSSH_PATH: f.ssh, AUTOSSH_SYSLOG_SOCKET: sock, AUTOSSH_DEBUG: '1' })
  await waitFor(() => lines().some(l => l.includes('prematurely')), 5000, 'the last line')
  t.ok(lines().some(l => l.startsWith('<15>') && l.includes('checking for grace period, tries = 0')))
  t.match(r.stderr, /^autossh\[\d+\]: checking for grace period, tries = 0$/m)
})

t.test('a fatal error reaches stderr as well as syslog', async t => {
  const dir = t.testdir()
  const sock = join(dir, 'log.sock')
  const lines = await receiver(t, sock)
  const r = await runAutossh(['-M', '0', 'h'], { AUTOSSH_SYSLOG_SOCKET: sock, AUTOSSH_POLL: 'x' })
  t.equal(r.status, 1)
  t.equal(r.stderr, 'autossh: invalid poll time "x"\n')
  await waitFor(() => lines().length, 5000, 'the datagram')
  t.match(lines()[0], /^<11>.* autossh\[\d+\]: invalid poll time "x"$/)
})

t.test('no syslog socket: stderr', async t => {
  t.notOk(syslogAvailable('/nonexistent/log'))
  t.notOk(syslogAvailable('/etc/hostname'), 'a file is not a socket')
})
