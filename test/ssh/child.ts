// Starting ssh and killing it, with real processes standing in for ssh.
import t, { type Test } from 'tap'
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { findExecutable, passThrough, SETPRIV, startSsh } from '../../src/ssh/child.js'
import { start } from '../helpers/autossh.js'
import { needs, path as where } from '../helpers/needs.js'

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
  t.same(await (await startSsh('/bin/sh', ['-c', 'exit 3'])).exited, { code: 3, signal: null })
  t.same(await (await startSsh('/bin/sh', ['-c', 'kill -USR1 $$'])).exited, { code: null, signal: 10 })
})

/** every process.kill() of the test, recorded (and carried out) */
const spyKill = (t: Test) => {
  const calls: [number, string | number | undefined][] = []
  const real = process.kill.bind(process)
  process.kill = ((pid: number, signal?: string | number) => (calls.push([pid, signal]), real(pid, signal))) as typeof process.kill
  t.teardown(() => void (process.kill = real))
  return calls
}

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))
const timers = () => process.getActiveResourcesInfo().filter(r => r === 'Timeout').length

t.test('kill: one SIGTERM for an ssh that goes, no SIGKILL after the grace, and no signal at all once it is gone (its pid may be another process by then)', async t => {
  const ssh = await startSsh('/bin/sleep', ['100'])
  const calls = spyKill(t)
  let forced = false
  ssh.kill(200, () => (forced = true))
  t.same(await ssh.exited, { code: null, signal: 15 })
  await sleep(400)
  t.equal(forced, false, 'no SIGKILL after the grace period')
  t.same(calls, [[ssh.pid, 'SIGTERM']])
  ssh.kill(200, () => (forced = true))
  await sleep(400)
  t.same(calls, [[ssh.pid, 'SIGTERM']], 'killing what is gone signals nothing')
  t.equal(forced, false)
})

t.test('kill: the SIGKILL timer is cleared once ssh has left, so nothing waits on it', async t => {
  const ssh = await startSsh('/bin/sleep', ['100'])
  const before = timers()
  ssh.kill(60000, () => {})
  t.equal(timers(), before + 1, 'armed')
  await ssh.exited
  await new Promise(r => setImmediate(r))
  t.equal(timers(), before, 'cleared')
})

t.test('kill: SIGKILL after the grace period, not before, for an ssh that ignores SIGTERM', async t => {
  const ssh = await startSsh('/bin/sh', ['-c', "trap '' TERM; exec sleep 100"])
  await sleep(300)
  let forced = false
  const began = Date.now()
  ssh.kill(300, () => (forced = true))
  t.same(await ssh.exited, { code: null, signal: 9 })
  t.equal(forced, true)
  t.ok(Date.now() - began >= 280, 'after the grace period')
})

t.test('without setpriv, ssh is started directly', async t => {
  t.same(await (await startSsh('/bin/sh', ['-c', 'exit 4'], false)).exited, { code: 4, signal: null })
})

/** a script that passes findExecutable() but that exec refuses: its interpreter is not there */
const unexecutable = (dir: string) => {
  const path = join(dir, 'ssh')
  writeFileSync(path, '#!/nonexistent/interpreter\n')
  chmodSync(path, 0o755)
  return path
}

t.test('an exec that fails after the lookup is an exec failure: rejected with the reason, nothing crashes', async t => {
  const path = unexecutable(scratch(t))
  t.equal(findExecutable(path), path, 'the lookup passes')
  await t.rejects(startSsh(path, [], false), { code: 'ENOENT' })
})

/** an ssh stand-in that writes its parent-death signal (0: none) to OUT, then exits 0 */
const pdeathReader = (dir: string) => {
  const path = join(dir, 'ssh')
  const out = join(dir, 'pdeathsig')
  const python = where('python3')
  writeFileSync(
    path,
    `#!${python}
import ctypes
sig = ctypes.c_int()
ctypes.CDLL(None).prctl(2, ctypes.byref(sig), 0, 0, 0)  # PR_GET_PDEATHSIG
open(${JSON.stringify(out)}, "w").write(str(sig.value))
`,
  )
  chmodSync(path, 0o755)
  return { path, pdeathsig: () => (existsSync(out) ? Number(readFileSync(out, 'utf8')) : undefined) }
}

