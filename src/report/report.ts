// What the tunnel is doing, told to whoever asks: the status file
// (AUTOSSH_STATUSFILE) and systemd (NOTIFY_SOCKET, WATCHDOG_USEC). The I/O
// shell calls it on every change of state and after every probe; this owns
// the file and the notifier, and closes both.
import { createNotifier, watchdogMs } from './notify.js'
import { removeIfOurs, writeFileSafely } from '../os/safe-write.js'
import { statusJson, statusLine, type ForwardStatus, type TunnelState, type TunnelStatus } from './status.js'
import { strerror } from '../os/strerror.js'

/** without a watchdog, how often STATUS= is refreshed so that its ages stay true */
export const REFRESH_MS = 30_000

export interface ReporterOptions {
  env: Readonly<Record<string, string | undefined>>
  /** AUTOSSH_STATUSFILE */
  statusFile?: string
  /** the -M spec, as given */
  monitor: string
  /** wall-clock ms */
  now?: () => number
  pid?: number
  /** told of a status file that can no longer be written (once, until it can again), or of systemd that cannot be told */
  onError?: (message: string) => void
}

export interface StateDetail {
  sshPid?: number | null
  /** why: recorded as the last failure */
  reason?: string
  starts?: number
  /** why the monitor is off while the tunnel is up; null: watched again */
  unwatched?: string | null
}

export interface Reporter {
  /** how often the shell should call tick(); undefined: never */
  readonly tickMs: number | undefined
  state(state: TunnelState, detail?: StateDetail): void
  probe(ok: boolean, rttMs: number | null, reason?: string): void
  /** the user's forwards as they are now (forwardsStatus()) */
  forwards(list: ForwardStatus[]): void
  /** on the shell's timer: WATCHDOG=1 if the loop is healthy (and a watchdog asked for), STATUS= if its text has changed */
  tick(healthy: boolean): void
  /** removes the status file (synchronously, before anything else: fit for an 'exit' handler), then ends the notifier */
  close(): Promise<void>
}

/**
 * Writes the status file as `starting` at once: throws that first write's
 * error, so that a status file that cannot be had stops autossh as the pid
 * file does.
 */
export const createReporter = (o: ReporterOptions): Reporter => {
  const now = o.now ?? Date.now
  const iso = (ms: number) => new Date(ms).toISOString()
  const file = o.statusFile
  const s: TunnelStatus = {
    state: 'starting',
    pid: o.pid ?? process.pid,
    ssh_pid: null,
    since: iso(now()),
    starts: 0,
    last_probe: null,
    last_failure: null,
    monitor: o.monitor,
    unwatched: null,
    forwards: [],
  }
  if (file !== undefined) writeFileSafely(file, statusJson(s))

  const notifier = createNotifier(o.env, { onError: o.onError })
  const watchdog = notifier && watchdogMs(o.env, s.pid)
  let ready = false
  let sent: string | undefined
  let failing = false
  let closed = false

  const publish = (fields: Record<string, string> = {}) => {
    if (file !== undefined) {
      try {
        writeFileSafely(file, statusJson(s))
        failing = false
      } catch (err) {
        if (!failing) o.onError?.(`cannot write status file "${file}": ${strerror(err)}`)
        failing = true
      }
    }
    // a STATUS= that says what the last one said is not sent again (the machine
    // tells of ssh's pid in the state it is already in: starting; it says
    // stopping when it tells ssh to go and again when it exits)
    const line = statusLine(s, now())
    if (line !== sent) fields = { ...fields, STATUS: (sent = line) }
    if (Object.keys(fields).length) notifier?.send(fields)
  }
  publish()

  return {
    tickMs: notifier && (watchdog ?? REFRESH_MS),
    state(state, d = {}) {
      if (closed) return
      const at = now()
      const entering = state !== s.state
      if (entering) {
        s.state = state
        s.since = iso(at)
      }
      if (d.sshPid !== undefined) s.ssh_pid = d.sshPid
      if (d.starts !== undefined) s.starts = d.starts
      if (d.reason !== undefined) s.last_failure = { at: iso(at), reason: d.reason }
      if (d.unwatched !== undefined) s.unwatched = d.unwatched
      else if (state !== 'up') s.unwatched = null
      const fields: Record<string, string> = {}
      if (state === 'up' && !ready) fields.READY = '1'
      // once: the machine says stopping when it tells ssh to go, and again when it exits
      if (state === 'stopping' && entering) fields.STOPPING = '1'
      ready ||= state === 'up'
      publish(fields)
    },
    probe(ok, rttMs, reason) {
      if (closed) return
      const at = iso(now())
      s.last_probe = { at, ok, rtt_ms: rttMs }
      if (!ok) s.last_failure = { at, reason: reason ?? 'probe failed' }
      publish()
    },
    forwards(list) {
      if (closed) return
      s.forwards = list
      publish()
    },
    tick(healthy) {
      if (closed || !notifier) return
      const fields: Record<string, string> = {}
      if (healthy && watchdog !== undefined) fields.WATCHDOG = '1'
      const line = statusLine(s, now())
      if (line !== sent) fields.STATUS = sent = line
      if (Object.keys(fields).length) notifier.send(fields)
    },
    async close() {
      if (closed) return
      closed = true
      if (file !== undefined) removeIfOurs(file, text => (JSON.parse(text) as TunnelStatus).pid === s.pid)
      await notifier?.close()
    },
  }
}
