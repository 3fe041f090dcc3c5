// What the tunnel is doing, for the status file (AUTOSSH_STATUSFILE, JSON)
// and for systemd's STATUS= line. Pure: the reporter does the writing.
import { forwardsUp, type Forward, type ForwardState } from '../machine/forwards.js'

export type TunnelState = 'starting' | 'up' | 'down' | 'backoff' | 'stopping'

export interface TunnelStatus {
  state: TunnelState
  /** autossh's pid */
  pid: number
  ssh_pid: number | null
  /** ISO 8601: when this state began */
  since: string
  /** how many times ssh has been started */
  starts: number
  last_probe: { at: string; ok: boolean; rtt_ms: number | null } | null
  last_failure: { at: string; reason: string } | null
  /** the -M spec */
  monitor: string
  /** why the monitor is off while the tunnel is up (the server holds its port); null: watched, or not up */
  unwatched: string | null
  /** the user's forwards, in the order ssh was given them */
  forwards: ForwardStatus[]
}

export interface ForwardStatus {
  kind: Forward['kind']
  listen: string
  /** not for dynamic forwards */
  target?: string
  state: ForwardState
  /** the port the server allocated for a -R 0, else the listen port; null: a unix socket, or -R 0 not yet answered */
  port: number | null
  last_error: { at: string; words: string } | null
}

/** the user's forwards for the status file, keys in this order */
export const forwardsStatus = (fs: readonly Forward[]): ForwardStatus[] =>
  fs.map(f => ({
    kind: f.kind,
    listen: f.listen,
    ...(f.target === undefined || f.kind === 'dynamic' ? {} : { target: f.target }),
    state: f.state,
    port: f.port ?? (f.listenPort || null),
    last_error: f.lastError === undefined ? null : { at: new Date(f.lastError.at).toISOString(), words: f.lastError.words },
  }))

/** the status file's text: these keys, in this order, every time */
export const statusJson = (s: TunnelStatus): string =>
  JSON.stringify(
    {
      state: s.state,
      pid: s.pid,
      ssh_pid: s.ssh_pid,
      since: s.since,
      starts: s.starts,
      last_probe: s.last_probe && { at: s.last_probe.at, ok: s.last_probe.ok, rtt_ms: s.last_probe.rtt_ms },
      last_failure: s.last_failure && { at: s.last_failure.at, reason: s.last_failure.reason },
      monitor: s.monitor,
      unwatched: s.unwatched,
      forwards: s.forwards.map(f => ({
        kind: f.kind,
        listen: f.listen,
        ...(f.target === undefined ? {} : { target: f.target }),
        state: f.state,
        port: f.port,
        last_error: f.last_error && { at: f.last_error.at, words: f.last_error.words },
      })),
    },
    null,
    2,
  ) + '\n'

/** a duration in its two largest units: 45s, 12m5s, 2h13m, 3d4h (a zero second unit left out) */
export const duration = (ms: number): string => {
  const s = Math.max(0, Math.floor(ms / 1000))
  const two = (big: number, bigUnit: string, small: number, smallUnit: string) =>
    `${big}${bigUnit}${small ? `${small}${smallUnit}` : ''}`
  if (s < 60) return `${s}s`
  if (s < 3600) return two(Math.floor(s / 60), 'm', s % 60, 's')
  if (s < 86400) return two(Math.floor(s / 3600), 'h', Math.floor((s % 3600) / 60), 'm')
  return two(Math.floor(s / 86400), 'd', Math.floor((s % 86400) / 3600), 'h')
}

/**
 * The one line `systemctl status` shows, as of nowMs (wall clock):
 * `up 2h13m, last probe 12s ago (rtt 31 ms), 3 restarts`,
 * `down: port down (since 12s), 3 restarts`.
 */
export const statusLine = (s: TunnelStatus, nowMs: number): string => {
  const age = (iso: string) => duration(nowMs - Date.parse(iso))
  const restarts = Math.max(0, s.starts - 1)
  const forwards = s.forwards.length ? `, ${forwardsUp(s.forwards)}/${s.forwards.length} forwards up` : ''
  const tail = restarts ? `, ${restarts} restart${restarts === 1 ? '' : 's'}` : ''
  const why = s.last_failure?.reason
  switch (s.state) {
    case 'up': {
      const p = s.last_probe
      const probe = !p
        ? ''
        : `, last probe ${age(p.at)} ago` + (!p.ok ? ' failed' : p.rtt_ms === null ? '' : ` (rtt ${p.rtt_ms} ms)`)
      return `up ${age(s.since)}${s.unwatched === null ? '' : ` (unwatched: ${s.unwatched})`}${probe}${forwards}${tail}`
    }
    case 'starting':
      return `starting (${age(s.since)})${why === undefined ? '' : `, last failure ${age(s.last_failure!.at)} ago: ${why}`}${tail}`
    case 'down':
    case 'backoff':
      return `${s.state}${why === undefined ? '' : `: ${why}`} (since ${age(s.since)})${tail}`
    case 'stopping':
      return 'stopping'
  }
}
