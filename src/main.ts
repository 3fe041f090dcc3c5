// autossh: read the environment and the command line, then supervise ssh.
import { readCommandLine, sshArgs } from './args.js'
import { LOG_INFO } from './log/levels.js'
import { Logger } from './log/logger.js'
import { fileTarget, stderrTarget, writeAll } from './log/targets.js'
import { listen } from './monitor/listen.js'
import { Monitor } from './monitor/probe.js'
import { forwards, MONITOR_HOST, parseMonitorSpec } from './monitor/spec.js'
import { run } from './run.js'
import { netTimeoutMs, NET_TIMEOUT_MS, probeDeadlineMs, readSettings } from './settings.js'
import { strerror } from './strerror.js'
import { usageText, versionLine } from './usage.js'

export const main = async (argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> => {
  const log = new Logger(stderrTarget(), LOG_INFO, env.AUTOSSH_DEBUG !== undefined)

  const read = readSettings(env)
  if (!read.ok) {
    log.fatal(read.error)
    return 1
  }
  const settings = read.settings
  log.level = settings.logLevel
  // autossh logs these before its log file is open
  for (const note of settings.notes) log.log(LOG_INFO, note)

  const line = readCommandLine(argv, settings.port)
  if (line.action === 'version') {
    writeAll(1, versionLine())
    return 0
  }
  if (line.action === 'usage') {
    if (line.complaint) writeAll(2, line.complaint + '\n')
    writeAll(2, usageText())
    return 1
  }

  const spec = parseMonitorSpec(line.monitor)
  if (!spec.ok) {
    log.fatal(spec.error)
    return 1
  }

  if (settings.logFile !== undefined) {
    try {
      log.use(fileTarget(settings.logFile))
    } catch (err) {
      log.fatal(`${settings.logFile}: ${strerror(err)}`)
      return 1
    }
  }

  const { spec: monitorSpec } = spec
  if (monitorSpec.mode === 'off') log.log(LOG_INFO, 'port set to 0, monitoring disabled')
  const netTimeout = netTimeoutMs(settings.pollTime)
  if (netTimeout < NET_TIMEOUT_MS) log.log(LOG_INFO, `short poll time: adjusting net timeouts to ${netTimeout}`)

  const args = sshArgs(line.tokens, forwards(monitorSpec), line.fromEnv)
  const gateTime = line.daemon ? 0 : settings.gateTime

  let monitor: Monitor | undefined
  if (monitorSpec.mode !== 'off') {
    let listener
    if (monitorSpec.mode === 'pair') {
      const readPort = monitorSpec.port + 1
      try {
        listener = await listen(readPort)
      } catch (err) {
        log.fatal(`bind on ${MONITOR_HOST}:${readPort}: ${strerror(err)}`)
        log.close()
        return 1
      }
    }
    monitor = new Monitor({
      mode: monitorSpec.mode,
      port: monitorSpec.port,
      listener,
      message: settings.message,
      keep: settings.probeConnection === 'keep',
      strangerMs: netTimeout,
      log: (level, message) => log.log(level, message),
    })
  }

  const status = await run({
    plan: {
      maxStart: settings.maxStart,
      gateTime,
      pollTime: settings.pollTime,
      firstPollTime: settings.firstPollTime,
      maxLifetime: settings.maxLifetime,
      monitoring: monitor !== undefined,
    },
    sshPath: settings.sshPath,
    sshArgs: args,
    log,
    monitor,
    probeDeadlineMs: probeDeadlineMs(settings.pollTime),
  })
  log.close()
  return status
}
