// The programs the tests run that a machine may lack, and the Debian package
// each comes from (all of them listed in .ci/packages, which .ci/run installs
// and the README names). A test that needs one skips where it is missing, with
// a reason of one fixed form, `needs dbclient: apt-get install dropbear-bin`,
// which the end of `npm test` counts (test/helpers/missing.ts).
//
// AUTOSSH_TEST_WITHOUT=dropbear-bin,python3 makes the tests see a machine
// without those packages (what autossh itself runs is not hidden from it).
import { accessSync, constants } from 'node:fs'
import { delimiter, isAbsolute, join } from 'node:path'

/** program (a name looked up on PATH and in the sbin directories, or an absolute path) → Debian package */
export const PACKAGES: Readonly<Record<string, string>> = {
  ssh: 'openssh-client',
  'ssh-keygen': 'openssh-client',
  sshd: 'openssh-server',
  '/usr/lib/autossh/autossh': 'autossh',
  dbclient: 'dropbear-bin',
  dropbearconvert: 'dropbear-bin',
  unshare: 'util-linux',
  nsenter: 'util-linux',
  setpriv: 'util-linux',
  prlimit: 'util-linux',
  logger: 'bsdutils',
  ip: 'iproute2',
  sysctl: 'procps',
  python3: 'python3',
  perl: 'perl-base',
  mosquitto: 'mosquitto',
  mosquitto_pub: 'mosquitto-clients',
  mosquitto_sub: 'mosquitto-clients',
}

/** the packages AUTOSSH_TEST_WITHOUT hides */
export const hidden = (): Set<string> => new Set((process.env.AUTOSSH_TEST_WITHOUT ?? '').split(/[\s,]+/).filter(Boolean))

const executable = (path: string): boolean => {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

const found = new Map<string, string | undefined>()

/** where a program of PACKAGES is, or undefined where it is missing (or its package hidden) */
export const which = (program: string): string | undefined => {
  const pkg = PACKAGES[program]
  if (pkg === undefined) throw new Error(`${program}: not in PACKAGES (test/helpers/needs.ts)`)
  if (hidden().has(pkg)) return undefined
  if (!found.has(program)) {
    const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), '/usr/local/sbin', '/usr/sbin', '/sbin']
    found.set(program, isAbsolute(program) ? (executable(program) ? program : undefined) : dirs.map(d => join(d, program)).find(executable))
  }
  return found.get(program)
}

/** where a program is, for a test that has already skipped where it is missing */
export const path = (program: string): string => {
  const p = which(program)
  if (p === undefined) throw new Error(`${program} is missing: the test should have skipped (needs('${program}'))`)
  return p
}

/** the skip reason for the programs that are missing, or false when all are there */
export const needs = (...programs: string[]): string | false => {
  const missing = programs.filter(p => which(p) === undefined)
  if (missing.length === 0) return false
  const packages = [...new Set(missing.map(p => PACKAGES[p]!))]
  return `needs ${missing.join(', ')}: apt-get install ${packages.join(' ')}`
}

/** a skip reason of needs()'s form → the packages it names, or undefined for any other reason */
export const packagesOf = (reason: string): string[] | undefined => {
  const m = /^needs [^:]+: apt-get install ([a-z0-9][a-z0-9.+-]*(?: [a-z0-9][a-z0-9.+-]*)*)$/.exec(reason)
  return m ? m[1]!.split(' ') : undefined
}
