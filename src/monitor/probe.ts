// One connection test through ssh's forwards: write the test line into the
// -L port and read it back, from the listening port (pair mode) or from the
// same connection (echo mode). Connections stay open between probes unless
// told otherwise, so that a probe costs one line each way on the wire.
import net from 'node:net'
import { LOG_DEBUG, LOG_INFO } from '../log/levels.js'
import { strerror } from '../os/strerror.js'
import { newNonce, probeLine } from './line.js'
import { hostPort, MONITOR_HOST } from './host.js'
import { tracer } from '../os/trace.js'
import { splitLines } from '../os/lines.js'

const trace = tracer('autossh:probe')

/** a connection test goes this many rounds before it counts as failed (autossh's MAX_CONN_TRIES - 1) */
export const ATTEMPTS = 2
/** strangers on the listening port held at once, waiting for their first line; a newcomer evicts the oldest */
export const MAX_STRANGERS = 32
const MAX_LINE = 1024

export interface MonitorOptions {
  mode: 'pair' | 'echo'
  /** the -L port the test line goes into */
  port: number
  /** the address of the monitor forwards; 127.0.0.1 unless told */
  host?: string
  /** pair mode: the server listening on port+1 */
  listener?: net.Server
  message: string
  /** keep the test connections open between probes */
  keep: boolean
  /** how long a stranger on the listening port may take to send its first line */
  strangerMs: number
  log: (level: number, message: string) => void
}

export type ProbeResult =
  /** rttMs from the write of the line that came back; fresh: over connections this probe opened */
  | { ok: true; rttMs: number; fresh: boolean }
  /** timedOut: no answer in time, as on a silent cut; else refused or closed */
  | { ok: false; timedOut: boolean }

export interface ProbeOptions {
  /** an early probe: what it sees is logged at debug level only */
  quiet?: boolean
  abort?: AbortSignal
}

/** one test connection: out into the -L port, and (pair mode) the connection that came back */
interface Lane {
  out: net.Socket
  back?: net.Socket
  /** opened by the probe in flight */
  fresh: boolean
}

interface Sent {
  at: number
  lane: Lane
}

/**
 * reads \n-terminated lines from a socket, each with its end, as they came;
 * more than MAX_LINE bytes without a newline is tooLong
 */
const onLines = (sock: net.Socket, each: (line: string) => void, tooLong: () => void): void => {
  const lines = splitLines(each, { encoding: 'latin1', maxLength: MAX_LINE, overLong: tooLong, keepEnd: true })
  sock.on('data', (chunk: Buffer) => lines.push(chunk))
}

export class Monitor {
  private lanes = new Set<Lane>()
  /** connections on the listening port that have not yet sent their first line, oldest first */
  private strangers = new Set<net.Socket>()
  /** the probe in flight: the lines it waits for, and how it hears of answers and losses */
  private waiting?: {
    lines: Map<string, Sent>
    answer: (line: string, sent: Sent) => void
    lost: (lane: Lane) => void
    end: (r: ProbeResult) => void
    /** the line of the current try, for the log */
    current: string
  }
  private readonly host: string

  constructor(private o: MonitorOptions) {
    this.host = o.host ?? MONITOR_HOST
    o.listener?.on('connection', sock => this.stranger(sock))
  }

  /**
   * A connection on the listening port is ours only if its first line is one
   * a probe waits for; any other is closed, and a probe never hears of it.
   */
  private stranger(sock: net.Socket): void {
    sock.on('error', () => {})
    // silent strangers must not crowd out ssh's return connection: the oldest goes
    if (this.strangers.size >= MAX_STRANGERS) this.strangers.values().next().value!.destroy()
    this.strangers.add(sock)
    const timer = setTimeout(() => sock.destroy(), this.o.strangerMs)
    let lane: Lane | undefined
    sock.once('close', () => {
      clearTimeout(timer)
      this.strangers.delete(sock)
      if (lane) this.drop(lane, 'return connection closed')
    })
    onLines(
      sock,
      line => {
        if (lane) return this.heard(line)
        const sent = this.waiting?.lines.get(line)
        if (sent === undefined || !this.lanes.has(sent.lane)) {
          trace('closing a connection that sent %o', line)
          sock.destroy()
          return
        }
        clearTimeout(timer)
        this.strangers.delete(sock)
        lane = sent.lane
        // one return connection per test connection (ssh opens one -R connection for each -L
        // connection); should another ever come, the old one goes
        /* c8 ignore next */
        lane.back?.destroy()
        lane.back = sock
        this.heard(line)
      },
      () => sock.destroy(),
    )
  }

