// One connection test through ssh's forwards: write the test line into the
// -L port and read it back, from the listening port (pair mode) or from the
// same connection (echo mode). Connections stay open between probes unless
// told otherwise, so that a probe costs one line each way on the wire.
import net from 'node:net'
import { LOG_DEBUG, LOG_INFO } from '../log/levels.js'
import { strerror } from '../strerror.js'
import { newNonce, probeLine } from './line.js'
import { MONITOR_HOST } from './spec.js'
import { tracer } from '../trace.js'

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
  /** pair mode: the server listening on port+1 */
  listener?: net.Server
  message: string
  /** keep the test connections open between probes */
  keep: boolean
  /** how long a stranger on the listening port may take to send its first line */
  strangerMs: number
  log: (level: number, message: string) => void
}

type Outcome = 'ok' | 'again' | 'failed'

/** reads \n-terminated lines from a socket, at most MAX_LINE bytes each */
const onLines = (sock: net.Socket, each: (line: string) => void, tooLong: () => void): void => {
  let buf = ''
  sock.setEncoding('latin1')
  sock.on('data', (chunk: string) => {
    buf += chunk
    let nl: number
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl + 1)
      buf = buf.slice(nl + 1)
      each(line)
    }
    if (buf.length > MAX_LINE) tooLong()
  })
}

export class Monitor {
  private out?: net.Socket
  private back?: net.Socket
  /** connections on the listening port that have not yet sent their first line, oldest first */
  private strangers = new Set<net.Socket>()
  /** the probe in flight: the line it waits for, and how to end it */
  private waiting?: { line: string; end: (o: Outcome) => void }

  constructor(private o: MonitorOptions) {
    o.listener?.on('connection', sock => this.stranger(sock))
  }

  /**
   * A connection on the listening port is ours only if its first line is the
   * one a probe waits for; any other is closed, and a probe never hears of it.
   */
  private stranger(sock: net.Socket): void {
    sock.on('error', () => {})
    // silent strangers must not crowd out ssh's return connection: the oldest goes
    if (this.strangers.size >= MAX_STRANGERS) this.strangers.values().next().value!.destroy()
    this.strangers.add(sock)
    const timer = setTimeout(() => sock.destroy(), this.o.strangerMs)
    sock.once('close', () => {
      clearTimeout(timer)
      this.strangers.delete(sock)
      if (sock === this.back) this.lost('return connection closed')
    })
    let adopted = false
    onLines(
      sock,
      line => {
        if (adopted) return this.heard(line)
        if (this.waiting?.line !== line) {
          trace('closing a connection that sent %o', line)
          sock.destroy()
          return
        }
        adopted = true
        clearTimeout(timer)
        this.strangers.delete(sock)
        // a new return connection comes only after reset(); should one ever overlap, the old one goes
        /* c8 ignore next */
        this.back?.destroy()
        this.back = sock
        this.heard(line)
      },
      () => sock.destroy(),
    )
  }

  private heard(line: string): void {
    if (this.waiting?.line === line) {
      this.o.log(LOG_DEBUG, 'connection ok')
      this.waiting.end('ok')
    } else {
      this.o.log(LOG_DEBUG, `not what I sent: "${this.waiting?.line ?? ''}" : "${line}"`)
    }
  }

  private lost(why: string): void {
    trace(why)
    // forgotten at once, probe or no probe: the next one must not write into a dead connection
    this.reset()
    this.waiting?.end('again')
  }

  private connect(): net.Socket {
    const sock = net.connect({ host: MONITOR_HOST, port: this.o.port })
    sock.setNoDelay(true)
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') {
        // nothing listens on the -L port: ssh has no forwards (yet, or any more)
        this.o.log(LOG_INFO, `${MONITOR_HOST}:${this.o.port}: ${strerror(err)}`)
        this.waiting?.end('failed')
      }
    })
    sock.once('close', () => {
      if (sock === this.out) this.lost('test connection closed')
    })
    if (this.o.mode === 'echo') onLines(sock, line => this.heard(line), () => sock.destroy())
    else sock.resume()
    return sock
  }

  private attempt(line: string, deadline: number, abort?: AbortSignal): Promise<Outcome> {
    return new Promise(resolve => {
      const end = (o: Outcome) => {
        // once only: the timer and the abort listener are gone after the first call
        /* c8 ignore next */
        if (this.waiting !== waiting) return
        this.waiting = undefined
        clearTimeout(timer)
        abort?.removeEventListener('abort', stop)
        resolve(o)
      }
      const waiting = { line, end }
      this.waiting = waiting
      const stop = () => end('failed')
      abort?.addEventListener('abort', stop)
      const timer = setTimeout(() => {
        // pair mode: the line did not come back, as 1.4g says when nothing connects back, kept connection or not
        if (this.o.mode === 'pair') {
          this.o.log(LOG_INFO, 'timeout polling to accept read connection')
        } else {
          this.o.log(LOG_DEBUG, 'timeout on io poll, looping to accept again')
        }
        end('failed')
      }, Math.max(0, deadline - Date.now()))
      this.out ??= this.connect()
      this.out.write(line)
    })
  }

  /** one connection test, over within deadlineMs; true when the line came back */
  async probe(deadlineMs: number, abort?: AbortSignal): Promise<boolean> {
    const line = probeLine(newNonce(), this.o.message)
    const deadline = Date.now() + deadlineMs
    for (let round = 1; round <= ATTEMPTS; round++) {
      const outcome = await this.attempt(line, deadline, abort)
      if (outcome === 'ok') {
        if (!this.o.keep) this.reset()
        return true
      }
      this.reset()
      if (outcome === 'failed') return false
    }
    this.o.log(LOG_DEBUG, `tried connection ${ATTEMPTS} times and failed`)
    return false
  }

  /** drop the test connections; the next probe opens new ones */
  reset(): void {
    const { out, back } = this
    this.out = this.back = undefined
    out?.destroy()
    back?.destroy()
  }

  /** end it all, the listening port too */
  close(): void {
    this.waiting?.end('failed')
    this.reset()
    for (const s of this.strangers) s.destroy()
    this.o.listener?.close()
  }
}
