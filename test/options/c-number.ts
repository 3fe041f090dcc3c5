import t from 'tap'
import { strtol, strtoul, toInt } from '../../src/options/c-number.js'

t.test('strtoul reads numbers as C does in base 0', async t => {
  const cases: [string, bigint, boolean][] = [
    ['600', 600n, true],
    ['0x10', 16n, true],
    ['0X1f', 31n, true],
    ['010', 8n, true],
    ['09', 0n, false],
    [' 5', 5n, true],
    ['+7', 7n, true],
    ['5 ', 5n, false],
    ['', 0n, false],
    ['abc', 0n, false],
    ['0x', 0n, false],
    ['0', 0n, true],
    ['-1', (1n << 64n) - 1n, true],
    ['99999999999999999999999', (1n << 64n) - 1n, true],
  ]
  for (const [s, value, whole] of cases) t.same(strtoul(s), { value, whole }, JSON.stringify(s))
})

t.test('strtol saturates and keeps the sign', async t => {
  t.same(strtol('-1'), { value: -1n, whole: true })
  t.same(strtol('-0x10'), { value: -16n, whole: true })
  t.same(strtol('99999999999999999999'), { value: (1n << 63n) - 1n, whole: true })
  t.same(strtol('-99999999999999999999'), { value: -(1n << 63n), whole: true })
  t.same(strtol('1x'), { value: 1n, whole: false })
})

t.test('toInt keeps the low 32 bits as C casts do', async t => {
  t.equal(toInt(4294967296n), 0)
  t.equal(toInt((1n << 64n) - 1n), -1)
  t.equal(toInt(2147483648n), -2147483648)
  t.equal(toInt(30n), 30)
})
