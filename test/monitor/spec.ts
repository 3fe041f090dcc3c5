import t from 'tap'
import { forwards, parseMonitorSpec } from '../../src/monitor/spec.js'

t.test('valid specs', async t => {
  t.same(parseMonitorSpec('20000'), { ok: true, spec: { mode: 'pair', port: 20000 } })
  t.same(parseMonitorSpec('20000:7'), { ok: true, spec: { mode: 'echo', port: 20000, echoPort: 7 } })
  t.same(parseMonitorSpec('0'), { ok: true, spec: { mode: 'off' } })
  t.same(parseMonitorSpec('0:7'), { ok: true, spec: { mode: 'off' } })
  t.same(parseMonitorSpec('65534'), { ok: true, spec: { mode: 'pair', port: 65534 } })
})

t.test('bad specs, in autossh\'s words', async t => {
  const err = (s: string) => {
    const r = parseMonitorSpec(s)
    return r.ok ? 'ok' : r.error
  }
  t.equal(err('abc'), 'invalid port "abc"')
  t.equal(err(''), 'invalid port ""')
  t.equal(err(':7'), 'invalid port ""')
  t.equal(err('65535'), 'monitor port (65535) out of range')
  t.equal(err('-2'), 'monitor port (-2) out of range')
  t.equal(err('20000:abc'), 'invalid echo port  "abc"')
  t.equal(err('20000:'), 'invalid echo port  ""')
  t.equal(err('20000:0'), 'invalid echo port  "0"')
  t.equal(err('20000:70000'), 'invalid echo port  "70000"')
  t.equal(err('abc:7x'), 'invalid echo port  "7x"', 'the echo port is checked first, as 1.4g does')
})

t.test('forwards', async t => {
  t.same(forwards({ mode: 'off' }), [])
  t.same(forwards({ mode: 'pair', port: 5 }), ['-L', '5:127.0.0.1:5', '-R', '5:127.0.0.1:6'])
  t.same(forwards({ mode: 'echo', port: 5, echoPort: 7 }), ['-L', '5:127.0.0.1:7'])
  t.same(forwards({ mode: 'pair', port: 5 }, '127.0.0.2'), ['-L', '5:127.0.0.2:5', '-R', '5:127.0.0.2:6'])
  t.same(forwards({ mode: 'pair', port: 5 }, '::1'), ['-L', '5:[::1]:5', '-R', '5:[::1]:6'], 'IPv6 in brackets, as ssh wants it')
  t.same(forwards({ mode: 'echo', port: 5, echoPort: 7 }, '::1'), ['-L', '5:[::1]:7'])
  t.same(forwards({ mode: 'off' }, '::1'), [])
})
