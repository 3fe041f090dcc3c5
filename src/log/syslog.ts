// The system log, as autossh's openlog("autossh", LOG_PID, LOG_USER) writes
// it. Node cannot send unix datagrams, so one util-linux `logger` child
// (Debian's bsdutils, always installed) carries the lines, each with its own
// priority prefix.
import { existsSync, statSync } from 'node:fs'
import { spawn, type ChildProcess } from 'node:child_process'
import { LOG_USER } from './levels.js'
import type { Target } from './targets.js'

export const SYSLOG_SOCKET = '/dev/log'
export const LOGGER = '/usr/bin/logger'

/** a syslog socket is there, and a logger to write to it */
export const syslogAvailable = (socket: string): boolean => {
  try {
    return statSync(socket).isSocket() && existsSync(LOGGER)
  } catch {
    return false
  }
}

export const syslogTarget = (socket: string): Target => {
  let child: ChildProcess | undefined
  let done: Promise<void> = Promise.resolve()
  const start = () => {
    const c = spawn(LOGGER, ['--id=' + process.pid, '-t', 'autossh', '--prio-prefix', '-u', socket], {
      stdio: ['pipe', 'ignore', 'ignore'],
    })
    c.stdin!.on('error', () => {})
    c.on('error', () => {})
    done = new Promise(resolve => c.once('close', () => resolve()))
    return c
  }
  return {
    name: 'syslog',
    write(level, message) {
      child ??= start()
      // one message, one line
      child.stdin!.write(`<${LOG_USER | level}>${message.replace(/[\r\n]+/g, ' ')}\n`)
    },
    close() {
      child?.stdin!.end()
    },
    /** resolves once every line has been handed to the socket */
    closed() {
      return done
    },
  }
}