t.test('where setpriv is there, ssh is started through it: SIGKILL is its parent-death signal; told not to, none', { skip: needs('setpriv', 'python3') }, async t => {
  t.ok(existsSync(SETPRIV), `${SETPRIV} is there on this machine`)
  const tiedSsh = pdeathReader(scratch(t))
  t.same(await (await startSsh(tiedSsh.path, [])).exited, { code: 0, signal: null })
  t.equal(tiedSsh.pdeathsig(), 9, 'by default')
  const loose = pdeathReader(scratch(t))
  await (await startSsh(loose.path, [], false)).exited
  t.equal(loose.pdeathsig(), 0)
})

// a mount namespace whose /usr/bin has no setpriv: an overlay with a whiteout for it
const NO_SETPRIV = `
d=$1; shift
mkdir "$d/u" "$d/w" && mknod "$d/u/setpriv" c 0 0 &&
  mount -t overlay overlay -o "lowerdir=/usr/bin,upperdir=$d/u,workdir=$d/w" /usr/bin || exit 125
exec "$@"
`
const noSetpriv = needs('unshare') || (() => {
  const dir = mkdtempSync(join(tmpdir(), 'autossh-ov-'))
  try {
    const r = spawnSync(where('unshare'), ['-m', 'sh', '-c', NO_SETPRIV, 'sh', dir, 'sh', '-c', `test ! -e ${SETPRIV}`], { timeout: 5000 })
    return r.status === 0 ? false : 'no mount namespace with an overlay on /usr/bin (run as root)'
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})()

const withoutSetpriv = (t: Test, env: Record<string, string>) => {
  const dir = scratch(t)
  const log = join(dir, 'log')
  const r = start(['-M', '0', 'h'], { AUTOSSH_GATETIME: '0', AUTOSSH_LOGFILE: log, ...env }, undefined, [where('unshare'), '-m', 'sh', '-c', NO_SETPRIV, 'sh', dir])
  return { r, messages: () => readFileSync(log, 'utf8').trim().split('\n').map(l => l.replace(/^.*? autossh\[\d+\]: /, '')) }
}

t.test('autossh where setpriv is there: ssh gets a parent-death signal', { skip: needs('setpriv', 'python3') }, async t => {
  const ssh = pdeathReader(scratch(t))
  const r = start(['-M', '0', 'h'], { AUTOSSH_PATH: ssh.path, AUTOSSH_GATETIME: '0' })
  t.equal(await r.done, 0)
  t.equal(ssh.pdeathsig(), 9)
})

t.test('autossh where setpriv is not there: ssh is started directly, without a parent-death signal', { skip: needs('python3') || noSetpriv }, async t => {
  const ssh = pdeathReader(scratch(t))
  const { r, messages } = withoutSetpriv(t, { AUTOSSH_PATH: ssh.path })
  t.equal(await r.done, 0, r.stderr())
  t.equal(ssh.pdeathsig(), 0, 'ssh ran, not tied')
  t.equal(messages().at(-1), 'ssh exited with status 0; autossh exiting')
})

t.test('autossh without setpriv, an exec that fails after the lookup: the path and why, status 1, no crash', { skip: noSetpriv }, async t => {
  const path = unexecutable(scratch(t))
  const { r, messages } = withoutSetpriv(t, { AUTOSSH_PATH: path })
  t.equal(await r.done, 1)
  t.equal(r.stderr(), `autossh: ${path}: No such file or directory\n`, 'one line on stderr')
  t.equal(messages().at(-1), `${path}: No such file or directory`)
})

t.test('with no PATH at all, the default path of execvp', async t => {
  const saved = process.env.PATH
  delete process.env.PATH
  t.teardown(() => void (process.env.PATH = saved))
  t.match(findExecutable('sh'), /^\/(usr\/)?bin\/sh$/)
})

/**
 * startSsh on a script whose body writes to stderr, in a child process so that
 * its fd 2 can be read whole (with the test's own loaders, so that coverage
 * follows it in): what reached that fd, ssh's exit, and the lines read
 */
const talking = async (t: Test, body: string) => {
  const script = join(scratch(t), 'talk')
  writeFileSync(script, `#!/bin/sh\n${body}\n`)
  chmodSync(script, 0o755)
  const { spawnSync } = await import('node:child_process')
  const code = `import { startSsh } from ${JSON.stringify(new URL('../../src/ssh/child.ts', import.meta.url).href)}
const lines = []
const c = await startSsh(${JSON.stringify(script)}, [], false, l => lines.push(l))
c.exited.then(e => process.stdout.write(JSON.stringify({ e, lines })))`
  const r = spawnSync(process.execPath, [...process.execArgv, '--input-type=module', '-e', code], { encoding: 'buffer' })
  const out = JSON.parse(r.stdout.toString()) as { e: unknown; lines: string[] }
  return { stderr: r.stderr, exit: out.e, lines: out.lines }
}

t.test("ssh's stderr passes through unchanged, and each line is read", async t => {
  // a line, a line with \r\n, bytes that are not UTF-8, and a last line without its newline
  const r = await talking(t, "printf 'one\\ntwo\\r\\n\\377\\376 three\\nlast' >&2\nexit 7")
  t.same(r.stderr, Buffer.from('one\ntwo\r\n\xff\xfe three\nlast', 'latin1'), 'byte for byte, as ssh wrote it')
  t.same(r.exit, { code: 7, signal: null })
  t.same(r.lines, ['one', 'two', '\xff\xfe three', 'last'], 'every line, told before the exit')
})

t.test("an endless line on ssh's stderr passes through whole and is read in part", async t => {
  const r = await talking(t, "head -c 10000 /dev/zero | tr '\\0' x >&2\necho ' end' >&2")
  t.equal(r.stderr.toString(), 'x'.repeat(10000) + ' end\n', 'all of it on our stderr')
  t.equal(r.lines.length, 1)
  t.ok(r.lines[0]!.length <= 4096 + 1024 && r.lines[0]!.endsWith(' end'), 'its tail, bounded, for recognising')
})

t.test('passThrough, chunk by chunk: a line longer than 4096 bytes split across chunks is bounded while it waits for its end', async t => {
  const from = new PassThrough()
  const lines: string[] = []
  const written: Buffer[] = []
  const done = passThrough(from, l => lines.push(l), c => void written.push(c))
  const tick = () => new Promise(r => setImmediate(r))
  // each write is one 'data' chunk: the first leaves 5000 bytes of one line waiting, more than is kept
  from.write('a\n' + 'x'.repeat(5000))
  await tick()
  t.same(lines, ['a'])
  from.write('y'.repeat(3000))
  await tick()
  // its end, and a short start of the next line, which is kept whole
  from.write(' end\nlast')
  await tick()
  t.equal(lines.length, 2)
  // compared as a summary: a diff of 4096 bytes says nothing
  const tail = lines[1]!
  t.same([tail.length, tail.indexOf('y'), tail.endsWith('y'.repeat(3000) + ' end')], [4096, 4096 - 3004, true], "the line's last 4096 bytes, its end with them")
  from.end()
  await done
  t.same(lines.slice(2), ['last'], 'an unended last line, told at the close')
  t.equal(Buffer.concat(written).toString(), 'a\n' + 'x'.repeat(5000) + 'y'.repeat(3000) + ' end\nlast', 'every byte passed on')
})

t.test('passThrough: nothing waiting at the close, no empty line', async t => {
  const from = new PassThrough()
  const lines: string[] = []
  const done = passThrough(from, l => lines.push(l), () => {})
  from.end('one\n')
  await done
  t.same(lines, ['one'])
})
