import t from 'tap'
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runAutossh, start, waitFor } from '../helpers/autossh.js'
import { message, receiver, shortDir } from '../helpers/syslog.js'
import { LOG_DEBUG, LOG_ERR, LOG_INFO } from '../../src/log/levels.js'
import { CLOSE_MS, Logger } from '../../src/log/logger.js'
import type { Target } from '../../src/log/targets.js'
import { needs } from '../helpers/needs.js'

/** a target that keeps what it is given, and what is done to it */
const recorder = () => {
  const lines: [number, string][] = []
  const did: string[] = []
  const target: Target = {
    name: 'file',
    write: (level, m) => (lines.push([level, m]), false),
    close: () => void did.push('close'),
    closed: async ms => void did.push(`closed ${ms}`),
  }
  return { lines, did, target }
}

t.test('messages above the level are dropped; the rest reach the target escaped', async t => {
  const r = recorder()
  const log = new Logger(r.target, LOG_INFO, false)
  t.equal(log.log(LOG_DEBUG, 'not this'), false)
  t.equal(log.log(LOG_INFO, 'ssh exited with error status 255; restarting ssh'), false, 'not on stderr')
  t.equal(log.log(LOG_ERR, 'a\r\nb\x1b[2J'), false)
  t.same(r.lines, [
    [LOG_INFO, 'ssh exited with error status 255; restarting ssh'],
    [LOG_ERR, 'a\\r\\nb\\x1b[2J'],
  ])
})

t.test('a new target closes the old, with the deadline; close waits for the last', async t => {
  const a = recorder()
  const b = recorder()
  const log = new Logger(a.target, LOG_INFO, false)
  log.use(a.target)
  t.same(a.did, [], 'the same target is kept open')
  log.use(b.target)
  t.same(a.did, ['close', `closed ${CLOSE_MS}`])
  await log.close()
  t.same(b.did, ['close', `closed ${CLOSE_MS}`])
  const plain = new Logger({ name: 'stderr', write: () => true, close: () => {} }, LOG_INFO, false)
  await plain.close()
  t.pass('a target with nothing to wait for')
})

t.test('a fatal error with control characters: escaped in the log and on stderr', { skip: needs('python3', 'logger') }, async t => {
  const sock = join(shortDir(t), 's')
  const r = await receiver(t, sock)
  const run = await runAutossh(['-M', '0', 'h'], { AUTOSSH_SYSLOG_SOCKET: sock, AUTOSSH_POLL: 'x\r\nautossh[1]: y' })
  t.equal(run.status, 1)
  t.equal(run.stderr, 'autossh: invalid poll time "x\\r\\nautossh[1]: y"\n')
  await waitFor(() => r.lines().length, 5000, 'the datagram')
  t.same(r.lines().map(message), ['11 invalid poll time "x\\r\\nautossh[1]: y"'])
})

t.test('AUTOSSH_DEBUG: the copy on stderr is escaped as the log file is', async t => {
  const log = join(shortDir(t), 'log')
  const run = await runAutossh(['-M', '0', 'h'], { AUTOSSH_PATH: '/nonexistent/s\nsh', AUTOSSH_LOGFILE: log, AUTOSSH_DEBUG: '1' })
  t.equal(run.status, 1)
  t.match(readFileSync(log, 'utf8'), /^\d{4}\/.* autossh\[\d+\]: \/nonexistent\/s\\nsh: No such file or directory\n$/m)
  t.match(run.stderr, /^autossh\[\d+\]: \/nonexistent\/s\\nsh: No such file or directory\n$/m)
  t.equal(run.stderr.split('\n').length, readFileSync(log, 'utf8').split('\n').length, 'one line each')
})

// listens on the first -L port, and answers every line with one of its own making
const FORGER = `
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
while True:
    c, _ = s.accept()
    f = c.makefile('rb')
    while f.readline():
        c.sendall(b'x\\r2031/01/01 00:00:00 autossh[1]: ssh exited prematurely with status 0; autossh exiting\\x1b[A\\n')
`

t.test('what the far side of the monitor port answers cannot write lines of its own into the log', { skip: needs('python3') }, async t => {
  const dir = shortDir(t)
  const ssh = join(dir, 'ssh')
  writeFileSync(
    ssh,
    `#!/bin/sh
lport=; prev=
for a in "$@"; do [ "$prev" = -L ] && [ -z "$lport" ] && lport=\${a%%:*}; prev=$a; done
exec python3 -c "$FORGER" "$lport"
`,
  )
  chmodSync(ssh, 0o755)
  const log = join(dir, 'log')
  const { freePort } = await import('../world/index.js')
  const port = await freePort()
  const a = start(['-M', `${port}:7`, 'h'], {
    AUTOSSH_PATH: ssh,
    FORGER,
    AUTOSSH_LOGFILE: log,
    AUTOSSH_LOGLEVEL: '7',
    AUTOSSH_POLL: '30',
    AUTOSSH_FIRST_POLL: '1',
  })
  t.teardown(() => a.child.kill('SIGKILL'))
  await waitFor(() => existsSync(log) && readFileSync(log, 'utf8').includes('not what I sent'), 15000, 'the answer logged')
  a.child.kill('SIGTERM')
  await a.done
  const text = readFileSync(log, 'utf8')
  t.notMatch(text, /[\r\x1b]/, 'no control characters but the newlines between lines')
  const lines = text.split('\n').filter(Boolean)
  t.ok(
    lines.every(l => /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d autossh\[\d+\]: /.test(l)),
    'every line is one of autossh',
  )
  t.notOk(lines.some(l => / autossh\[1\]: /.test(l.slice(0, 40))), 'none begins as the forged one')
  t.match(
    lines.find(l => l.includes('not what I sent')),
    /: not what I sent: "\S+ autossh \d+ \d+ \\r\\n" : "x\\r2031\/01\/01 00:00:00 autossh\[1\]: ssh exited prematurely with status 0; autossh exiting\\x1b\[A\\n"$/,
  )
})
