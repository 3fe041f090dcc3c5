import t, { type Test } from 'tap'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { removePidFile, writePidFile } from '../../src/os/pidfile.js'
import { SETPRIV } from '../../src/ssh/child.js'
import { CLI, waitFor } from '../helpers/autossh.js'
import { needs, which } from '../helpers/needs.js'

t.test('write and remove', async t => {
  const dir = t.testdir()
  const p = join(dir, 'a.pid')
  writePidFile(p, 1234)
  t.equal(readFileSync(p, 'utf8'), '1234\n')
  removePidFile(p, 999)
  t.ok(existsSync(p), 'not ours: left alone')
  removePidFile(p, 1234)
  t.notOk(existsSync(p))
  removePidFile(p, 1234)
  t.same(readdirSync(dir), [])
})

t.test('a symlink at the path is replaced, not followed', async t => {
  const dir = t.testdir({ victim: 'keep\n' })
  const p = join(dir, 'a.pid')
  symlinkSync(join(dir, 'victim'), p)
  writePidFile(p, 42)
  t.equal(readFileSync(join(dir, 'victim'), 'utf8'), 'keep\n')
  t.equal(readFileSync(p, 'utf8'), '42\n')
})

t.test('errors leave nothing behind', async t => {
  const dir = t.testdir({ sub: { file: 'x' } })
  t.throws(() => writePidFile(join(dir, 'missing', 'a.pid'), 1), { code: 'ENOENT' })
  // renaming a file over a directory fails after the temporary file exists
  t.throws(() => writePidFile(join(dir, 'sub'), 1))
  t.same(readdirSync(dir), ['sub'])
  writeFileSync(join(dir, 'sub', 'file'), 'x')
})

// issue 8: /run/autossh/x.pid pre-created by root for the service user, in a
// directory the user cannot write; autossh itself runs as nobody
const asNobody = (args: string[], env: Record<string, string>) =>
  spawn(SETPRIV, ['--reuid=nobody', '--regid=nogroup', '--clear-groups', '--', process.execPath, CLI, ...args], {
    env: { PATH: process.env.PATH, AUTOSSH_SYSLOG_SOCKET: '/nonexistent/log', AUTOSSH_PATH: '/bin/sleep', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  })

// nobody must be able to reach the checkout (and tap's coverage hooks in it): a
// checkout under a home directory of mode 0700 cannot be run as another user
const nobodyCanRun =
  which('setpriv') !== undefined &&
  spawnSync(SETPRIV, ['--reuid=nobody', '--regid=nogroup', '--clear-groups', '--', process.execPath, '-e', `require('fs').accessSync(${JSON.stringify(CLI)})`], { stdio: 'ignore', timeout: 10000 }).status === 0
const skipNobody = needs('setpriv') || (nobodyCanRun ? false : `user nobody cannot read ${CLI}`)

const lockedDir = (t: Test) => {
  const dir = mkdtempSync(join(tmpdir(), 'pid-'))
  chmodSync(dir, 0o755)
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** its exit status and stderr; killed if it runs for more than 15 s */
const ended = (c: ChildProcess) => {
  let err = ''
  c.stderr!.on('data', d => (err += d))
  const timer = setTimeout(() => c.kill('SIGKILL'), 15000)
  return new Promise<{ status: number | null; stderr: string }>(resolve =>
    c.on('close', status => {
      clearTimeout(timer)
      resolve({ status, stderr: err })
    }),
  )
}

t.test('a pid file pre-created for the service user in a directory it cannot write: used, then emptied', { skip: skipNobody }, async t => {
  const dir = lockedDir(t)
  const p = join(dir, 'x.pid')
  writeFileSync(p, '')
  chownSync(p, 65534, 65534)
  const c = asNobody(['-M', '0', '1000'], { AUTOSSH_PIDFILE: p })
  t.teardown(() => c.kill('SIGKILL'))
  const end = ended(c)
  await waitFor(() => readFileSync(p, 'utf8'), 10000, 'the pid')
  t.equal(readFileSync(p, 'utf8'), `${c.pid}\n`)
  c.kill('SIGTERM')
  const r = await end
  t.equal(r.status, 1)
  t.equal(readFileSync(p, 'utf8'), '', 'emptied on the way out, since it cannot be removed')
  t.same(readdirSync(dir), ['x.pid'])
})

t.test('in a directory the user cannot write: a symlink still refused, a missing file still an error', { skip: skipNobody }, async t => {
  const dir = lockedDir(t)
  const target = join(dir, 'target')
  writeFileSync(target, 'keep\n')
  chownSync(target, 65534, 65534)
  const link = join(dir, 'x.pid')
  symlinkSync(target, link)
  const r = await ended(asNobody(['-M', '0', '1000'], { AUTOSSH_PIDFILE: link }))
  t.equal(r.status, 1)
  t.match(r.stderr, `cannot open pid file "${link}": Too many levels of symbolic links\n`)
  t.equal(readFileSync(target, 'utf8'), 'keep\n')

  const missing = join(dir, 'y.pid')
  const m = await ended(asNobody(['-M', '0', '1000'], { AUTOSSH_PIDFILE: missing }))
  t.equal(m.status, 1)
  t.match(m.stderr, `cannot open pid file "${missing}": Permission denied\n`)
})
