// The forward model: where each forward came from, and its state from what
// ssh says, with the real lines of OpenSSH 9.2 (heard as the machine hears them).
import t from 'tap'
import {
  forwardsUp,
  heardForwards,
  modelForwards,
  sawListening,
  sshEnded,
  sshStarted,
  tunnelUp,
  type Forward,
  type Forwards,
} from '../../src/machine/forwards.js'
import { parseForwardArg, type ForwardKind, type ForwardSpec } from '../../src/ssh/forward-spec.js'
import { hear } from '../../src/ssh/says.js'

const spec = (kind: ForwardKind, arg: string): ForwardSpec => parseForwardArg(kind, arg)!
const L = (a: string) => spec('local', a)
const R = (a: string) => spec('remote', a)
const D = (a: string) => spec('dynamic', a)

const T = Date.parse('2026-11-25T10:00:00.000Z')
const said = (fw: Forwards, line: string, at = T) => heardForwards(fw, hear(line)!, at)
const states = (fs: Forward[]) => fs.map(f => `${f.listen} ${f.state}${f.port === undefined ? '' : ` ${f.port}`}`)

t.test('where each forward came from, and the order', async t => {
  const monitor = [L('20000:127.0.0.1:20000'), R('20000:127.0.0.1:20001')]
  const commandLine = [R('0:localhost:22'), L('22883:localhost:1883')]
  // ssh -G lists dynamic, then local, then remote forwards; the command line's are among them
  const effective = [D('1080'), monitor[0]!, commandLine[1]!, L('9000:h:9'), monitor[1]!, commandLine[0]!, R('8080')]
  const fw = modelForwards({ effective, commandLine, monitor })
  t.same(
    fw.user.map(f => [f.kind, f.listen, f.target, f.from, f.state]),
    [
      ['remote', '0', 'localhost:22', 'command-line', 'down'],
      ['local', '22883', 'localhost:1883', 'command-line', 'down'],
      ['dynamic', '1080', undefined, 'config', 'down'],
      ['local', '9000', 'h:9', 'config', 'down'],
      ['remote', '8080', undefined, 'config', 'down'],
    ],
  )
  t.same(fw.monitor.map(f => [f.kind, f.listen, f.target, f.from]), [
    ['local', '20000', '127.0.0.1:20000', 'monitor'],
    ['remote', '20000', '127.0.0.1:20001', 'monitor'],
  ])
  t.equal(fw.user[1]!.listenPort, 22883)

  const unread = modelForwards({ effective: undefined, commandLine, monitor })
  t.same(unread.user.map(f => [f.listen, f.from]), [['0', 'command-line'], ['22883', 'command-line']], 'ssh -G not read: the command line is all there is')
  t.equal(unread.monitor.length, 2)

  const monitorless = modelForwards({ effective: [commandLine[1]!], commandLine, monitor })
  t.same(monitorless.user.map(f => f.listen), ['22883'], 'a command-line forward ssh will not set up (ClearAllForwardings) is left out')
  t.equal(monitorless.monitor.length, 2, "the monitor's are kept when -G was read without them")

  const socket = modelForwards({ effective: [L('/tmp/l.sock:/tmp/r.sock')], commandLine: [], monitor: [] })
  t.equal(socket.user[0]!.listenPort, undefined)
  t.equal(socket.user[0]!.listen, '/tmp/l.sock')
})

t.test('a run: requested, then up unless refused; down when ssh goes', async t => {
  let fw = modelForwards({ effective: undefined, commandLine: [L('22883:localhost:1883'), R('2222:localhost:22'), R('2223:localhost:22'), D('1080')], monitor: [] })
  fw = sshStarted(fw)
  t.same(states(fw.user), ['22883 requested', '2222 requested', '2223 requested', '1080 requested'])
  fw = said(fw, 'Warning: remote port forwarding failed for listen port 2223')
  fw = tunnelUp(fw)
  t.same(states(fw.user), ['22883 listening', '2222 granted', '2223 refused', '1080 listening'])
  t.same(fw.user[2]!.lastError, { at: T, words: 'ssh: remote forward refused for port 2223' })
  t.equal(forwardsUp(fw.user), 3)
  fw = sshEnded(fw)
  t.same(states(fw.user), ['22883 down', '2222 down', '2223 down', '1080 down'])
  t.equal(fw.user[2]!.lastError?.words, 'ssh: remote forward refused for port 2223', 'the last error stays')
  fw = sshStarted(fw)
  t.equal(forwardsUp(fw.user), 0)
})

