// A small file written whole: by rename where the directory lets us, in place
// (regular files of ours only) where it does not. "Not writable" needs a user
// who is not root: the cases that need one switch this process's effective
// ids to nobody for the length of a synchronous call.
import t, { type Test } from 'tap'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import { syncBuiltinESMExports } from 'node:module'
import { chmodSync, chownSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { removeIfOurs, writeFileSafely } from '../../src/os/safe-write.js'

const NOBODY = 65534

const asNobody = <T>(fn: () => T): T => {
  process.setegid!(NOBODY)
  process.seteuid!(NOBODY)
  try {
    return fn()
  } finally {
    process.seteuid!(0)
    process.setegid!(0)
  }
}

/** a directory that root owns and nobody may read but not write */
const lockedDir = (t: Test): string => {
  const dir = mkdtempSync(join(tmpdir(), 'sw-'))
  chmodSync(dir, 0o755)
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** a file in dir owned by nobody, as root pre-creates a pid file for a service user */
const givenToNobody = (dir: string, name: string, text: string): string => {
  const p = join(dir, name)
  writeFileSync(p, text)
  chownSync(p, NOBODY, NOBODY)
  return p
}

t.test('by rename: whole, mode 644, no temporary file left, a new inode each time', async t => {
  const dir = t.testdir()
  const p = join(dir, 'f')
  t.equal(writeFileSafely(p, 'one\n'), 'renamed')
  t.equal(readFileSync(p, 'utf8'), 'one\n')
  t.equal(statSync(p).mode & 0o777, 0o644 & ~process.umask())
  const ino = statSync(p).ino
  t.equal(writeFileSafely(p, 'two\n'), 'renamed')
  t.equal(readFileSync(p, 'utf8'), 'two\n')
  t.not(statSync(p).ino, ino, 'replaced, not rewritten')
  t.same(readdirSync(dir), ['f'])
})

t.test('by rename: the file has its whole content the moment it has its name, never empty or half', async t => {
  const dir = t.testdir()
  const p = join(dir, 'f')
  writeFileSafely(p, 'old\n')
  // look at the file as a reader would, right after each rename (node:fs as the module sees it)
  const rename = fs.renameSync
  const seen: string[] = []
  fs.renameSync = (from, to) => {
    rename(from, to)
    if (to === p) seen.push(readFileSync(p, 'utf8'))
  }
  syncBuiltinESMExports()
  t.teardown(() => {
    fs.renameSync = rename
    syncBuiltinESMExports()
  })
  const text = JSON.stringify({ pid: 42, state: 'up' }) + '\n'
  writeFileSafely(p, text)
  t.same(seen, [text], 'read right after the rename: the whole text')
})

t.test('a symlink at the path is replaced, not followed', async t => {
  const dir = t.testdir({ victim: 'keep\n' })
  const p = join(dir, 'f')
  symlinkSync(join(dir, 'victim'), p)
  writeFileSafely(p, 'x\n')
  t.equal(readFileSync(join(dir, 'victim'), 'utf8'), 'keep\n')
  t.ok(lstatSync(p).isFile())
})

t.test('errors leave nothing behind', async t => {
  const dir = t.testdir({ sub: { file: 'x' } })
  t.throws(() => writeFileSafely(join(dir, 'missing', 'f'), '1'), { code: 'ENOENT' })
  // renaming a file over a directory fails after the temporary file exists
  t.throws(() => writeFileSafely(join(dir, 'sub'), '1'), { code: 'EISDIR' })
  t.same(readdirSync(dir), ['sub'])
})

t.test('in a directory we cannot write: in place, into a regular file of ours', async t => {
  const dir = lockedDir(t)
  const p = givenToNobody(dir, 'a.pid', 'a much longer old text\n')
  const ino = statSync(p).ino
  t.equal(asNobody(() => writeFileSafely(p, '42\n')), 'in-place')
  t.equal(readFileSync(p, 'utf8'), '42\n', 'the old tail is cut')
  t.equal(statSync(p).ino, ino, 'the same file')
  t.same(readdirSync(dir), ['a.pid'], 'no temporary file')
  // root can write anywhere, so rename is its way even here
  t.equal(writeFileSafely(p, '43\n'), 'renamed')
})

t.test('in a directory we cannot write: refused unless a regular file of ours', async t => {
  const dir = lockedDir(t)
  t.throws(() => asNobody(() => writeFileSafely(join(dir, 'missing.pid'), '1\n')), { code: 'EACCES' }, "missing: the directory's refusal")

  const target = givenToNobody(dir, 'target', 'keep\n')
  const link = join(dir, 'link.pid')
  symlinkSync(target, link)
  t.throws(() => asNobody(() => writeFileSafely(link, '1\n')), { code: 'ELOOP' }, 'a symlink is refused')
  t.equal(readFileSync(target, 'utf8'), 'keep\n', 'and not followed')

  const roots = join(dir, 'roots.pid')
  writeFileSync(roots, 'keep\n', { mode: 0o666 })
  chmodSync(roots, 0o666)
  t.throws(() => asNobody(() => writeFileSafely(roots, '1\n')), { code: 'EACCES' }, 'writable, but not ours')
  t.equal(readFileSync(roots, 'utf8'), 'keep\n')

  const fifo = join(dir, 'fifo.pid')
  execFileSync('mkfifo', [fifo])
  chownSync(fifo, NOBODY, NOBODY)
  t.throws(() => asNobody(() => writeFileSafely(fifo, '1\n')), { code: 'ENXIO' }, 'a FIFO: refused, without hanging for a reader')

  const denied = givenToNobody(dir, 'ro.pid', 'keep\n')
  chmodSync(denied, 0o444)
  t.throws(() => asNobody(() => writeFileSafely(denied, '1\n')), { code: 'EACCES' }, 'ours but read-only')
})

t.test('removeIfOurs: only a regular file whose text says it is ours', async t => {
  const dir = t.testdir({ victim: '7\n' })
  const p = join(dir, 'f')
  writeFileSafely(p, '7\n')
  removeIfOurs(p, text => text === '8\n')
  t.equal(readFileSync(p, 'utf8'), '7\n', 'not ours: left alone')
  removeIfOurs(p, text => text === '7\n')
  t.same(readdirSync(dir), ['victim'])
  removeIfOurs(p, () => true)
  t.pass('gone already: no error')

  symlinkSync(join(dir, 'victim'), p)
  removeIfOurs(p, () => true)
  t.ok(lstatSync(p).isSymbolicLink(), 'a symlink is not ours')
  t.equal(readFileSync(join(dir, 'victim'), 'utf8'), '7\n')
})

t.test('removeIfOurs in a directory we cannot write: emptied instead', async t => {
  const dir = lockedDir(t)
  const p = givenToNobody(dir, 'a.pid', 'old\n')
  asNobody(() => writeFileSafely(p, '42\n'))
  asNobody(() => removeIfOurs(p, text => text === '41\n'))
  t.equal(readFileSync(p, 'utf8'), '42\n', 'not ours: left alone')
  asNobody(() => removeIfOurs(p, text => text === '42\n'))
  t.equal(readFileSync(p, 'utf8'), '', 'emptied: no stale pid')

  const roots = join(dir, 'roots.pid')
  writeFileSync(roots, '42\n')
  chmodSync(roots, 0o666)
  asNobody(() => removeIfOurs(roots, () => true))
  t.equal(readFileSync(roots, 'utf8'), '42\n', "another user's file is not touched")
})
