import t from 'tap'
import { netTimeoutMs, probeDeadlineMs, readSettings, type Settings } from '../src/settings.js'

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
    notes: [],
  })
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

t.test('net timeouts and the probe deadline', async t => {
  t.equal(netTimeoutMs(600), 15000)
  t.equal(netTimeoutMs(30), 15000)
  t.equal(netTimeoutMs(29), 14500)
  t.equal(netTimeoutMs(4), 2000)
  t.equal(netTimeoutMs(1), 500)
  t.equal(probeDeadlineMs(600), 15000)
  t.equal(probeDeadlineMs(30), 15000)
  t.equal(probeDeadlineMs(10), 1400)
  t.equal(probeDeadlineMs(2), 1000)
})

t.test('a first poll time that wraps negative means the default poll time, as 1.4g', async t => {
  t.equal(get({ AUTOSSH_FIRST_POLL: '-1' }).firstPollTime, 600)
})
