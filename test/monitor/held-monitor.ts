// A held monitor port is not a failed tunnel (issue 13, row 1). The path moves
// under a pair-mode tunnel and the server, left at OpenSSH's defaults (no
// ClientAliveInterval), keeps the dead session and with it the monitor's own
// -R port. The new ssh's monitor forward is refused, the user's -L forward
// works: autossh keeps that ssh, up but unwatched, and asks for the monitor
// port again only now and then. Before, it killed ssh every ~3.5 s and the
// user's forward worked at none of the checks.
import t from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { sleep, start, waitFor } from '../helpers/autossh.js'
import { freePort, freePortPair, makeWorld, talk, worldSkip } from '../world/index.js'

// port-pair mode: the remote in a network namespace of its own
const skip = worldSkip({ netns: true })

for (const exitOnFailure of ['no', 'yes']) {
  t.test(`pair mode, ExitOnForwardFailure=${exitOnFailure}: the monitor port held for good, the user's forward kept`, { skip, timeout: 120000 }, async t => {
    const w = await makeWorld({ netns: true })
    t.teardown(() => w.close())
    const userPort = await freePort()
    const mon = await freePortPair()
    const log = join(w.dir, 'autossh.log')
    const status = join(w.dir, 'status.json')
    const autossh = start(
      ['-M', String(mon), '-N', '-o', 'LogLevel=INFO', '-o', `ExitOnForwardFailure=${exitOnFailure}`, '-L', `${userPort}:127.0.0.1:${w.targetPort}`, ...w.sshOptions, w.host],
      { AUTOSSH_PATH: '/usr/bin/ssh', AUTOSSH_LOGFILE: log, AUTOSSH_GATETIME: '0', AUTOSSH_POLL: '4', AUTOSSH_FIRST_POLL: '3', AUTOSSH_STATUSFILE: status },
    )
    t.teardown(() => autossh.child.kill('SIGKILL'))
    const messages = () => (existsSync(log) ? readFileSync(log, 'utf8') : '')
    const count = (m: string) => messages().split(m).length - 1
    const starts = () => count('starting ssh (count')
    const works = async () => (await talk(userPort, 'hello', 1000)) === 'ok hello'
    t.teardown(() => {
      if (!t.passing()) t.comment(messages() + autossh.stderr())
    })

    await waitFor(() => messages().includes('tunnel up'), 20000, 'tunnel up')
    w.link.move()
    // the poll finds the old connection dead and starts a new ssh, whose monitor port is refused
    await waitFor(() => messages().includes('the tunnel is up but unwatched'), 30000, 'the held monitor port to be told')
    await waitFor(works, 5000, "the user's forward")
    const startsBefore = starts()
    let ok = 0
    let failed = 0
    for (const until = Date.now() + 25000; Date.now() < until; await sleep(500)) {
      if (await works()) ok++
      else failed++
    }
    t.ok(failed <= 2, `the user's forward worked at ${ok} of ${ok + failed} checks over 25 s`)
    t.ok(starts() - startsBefore <= 2, `${starts() - startsBefore} ssh starts meanwhile`)
    t.match(JSON.parse(readFileSync(status, 'utf8')), { state: 'up', unwatched: `the server holds monitor port ${mon}` }, 'the status file says why it is unwatched')
    t.equal(count('the tunnel is up but unwatched'), 1, 'told once')

    autossh.child.kill('SIGTERM')
    t.equal(await autossh.done, 1)
  })
}
