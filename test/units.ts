// The systemd units: contrib/autossh@.service, and the examples in the README
// and the manual. No systemd here to run them: their key lines are read, and
// what autossh makes of their environment and command line is checked.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { readCommandLine } from '../src/options/args.js'
import { readSettings } from '../src/options/settings.js'

const text = (name: string) => readFileSync(new URL(`../${name}`, import.meta.url), 'utf8')

type Unit = Record<string, Record<string, string[]>>

/** a unit file's sections and settings, every value of a repeated key in order; `\` continues a line; runs of blanks as one */
const parseUnit = (source: string): Unit => {
  const unit: Unit = {}
  let section = ''
  for (const line of source.replace(/\\\n/g, ' ').split('\n')) {
    const l = line.trim()
    if (l === '' || l.startsWith('#') || l.startsWith(';')) continue
    const head = /^\[(.+)\]$/.exec(l)
    if (head) {
      section = head[1]!
      unit[section] ??= {}
      continue
    }
    const eq = l.indexOf('=')
    const key = l.slice(0, eq)
    ;((unit[section] ??= {})[key] ??= []).push(l.slice(eq + 1).replace(/\s+/g, ' '))
  }
  return unit
}

/** Environment= lines (unquoted assignments, as these units write them), %i as `name` */
const environment = (service: Record<string, string[]>, name: string): Record<string, string> =>
  Object.fromEntries(
    (service.Environment ?? [])
      .flatMap(v => v.split(/\s+/))
      .map(a => a.replaceAll('%i', name).split('=') as [string, string]),
  )

const template = parseUnit(text('contrib/autossh@.service'))
const service = template.Service!

t.test('autossh@.service: no /etc/default/autossh-NAME, no start (and nothing to restart)', async t => {
  t.same(template.Unit!.AssertPathExists, ['/etc/default/autossh-%i'])
  t.notOk(template.Unit!.ConditionPathExists, 'not a condition: that would skip the unit without a word')
  // the file is asserted; "-" only spares a second, louder failure if it goes between the two
  t.same(service.EnvironmentFile, ['-/etc/default/autossh-%i'])
})

t.test('autossh@.service: systemctl stop leaves it inactive, a failure still fails', async t => {
  const read = readSettings(environment(service, 'broker'))
  t.ok(read.ok, 'its environment is valid')
  if (!read.ok) return
  t.equal(read.settings.stopStatus, 0, 'AUTOSSH_STOP_STATUS=0')
  t.equal(read.settings.gateTime, 0)
  t.equal(read.settings.statusFile, '/run/autossh-broker/status.json')
  t.notOk(service.SuccessExitStatus, 'exit 1 stays a failure')
  t.same(service.Restart, ['always'])
  t.same(service.KillMode, ['mixed'], 'SIGTERM to autossh, which stops ssh itself')
  t.same(service.Type, ['notify'])
  t.same(service.NotifyAccess, ['all'])
})

t.test('autossh@.service: ours by name, SSH_OPTIONS split into words', async t => {
  const [program, ...args] = service.ExecStart![0]!.split(/\s+/)
  t.equal(program, 'autossh-ts', "never Debian's /usr/bin/autossh")
  // $X alone is split at whitespace into arguments; ${X} would be one argument
  t.same(args, ['$SSH_OPTIONS'])
  const example = /^#\s+SSH_OPTIONS="([^"]*)"$/m.exec(text('contrib/autossh@.service'))
  t.ok(example, 'the comment has an example file')
  const words = example![1]!.split(/[ \t]+/)
  t.notOk(words.some(w => /['"\\]/.test(w)), 'no quotes or backslashes in it')
  t.match(readCommandLine(words, undefined), { action: 'run', monitor: '20000' })
})

/** the ```ini blocks of the README, and the units among the manual's examples */
const readmeUnits = [...text('README.md').matchAll(/```ini\n([\s\S]*?)```/g)].map(m => m[1]!)
const manUnits = [...text('man/autossh.1').matchAll(/^\.nf\n(\[Unit\][\s\S]*?)^\.fi$/gm)].map(m =>
  m[1]!.replace(/\\-/g, '-').replace(/\\e/g, '\\'),
)

t.test('the README and the manual: every unit runs autossh-ts and stops cleanly', async t => {
  t.equal(readmeUnits.length, 2, 'two units in the README')
  t.equal(manUnits.length, 2, 'two in the manual')
  for (const [i, source] of [...readmeUnits, ...manUnits].entries()) {
    const s = parseUnit(source).Service!
    t.equal(s.ExecStart?.[0]?.split(/\s+/)[0], 'autossh-ts', `unit ${i}: ExecStart`)
    const read = readSettings(environment(s, 'x'))
    t.ok(read.ok && read.settings.stopStatus === 0, `unit ${i}: AUTOSSH_STOP_STATUS=0`)
    t.notOk(s.SuccessExitStatus, `unit ${i}: no SuccessExitStatus`)
  }
  t.same(manUnits.map(u => parseUnit(u)), readmeUnits.map(u => parseUnit(u)), 'the same units in both')
})
