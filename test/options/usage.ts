import t from 'tap'
import { readFileSync } from 'node:fs'
import { usageText, VERSION, versionLine } from '../../src/options/usage.js'

t.test('the version carries 1.4g and the package version', async t => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))
  t.equal(VERSION, `1.4g+ts.${pkg.version}`)
  t.equal(versionLine(), `autossh ${VERSION}\n`)
})

t.test('the usage text is autossh\'s, with upstream\'s -M wording', async t => {
  const u = usageText()
  t.match(u, /^usage: autossh \[-V\] \[-M monitor_port\[:echo_port\]\] \[-f\] \[SSH_OPTIONS\]\n\n {4}-M specifies monitor port\. May be overridden by environment\n/)
  t.match(u, /Default is 30 seconds; use of -f\n/)
  t.match(u, / {4}AUTOSSH_DEBUG {7}- turn logging to maximum verbosity and log to\n {26}stderr\n\n$/)
})
