// The reverse-tunnel trap (issue 9, rows 2 and 3): the path moves under a
// tunnel with a -R forward; the old TCP connection is silent for good, new
// ones pass. The server keeps the old session, and its -R port, until its
// ClientAlive gives up. The new ssh's -R is refused meanwhile: in echo mode
// without ExitOnForwardFailure ssh runs on without it (1.4g: for ever); in
// pair mode with it, ssh exits and 1.4g's growing backoff makes the wait long.
// Ours reads ssh's words, restarts at a steady short pace, and the user's
// forward is back soon after the server lets go.
import t from 'tap'
import type net from 'node:net'
import { join } from 'node:path'
import { start, waitFor } from '../helpers/autossh.js'
import { freePort, freePortPair, makeWorld, remoteTalk, worldSkip } from '../world/index.js'
import { startTarget } from '../world/services.js'

/** the server lets a silent client go after about 2 × 2 s */
const SSHD = ['ClientAliveInterval 2', 'ClientAliveCountMax 2']

const cases = [
  { name: 'echo mode, default ssh options', mode: 'echo' as const, netns: false, exitOnFailure: 'no' },
  { name: 'pair mode with ExitOnForwardFailure=yes', mode: 'pair' as const, netns: true, exitOnFailure: 'yes' },
]

for (const c of cases) {
  const skip = worldSkip({ netns: c.netns })
  t.test(`${c.name}: a -R forward held by the old session comes back soon after the server frees it`, { skip, timeout: 120000 }, async t => {
    const w = await makeWorld({ netns: c.netns, sshd: SSHD })
    t.teardown(() => w.close())
    const target: net.Server = await startTarget(0)
    t.teardown(() => void target.close())
    const localPort = (target.address() as net.AddressInfo).port
    const remotePort = c.netns ? 2222 : await freePort()
    const mon = c.mode === 'pair' ? String(await freePortPair()) : `${await freePort()}:${w.echoPort}`
    const log = join(w.dir, 'autossh.log')
    const autossh = start(
      ['-M', mon, '-N', '-o', `ExitOnForwardFailure=${c.exitOnFailure}`, '-o', 'LogLevel=INFO', '-R', `${remotePort}:127.0.0.1:${localPort}`, ...w.sshOptions, w.host],
      { AUTOSSH_PATH: '/usr/bin/ssh', AUTOSSH_LOGFILE: log, AUTOSSH_GATETIME: '0', AUTOSSH_POLL: '4', AUTOSSH_FIRST_POLL: '3' },
    )
    t.teardown(() => autossh.child.kill('SIGKILL'))
    const { readFileSync, existsSync } = await import('node:fs')
    const messages = () => (existsSync(log) ? readFileSync(log, 'utf8') : '')
    const works = async () => (await remoteTalk(w, remotePort, 'hi', 2000)) === 'ok hi'
    t.teardown(() => {
      if (!t.passing()) t.comment(messages() + autossh.stderr())
    })

    await waitFor(works, 20000, 'the reverse forward')
    w.link.move()
    const movedAt = Date.now()
    await waitFor(() => messages().includes('ssh: remote forward refused for port'), 30000, 'the refused forward to be read')
    t.match(messages(), /the server may still hold port \d+ for an older session; ClientAliveInterval/, 'the hint, once')
    t.equal(messages().split('the server may still hold').length - 1, 1, 'said once for the outage')
    let backAt = 0
    await waitFor(async () => (await works()) && (backAt = Date.now()), 40000, 'the reverse forward back')
    // the server frees the port 4-6 s after the move (ClientAlive 2 s x 2); then a steady 2-4 s retry
    t.ok(backAt - movedAt < 25000, `back ${backAt - movedAt} ms after the path moved`)
    t.notMatch(messages(), /sleeping for grace time [1-9]\d+ secs/, 'no growing backoff while the port is held')

    autossh.child.kill('SIGTERM')
    t.equal(await autossh.done, 1)
  })
}
