// The autossh command as a process: what it does before and around main.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { alive, Fake, sleep, start, waitFor } from './helpers/autossh.js'

/** is the signal ignored or caught (not fatal) in the process, as /proc tells */
const survives = (pid: number, signal: number): boolean => {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const mask = (name: string) => BigInt('0x' + new RegExp(`^${name}:\\s*([0-9a-f]+)$`, 'm').exec(status)![1])
  return ((mask('SigIgn') | mask('SigCgt')) & (1n << BigInt(signal - 1))) !== 0n
}

t.test('SIGPIPE never kills autossh: ignored or handled, the first time and every time after', async t => {
  const f = new Fake(['sleep'])
  t.teardown(() => f.cleanup())
  const r = start(['-M', '0', 'h'], f.env())
  await waitFor(() => f.runs().length, 10000, 'ssh to start')
  const pid = r.child.pid!
  for (let i = 1; i <= 3; i++) {
    t.ok(survives(pid, 13), `SIGPIPE not fatal before signal ${i}`)
    r.child.kill('SIGPIPE')
    await sleep(150)
    t.ok(alive(pid), `alive after SIGPIPE ${i}`)
  }
  t.ok(alive(f.runs()[0]!.pid), 'ssh untouched')
  t.equal(f.runs().length, 1, 'and not restarted')
  r.child.kill('SIGTERM')
  t.equal(await r.done, 1)
})
