// The machine's limits against the measured floor.
import t, { type Test } from 'tap'
import { spawnSync } from 'node:child_process'
import { ADDRESS_SPACE_FLOOR, FILES_FLOOR, isJitless, JITLESS_ADDRESS_SPACE_FLOOR, limitsComplaint } from '../../src/os/limits.js'
import { CLI, Fake } from '../helpers/autossh.js'
import { needs, path as where } from '../helpers/needs.js'

const limits = (files: string, as: string) => `Limit                     Soft Limit           Hard Limit           Units     
Max cpu time              unlimited            unlimited            seconds   
Max open files            ${files.padEnd(20)} ${files.padEnd(20)} files     
Max address space         ${as.padEnd(20)} unlimited            bytes     
`

t.test('the floor, read from /proc/self/limits', async t => {
  t.equal(limitsComplaint(limits('20000', 'unlimited')), undefined)
  t.equal(limitsComplaint(limits(String(FILES_FLOOR), String(ADDRESS_SPACE_FLOOR))), undefined, 'the floor itself is enough')
  t.equal(limitsComplaint(limits(String(FILES_FLOOR - 1), 'unlimited')), `the open files limit is ${FILES_FLOOR - 1}; at least ${FILES_FLOOR} needed`)
  t.equal(
    limitsComplaint(limits('unlimited', String(ADDRESS_SPACE_FLOOR - 1))),
    `the address space limit is ${ADDRESS_SPACE_FLOOR / 1048576 - 1} MB; at least ${ADDRESS_SPACE_FLOOR / 1048576} MB needed`,
  )
  t.equal(limitsComplaint(''), undefined, 'nothing said, nothing to check')
  t.equal(limitsComplaint(limits('1024', String(JITLESS_ADDRESS_SPACE_FLOOR)), true), undefined, '--jitless: far less is enough')
  t.equal(
    limitsComplaint(limits('1024', String(JITLESS_ADDRESS_SPACE_FLOOR - 1048576)), true),
    `the address space limit is ${JITLESS_ADDRESS_SPACE_FLOOR / 1048576 - 1} MB; at least ${JITLESS_ADDRESS_SPACE_FLOOR / 1048576} MB needed`,
  )
})

t.test('--jitless, on the command line or in NODE_OPTIONS', async t => {
  t.equal(isJitless([], undefined), false)
  t.equal(isJitless(['--jitless'], undefined), true)
  t.equal(isJitless([], '--max-old-space-size=64 --jitless'), true)
  t.equal(isJitless(['--enable-source-maps'], '--import=x'), false)
})

/** the built autossh under `prlimit --flag=value:value`, -M 0 with a stand-in ssh that exits 0 */
const underLimit = (t: Test, flag: string, value: number, env: Record<string, string> = {}) => {
  const f = new Fake(['0'])
  t.teardown(() => f.cleanup())
  // tap's coverage hook (NODE_OPTIONS) costs more address space than autossh itself: not under that limit
  const bare = flag === 'as' ? ['env', '-u', 'NODE_OPTIONS', ...(env.NODE_OPTIONS ? [`NODE_OPTIONS=${env.NODE_OPTIONS}`] : [])] : []
  const r = spawnSync(where('prlimit'), [`--${flag}=${value}:${value}`, ...bare, process.execPath, CLI, '-M', '0', '-N', 'host'], {
    env: { PATH: process.env.PATH, AUTOSSH_SYSLOG_SOCKET: '/nonexistent/log', ...f.env({ AUTOSSH_GATETIME: '0', ...env }) },
    encoding: 'utf8',
    // a safeguard against a hang, not a measure of speed: a jitless node on a
    // loaded machine once took more than 20 s to start
    timeout: 180000,
  })
  return { status: r.status ?? r.signal, stderr: r.stderr, sshRan: f.runs().length > 0 }
}

t.test('below the floor: one line, status 1, no ssh; at the floor it runs', { skip: needs('prlimit') }, async t => {
  const MB = 1024 * 1024
  const cases: [string, number, string][] = [
    ['nofile', FILES_FLOOR - 1, `the open files limit is ${FILES_FLOOR - 1}; at least ${FILES_FLOOR} needed`],
    // Node itself needs about 712 MB to run any JavaScript: just below the floor it still starts
    ['as', ADDRESS_SPACE_FLOOR - 8 * MB, `the address space limit is ${ADDRESS_SPACE_FLOOR / MB - 8} MB; at least ${ADDRESS_SPACE_FLOOR / MB} MB needed`],
  ]
  for (const [flag, value, message] of cases) {
    t.same(underLimit(t, flag, value), { status: 1, stderr: `autossh: ${message}\n`, sshRan: false }, `${flag} ${value}`)
    t.same(underLimit(t, flag, value + (flag === 'as' ? 8 * MB : 1)), { status: 0, stderr: '', sshRan: true }, `${flag} at the floor`)
  }
  t.same(underLimit(t, 'nofile', FILES_FLOOR - 1, { AUTOSSH_LIMIT_CHECK: '0' }), { status: 0, stderr: '', sshRan: true }, 'AUTOSSH_LIMIT_CHECK=0: not checked')
  // no JIT: Node runs in far less; it warns once that it turns WebAssembly off
  const jitless = underLimit(t, 'as', JITLESS_ADDRESS_SPACE_FLOOR, { NODE_OPTIONS: '--jitless' })
  t.same([jitless.status, jitless.sshRan], [0, true], 'node --jitless: at its own floor it runs')
  t.same(underLimit(t, 'as', JITLESS_ADDRESS_SPACE_FLOOR - 8 * MB, { NODE_OPTIONS: '--jitless' }).stderr.split('\n').filter(l => l.startsWith('autossh:')), [
    `autossh: the address space limit is ${JITLESS_ADDRESS_SPACE_FLOOR / MB - 8} MB; at least ${JITLESS_ADDRESS_SPACE_FLOOR / MB} MB needed`,
  ])
})
