import t from 'tap'
import { closeSync, openSync, readFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { writeAll } from '../../src/log/targets.js'

t.test('writeAll never throws, even on a closed descriptor', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'autossh-targets-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const fd = openSync(join(dir, 'f'), 'w')
  writeAll(fd, 'kept\n')
  closeSync(fd)
  t.doesNotThrow(() => writeAll(fd, 'lost\n'))
  t.equal(readFileSync(join(dir, 'f'), 'utf8'), 'kept\n')
})
