// autossh: read the environment and the command line, then supervise ssh.
import { resolve } from 'node:path'
import type { Server } from 'node:net'
import { ipv6Only, readCommandLine, sshArgs } from './args.js'
import { detach, READY, report, takeReadyFd } from './daemon.js'
import { takeEarlySignals } from './early.js'
import { LOG_DEBUG, LOG_INFO, LOG_WARNING } from './log/levels.js'
import { Logger } from './log/logger.js'
import { SYSLOG_SOCKET, syslogTarget } from './log/syslog.js'
import { fileTarget, writeAll } from './log/targets.js'
import { listen } from './monitor/listen.js'
import { Monitor } from './monitor/probe.js'
import { hostPort, MONITOR_HOST, MONITOR_HOST_IPV6 } from './monitor/host.js'
import { forwards, parseMonitorSpec } from './monitor/spec.js'
import { removePidFile, writePidFile } from './pidfile.js'
import { chooseMonitorPort, NO_FREE_PORT } from './port-pick.js'
import { run, type EventSource } from './run.js'
import { createReporter, type Reporter } from './report.js'
import { watchNetwork } from './netwatch.js'
import { watchResume } from './resume.js'
import { hear } from './ssh-says.js'
import { netTimeoutMs, NET_TIMEOUT_MS, readSettings } from './settings.js'
import { strerror } from './strerror.js'
import { startTracing } from './trace.js'

/** how many picked monitor ports may turn out taken before autossh gives up */
const PICK_AGAIN = 5

/** what happens to this machine: its network changing, a wake from suspend */
const WORLD_EVENTS: readonly EventSource[] = [
  emit => watchNetwork(what => emit({ type: 'net-changed', what })),
  emit => watchResume(sleptMs => emit({ type: 'resumed', sleptMs })),
]

