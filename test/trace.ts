import t from 'tap'
import { tracer } from '../src/trace.js'

t.test('without DEBUG, tracing is a no-op', async t => {
  const trace = tracer('autossh:test', {})
  t.equal(trace('nothing %s', 'here'), undefined)
})

t.test('with DEBUG, the debug package traces the namespace', async t => {
  const trace = tracer('autossh:test', { DEBUG: 'autossh:*' }) as unknown as { namespace: string }
  t.equal(trace.namespace, 'autossh:test')
})
