// The I/O shell around the supervise machine: it turns signals, timers, ssh's
// exit and probe results into events, and carries out the actions that come
// back. Every child, timer and socket started here is stopped here.
import { constants } from 'node:os'
import { takeEarlySignals } from '../early.js'
import { LOG_DEBUG } from '../log/levels.js'
import type { Logger } from '../log/logger.js'
import type { Monitor } from '../monitor/probe.js'
import type { Reporter } from '../report/report.js'
import type { Forwards } from '../machine/forwards.js'
import { forwardsStatus } from '../report/status.js'
import { findExecutable, KILL_GRACE_MS, startSsh, type SshChild } from '../ssh/child.js'
import { strerror } from '../os/strerror.js'
import type { Said } from '../ssh/says.js'
import { initialState, step, type Action, type Event, type Plan, type Signal, type Timer as TimerName } from '../machine/supervise.js'
import { after, now, type Timer } from './timer.js'
import { tracer } from '../os/trace.js'

const trace = tracer('autossh:supervise')

/** how long a quickly failed probe waits for news of ssh's exit */
const EXIT_SETTLE_MS = 50
/** a probe may run this much past its poll and net timeout before the watchdog calls the loop stuck */
const WATCHDOG_SLACK_MS = 5000

export const SIGNALS: readonly Signal[] = ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGABRT', 'SIGUSR1', 'SIGHUP']

export interface RunOptions {
  plan: Plan
  sshPath: string
  sshArgs: readonly string[]
  /** the same without the monitor's forwards, for when the server holds the monitor's port */
  unwatchedArgs?: readonly string[]
  /** before each start but the first: learn ssh's configuration again, for the argv and the forwards */
  relearn?: () => Promise<{ sshArgs: readonly string[]; unwatchedArgs: readonly string[]; forwards: Forwards }>
  log: Logger
  /** the connection test, when monitoring */
  monitor?: Monitor
  killGraceMs?: number
  /** what ssh says on its stderr, recognised */
  classify?: (line: string) => Said | undefined
  /** things that happen in the world: each is started with the way in, and closed on the way out */
  sources: readonly EventSource[]
  /** the status file and systemd */
  reporter?: Pick<Reporter, 'state' | 'probe' | 'tick' | 'tickMs' | 'forwards'>
}

/** what an event source may ask of the shell */
export interface World {
  /** the ssh running now, if any */
  sshPid(): number | undefined
}

export type EventSource = (emit: (e: Event) => void, world: World) => { close(): void }

const EVENT_OF: Record<TimerName, Event['type']> = { wait: 'waited', poll: 'poll', lifetime: 'lifetime', early: 'early', settle: 'settled', reask: 'reask' }