export const main = async (argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> => {
  await startTracing(env)
  // set when this is the background copy that -f started
  const readyFd = takeReadyFd(env)
  const socket = env.AUTOSSH_SYSLOG_SOCKET || SYSLOG_SOCKET
  const log = new Logger(syslogTarget(socket), LOG_INFO, env.AUTOSSH_DEBUG !== undefined)
  const fail = (message: string): 1 => {
    log.fatal(message)
    if (readyFd !== undefined) report(readyFd, message)
    return 1
  }
  // the foreground already said what comes before going to the background
  const say = (message: string) => readyFd === undefined && log.log(LOG_INFO, message)
  let listener: Server | undefined

  try {
    const read = readSettings(env)
    if (!read.ok) return fail(read.error)
    const settings = read.settings
    log.level = settings.logLevel
    // autossh logs these before its log file is open
    settings.notes.forEach(say)

    const line = readCommandLine(argv, settings.port, settings.sshFlavor)
    // commander only for these two: it is not loaded to supervise ssh
    if (line.action === 'version') {
      writeAll(1, (await import('./usage.js')).versionLine())
      return 0
    }
    if (line.action === 'usage') {
      if (line.complaint) writeAll(2, line.complaint + '\n')
      writeAll(2, (await import('./usage.js')).usageText())
      return 1
    }
    // neither -M nor AUTOSSH_PORT: Debian's wrapper picks a free pair and sets AUTOSSH_PORT
    // (ssh and the background copy of -f see it too)
    let monitorText = line.monitor
    const picked = monitorText === undefined
    if (monitorText === undefined) {
      const port = chooseMonitorPort()
      if (port === undefined) return fail(NO_FREE_PORT)
      env.AUTOSSH_PORT = monitorText = String(port)
    }

    if (settings.logFile !== undefined) {
      try {
        log.use(fileTarget(settings.logFile))
      } catch (err) {
        return fail(`${settings.logFile}: ${strerror(err)}`)
      }
    }

    // after the log file is open, as 1.4g: a bad -M is in the log too
    const spec = parseMonitorSpec(monitorText)
    if (!spec.ok) return fail(spec.error)
    let monitorSpec = spec.spec

    if (monitorSpec.mode === 'off') say('port set to 0, monitoring disabled')
    const netTimeout = netTimeoutMs(settings.pollTime)
    if (netTimeout < NET_TIMEOUT_MS) say(`short poll time: adjusting net timeouts to ${netTimeout}`)

    if (line.daemon && readyFd === undefined) {
      // told to exit while starting (signals on their way arrive first): as 1.4g killed
      // before its fork, no background copy
      await new Promise(resolve => setImmediate(resolve))
      if (takeEarlySignals().some(s => s !== 'SIGHUP' && s !== 'SIGUSR1')) return 1
      // the log file was opened here; the background copy opens it again from /
      const childEnv = settings.logFile === undefined ? env : { ...env, AUTOSSH_LOGFILE: resolve(settings.logFile) }
      const complaint = await detach(argv, childEnv)
      if (complaint === undefined) return 0
      writeAll(2, `autossh: ${complaint}\n`)
      return 1
    }

    // with -6 ssh listens on ::1 only, and 127.0.0.1 would be refused at every probe
    const host = settings.monitorHost ?? (ipv6Only(line.tokens, settings.sshFlavor) ? MONITOR_HOST_IPV6 : MONITOR_HOST)
    if (monitorSpec.mode === 'pair') {
      for (let tries = 1; listener === undefined; tries++) {
        const readPort = monitorSpec.port + 1
        try {
          listener = await listen(readPort, host)
        } catch (err) {
          // a port we picked, taken since /proc said it was free: pick again (the wrapper just fails)
          const port = picked && (err as NodeJS.ErrnoException).code === 'EADDRINUSE' && tries < PICK_AGAIN ? chooseMonitorPort() : undefined
          if (port === undefined) return fail(`bind on ${hostPort(host, readPort)}: ${strerror(err)}`)
          log.log(LOG_DEBUG, `picked monitor port ${monitorSpec.port} taken meanwhile; trying ${port}`)
          env.AUTOSSH_PORT = monitorText = String(port)
          monitorSpec = { mode: 'pair', port }
        }
      }
    }

    if (settings.pidFile !== undefined) {
      try {
        writePidFile(settings.pidFile)
      } catch (err) {
        return fail(`cannot open pid file "${settings.pidFile}": ${strerror(err)}`)
      }
      // every way out takes the pid file with it, a crash too
      process.once('exit', () => removePidFile(settings.pidFile!))
    }

    let reporter: Reporter
    try {
      reporter = createReporter({ env, statusFile: settings.statusFile, monitor: monitorText, onError: m => log.log(LOG_WARNING, m) })
    } catch (err) {
      return fail(`cannot open status file "${settings.statusFile}": ${strerror(err)}`)
    }
    // as the pid file: every way out takes the status file with it
    process.once('exit', () => void reporter.close())

    const monitor =
      monitorSpec.mode === 'off'
        ? undefined
        : new Monitor({
            mode: monitorSpec.mode,
            port: monitorSpec.port,
            host,
            listener,
            message: settings.message,
            keep: settings.probeConnection === 'keep',
            strangerMs: netTimeout,
            log: (level, message) => log.log(level, message),
          })
    listener = undefined

    if (readyFd !== undefined) report(readyFd, READY)
    return await run({
      plan: {
        maxStart: settings.maxStart,
        // -f: the user wants it to keep trying, machines may still be coming up
        gateTime: line.daemon ? 0 : settings.gateTime,
        pollTime: settings.pollTime,
        firstPollTime: settings.firstPollTime,
        maxLifetime: settings.maxLifetime,
        monitoring: monitor !== undefined,
        netTimeoutMs: netTimeout,
        fixedDeadline: settings.probeDeadline === 'fixed',
        stopStatus: settings.stopStatus,
      },
      sshPath: settings.sshPath,
      sshArgs: sshArgs(line.tokens, forwards(monitorSpec, host), settings.sshFlavor),
      log,
      monitor,
      classify: hear,
      // only a tunnel with a probe has something to do when the world changes
      sources: settings.netWatch && monitor !== undefined ? WORLD_EVENTS : [],
      reporter,
    }).finally(() => reporter.close())
  } finally {
    listener?.close()
    await log.close()
  }
}
