import t from 'tap'
import { hostname } from 'node:os'
import { newNonce, probeLine } from '../../src/monitor/line.js'

t.test('the line is autossh\'s: node, name, pid, nonce, message, CRLF', async t => {
  t.equal(probeLine('42', 'hi', 7, 'box'), 'box autossh 7 42 hi\r\n')
  t.equal(probeLine('42', ''), `${hostname()} autossh ${process.pid} 42 \r\n`)
})

t.test('nonces are 48-bit decimals, and do not repeat', async t => {
  const nonces = Array.from({ length: 1000 }, newNonce)
  t.same(nonces.filter(n => !/^\d+$/.test(n) || Number(n) >= 2 ** 48), [])
  t.equal(new Set(nonces).size, 1000)
})
