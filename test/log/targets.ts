import t from 'tap'
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Fake, start, waitFor } from '../helpers/autossh.js'
import { shortDir } from '../helpers/syslog.js'
import { LOG_INFO } from '../../src/log/levels.js'
import { fileTarget, writeAll } from '../../src/log/targets.js'

t.test('writeAll never throws, even on a closed descriptor', async t => {
  const dir = shortDir(t)
  const fd = openSync(join(dir, 'f'), 'w')
  writeAll(fd, 'kept\n')
  closeSync(fd)
  t.doesNotThrow(() => writeAll(fd, 'lost\n'))
  t.equal(readFileSync(join(dir, 'f'), 'utf8'), 'kept\n')
})

const messages = (path: string) =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map(l => l.replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d autossh\[\d+\]: /, ''))

t.test('a log file: appended to, one line a message, never on stderr', async t => {
  const path = join(shortDir(t), 'log')
  writeFileSync(path, 'before\n')
  const log = fileTarget(path)
  t.teardown(() => log.close())
  t.equal(log.write(LOG_INFO, 'one'), false)
  t.match(readFileSync(path, 'utf8'), /^before\n\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d autossh\[\d+\]: one\n$/)
  t.throws(() => fileTarget(join(path, 'x')), { code: 'ENOTDIR' }, 'the first open throws')
})

t.test('a log file renamed away (logrotate): the next line goes to the path again', async t => {
  const dir = shortDir(t)
  const path = join(dir, 'log')
  const log = fileTarget(path)
  t.teardown(() => log.close())
  log.write(LOG_INFO, 'one')

  // rename, then create (logrotate's default): the new file is used
  renameSync(path, path + '.1')
  writeFileSync(path, '')
  const created = statSync(path).ino
  log.write(LOG_INFO, 'two')
  t.same(messages(path + '.1'), ['one'])
  t.same(messages(path), ['two'])
  t.equal(statSync(path).ino, created, 'the file logrotate made, not another')

  // rename only: the path is made again
  renameSync(path, path + '.2')
  log.write(LOG_INFO, 'three')
  t.same(messages(path + '.2'), ['two'])
  t.same(messages(path), ['three'])

  // removed: made again too
  unlinkSync(path)
  log.write(LOG_INFO, 'four')
  t.same(messages(path), ['four'])

  // the path cannot be opened: lines go on into the file held
  renameSync(path, path + '.3')
  mkdirSync(path)
  log.write(LOG_INFO, 'five')
  t.same(messages(path + '.3'), ['four', 'five'])
  rmSync(path, { recursive: true })
  log.write(LOG_INFO, 'six')
  t.same(messages(path + '.3'), ['four', 'five'])
  t.same(messages(path), ['six'])
})

t.test('autossh follows its log file when logrotate renames it', async t => {
  const f = new Fake(['sleep'])
  t.teardown(() => f.cleanup())
  const a = start(['-M', '0', 'h'], f.env())
  t.teardown(() => a.child.kill('SIGKILL'))
  await waitFor(() => f.messages().some(m => m.startsWith('ssh child pid is')), 5000, 'the first lines')
  renameSync(f.log, f.log + '.1')
  writeFileSync(f.log, '')
  a.child.kill('SIGUSR1')
  await waitFor(() => f.messages().some(m => m.startsWith('ssh child pid is')), 5000, 'lines in the new file')
  t.match(f.messages(), ['signalled to kill and restart ssh', 'starting ssh (count 2)', /^ssh child pid is \d+$/])
  t.equal(messages(f.log + '.1').length, 3, 'the old file has only what came before')
  a.child.kill('SIGTERM')
  t.equal(await a.done, 1)
  t.equal(f.messages().at(-1), 'received signal to exit (15)')
})