t.test('what the system shows: a local port listening', async t => {
  let fw = sshStarted(modelForwards({ effective: undefined, commandLine: [L('22883:h:1'), L('22884:h:1'), R('22885:h:1'), L('/tmp/x:h:1')], monitor: [] }))
  fw = sawListening(fw, new Set([22883, 22885]))
  t.same(states(fw.user), ['22883 listening', '22884 requested', '22885 requested', '/tmp/x requested'])
  fw = said(fw, 'channel_setup_fwd_listener_tcpip: cannot listen to port: 22884')
  fw = sawListening(fw, new Set([22884]))
  t.same(states(fw.user).slice(0, 2), ['22883 listening', '22884 failed'], 'a failed forward is not revived by a port someone else holds')
})

t.test('a local forward that cannot listen', async t => {
  let fw = sshStarted(modelForwards({ effective: undefined, commandLine: [L('127.0.0.1:43879:127.0.0.1:22'), L('43880:h:1')], monitor: [L('20000:127.0.0.1:20000')] }))
  // OpenSSH 9.2's lines, in order (test/fixtures/ssh-stderr.json, ssh-local-forward)
  fw = said(fw, 'bind [127.0.0.1]:43879: Address already in use')
  t.same(states(fw.user), ['127.0.0.1:43879 requested', '43880 requested'], 'one address of it: it may listen on another')
  t.equal(fw.user[0]!.lastError?.words, 'ssh: local forward cannot bind 127.0.0.1 port 43879: Address already in use')
  fw = said(fw, 'channel_setup_fwd_listener_tcpip: cannot listen to port: 43879', T + 1)
  fw = said(fw, 'Could not request local forwarding.', T + 2)
  t.same(states(fw.user), ['127.0.0.1:43879 failed', '43880 requested'])
  t.same(fw.user[0]!.lastError, { at: T + 1, words: 'ssh: local forward cannot listen on port 43879' })
  t.equal(said(fw, 'bind: Address already in use'), fw, 'no port: nothing to attribute')
  fw = said(fw, 'channel_setup_fwd_listener_tcpip: cannot listen to port: 20000')
  t.equal(fw.monitor[0]!.state, 'failed', "the monitor's own")
  fw = tunnelUp(fw)
  t.same(states(fw.user), ['127.0.0.1:43879 failed', '43880 listening'])
  t.equal(forwardsUp(fw.user), 1)
})

t.test('remote forwards: refused by port or path, in the order asked', async t => {
  const monitor = [R('20000:127.0.0.1:20001')]
  let fw = sshStarted(modelForwards({ effective: undefined, commandLine: [R('20000:h:1'), R('0:h:2'), R('0:h:3'), R('/run/r.sock:h:4')], monitor }))
  fw = said(fw, 'Warning: remote port forwarding failed for listen port 20000')
  t.equal(fw.monitor[0]!.state, 'refused', "the first asked for that port: the monitor's (its forwards come first)")
  t.equal(fw.user[0]!.state, 'requested')
  fw = said(fw, 'Error: remote port forwarding failed for listen port 20000')
  t.equal(fw.user[0]!.state, 'refused', 'then the next')
  fw = said(fw, 'Warning: remote port forwarding failed for listen port 20000')
  t.equal(fw.user[0]!.state, 'refused', 'none left waiting: the first again')
  fw = said(fw, 'Warning: remote port forwarding failed for listen path /run/r.sock')
  t.equal(fw.user[3]!.state, 'refused')
  t.equal(fw.user[3]!.lastError?.words, 'ssh: remote forward refused for path /run/r.sock')
  t.equal(said(fw, 'Warning: Could not request remote forwarding.'), fw, 'names no forward: the line with the port did')
  t.equal(said(fw, 'Warning: remote port forwarding failed for listen port 9'), fw, 'not ours')
  fw = said(fw, 'Warning: remote port forwarding failed for listen port 0')
  t.same(states(fw.user).slice(1, 3), ['0 refused', '0 requested'], 'a -R 0 refused: the first waiting')
})

