// Which watchers main starts: the network and resume watches only for a
// tunnel with a probe (AUTOSSH_NETWATCH), ssh's connection in every mode
// (AUTOSSH_CONNWATCH), one `ip monitor` for both; none with both off.
import t from 'tap'
import { worldEvents } from '../src/main.js'

const start = (probeOnChange: boolean, connWatch: boolean) => {
  const said: string[] = []
  const sources = worldEvents({ probeOnChange, connWatch, say: m => said.push(m) })
  const opened = sources.map(s => s(() => t.fail('no event'), { sshPid: () => undefined }))
  opened.forEach(o => o.close())
  return { count: sources.length, said }
}

t.test('the sources for each setting', async t => {
  t.equal(start(true, true).count, 2, 'network (with the connection) and resume')
  t.equal(start(true, false).count, 2)
  t.equal(start(false, true).count, 1, '-M 0: the network, for the connection only')
  t.equal(start(false, false).count, 0, 'both off: nothing')
  t.same(start(false, true).said, [], 'proc readable here: nothing said')
})
