import t from 'tap'
import { getopt, takesArgument } from '../../src/options/getopt.js'

const OPTS = 'M:Vab:f'

t.test('options after operands are still options (GNU permutation)', async t => {
  const r = getopt(['host', '-a', 'cmd', '-b', 'x'], OPTS)
  t.same(r.tokens, [
    { kind: 'options', raw: '-a', opts: [{ ch: 'a' }] },
    { kind: 'options', raw: '-b', opts: [{ ch: 'b', arg: 'x' }], next: 'x' },
    { kind: 'operand', raw: 'host' },
    { kind: 'operand', raw: 'cmd' },
  ])
  t.same(r.sequence, [{ ch: 'a' }, { ch: 'b', arg: 'x' }])
  t.equal(r.error, undefined)
})

t.test('clusters and attached arguments', async t => {
  const r = getopt(['-afbvalue', '-M20', '-'], OPTS)
  t.same(r.sequence, [{ ch: 'a' }, { ch: 'f' }, { ch: 'b', arg: 'value' }, { ch: 'M', arg: '20' }])
  t.same(r.tokens[2], { kind: 'operand', raw: '-' }, 'a lone - is an operand')
})

t.test('an argument may look like an option', async t => {
  const r = getopt(['-b', '-a', '-b', '--', 'h'], OPTS)
  t.same(r.sequence, [{ ch: 'b', arg: '-a' }, { ch: 'b', arg: '--' }])
  t.same(r.tokens.map(x => x.kind), ['options', 'options', 'operand'])
})

t.test('-- ends options; operands seen before it follow it', async t => {
  const r = getopt(['host', '-a', '--', '-b', '--'], OPTS)
  t.same(r.tokens, [
    { kind: 'options', raw: '-a', opts: [{ ch: 'a' }] },
    { kind: 'end' },
    { kind: 'operand', raw: 'host' },
    { kind: 'after', raw: '-b' },
    { kind: 'after', raw: '--' },
  ])
})

t.test('errors in glibc words, with what came before', async t => {
  const bad = getopt(['-a', '-Z', '-V'], OPTS)
  t.equal(bad.error, "autossh: invalid option -- 'Z'")
  t.same(bad.sequence, [{ ch: 'a' }])
  t.equal(getopt(['--foo'], OPTS).error, "autossh: invalid option -- '-'")
  t.equal(getopt(['h', '-M'], OPTS).error, "autossh: option requires an argument -- 'M'")
  t.equal(getopt(['-:'], OPTS, 'x').error, "x: invalid option -- ':'")
})

t.test('takesArgument', async t => {
  t.equal(takesArgument(OPTS, 'b'), true)
  t.equal(takesArgument(OPTS, 'a'), false)
  t.equal(takesArgument(OPTS, 'z'), undefined)
})
