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
