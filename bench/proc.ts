// What /proc says about a process: is it alive, how much memory it holds,
// how much CPU it has used, how many files it has open. Linux only, as the
// bench's world is.
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'

/** clock ticks per second, the unit of utime and stime in /proc/PID/stat */
export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  } catch {
    return 100
  }
})()

/** the fields of /proc/PID/stat after the command name, which may itself hold spaces and parentheses */
const statFields = (pid: number): string[] | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  } catch {
    return undefined
  }
}

/** running, not a zombie: a killed ssh that is not reaped yet counts as gone */
export const alive = (pid: number): boolean => {
  const f = statFields(pid)
  return f !== undefined && f[0] !== 'Z' && f[0] !== 'X'
}

/** user + system CPU time so far, in seconds */
export const cpuSeconds = (pid: number): number | undefined => {
  const f = statFields(pid)
  // fields 14 and 15 of stat; the state (field 3) is f[0]
  return f === undefined ? undefined : (Number(f[11]) + Number(f[12])) / CLK_TCK
}

/** resident set size in MB (VmRSS) */
export const rssMB = (pid: number | 'self'): number | undefined => {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) / 1024 : undefined
  } catch {
    return undefined
  }
}

/** this process's open file descriptors, as /proc/self/fd lists them (the listing's own fd included) */
export const fdCount = (): number => readdirSync('/proc/self/fd').length

/** the inodes of the sockets listening on TCP port, in pid's network namespace (/proc/PID/net/tcp and tcp6) */
export const listeners = (port: number, pid: number | 'self' = 'self'): Set<string> => {
  const out = new Set<string>()
  for (const table of ['tcp', 'tcp6']) {
    let text: string
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8')
    } catch {
      continue
    }
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode; st 0A is LISTEN
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/)
      if (f[3] === '0A' && parseInt(f[1]?.split(':')[1] ?? '', 16) === port) out.add(f[9]!)
    }
  }
  return out
}
