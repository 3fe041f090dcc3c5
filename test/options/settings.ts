import t from 'tap'
import { netTimeoutMs, readSettings, type Settings } from '../../src/options/settings.js'

const read = (env: Record<string, string>): Settings | string => {
  const r = readSettings(env)
  return r.ok ? r.settings : r.error
}
const get = (env: Record<string, string>): Settings => {
  const s = read(env)
  if (typeof s === 'string') throw new Error(s)
  return s
}

t.test('defaults', async t => {
  t.same(get({}), {
    sshPath: '/usr/bin/ssh',
    debug: false,
    logLevel: 6,
    pollTime: 600,
    firstPollTime: 600,
    gateTime: 30,
    maxStart: -1,
    message: '',
    maxLifetime: 0,
    probeConnection: 'keep',
    probeDeadline: 'rtt',
    netWatch: true,
    stopStatus: 1,
    connWatch: true,
    sshFlavor: 'openssh',
    notes: [],
  })
})

t.test('ours: AUTOSSH_PROBE_DEADLINE and AUTOSSH_NETWATCH', async t => {
  t.equal(get({ AUTOSSH_PROBE_DEADLINE: 'fixed' }).probeDeadline, 'fixed')
  t.equal(get({ AUTOSSH_PROBE_DEADLINE: '' }).probeDeadline, 'rtt', 'empty is unset')
  t.equal(get({ AUTOSSH_NETWATCH: 'off' }).netWatch, false)
  t.equal(get({ AUTOSSH_NETWATCH: 'on' }).netWatch, true)
  t.equal(read({ AUTOSSH_PROBE_DEADLINE: 'slow' }), 'invalid probe deadline "slow" (rtt or fixed)')
  t.equal(read({ AUTOSSH_NETWATCH: '0' }), 'invalid network watch "0" (on or off)')
})

t.test('ours: AUTOSSH_STOP_STATUS', async t => {
  t.equal(get({ AUTOSSH_STOP_STATUS: '0' }).stopStatus, 0)
  t.equal(get({ AUTOSSH_STOP_STATUS: '1' }).stopStatus, 1)
  t.equal(get({ AUTOSSH_STOP_STATUS: '' }).stopStatus, 1, 'empty is unset')
  for (const v of ['2', '00', ' 0', 'yes', '-1']) t.equal(read({ AUTOSSH_STOP_STATUS: v }), `invalid stop status "${v}" (0 or 1)`, v)
})

t.test('ours: AUTOSSH_CONNWATCH', async t => {
  t.equal(get({ AUTOSSH_CONNWATCH: 'off' }).connWatch, false)
  t.equal(get({ AUTOSSH_CONNWATCH: 'on' }).connWatch, true)
  t.equal(get({ AUTOSSH_CONNWATCH: '' }).connWatch, true, 'empty is unset')
  t.equal(read({ AUTOSSH_CONNWATCH: 'no' }), 'invalid connection watch "no" (on or off)')
})

t.test('values', async t => {
  const s = get({
    AUTOSSH_PATH: '/opt/ssh',
    AUTOSSH_LOGLEVEL: '3',
    AUTOSSH_POLL: '0x1e',
    AUTOSSH_GATETIME: '0',
    AUTOSSH_MAXSTART: '-1',
    AUTOSSH_MESSAGE: 'x'.repeat(64),
    AUTOSSH_PORT: '20000',
    AUTOSSH_PIDFILE: '/run/a.pid',
    AUTOSSH_LOGFILE: '/var/log/a',
    AUTOSSH_PROBE_CONNECTION: 'per-probe',
  })
  t.match(s, { sshPath: '/opt/ssh', logLevel: 3, pollTime: 30, firstPollTime: 30, gateTime: 0, maxStart: -1, port: '20000' })
  t.match(s, { pidFile: '/run/a.pid', logFile: '/var/log/a', probeConnection: 'per-probe' })
  t.equal(get({ AUTOSSH_POLL: '10', AUTOSSH_FIRST_POLL: '5' }).firstPollTime, 5)
  t.equal(get({ AUTOSSH_POLL: '-1' }).pollTime, 600, '-1 wraps to a negative int: the default, as 1.4g')
  t.equal(get({ AUTOSSH_PORT: '', AUTOSSH_PIDFILE: '' }).port, undefined)
  t.equal(get({ AUTOSSH_PIDFILE: '' }).pidFile, undefined)
  t.equal(get({ AUTOSSH_STATUSFILE: '/run/a.json' }).statusFile, '/run/a.json')
  t.equal(get({ AUTOSSH_STATUSFILE: '' }).statusFile, undefined, 'empty: unset, as the pid file')
})

t.test('AUTOSSH_DEBUG means debug level, and AUTOSSH_LOGLEVEL is not read', async t => {
  t.match(get({ AUTOSSH_DEBUG: '', AUTOSSH_LOGLEVEL: 'junk' }), { debug: true, logLevel: 7 })
})

