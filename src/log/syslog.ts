// The system log, as autossh's openlog("autossh", LOG_PID, LOG_USER) writes
// it. Node cannot send unix datagrams, so a util-linux `logger` child
// (Debian's bsdutils, always installed) carries the lines, each with its own
// priority prefix.
//
// It must not go silent for good, as a logger child decided on once would:
// - the socket is looked for at every line, as syslog(3) does, so a system
//   log that comes up after autossh (or comes back) is used from then on;
//   while there is none, lines go to stderr;
// - a logger that dies is replaced when the next line comes, at most once a
//   RESTART_MS; lines wait meanwhile in a queue of QUEUE_MAX, the oldest
//   dropped first and counted in a line of their own; a line written to a
//   logger found dead is written again to the next one;
// - loggers are started through setpriv --pdeathsig, as ssh is, so that they
//   die with autossh even on SIGKILL, and one still stuck on a system log that
//   has stopped reading is killed when autossh leaves (see closed()).
// A line already in the pipe when a logger is killed is lost: nothing tells
// how much of the pipe it had read.
import { existsSync, statSync } from 'node:fs'
import { spawn, type ChildProcess } from 'node:child_process'
import { SETPRIV } from '../ssh/child.js'
import { now } from '../shell/timer.js'
import { LOG_USER, LOG_WARNING } from './levels.js'
import { toStderr, type Target } from './targets.js'

export const SYSLOG_SOCKET = '/dev/log'
export const LOGGER = '/usr/bin/logger'
/** the least time between two starts of logger */
export const RESTART_MS = 1000
/** lines kept while no logger takes them */
export const QUEUE_MAX = 100

/** a syslog socket is there, and a logger to write to it */
export const syslogAvailable = (socket: string): boolean => {
  try {
    return statSync(socket).isSocket() && existsSync(LOGGER)
  } catch {
    return false
  }
}

export interface SyslogOptions {
  restartMs?: number
  queueMax?: number
  /** start logger through setpriv --pdeathsig KILL (default: where setpriv is) */
  tie?: boolean
  /** the logger program (tests: one that cannot start) */
  logger?: string
  /** where lines go while there is no system log (tests: not this process's stderr) */
  fallback?: (message: string) => true
}

interface Line {
  /** the order lines were logged in, kept when a line is written again */
  seq: number
  level: number
  message: string
}

const wire = (l: Pick<Line, 'level' | 'message'>) => `<${LOG_USER | l.level}>${l.message}\n`

export const syslogTarget = (socket: string, o: SyslogOptions = {}): Target => {
  const restartMs = o.restartMs ?? RESTART_MS
  const queueMax = o.queueMax ?? QUEUE_MAX
  const tie = o.tie ?? existsSync(SETPRIV)
  const program = o.logger ?? LOGGER
  const fallback = o.fallback ?? toStderr
  /** lines no logger has taken, in order */
  const queue: Line[] = []
  let seq = 0
  let dropped = 0
  /** the logger lines go to; undefined once it is found dead */
  let child: ChildProcess | undefined
  /** the last one started, which closed() waits for */
  let last: ChildProcess | undefined
  let started = -Infinity
  let timer: NodeJS.Timeout | undefined
  /** the logger whose stdin we wait to drain */
  let draining: ChildProcess | undefined
  let closing = false
  /** the first logger is started on the next turn of the event loop: what is being started meanwhile (ssh) goes first */
  let first: NodeJS.Immediate | undefined

  const keep = (l: Line) => {
    let i = queue.findIndex(q => q.seq > l.seq)
    if (i < 0) i = queue.length
    queue.splice(i, 0, l)
    if (queue.length > queueMax) {
      queue.shift()
      dropped++
    }
  }

  const gone = (c: ChildProcess) => {
    if (child === c) child = undefined
  }

  const start = (): ChildProcess => {
    clearImmediate(first)
    started = now()
    const args = ['--id=' + process.pid, '-t', 'autossh', '--prio-prefix', '-u', socket]
    const [file, argv] = tie ? [SETPRIV, ['--pdeathsig', 'KILL', '--', program, ...args]] : [program, args]
    const c = spawn(file, argv, { stdio: ['pipe', 'ignore', 'ignore'] })
    c.stdin!.on('error', () => gone(c))
    // 'close' also comes after a failed spawn, which 'exit' does not
    c.on('error', () => gone(c))
    c.on('close', () => gone(c))
    last = c
    return c
  }

  /** hand the queue to a logger, starting one if none is alive and the last start is long enough ago */
  const pump = (): void => {
    if (queue.length === 0 && dropped === 0) return
    if (!child) {
      const wait = started + restartMs - now()
      if (wait > 0 && !closing) {
        timer ??= setTimeout(() => {
          timer = undefined
          if (syslogAvailable(socket)) pump()
        }, wait).unref()
        return
      }
      child = start()
    }
    const c = child
    const stdin = c.stdin!
    if (dropped > 0 && !stdin.writableNeedDrain) {
      stdin.write(wire({ level: LOG_WARNING, message: `lost ${dropped} log messages while logger could not take them` }))
      dropped = 0
    }
    // what a logger cannot take yet (a system log that stopped reading) waits
    // in the bounded queue, not in the pipe's unbounded buffer
    while (queue.length > 0 && !stdin.writableNeedDrain) {
      const l = queue.shift()!
      stdin.write(wire(l), err => {
        if (!err) return
        // this logger is dead: the next one writes it, or at the end stderr
        gone(c)
        if (closing) return void fallback(l.message)
        keep(l)
        pump()
      })
    }
    if (queue.length > 0 && draining !== c) {
      draining = c
      stdin.once('drain', () => {
        draining = undefined
        pump()
      })
    }
  }

  return {
    name: 'syslog',
    write(level, message) {
      if (closing) return false
      // looked for at every line, as syslog(3) does (a stat: log lines are rare)
      if (!syslogAvailable(socket)) return fallback(message)
      keep({ seq: seq++, level, message })
      // a full queue does not wait for it (it would drop the oldest)
      if (last === undefined && queue.length < queueMax) first ??= setImmediate(() => ((first = undefined), pump()))
      else pump()
      return false
    },
    close() {
      if (closing) return
      closing = true
      clearTimeout(timer)
      clearImmediate(first)
      // what still waits goes out now, to one more logger if need be
      if (syslogAvailable(socket)) pump()
      else for (const l of queue.splice(0)) fallback(l.message)
      child?.stdin!.end()
    },
    closed(deadlineMs) {
      const c = last
      if (!c || c.exitCode !== null || c.signalCode !== null || c.pid === undefined) return Promise.resolve()
      return new Promise(resolve => {
        // a logger stuck on a system log that stopped reading must not outlive us
        const kill = setTimeout(() => c.kill('SIGKILL'), deadlineMs)
        c.once('close', () => {
          clearTimeout(kill)
          resolve()
        })
      })
    },
  }
}
