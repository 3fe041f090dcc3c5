// What ssh's exit means, by autossh 1.4g's rules (its ssh_wait()).
import { LOG_ERR, LOG_INFO } from '../log/levels.js'

export interface SshExit {
  /** exit status, when ssh exited */
  code: number | null
  /** signal number, when ssh was killed by one */
  signal: number | null
}

export interface Circumstances {
  /** this was the first ssh started */
  firstRun: boolean
  /** seconds; 0 turns the first-run rules off */
  gateTime: number
  /** seconds ssh ran */
  ranFor: number
}

export type Verdict = { restart: true; level: number; message: string } | { restart: false; status: 0 | 1; level: number; message: string }

export const judgeExit = (exit: SshExit, c: Circumstances): Verdict => {
  if (exit.code === null) {
    return { restart: true, level: LOG_INFO, message: `ssh exited on signal ${exit.signal}, restarting ssh` }
  }
  const status = exit.code
  if (c.firstRun && c.gateTime !== 0 && c.ranFor <= c.gateTime) {
    // on the first try a quick exit is a set-up error (bad host, bad key): give up
    return { restart: false, status: 1, level: LOG_ERR, message: `ssh exited prematurely with status ${status}; autossh exiting` }
  }
  const restart = { restart: true, level: LOG_INFO, message: `ssh exited with error status ${status}; restarting ssh` } as const
  if (status === 255) return restart
  if (status === 0) return { restart: false, status: 0, level: LOG_INFO, message: `ssh exited with status 0; autossh exiting` }
  // 1 and 2 may be a network that is down after ssh once worked
  if ((status === 1 || status === 2) && (!c.firstRun || c.gateTime === 0)) return restart
  return { restart: false, status: 1, level: LOG_INFO, message: `ssh exited with status ${status}; autossh exiting` }
}