  private heard(line: string): void {
    const sent = this.waiting?.lines.get(line)
    if (sent !== undefined) this.waiting!.answer(line, sent)
    else this.o.log(LOG_DEBUG, `not what I sent: "${this.waiting?.current ?? ''}" : "${line}"`)
  }

  /** a connection of a lane closed: the lane is gone at once, probe or no probe */
  private drop(lane: Lane, why: string): void {
    if (!this.lanes.delete(lane)) return
    trace(why)
    lane.out.destroy()
    lane.back?.destroy()
    this.waiting?.lost(lane)
  }

  private open(log: (level: number, message: string) => void, refused: () => void): Lane {
    const out = net.connect({ host: this.host, port: this.o.port })
    const lane: Lane = { out, fresh: true }
    this.lanes.add(lane)
    out.setNoDelay(true)
    out.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') {
        // nothing listens on the -L port: ssh has no forwards (yet, or any more)
        log(LOG_INFO, `${hostPort(this.host, this.o.port)}: ${strerror(err)}`)
        refused()
      }
    })
    out.once('close', () => this.drop(lane, 'test connection closed'))
    if (this.o.mode === 'echo') onLines(out, line => this.heard(line), () => out.destroy())
    else out.resume()
    return lane
  }

  /**
   * One connection test. Each deadline is one try: the first on the kept
   * connection, the next on fresh ones while an answer to the earlier try
   * still counts. One deadline alone is a whole probe of ATTEMPTS rounds, a
   * new round when a connection closes, as autossh 1.4g's.
   */
  probe(deadlinesMs: readonly number[], opts: ProbeOptions = {}): Promise<ProbeResult> {
    const log = opts.quiet ? (_level: number, message: string) => this.o.log(LOG_DEBUG, message) : this.o.log
    const whole = Date.now() + deadlinesMs.reduce((a, b) => a + b, 0)
    const tries = Math.max(ATTEMPTS, deadlinesMs.length)
    return new Promise(resolve => {
      let round = 0
      let lane: Lane
      let timer: NodeJS.Timeout | undefined
      const lines = new Map<string, Sent>()
      const finish = (r: ProbeResult, keep?: Lane) => {
        // once only: the timer and the abort listener are gone after the first call
        /* c8 ignore next */
        if (this.waiting !== waiting) return
        this.waiting = undefined
        clearTimeout(timer)
        opts.abort?.removeEventListener('abort', abort)
        for (const l of this.lanes) {
          if (l === keep && this.o.keep) l.fresh = false
          else this.shut(l)
        }
        resolve(r)
      }
      const abort = () => finish({ ok: false, timedOut: false })
      const refused = () => finish({ ok: false, timedOut: false })
      const send = (fresh: boolean) => {
        round++
        const line = probeLine(newNonce(), this.o.message)
        const kept = fresh ? undefined : this.lanes.values().next().value
        lane = kept ?? this.open(log, refused)
        lines.set(line, { at: performance.now(), lane })
        waiting.current = line
        const ms = deadlinesMs[round - 1] ?? Math.max(0, whole - Date.now())
        clearTimeout(timer)
        timer = setTimeout(timedOut, ms)
        lane.out.write(line)
      }
      const timedOut = () => {
        if (round < deadlinesMs.length) {
          log(LOG_DEBUG, `no answer in ${deadlinesMs[round - 1]} ms, trying again on a fresh connection`)
          // the connection that was tried stays open, in case its answer is only late
          return send(true)
        }
        if (this.o.mode === 'pair') log(LOG_INFO, 'timeout polling to accept read connection')
        else log(LOG_DEBUG, 'timeout on io poll, looping to accept again')
        finish({ ok: false, timedOut: true })
      }
      const waiting: NonNullable<Monitor['waiting']> = {
        lines,
        current: '',
        end: r => finish(r),
        answer: (_line, sent) => {
          log(LOG_DEBUG, 'connection ok')
          finish({ ok: true, rttMs: performance.now() - sent.at, fresh: sent.lane.fresh }, sent.lane)
        },
        lost: gone => {
          if (gone !== lane) return
          if (round < tries) return send(true)
          log(LOG_DEBUG, `tried connection ${tries} times and failed`)
          finish({ ok: false, timedOut: false })
        },
      }
      this.waiting = waiting
      opts.abort?.addEventListener('abort', abort)
      send(false)
    })
  }

  private shut(lane: Lane): void {
    this.lanes.delete(lane)
    lane.out.destroy()
    lane.back?.destroy()
  }

  /** drop the test connections; the next probe opens new ones */
  reset(): void {
    for (const l of [...this.lanes]) this.shut(l)
  }

  /** end it all, the listening port too */
  close(): void {
    this.waiting?.end({ ok: false, timedOut: false })
    this.reset()
    for (const s of this.strangers) s.destroy()
    this.o.listener?.close()
  }
}
