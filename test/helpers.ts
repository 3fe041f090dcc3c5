// The test helpers' own rules, where a test's verdict rests on them.
import t from 'tap'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { alive, sleep, waitFor } from './helpers/autossh.js'
import { tied } from './helpers/tied.js'

t.test('alive(): a zombie its parent has not reaped still holds its pid; once left to init it is gone', async t => {
  // sh starts a short sleep, then becomes a long one that never waits for it
  const [file, ...argv] = tied(['sh', '-c', 'sleep 0.1 & echo $!; exec sleep 30'])
  const parent = spawn(file!, argv, { stdio: ['ignore', 'pipe', 'ignore'] })
  t.teardown(() => parent.kill('SIGKILL'))
  const child = Number(await new Promise<string>(r => parent.stdout!.once('data', d => r(String(d)))))
  await waitFor(() => /\) Z /.test(readFileSync(`/proc/${child}/stat`, 'utf8')), 5000, 'the zombie')
  t.ok(alive(child), 'an unreaped zombie is not gone')
  parent.kill('SIGKILL')
  await waitFor(() => !alive(parent.pid!), 5000, 'the parent to go')
  await sleep(100)
  t.notOk(alive(child), 'left to init, it is')
  t.notOk(alive(2 ** 22 + 1), 'no such pid')
})

t.test('needs(): the skip reason names the missing programs and their packages, in the form the end of npm test counts', async t => {
  const { needs, packagesOf, PACKAGES, path, which } = await import('./helpers/needs.js')
  const saved = process.env.AUTOSSH_TEST_WITHOUT
  t.teardown(() => void (saved === undefined ? delete process.env.AUTOSSH_TEST_WITHOUT : (process.env.AUTOSSH_TEST_WITHOUT = saved)))
  process.env.AUTOSSH_TEST_WITHOUT = 'dropbear-bin, python3'
  t.equal(needs('dbclient'), 'needs dbclient: apt-get install dropbear-bin')
  t.equal(needs('dbclient', 'dropbearconvert', 'python3'), 'needs dbclient, dropbearconvert, python3: apt-get install dropbear-bin python3')
  t.same(packagesOf('needs dbclient, python3: apt-get install dropbear-bin python3'), ['dropbear-bin', 'python3'])
  t.equal(packagesOf('needs network namespaces (root)'), undefined, 'any other reason is not counted')
  t.equal(which('dbclient'), undefined, 'hidden')
  t.throws(() => path('dbclient'), /dbclient is missing/)
  t.throws(() => which('no-such-program'), /not in PACKAGES/)
  delete process.env.AUTOSSH_TEST_WITHOUT
  t.equal(needs('ssh'), false, 'there')
  t.match(path('ssh'), /\/ssh$/)
  t.equal(which('/usr/lib/autossh/autossh'), '/usr/lib/autossh/autossh', 'an absolute path is taken as it is')
  // one list: every package named here is one that .ci/run installs and the README names
  const listed = readFileSync(new URL('../.ci/packages', import.meta.url), 'utf8')
    .split('\n')
    .map(l => l.replace(/#.*/, '').trim())
    .filter(Boolean)
  for (const pkg of new Set(Object.values(PACKAGES))) t.ok(listed.includes(pkg), `${pkg} is in .ci/packages`)
})

t.test('the end of npm test: skips for missing packages counted from the TAP of each file', async t => {
  const { missingLine } = await import('./helpers/npm-test.js')
  const { mkdtempSync, mkdirSync, writeFileSync, rmSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  const dir = mkdtempSync(join(tmpdir(), 'results-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  t.equal(missingLine(join(dir, 'none')), '', 'no results')
  mkdirSync(join(dir, 'test', 'ssh'), { recursive: true })
  writeFileSync(join(dir, 'test', 'ssh', 'says.ts.tap'), [
    '# Subtest: x',
    '    ok 1 - a # SKIP needs dbclient, dropbearconvert: apt-get install dropbear-bin',
    '    ok 2 - b # SKIP needs network namespaces (root)',
    'ok 1 - x',
  ].join('\n'))
  writeFileSync(join(dir, 'test', 'a.ts.tap'), 'ok 1 - c # SKIP needs python3, mosquitto: apt-get install python3 mosquitto\nnot ok 2 - d\n')
  writeFileSync(join(dir, 'notes.txt'), 'ok 1 - e # SKIP needs perl: apt-get install perl-base\n')
  t.equal(missingLine(dir), '2 tests skipped for missing packages: dropbear-bin, mosquitto, python3 (apt-get install dropbear-bin mosquitto python3)')
  rmSync(join(dir, 'test', 'a.ts.tap'))
  t.equal(missingLine(dir), '1 test skipped for missing packages: dropbear-bin (apt-get install dropbear-bin)')
})
