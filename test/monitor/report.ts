// "Is the tunnel up?" answered for a machine (issue 10): over real OpenSSH,
// a cut and a recovery, with a stand-in for systemd's notification socket
// and a status file.
import t from 'tap'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { notifyReceiver, type Notification } from '../helpers/notify-receiver.js'
import { alive, sleep, waitFor } from '../helpers/autossh.js'
import { startTunnel } from '../helpers/tunnel.js'
import { needs } from '../helpers/needs.js'
import { makeWorld, worldSkip } from '../world/index.js'

/** the children of a process, from /proc */
const children = (pid: number): number[] => {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap(tid =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean).map(Number),
    )
  } catch {
    return []
  }
}

t.test('READY once up, STATUS down while down, WATCHDOG at the asked rate, the status file following, nothing left', { skip: worldSkip() || needs('python3', 'perl'), timeout: 120000 }, async t => {
  const w = await makeWorld({ netns: false })
  t.teardown(() => w.close())
  const rx = await notifyReceiver()
  t.teardown(() => rx.close())
  const file = join(w.dir, 'status.json')
  const tun = await startTunnel(w, 'echo', { NOTIFY_SOCKET: rx.socket, WATCHDOG_USEC: '2000000', AUTOSSH_STATUSFILE: file })
  t.teardown(() => tun.autossh.child.kill('SIGKILL'))
  const state = () => (existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { state: string; ssh_pid: number | null; last_probe: unknown }) : undefined)
  const fields = (m: Notification) => m.fields
  const sent = (key: string) => rx.messages().filter(m => key in m.fields)

  await waitFor(() => sent('READY').length, 20000, 'READY=1')
  const ready = rx.messages().findIndex(m => m.fields.READY === '1')
  t.ok(tun.messages().some(m => m.startsWith('tunnel up')), 'READY=1 comes with the first passed probe')
  t.notOk(rx.messages().slice(0, ready).some(m => /^up/.test(m.fields.STATUS ?? '')), 'nothing said up before READY')
  t.match(fields(rx.messages()[ready]!).STATUS, /^up/, 'STATUS=up with READY')
  t.equal(state()?.state, 'up', 'the status file says up')
  t.equal(state()?.ssh_pid, tun.sshPids()[0])

  const dogs = sent('WATCHDOG').length
  await sleep(4000)
  const more = sent('WATCHDOG').slice(dogs)
  t.ok(more.length >= 3 && more.length <= 5, `WATCHDOG=1 every second for WATCHDOG_USEC of 2 s (${more.length} in 4 s)`)

  w.link.cut()
  await waitFor(() => rx.messages().some(m => /^down/.test(m.fields.STATUS ?? '')), 20000, 'STATUS down')
  t.ok(['down', 'backoff', 'starting'].includes(state()!.state), `the status file is not up while down (${state()!.state})`)
  t.equal(sent('READY').length, 1, 'READY once')

  w.link.restore()
  await waitFor(() => state()?.state === 'up', 30000, 'the status file up again')
  t.equal(state()?.ssh_pid, tun.sshPids().at(-1), 'with the new ssh')
  await waitFor(() => /^up/.test(rx.messages().at(-1)?.fields.STATUS ?? ''), 10000, 'STATUS up again')
  t.equal(sent('READY').length, 1, 'still READY once')

  const ours = tun.autossh.child.pid!
  const helpers = children(ours)
  t.ok(helpers.length >= 2, 'ssh and the notification sender run under autossh')
  tun.autossh.child.kill('SIGTERM')
  t.equal(await tun.autossh.done, 1)
  await waitFor(() => sent('STOPPING').length, 5000, 'STOPPING=1')
  await sleep(300)
  t.equal(sent('STOPPING').length, 1, 'STOPPING=1 once')
  // each STATUS= once: none repeats the one before it (starting and stopping were each sent twice)
  const statuses = sent('STATUS').map(m => m.fields.STATUS!)
  t.same(statuses.filter((line, i) => line === statuses[i - 1]), [], 'no STATUS= sent twice in a row')
  t.equal(statuses.filter(line => line === 'stopping').length, 1, 'STATUS=stopping once')
  t.notOk(existsSync(file), 'the status file is gone')
  // each goes as its parent does, not at once: on a loaded machine, later than the 300 ms above
  // (a zombie left to init counts as gone: alive())
  await waitFor(() => helpers.every(pid => !alive(pid)), 5000, 'the helpers gone').catch(() => {})
  t.same(helpers.filter(alive), [], 'nothing of ours left')
})

t.test('no NOTIFY_SOCKET: no notifications, no sender', { skip: worldSkip() || needs('python3') }, async t => {
  const w = await makeWorld({ netns: false })
  t.teardown(() => w.close())
  const rx = await notifyReceiver()
  t.teardown(() => rx.close())
  const tun = await startTunnel(w, 'echo', { NOTIFY_SOCKET: undefined as unknown as string, WATCHDOG_USEC: '2000000' })
  t.teardown(() => tun.autossh.child.kill('SIGKILL'))
  await waitFor(() => tun.messages().some(m => m.startsWith('tunnel up')), 20000, 'tunnel up')
  await sleep(1500)
  t.same(rx.messages(), [])
  const comm = (pid: number) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
  const kids = children(tun.autossh.child.pid!).map(comm)
  t.ok(kids.includes('ssh'), `ssh runs (${kids.join(', ')})`)
  t.notOk(kids.includes('perl'), 'no notification sender')
})

t.test('a status file that can no longer be written is said once, at warning level, and the tunnel goes on', async t => {
  const { Fake, start } = await import('../helpers/autossh.js')
  const { mkdtempSync, rmSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const f = new Fake(['sleep'])
  t.teardown(() => f.cleanup())
  const dir = mkdtempSync(join(tmpdir(), 'status-'))
  const r = start(['-M', '0', '-N', 'host'], f.env({ AUTOSSH_STATUSFILE: join(dir, 's.json'), AUTOSSH_GATETIME: '0' }))
  t.teardown(() => r.child.kill('SIGKILL'))
  await waitFor(() => existsSync(join(dir, 's.json')), 5000, 'the status file')
  rmSync(dir, { recursive: true, force: true })
  // -M 0: up once ssh has run 5 s, and the file is written again then
  await waitFor(() => f.messages().some(m => m.startsWith('cannot write status file')), 15000, 'the warning')
  t.match(f.messages().find(m => m.startsWith('cannot write status file')), /^cannot write status file ".*s\.json": No such file or directory$/)
  t.equal(f.runs().length, 1, 'ssh runs on')
  r.child.kill('SIGTERM')
  t.equal(await r.done, 1)
})
