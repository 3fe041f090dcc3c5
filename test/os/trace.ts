import t from 'tap'
import { startTracing, tracer } from '../../src/os/trace.js'

t.test('without DEBUG, tracing is a no-op; with it, debug writes the namespace', async t => {
  const trace = tracer('autossh:test')
  await startTracing({})
  const written: string[] = []
  const write = process.stderr.write
  process.stderr.write = ((chunk: string) => (written.push(String(chunk)), true)) as typeof write
  t.teardown(() => void (process.stderr.write = write))
  trace('nothing %s', 'here')
  t.same(written, [])

  process.env.DEBUG = 'autossh:*'
  await startTracing(process.env)
  trace('something %s', 'here')
  process.stderr.write = write
  t.match(written.join(''), /autossh:test something here/)
})
