// The least the machine must give autossh, measured with bench/floor.ts (a
// whole run: port pair, syslog, probes, a cut and a restart, -f), and the
// check of /proc/self/limits against it at start: below these autossh would
// fail later, mid-run, with a stack trace or a crash. Below 19 open files or
// about 705 MB of address space Node itself dies before any of autossh runs.

/** open files (RLIMIT_NOFILE) */
export const FILES_FLOOR = 64
/** address space (RLIMIT_AS), bytes */
export const ADDRESS_SPACE_FLOOR = 768 * 1024 * 1024

/** the soft limit of a line of /proc/self/limits; undefined: unlimited or not there */
const soft = (limits: string, name: string): number | undefined => {
  const m = new RegExp(`^${name} +(\\S+)`, 'm').exec(limits)
  return m && m[1] !== 'unlimited' ? Number(m[1]) : undefined
}

const mb = (bytes: number) => `${Math.floor(bytes / (1024 * 1024))} MB`

/** what falls short, in one line, or undefined */
export const limitsComplaint = (limits: string): string | undefined => {
  const files = soft(limits, 'Max open files')
  if (files !== undefined && files < FILES_FLOOR) return `the open files limit is ${files}; at least ${FILES_FLOOR} needed`
  const as = soft(limits, 'Max address space')
  if (as !== undefined && as < ADDRESS_SPACE_FLOOR) return `the address space limit is ${mb(as)}; at least ${mb(ADDRESS_SPACE_FLOOR)} needed`
  return undefined
}
