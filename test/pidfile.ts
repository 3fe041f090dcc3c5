import t from 'tap'
import { existsSync, readFileSync, symlinkSync, writeFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { removePidFile, writePidFile } from '../src/pidfile.js'

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
