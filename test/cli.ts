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

// systemd counts a main process that exits 1 after its SIGTERM as failed; 1.4g's
// scripts count on that 1. AUTOSSH_STOP_STATUS=0, set in the units, tells the two apart.
t.test('AUTOSSH_STOP_STATUS=0: SIGTERM and SIGINT exit 0, with ssh stopped; unset, 1; a failure is still 1', async t => {
  const stopped = async (signal: NodeJS.Signals, env: Record<string, string>) => {
    const f = new Fake(['sleep'])
    t.teardown(() => f.cleanup())
    const r = start(['-M', '0', 'h'], f.env(env))
    await waitFor(() => f.runs().length, 10000, 'ssh to start')
    r.child.kill(signal)
    const status = await r.done
    await waitFor(() => !alive(f.runs()[0]!.pid), 5000, 'ssh to be gone')
    return status
  }
  t.equal(await stopped('SIGTERM', { AUTOSSH_STOP_STATUS: '0' }), 0, 'SIGTERM, 0')
  t.equal(await stopped('SIGINT', { AUTOSSH_STOP_STATUS: '0' }), 0, 'SIGINT, 0')
  t.equal(await stopped('SIGQUIT', { AUTOSSH_STOP_STATUS: '0' }), 1, 'SIGQUIT, 1')
  t.equal(await stopped('SIGTERM', {}), 1, 'unset: SIGTERM, 1 as 1.4g')
  t.equal(await stopped('SIGTERM', { AUTOSSH_STOP_STATUS: '1' }), 1, '1: SIGTERM, 1')

  const f = new Fake(['255'])
  t.teardown(() => f.cleanup())
  t.equal(await start(['-M', '0', 'h'], f.env({ AUTOSSH_STOP_STATUS: '0' })).done, 1, 'ssh failing at once on its first run: 1')
  const g = new Fake(['sleep'])
  t.teardown(() => g.cleanup())
  const bad = start(['-M', '0', 'h'], g.env({ AUTOSSH_STOP_STATUS: 'yes' }))
  t.equal(await bad.done, 1)
  t.match(bad.stderr(), /^\S+ \S+ autossh\[\d+\]: invalid stop status "yes" \(0 or 1\)\n$/, 'a bad value: one line, before anything starts')
  t.equal(g.runs().length, 0, 'and no ssh')
})
