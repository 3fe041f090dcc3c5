// The AUTOSSH_* environment variables: parsed, checked and defaulted the way
// autossh 1.4g's get_env_args() does, in the same order, so that the first
// bad value is the one reported, in autossh's words.
import { strtol, strtoul, toInt } from './c-number.js'
import { LOG_DEBUG, LOG_INFO } from '../log/levels.js'
import { isIPv6, isMonitorHost } from '../monitor/host.js'
import { flavorOf, isFlavor, type Flavor } from '../ssh/flavor.js'

export const POLL_TIME = 600
export const GATE_TIME = 30
export const NET_TIMEOUT_MS = 15000
export const MAX_MESSAGE = 64
export const SSH_PATH = '/usr/bin/ssh'

export interface Settings {
  sshPath: string
  /** AUTOSSH_DEBUG: every message, and a copy of each on stderr */
  debug: boolean
  logLevel: number
  /** seconds between probes */
  pollTime: number
  /** seconds from ssh's start to its first probe */
  firstPollTime: number
  /** seconds an ssh must live on its first run before a failure is not fatal; 0: no gate */
  gateTime: number
  /** how many times ssh may be started; -1: no limit */
  maxStart: number
  message: string
  /** AUTOSSH_PORT, which beats -M */
  port?: string
  /** seconds autossh may live; 0: forever */
  maxLifetime: number
  pidFile?: string
  /** AUTOSSH_STATUSFILE (ours): the tunnel's state as JSON */
  statusFile?: string
  logFile?: string
  /** AUTOSSH_PROBE_CONNECTION: keep the test connections open between probes, or open new ones for each */
  probeConnection: 'keep' | 'per-probe'
  /** AUTOSSH_SSH_FLAVOR, else dropbear for a program named dbclient: whose option letters ssh's command line has */
  sshFlavor: Flavor
  /** AUTOSSH_MHOST: the address of the monitor's forwards and listening port */
  monitorHost?: string
  /** AUTOSSH_PROBE_DEADLINE: deadlines from the measured round trip, or 1.4g's whole net timeout for every probe */
  probeDeadline: 'rtt' | 'fixed'
  /** AUTOSSH_NETWATCH: probe at once when the network changes or the machine wakes */
  netWatch: boolean
  /** AUTOSSH_STOP_STATUS: the exit status when SIGTERM or SIGINT stops autossh (1, as 1.4g; 0 for systemd) */
  stopStatus: 0 | 1
  /** AUTOSSH_CONNWATCH: watch ssh's own TCP connection (its address gone, nothing acknowledged) */
  connWatch: boolean
  /** messages autossh logs while reading its settings */
  notes: string[]
}

export type SettingsResult = { ok: true; settings: Settings } | { ok: false; error: string }

type Env = Readonly<Record<string, string | undefined>>

