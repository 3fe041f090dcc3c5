import t from 'tap'
import { escapeControls } from '../../src/log/escape.js'

t.test('a message without control characters is left exactly as it is', async t => {
  for (const m of [
    'ssh exited with error status 255; restarting ssh',
    'not what I sent: "1 2 3" : "a \\n b"',
    'é ü — ☃ 😀 \u00a0 \u2028',
    '',
  ])
    t.equal(escapeControls(m), m)
})

t.test('line breaks, tabs and the rest of C0, DEL and C1 become C escapes', async t => {
  t.equal(escapeControls('a\r\nb\tc'), 'a\\r\\nb\\tc')
  t.equal(escapeControls('\x00\x01\x07\x08\x0b\x0c\x1b[31m\x1f'), '\\x00\\x01\\x07\\x08\\x0b\\x0c\\x1b[31m\\x1f')
  t.equal(escapeControls('\x7f\x80\x85\x9b\x9f\xa0'), '\\x7f\\x80\\x85\\x9b\\x9f\xa0')
})

t.test('what the far side of the monitor port sends stays on one line', async t => {
  const received = 'x\r\n2025/01/01 00:00:00 autossh[1]: ssh exited prematurely with status 0; autossh exiting\n'
  const logged = escapeControls(`not what I sent: "1 2\n" : "${received}"`)
  t.notMatch(logged, /[\r\n]/)
  t.equal(
    logged,
    'not what I sent: "1 2\\n" : "x\\r\\n2025/01/01 00:00:00 autossh[1]: ssh exited prematurely with status 0; autossh exiting\\n"',
  )
})

t.test('every control character, and nothing else, is escaped, each as one escape', async t => {
  const codes = Array.from({ length: 0x180 }, (_, c) => c)
  const escaped = codes.filter(c => escapeControls(String.fromCharCode(c)) !== String.fromCharCode(c))
  t.same(escaped, codes.filter(c => c < 0x20 || (c >= 0x7f && c < 0xa0)))
  t.ok(escaped.every(c => /^\\(?:[nrt]|x[0-9a-f]{2})$/.test(escapeControls(String.fromCharCode(c)))))
})
