// Starting ssh and killing it, with real processes standing in for ssh.
import t, { type Test } from 'tap'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { findExecutable, startSsh } from '../src/ssh.js'

const scratch = (t: Test) => {
  const dir = mkdtempSync(join(tmpdir(), 'autossh-ssh-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

t.test('findExecutable looks as execvp does', async t => {
  const dir = scratch(t)
  const exe = join(dir, 'x')
  writeFileSync(exe, '#!/bin/sh\n')
  chmodSync(exe, 0o755)
  const plain = join(dir, 'plain')
  writeFileSync(plain, '')
  mkdirSync(join(dir, 'adir'))

  t.equal(findExecutable(exe), exe, 'a path is taken as it is')
  t.equal(findExecutable('x', `/nonexistent:${dir}`), exe, 'a name is looked for along PATH')
  t.match(findExecutable('sh'), /^\/.*\/sh$/, 'PATH by default')
  t.throws(() => findExecutable(''), { code: 'ENOENT' })
  t.throws(() => findExecutable(join(dir, 'missing')), { code: 'ENOENT' })
  t.throws(() => findExecutable('missing', dir), { code: 'ENOENT' })
  t.throws(() => findExecutable(plain), { code: 'EACCES' }, 'not executable')
  t.throws(() => findExecutable('adir', dir), { code: 'EACCES' }, 'a directory')
  t.throws(() => findExecutable('plain', `${dir}:/nonexistent`), { code: 'EACCES' })

  const cwd = process.cwd()
  process.chdir(dir)
  t.teardown(() => process.chdir(cwd))
  t.equal(findExecutable('x', ':/nonexistent'), 'x', 'an empty PATH entry is the current directory')
})

t.test('exit statuses and signals come back as they are', async t => {
  t.same(await startSsh('/bin/sh', ['-c', 'exit 3']).exited, { code: 3, signal: null })
  t.same(await startSsh('/bin/sh', ['-c', 'kill -USR1 $$']).exited, { code: null, signal: 10 })
})

t.test('kill: SIGTERM, and nothing more for an ssh that goes', async t => {
  const ssh = startSsh('/bin/sleep', ['100'])
  let forced = false
  ssh.kill(5000, () => (forced = true))
  t.same(await ssh.exited, { code: null, signal: 15 })
  t.equal(forced, false)
  ssh.kill(5000, () => (forced = true))
  t.equal(forced, false, 'killing what is gone does nothing')
})

t.test('kill: SIGKILL after the grace period for an ssh that ignores SIGTERM', async t => {
  const ssh = startSsh('/bin/sh', ['-c', "trap '' TERM; exec sleep 100"])
  await new Promise(r => setTimeout(r, 300))
  let forced = false
  ssh.kill(200, () => (forced = true))
  t.same(await ssh.exited, { code: null, signal: 9 })
  t.equal(forced, true)
})

t.test('without setpriv, ssh is started directly', async t => {
  t.same(await startSsh('/bin/sh', ['-c', 'exit 4'], false).exited, { code: 4, signal: null })
})

t.test('with no PATH at all, the default path of execvp', async t => {
  const saved = process.env.PATH
  delete process.env.PATH
  t.teardown(() => void (process.env.PATH = saved))
  t.match(findExecutable('sh'), /^\/(usr\/)?bin\/sh$/)
})

t.test("ssh's stderr passes through unchanged, and each line is read", async t => {
  const dir = scratch(t)
  const script = join(dir, 'talk')
  // a line, a line with \r\n, bytes that are not UTF-8, and a last line without its newline
  writeFileSync(script, "#!/bin/sh\nprintf 'one\\ntwo\\r\\n\\377\\376 three\\nlast' >&2\nexit 7\n")
  chmodSync(script, 0o755)
  const { spawnSync } = await import('node:child_process')
  // run startSsh in a child, so that its fd 2 can be read whole
  const code = `import { startSsh } from ${JSON.stringify(new URL('../src/ssh.ts', import.meta.url).href)}
const lines = []
const c = startSsh(${JSON.stringify(script)}, [], false, l => lines.push(l))
c.exited.then(e => process.stdout.write(JSON.stringify({ e, lines })))`
  // with the test's own loaders, so that coverage follows it in
  const r = spawnSync(process.execPath, [...process.execArgv, '--input-type=module', '-e', code], { encoding: 'buffer' })
  t.same(r.stderr, Buffer.from('one\ntwo\r\n\xff\xfe three\nlast', 'latin1'), 'byte for byte, as ssh wrote it')
  const out = JSON.parse(r.stdout.toString())
  t.same(out.e, { code: 7, signal: null })
  t.same(out.lines, ['one', 'two', '\xff\xfe three', 'last'], 'every line, told before the exit')
})