/** supervise ssh until autossh should exit; resolves with the exit status */
export const run = (o: RunOptions): Promise<0 | 1> =>
  new Promise(resolve => {
    let state = initialState()
    let child: SshChild | undefined
    let probe: AbortController | undefined
    const timers = new Map<string, Timer>()
    const queue: Event[] = []
    let busy = false

    const dispatch = (e: Event) => {
      queue.push(e)
      if (busy) return
      busy = true
      for (let ev; (ev = queue.shift()); ) {
        const [next, actions] = step(state, ev, now(), o.plan)
        trace('%s: %s -> %s', ev.type, state.phase.name, next.phase.name)
        state = next
        for (const a of actions) act(a)
      }
      busy = false
    }

    const onSignal = (signal: Signal) => dispatch({ type: 'signal', signal, number: constants.signals[signal] })
    for (const s of SIGNALS) process.on(s, onSignal)
    const world: World = { sshPid: () => child?.pid }
    /** the sources, once ssh has been started (they are not what ssh needs first) */
    let opened: { close(): void }[] = []
    // healthy: the event loop turns (this interval fires) and the probes go on: a poll
    // due long ago whose probe never ended means the loop is stuck
    let pollDue: number | undefined
    const healthy = () => pollDue === undefined || now() < pollDue + o.plan.netTimeoutMs + WATCHDOG_SLACK_MS
    const tickMs = o.reporter?.tickMs
    const ticker = tickMs === undefined ? undefined : setInterval(() => o.reporter!.tick(healthy()), tickMs)

    const disarm = (name: string) => {
      timers.get(name)?.cancel()
      timers.delete(name)
    }

    let args: { sshArgs: readonly string[]; unwatchedArgs?: readonly string[] } = o
    let starts = 0
    const spawn = async (watch: boolean) => {
      let c: SshChild
      if (starts++ > 0 && o.relearn) {
        const learnt = await o.relearn()
        args = learnt
        dispatch({ type: 'configured', forwards: learnt.forwards })
      }
      try {
        const path = findExecutable(o.sshPath)
        o.log.log(LOG_DEBUG, `child of ${process.pid} execing ${path}`)
        c = await startSsh(path, watch ? args.sshArgs : (args.unwatchedArgs ?? args.sshArgs), undefined, line => {
          const said = o.classify?.(line)
          if (said) dispatch({ type: 'ssh-said', said })
        })
      } catch (err) {
        dispatch({ type: 'spawn-failed', message: `${o.sshPath}: ${strerror(err)}` })
        return
      }
      // told to exit in the moment ssh took to start: it goes too (a race no test can time)
      /* c8 ignore next 4 */
      if (state.phase.name === 'done') {
        c.kill(o.killGraceMs ?? KILL_GRACE_MS, () => {})
        return
      }
      child = c
      void c.exited.then(exit => {
        if (child === c) child = undefined
        dispatch({ type: 'exited', ...exit })
      })
      dispatch({ type: 'spawned', pid: c.pid })
    }

    const act = (a: Action) => {
      switch (a.type) {
        case 'log':
          if (a.stderr) o.log.fatal(a.message)
          else o.log.log(a.level, a.message)
          break
        case 'arm':
          disarm(a.timer)
          if (a.timer === 'poll') pollDue = now() + a.ms
          timers.set(
            a.timer,
            after(a.ms, () => {
              timers.delete(a.timer)
              dispatch({ type: EVENT_OF[a.timer] } as Event)
            }),
          )
          break
        case 'disarm':
          disarm(a.timer)
          if (a.timer === 'poll') pollDue = undefined
          break
        case 'spawn':
          void spawn(a.watch)
          break
        case 'probe': {
          const mine = (probe = new AbortController())
          const deadline = now() + a.deadlines.reduce((x, y) => x + y, 0)
          void o.monitor!.probe(a.deadlines, { quiet: a.quiet, abort: mine.signal }).then(r => {
            const report = () => {
              if (probe !== mine) return
              probe = undefined
              dispatch(r.ok ? { type: 'probed', ok: true, rttMs: r.rttMs, fresh: r.fresh } : { type: 'probed', ok: false })
            }
            // a probe that failed before its deadline may have failed because ssh
            // just died (its forwards closed first): let that exit be told first,
            // so the log says why, as 1.4g's does
            if (!r.ok && now() < deadline) after(EXIT_SETTLE_MS, report)
            else report()
          })
          break
        }
        case 'status':
          o.reporter?.state(a.state, { sshPid: a.sshPid, reason: a.reason, starts: a.starts, unwatched: a.unwatched })
          break
        case 'record-probe':
          o.reporter?.probe(a.ok, a.rttMs, a.reason)
          break
        case 'trace':
          trace(a.message)
          break
        case 'forwards':
          o.reporter?.forwards(forwardsStatus(a.user))
          break
        case 'cancel-probe':
          probe?.abort()
          probe = undefined
          o.monitor?.reset()
          break
        case 'kill':
          child?.kill(o.killGraceMs ?? KILL_GRACE_MS, () =>
            o.log.log(LOG_DEBUG, `ssh child ${child?.pid} did not exit after ${(o.killGraceMs ?? KILL_GRACE_MS) / 1000} seconds, sending SIGKILL`),
          )
          break
        case 'exit':
          // the machine disarms its timers before it exits; this is only the backstop
          /* c8 ignore next */
          for (const name of [...timers.keys()]) disarm(name)
          clearInterval(ticker)
          for (const source of opened) source.close()
          for (const s of SIGNALS) process.off(s, onSignal)
          o.monitor?.close()
          resolve(a.status)
          break
      }
    }

    // signals that came during start-up, before the handlers above, come first
    for (const s of takeEarlySignals()) onSignal(s)
    dispatch({ type: 'begin' })
    // ssh is on its way (begin starts it at once): what the world does is watched from
    // now on, so that starting the watchers (ip monitor) does not hold ssh up
    if (state.phase.name !== 'done') opened = o.sources.map(source => source(dispatch, world))
  })
