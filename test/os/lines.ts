import t from 'tap'
import { MAX_LINE, splitLines, type LineOptions } from '../../src/os/lines.js'

/** the lines given for the chunks pushed, the stream ended after them unless told */
const split = (chunks: (string | Buffer)[], o: LineOptions = {}, end = true): string[] => {
  const lines: string[] = []
  const s = splitLines(l => lines.push(l), o)
  for (const c of chunks) s.push(c)
  if (end) s.end()
  return lines
}

t.test('head: utf8, a long line cut to its first characters (ip monitor)', async t => {
  const lines: string[] = []
  const s = splitLines(l => lines.push(l), { maxLength: 8 })
  s.push('one\r\ntw')
  s.push(Buffer.from('o\nthree'))
  t.same(lines, ['one', 'two'], 'a line waits for its newline; \\r\\n and \\n both end one')
  s.push('\n\n')
  t.same(lines, ['one', 'two', 'three', ''], 'empty lines are lines')
  s.push('0123456789abcdef')
  t.same(lines.at(-1), '01234567', 'a long line is cut at the bound, at once')
  s.push('ghij\nafter\n')
  t.same(lines.slice(-2), ['01234567', 'after'], 'and the rest of it dropped')
  s.push('0123456789\nx')
  t.same(lines.slice(-1), ['01234567'], 'cut also when its newline comes in the same chunk')
  s.push(Buffer.from([0xc3]))
  s.push(Buffer.from([0xa9, 0x0a]))
  t.same(lines.at(-1), 'xé', 'a character split across chunks is whole')
  s.push('last\r')
  s.end()
  t.same(lines.at(-1), 'last', 'the end gives a last line without newline (nor \\r)')
  const n = lines.length
  s.end()
  t.equal(lines.length, n, 'nothing more after the end')
  t.same(split(['abcdefgh']), ['abcdefgh'], 'MAX_LINE unless told')
  t.same(split(['abcdefgh'], { maxLength: 4 }), ['abcd'], 'a cut line at the end is not given twice')
  t.same(split(['abc\r', 'd', 'efgh\n'], { maxLength: 4 }), ['abc'], 'a \\r where an early cut falls goes too')
  t.equal(split(['x'.repeat(MAX_LINE + 10) + '\n'])[0]!.length, MAX_LINE)
})

t.test("tail: latin1, a long line's last characters (ssh's stderr)", async t => {
  const o: LineOptions = { encoding: 'latin1', maxLength: 8, overLong: 'tail' }
  t.same(split([Buffer.from('a\r\nb\nc')], o), ['a', 'b', 'c'])
  t.same(split([Buffer.from([0xc3, 0xa9, 0x0a])], o), ['Ã©'], 'each byte a character')
  t.same(split(['0123456789abcdef\n'], o), ['89abcdef'], 'the tail of a line that came whole')
  t.same(split(['0123', '456789', 'abcd', 'ef\r\n', 'next\n'], o), ['89abcdef', 'next'], 'and of one that came in pieces')
  t.same(split(['0123456789abcdef'], o), ['89abcdef'], 'a long last line without newline: its tail, once')
  t.same(split(['0123456789abcdef'], o, false), [], 'nothing given before its newline')
})

t.test('a function: called when too much waits for a newline, and nothing after (the monitor)', async t => {
  let failed = 0
  const o: LineOptions = { encoding: 'latin1', maxLength: 8, overLong: () => failed++, keepEnd: true }
  t.same(split(['one\r\ntwo\n', 'thr', 'ee\r'], o), ['one\r\n', 'two\n', 'three\r'], 'each line as it came, its end kept')
  t.same(split(['0123456789abcdef\n'], o), ['0123456789abcdef\n'], 'a long line that came whole is given whole')
  t.equal(failed, 0)
  t.same(split(['ok\n01234567', '8', '9\nmore\n', 'and more\n'], o), ['ok\n'], 'then nothing more')
  t.equal(failed, 1, 'called once')
  t.same(split(['01234567'], o), ['01234567'], 'the bound itself is no overflow')
  t.equal(failed, 1)
})
