import t from 'tap'
import { judgeExit } from '../../src/machine/verdict.js'

const first = { firstRun: true, gateTime: 30, ranFor: 100 }
const later = { firstRun: false, gateTime: 30, ranFor: 1 }
const exit = (code: number) => ({ code, signal: null })

t.test('a signal: restart', async t => {
  t.same(judgeExit({ code: null, signal: 9 }, { ...first, ranFor: 0 }), {
    restart: true, level: 6, message: 'ssh exited on signal 9, restarting ssh',
  })
})

t.test('within the gate on the first run: give up, whatever the status', async t => {
  for (const code of [0, 1, 255]) {
    t.same(judgeExit(exit(code), { ...first, ranFor: 30 }), {
      restart: false, status: 1, level: 3, message: `ssh exited prematurely with status ${code}; autossh exiting`,
    })
  }
})

t.test('the status table', async t => {
  t.match(judgeExit(exit(255), first), { restart: true, message: 'ssh exited with error status 255; restarting ssh' })
  t.match(judgeExit(exit(0), later), { restart: false, status: 0, message: 'ssh exited with status 0; autossh exiting' })
  t.match(judgeExit(exit(1), later), { restart: true, message: 'ssh exited with error status 1; restarting ssh' })
  t.match(judgeExit(exit(2), later), { restart: true, message: 'ssh exited with error status 2; restarting ssh' })
  t.match(judgeExit(exit(1), first), { restart: false, status: 1, message: 'ssh exited with status 1; autossh exiting' })
  t.match(judgeExit(exit(2), { ...first, gateTime: 0, ranFor: 0 }), { restart: true })
  t.match(judgeExit(exit(3), later), { restart: false, status: 1, message: 'ssh exited with status 3; autossh exiting' })
  t.match(judgeExit(exit(0), { ...first, gateTime: 0, ranFor: 0 }), { restart: false, status: 0 })
})
