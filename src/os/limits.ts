// The least the machine must give autossh, measured with bench/floor.ts (a
// whole run: port pair, syslog, probes, a cut and a restart, -f), and the
// check of /proc/self/limits against it at start: below these autossh would
// fail later, mid-run, with a stack trace or a crash. Below 19 open files, or
// about 705 MB of address space (136 MB with --jitless), Node itself dies
// before any of autossh runs.

/** open files (RLIMIT_NOFILE): a run needs 23, -f's foreground 64 (it loads execa's modules in parallel) */
export const FILES_FLOOR = 64
/** address space (RLIMIT_AS), bytes: a run needs 712 MB, -f 752 MB */
export const ADDRESS_SPACE_FLOOR = 768 * 1024 * 1024
/** the same when V8 runs without its JIT (node --jitless): a run needs 136 MB, -f 176 MB */
export const JITLESS_ADDRESS_SPACE_FLOOR = 192 * 1024 * 1024

/** the soft limit of a line of /proc/self/limits; undefined: unlimited or not there */
const soft = (limits: string, name: string): number | undefined => {
  const m = new RegExp(`^${name} +(\\S+)`, 'm').exec(limits)
  return m && m[1] !== 'unlimited' ? Number(m[1]) : undefined
}

const mb = (bytes: number) => `${Math.floor(bytes / (1024 * 1024))} MB`

/** what falls short, in one line, or undefined */
export const limitsComplaint = (limits: string, jitless = false): string | undefined => {
  const files = soft(limits, 'Max open files')
  if (files !== undefined && files < FILES_FLOOR) return `the open files limit is ${files}; at least ${FILES_FLOOR} needed`
  const as = soft(limits, 'Max address space')
  const floor = jitless ? JITLESS_ADDRESS_SPACE_FLOOR : ADDRESS_SPACE_FLOOR
  if (as !== undefined && as < floor) return `the address space limit is ${mb(as)}; at least ${mb(floor)} needed`
  return undefined
}

/** is V8 running without its JIT (node --jitless, on the command line or in NODE_OPTIONS)? */
export const isJitless = (execArgv: readonly string[], nodeOptions = ''): boolean =>
  [...execArgv, ...nodeOptions.split(/\s+/)].includes('--jitless')