t.test('-R 0: the allocated port, to the forward with that target', async t => {
  let fw = sshStarted(
    modelForwards({ effective: undefined, commandLine: [R('0:127.0.0.1:36413'), R('0:127.0.0.1:36413'), R('0:[::1]:22'), R('0:/tmp/nosock'), R('0:h:9'), R('0')], monitor: [] }),
  )
  // a remote dynamic forward (-R 0 alone) first: OpenSSH 9.2's words for it
  fw = said(fw, 'Allocated port 41737 for remote forward to socks:0')
  fw = said(fw, 'Allocated port 35793 for remote forward to 127.0.0.1:36413')
  fw = said(fw, 'Allocated port 45043 for remote forward to 127.0.0.1:36413')
  fw = said(fw, 'Allocated port 40000 for remote forward to ::1:22')
  // OpenSSH 9.2 shows a unix socket target with its port, PORT_STREAMLOCAL (-2)
  fw = said(fw, 'Allocated port 36751 for remote forward to /tmp/nosock:-2')
  fw = said(fw, 'dbclient: Allocated port 41000 for remote forward to other:1')
  t.same(states(fw.user), ['0 granted 35793', '0 granted 45043', '0 granted 40000', '0 granted 36751', '0 granted 41000', '0 granted 41737'], 'no target matches: the first waiting')
  t.equal(said(fw, 'Allocated port 1 for remote forward to h:9'), fw, 'none waiting: nothing changes')
  fw = sshStarted(fw)
  t.equal(fw.user[0]!.port, undefined, 'a new ssh, a new port')
})

t.test("a target that refuses: the forward's last error, never its state", async t => {
  const monitor = [L('20000:127.0.0.1:7')]
  let one = sshStarted(modelForwards({ effective: undefined, commandLine: [L('45001:127.0.0.1:1'), R('45005:127.0.0.1:1'), R('45006:nosuch.invalid:1')], monitor }))
  one = tunnelUp(one)
  one = said(one, 'channel 3: open failed: connect failed: Connection refused', T + 5)
  t.same(one.user[0]!.lastError, { at: T + 5, words: 'ssh: forwarded connection failed at the far end: connect failed: Connection refused' })
  t.equal(one.user[0]!.state, 'listening')
  t.equal(one.monitor[0]!.lastError, undefined, "never the monitor's: its probe fails by itself")
  t.equal(one.user[1]!.lastError, undefined, 'not a remote forward')
  one = said(one, 'connect_to 127.0.0.1 port 1: failed.', T + 6)
  t.same(one.user[1]!.lastError, { at: T + 6, words: 'ssh: cannot connect to forward target 127.0.0.1 port 1' })
  t.equal(one.user[1]!.state, 'granted')
  t.equal(one.user[2]!.lastError, undefined, 'another target')
  one = said(one, 'connect_to nosuch.invalid: unknown host (Name or service not known)', T + 7)
  t.equal(one.user[2]!.lastError?.words, 'ssh: cannot connect to forward target nosuch.invalid: Name or service not known')
  t.equal(said(one, 'connect_to 127.0.0.1 port 2: failed.'), one, 'a target of none of them: nothing changes')

  let two = tunnelUp(sshStarted(modelForwards({ effective: undefined, commandLine: [L('45001:h:1'), D('1080'), R('45005:h:1')], monitor })))
  two = said(two, 'channel 1: open failed: administratively prohibited: open failed')
  t.same(
    two.user.map(f => f.lastError?.words),
    ['ssh: forwarded connection failed at the far end: administratively prohibited: open failed', 'ssh: forwarded connection failed at the far end: administratively prohibited: open failed', undefined],
    'the line names no forward: each local and dynamic one of the user',
  )
})

t.test('lines about other things change nothing', async t => {
  const fw = sshStarted(modelForwards({ effective: undefined, commandLine: [L('1:h:1')], monitor: [] }))
  t.equal(said(fw, 'ssh: connect to host h port 22: Connection refused'), fw)
  t.equal(said(fw, 'Timeout, server h not responding.'), fw)
})