t.test('bad values, first one wins, in autossh\'s words', async t => {
  t.equal(read({ AUTOSSH_LOGLEVEL: '9' }), 'invalid log level "9"')
  t.equal(read({ AUTOSSH_LOGLEVEL: '-1' }), 'invalid log level "-1"')
  t.equal(read({ AUTOSSH_LOGLEVEL: '' }), 'invalid log level ""')
  t.equal(read({ AUTOSSH_POLL: 'abc' }), 'invalid poll time "abc"')
  t.equal(read({ AUTOSSH_POLL: '0' }), 'invalid poll time "0"')
  t.equal(read({ AUTOSSH_POLL: '4294967296' }), 'invalid poll time "4294967296"')
  t.equal(read({ AUTOSSH_FIRST_POLL: '5s' }), 'invalid first poll time "5s"')
  t.equal(read({ AUTOSSH_GATETIME: '-1' }), 'invalid gate time "-1"')
  t.equal(read({ AUTOSSH_MAXSTART: '-2' }), 'invalid max start number "-2"')
  t.equal(read({ AUTOSSH_MESSAGE: 'x'.repeat(65) }), 'echo message may only be 64 bytes long')
  t.equal(read({ AUTOSSH_MESSAGE: 'é'.repeat(33) }), 'echo message may only be 64 bytes long', 'bytes, not characters')
  t.equal(read({ AUTOSSH_MAXLIFETIME: 'x' }), 'invalid max lifetime "x"')
  t.equal(read({ AUTOSSH_PROBE_CONNECTION: 'x' }), 'invalid probe connection "x" (keep or per-probe)')
  t.equal(read({ AUTOSSH_POLL: 'x', AUTOSSH_GATETIME: 'y' }), 'invalid poll time "x"')
})

t.test('AUTOSSH_MAXLIFETIME cuts the poll times', async t => {
  const s = get({ AUTOSSH_MAXLIFETIME: '20', AUTOSSH_POLL: '60' })
  t.match(s, { maxLifetime: 20, pollTime: 20, firstPollTime: 20 })
  t.same(s.notes, [
    'poll time is greater than lifetime, dropping poll time to 20',
    'first poll time is greater than lifetime, dropping first poll time to 20',
  ])
  t.same(get({ AUTOSSH_MAXLIFETIME: '0' }).notes, [])
  t.match(get({ AUTOSSH_MAXLIFETIME: '700', AUTOSSH_FIRST_POLL: '800' }), { pollTime: 600, firstPollTime: 700 })
})

t.test('net timeouts: 15 s, or half the poll time under 30 s', async t => {
  t.equal(netTimeoutMs(600), 15000)
  t.equal(netTimeoutMs(30), 15000)
  t.equal(netTimeoutMs(29), 14500)
  t.equal(netTimeoutMs(4), 2000)
  t.equal(netTimeoutMs(1), 500)
})

t.test('a first poll time that wraps negative means the default poll time, as 1.4g', async t => {
  t.equal(get({ AUTOSSH_FIRST_POLL: '-1' }).firstPollTime, 600)
})

t.test('the ssh flavor: dbclient by its name, or AUTOSSH_SSH_FLAVOR', async t => {
  t.equal(get({ AUTOSSH_PATH: '/usr/bin/dbclient' }).sshFlavor, 'dropbear')
  t.equal(get({ AUTOSSH_PATH: 'dbclient' }).sshFlavor, 'dropbear')
  t.equal(get({ AUTOSSH_PATH: '/usr/bin/dbclient-wrapper' }).sshFlavor, 'openssh')
  t.equal(get({ AUTOSSH_PATH: '/usr/bin/ssh', AUTOSSH_SSH_FLAVOR: 'dropbear' }).sshFlavor, 'dropbear', 'OpenWrt\'s ssh is dbclient')
  t.equal(get({ AUTOSSH_PATH: '/usr/bin/dbclient', AUTOSSH_SSH_FLAVOR: 'openssh' }).sshFlavor, 'openssh')
  t.equal(get({ AUTOSSH_PATH: '/usr/bin/dbclient', AUTOSSH_SSH_FLAVOR: '' }).sshFlavor, 'dropbear', 'empty is unset')
  t.equal(read({ AUTOSSH_SSH_FLAVOR: 'Dropbear' }), 'invalid ssh flavor "Dropbear" (openssh or dropbear)')
  t.equal(read({ AUTOSSH_SSH_FLAVOR: 'toString' }), 'invalid ssh flavor "toString" (openssh or dropbear)')
})

t.test('AUTOSSH_MHOST: an IP address, not a name, not the unspecified address', async t => {
  t.equal(get({}).monitorHost, undefined)
  t.equal(get({ AUTOSSH_MHOST: '' }).monitorHost, undefined, 'empty is unset, as autossh 1.5')
  for (const ok of ['127.0.0.1', '127.0.0.2', '::1', '::ffff:127.0.0.1', '192.0.2.7']) t.equal(get({ AUTOSSH_MHOST: ok }).monitorHost, ok)
  for (const bad of ['localhost', '[::1]', '0.0.0.0', '::', '0:0::0', '127.1', '127.0.0.1:5', ' ::1']) {
    t.equal(read({ AUTOSSH_MHOST: bad }), `invalid monitor host "${bad}" (an IP address, such as 127.0.0.1 or ::1)`)
  }
  t.equal(get({ AUTOSSH_MHOST: '127.0.0.2', AUTOSSH_PATH: '/usr/bin/dbclient' }).monitorHost, '127.0.0.2')
  t.equal(read({ AUTOSSH_MHOST: '::1', AUTOSSH_PATH: '/usr/bin/dbclient' }), 'invalid monitor host "::1" (dbclient forwards IPv4 only)')
  t.equal(read({ AUTOSSH_MHOST: '::1', AUTOSSH_SSH_FLAVOR: 'dropbear' }), 'invalid monitor host "::1" (dbclient forwards IPv4 only)')
})