export const readSettings = (env: Env): SettingsResult => {
  const fail = (error: string): SettingsResult => ({ ok: false, error })
  const s: Settings = {
    sshPath: env.AUTOSSH_PATH ?? SSH_PATH,
    debug: env.AUTOSSH_DEBUG !== undefined,
    logLevel: LOG_INFO,
    pollTime: POLL_TIME,
    firstPollTime: POLL_TIME,
    gateTime: GATE_TIME,
    maxStart: -1,
    message: '',
    maxLifetime: 0,
    probeConnection: 'keep',
    probeDeadline: 'rtt',
    netWatch: true,
    stopStatus: 1,
    connWatch: true,
    sshFlavor: flavorOf(env.AUTOSSH_PATH ?? SSH_PATH),
    notes: [],
  }

  let v: string | undefined
  if (s.debug) {
    s.logLevel = LOG_DEBUG
  } else if ((v = env.AUTOSSH_LOGLEVEL) !== undefined) {
    const n = strtoul(v)
    s.logLevel = toInt(n.value)
    if (!n.whole || s.logLevel < 0 || s.logLevel > LOG_DEBUG) return fail(`invalid log level "${v}"`)
  }

  if ((v = env.AUTOSSH_POLL) !== undefined) {
    const n = strtoul(v)
    s.pollTime = toInt(n.value)
    if (!n.whole || s.pollTime === 0) return fail(`invalid poll time "${v}"`)
    // "-1" wraps to a negative int, which autossh quietly takes as the default
    if (s.pollTime < 0) s.pollTime = POLL_TIME
  }

  if ((v = env.AUTOSSH_FIRST_POLL) !== undefined) {
    const n = strtoul(v)
    s.firstPollTime = toInt(n.value)
    if (!n.whole || s.firstPollTime === 0) return fail(`invalid first poll time "${v}"`)
    if (s.firstPollTime < 0) s.firstPollTime = POLL_TIME
  } else {
    s.firstPollTime = s.pollTime
  }

  if ((v = env.AUTOSSH_GATETIME) !== undefined) {
    const n = strtol(v)
    s.gateTime = Number(n.value)
    if (!n.whole || s.gateTime < 0) return fail(`invalid gate time "${v}"`)
  }

  if ((v = env.AUTOSSH_MAXSTART) !== undefined) {
    const n = strtol(v)
    s.maxStart = toInt(n.value)
    if (!n.whole || s.maxStart < -1) return fail(`invalid max start number "${v}"`)
  }

  if ((v = env.AUTOSSH_MESSAGE) !== undefined) {
    s.message = v
    if (Buffer.byteLength(v) > MAX_MESSAGE) return fail(`echo message may only be ${MAX_MESSAGE} bytes long`)
  }

  if ((v = env.AUTOSSH_PORT) !== undefined && v !== '') s.port = v

  if ((v = env.AUTOSSH_MAXLIFETIME) !== undefined) {
    const n = strtoul(v)
    if (!n.whole) return fail(`invalid max lifetime "${v}"`)
    s.maxLifetime = Number(n.value)
    if (s.maxLifetime > 0) {
      if (s.pollTime > s.maxLifetime) {
        s.notes.push(`poll time is greater than lifetime, dropping poll time to ${s.maxLifetime.toFixed(0)}`)
        s.pollTime = s.maxLifetime
      }
      if (s.firstPollTime > s.maxLifetime) {
        s.notes.push(`first poll time is greater than lifetime, dropping first poll time to ${s.maxLifetime.toFixed(0)}`)
        s.firstPollTime = s.maxLifetime
      }
    }
  }

  if ((v = env.AUTOSSH_PIDFILE) !== undefined && v !== '') s.pidFile = v
  if ((v = env.AUTOSSH_STATUSFILE) !== undefined && v !== '') s.statusFile = v
  if ((v = env.AUTOSSH_LOGFILE) !== undefined) s.logFile = v

  // ours, not autossh 1.4g's
  if ((v = env.AUTOSSH_PROBE_CONNECTION) !== undefined && v !== '') {
    if (v !== 'keep' && v !== 'per-probe') return fail(`invalid probe connection "${v}" (keep or per-probe)`)
    s.probeConnection = v
  }

  if ((v = env.AUTOSSH_SSH_FLAVOR) !== undefined && v !== '') {
    if (!isFlavor(v)) return fail(`invalid ssh flavor "${v}" (openssh or dropbear)`)
    s.sshFlavor = v
  }

  if ((v = env.AUTOSSH_PROBE_DEADLINE) !== undefined && v !== '') {
    if (v !== 'rtt' && v !== 'fixed') return fail(`invalid probe deadline "${v}" (rtt or fixed)`)
    s.probeDeadline = v
  }

  if ((v = env.AUTOSSH_NETWATCH) !== undefined && v !== '') {
    if (v !== 'on' && v !== 'off') return fail(`invalid network watch "${v}" (on or off)`)
    s.netWatch = v === 'on'
  }

  if ((v = env.AUTOSSH_STOP_STATUS) !== undefined && v !== '') {
    if (v !== '0' && v !== '1') return fail(`invalid stop status "${v}" (0 or 1)`)
    s.stopStatus = v === '0' ? 0 : 1
  }
  if ((v = env.AUTOSSH_CONNWATCH) !== undefined && v !== '') {
    if (v !== 'on' && v !== 'off') return fail(`invalid connection watch "${v}" (on or off)`)
    s.connWatch = v === 'on'
  }

  // as in autossh 1.5, but checked
  if ((v = env.AUTOSSH_MHOST) !== undefined && v !== '') {
    if (!isMonitorHost(v)) return fail(`invalid monitor host "${v}" (an IP address, such as 127.0.0.1 or ::1)`)
    // dbclient splits a forward at every ':'
    if (s.sshFlavor === 'dropbear' && isIPv6(v)) return fail(`invalid monitor host "${v}" (dbclient forwards IPv4 only)`)
    s.monitorHost = v
  }

  return { ok: true, settings: s }
}

/**
 * The timeout on each network step of a probe: 15 s, or half the poll time
 * when polls are short, as autossh sets it.
 */
export const netTimeoutMs = (pollTime: number): number =>
  (pollTime * 1000) / 2 < NET_TIMEOUT_MS ? Math.floor((pollTime * 1000) / 2) : NET_TIMEOUT_MS
