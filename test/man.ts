// The manual (man/autossh.1) against the program: the claims that can be
// read off src mechanically. The variables that are read, the messages that
// reject a setting, the messages listed in LOGGING, the status file and
// STATUS= examples, and the programs autossh runs.
import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { statusJson, statusLine, type TunnelStatus } from '../src/report/status.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const MAN = readFileSync(join(ROOT, 'man/autossh.1'), 'utf8')

const sources = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap(e =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  )
const SRC = sources(join(ROOT, 'src')).map(f => readFileSync(f, 'utf8'))
const src = (name: string) => readFileSync(join(ROOT, 'src', name), 'utf8')

/** a section of the manual, from its .SH to the next .SH */
const section = (name: string): string => {
  const from = MAN.search(new RegExp(`^\\.SH "?${name}"?$`, 'm'))
  if (from < 0) throw new Error(`no section ${name}`)
  const to = MAN.indexOf('\n.SH ', from + 1)
  return MAN.slice(from, to < 0 ? undefined : to)
}

const ESCAPES: Record<string, string> = { dq: '"', aq: "'", lq: '"', rq: '"', em: '—', rs: '\\' }

/** the words of one line of roff: fonts dropped, escapes as the reader sees them */
const words = (s: string): string =>
  s
    .replace(/\\f[BIRP]/g, '')
    .replace(/\\\((\w\w)/g, (_, e: string) => ESCAPES[e] ?? '')
    .replace(/\\-/g, '-')
    .replace(/\\e/g, '\\')
    .replace(/\\ /g, ' ')
    .replace(/\\&/g, '')

/** the arguments of a macro line: blank-separated, "…" one argument */
const args = (s: string): string[] => [...s.matchAll(/"([^"]*)"|(\S+)/g)].map(m => m[1] ?? m[2]!)

/** roff as text: macro arguments joined as the fonts would show them, lines joined by a blank */
const plain = (roff: string): string =>
  roff
    .split('\n')
    .map(line => {
      const m = /^\.(B|I|BR|RB|BI|IB|IR|RI)\s+(.*)$/.exec(line)
      if (m) return words(m[1]!.length === 1 ? args(m[2]!).join(' ') : args(m[2]!).join(''))
      if (line.startsWith('.')) return ''
      return words(line)
    })
    .join(' ')
    .replace(/\s+/g, ' ')

t.test('ENVIRONMENT describes every AUTOSSH_ variable the program reads', async t => {
  // between the two processes of -f only, not a setting
  const internal = new Set(['AUTOSSH_DAEMON_READY_FD'])
  const read = new Set(SRC.flatMap(text => [...text.matchAll(/\bAUTOSSH_[A-Z_]+\b/g)].map(m => m[0])))
  const env = section('ENVIRONMENT')
  t.ok(read.size > 15)
  for (const name of read) {
    if (internal.has(name)) continue
    t.match(env, new RegExp(`^\\.B ${name}$`, 'm'), `${name} has an entry`)
  }
})

t.test('every message that rejects a setting is in the manual, in ENVIRONMENT and in LOGGING', async t => {
  const settings = src('options/settings.ts')
  const messages = [...settings.matchAll(/fail\(`([^`]*)`\)/g)].map(m =>
    m[1]!.replace(/\$\{v\}/g, 'x').replace(/\$\{MAX_MESSAGE\}/g, '64'),
  )
  t.ok(messages.length >= 12, `${messages.length} messages`)
  const all = plain(MAN)
  const logging = plain(section('LOGGING'))
  for (const message of messages) {
    // LOGGING lists 1.4g's by their names on one line ("invalid log level, invalid first poll time, ...")
    const head = message.replace(/ "x".*$/, '')
    t.ok(logging.includes(head), `LOGGING lists: ${head}`)
  }
  // ours, with what is allowed in brackets: word for word in LOGGING and in ENVIRONMENT's list of what is rejected
  const env = plain(section('ENVIRONMENT'))
  for (const m of messages.filter(m => / \(.*\)$/.test(m))) {
    t.ok(all.includes(m) && logging.includes(m), `LOGGING: ${m}`)
    t.ok(env.includes(`(${m})`), `ENVIRONMENT: (${m})`)
  }
})

t.test('the messages LOGGING lists word for word are whole messages of the program', async t => {
  // the lists by level, and what goes to standard error only
  const logging = section('LOGGING')
  const lists = logging.slice(logging.indexOf('\n.B err (3)'), logging.indexOf('\n.SS'))
  // .B lines with no placeholder (\fI) and no remark in another font; the levels' names aside
  const listed = lists
    .split('\n')
    .filter(l => /^\.B [^\\"]/.test(l) && !/\\f[IR]/.test(l))
    .map(l => words(l.slice(3)))
    .filter(m => !/^\w+ \(\d\)$/.test(m))
  t.ok(listed.length >= 12, `${listed.length} messages`)
  // a number in the manual may be a value in the program ("tried connection 2 times", "64 bytes")
  const pattern = (m: string) =>
    new RegExp(`['\`]${m.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\d+/g, '(?:\\d+|\\$\\{\\w+\\})')}['\`]`)
  for (const m of listed) {
    const whole = pattern(m.replace(/^autossh: /, ''))
    t.ok(SRC.some(text => whole.test(text)), `the program logs, whole: ${m}`)
  }
})

t.test('the status file and STATUS= examples are what the program writes', async t => {
  const files = section('STATUS FILE')
  const example = plain(/^\.nf\n([\s\S]*?)\n\.fi$/m.exec(files)![1]!.replace(/\\-/g, '-').split('\n').map(l => l.replace(/^/, ' ')).join('\n'))
  const doc = JSON.parse(example) as TunnelStatus
  t.same(Object.keys(doc), Object.keys(JSON.parse(statusJson(doc))), 'the keys, in the order written')
  // the reason of a failed probe: the machine's own words, as it logs them
  const reason = doc.last_failure!.reason
  t.match(src('machine/supervise.ts'), `const reason = '${reason}'`, `"${reason}" is the reason written for a failed probe`)
  // the STATUS= example of a tunnel down, from the same status
  const down: TunnelStatus = { ...doc, state: 'down', since: '2026-11-25T10:00:00.000Z', starts: 4 }
  const line = statusLine(down, Date.parse('2026-11-25T10:00:12.000Z'))
  t.equal(line, `down: ${reason} (since 12s), 3 restarts`)
  t.ok(plain(section('SYSTEMD')).includes(line), `SYSTEMD shows ${line}`)
})

t.test('FILES names the programs autossh runs', async t => {
  const files = section('FILES')
  for (const [program, where] of [
    ['ip', 'watch/network.ts'],
    ['logger', 'log/syslog.ts'],
    ['setpriv', 'ssh/child.ts'],
    ['perl', 'report/notify.ts'],
  ] as const) {
    t.match(src(where), new RegExp(`['/]${program}'`), `${where} runs ${program}`)
    t.match(files, new RegExp(`^\\.B (/usr/s?bin/)?${program}$`, 'm'), `FILES: ${program}`)
  }
})
