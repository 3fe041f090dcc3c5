// autossh: read the environment and the command line, then supervise ssh.
import { resolve } from 'node:path'
import type { Server } from 'node:net'
import { ipv6Only, readCommandLine, sshArgs, type CommandLine } from './options/args.js'
import { detach, READY, report, takeReadyFd, TOLD_TO_EXIT } from './os/daemon.js'
import { takeEarlySignals } from './early.js'
import { LOG_DEBUG, LOG_INFO, LOG_WARNING } from './log/levels.js'
import { Logger } from './log/logger.js'
import { SYSLOG_SOCKET, syslogTarget } from './log/syslog.js'
import { fileTarget, writeAll } from './log/targets.js'
import { listen } from './monitor/listen.js'
import { Monitor } from './monitor/probe.js'
import { hostPort, MONITOR_HOST, MONITOR_HOST_IPV6 } from './monitor/host.js'
import { forwards, parseMonitorSpec, type MonitorSpec } from './monitor/spec.js'
import { removePidFile, writePidFile } from './os/pidfile.js'
import { chooseMonitorPort, NO_FREE_PORT } from './monitor/port-pick.js'
import { run, type EventSource } from './shell/run.js'
import type { Signal } from './machine/supervise.js'
import { createReporter, type Reporter } from './report/report.js'
import { watchNetwork } from './watch/network.js'
import { watchResume } from './watch/resume.js'
import { watchConnection } from './watch/connection.js'
import { hear } from './ssh/says.js'
import { netTimeoutMs, NET_TIMEOUT_MS, readSettings, type Settings } from './options/settings.js'
import { strerror } from './os/strerror.js'
import { startTracing, tracer } from './os/trace.js'
import {
  argvForwards,
  commandLineForwards,
  isCompiled,
  keepaliveWarning,
  monitorHostFor,
  noMultiplexArgs,
  readEffectiveConfig,
  sharingNote,
  usesMultiplexing,
  warnNoKeepalive,
  type ConfigRead,
  type EffectiveConfig,
} from './ssh/config.js'
import { findExecutable } from './ssh/child.js'
import type { Flavor } from './ssh/flavor.js'
import { modelForwards } from './machine/forwards.js'

const trace = tracer('autossh:config')

/** how many picked monitor ports may turn out taken before autossh gives up */
const PICK_AGAIN = 5

/**
 * What happens to this machine and to ssh's connection: with a probe, a
 * network change or a wake from suspend probes at once (AUTOSSH_NETWATCH);
 * in every mode, ssh's own connection is watched (AUTOSSH_CONNWATCH), its
 * address checked when the network changes. One `ip monitor` serves both.
 */
export const worldEvents = (o: { probeOnChange: boolean; connWatch: boolean; say: (message: string) => void }): EventSource[] => {
  const sources: EventSource[] = []
  if (o.probeOnChange || o.connWatch)
    sources.push((emit, world) => {
      const conn = o.connWatch ? watchConnection(emit, { sshPid: world.sshPid, say: o.say }) : undefined
      const net = watchNetwork(what => {
        if (o.probeOnChange) emit({ type: 'net-changed', what })
        conn?.networkChanged()
      })
      return {
        close() {
          net.close()
          conn?.close()
        },
      }
    })
  if (o.probeOnChange) sources.push(emit => watchResume(sleptMs => emit({ type: 'resumed', sleptMs })))
  return sources
}

/** what every set-up phase uses: a phase returns an exit status to end autossh there */
interface Io {
  argv: readonly string[]
  env: NodeJS.ProcessEnv
  log: Logger
  /** set when this is the background copy that -f started */
  readyFd: number | undefined
  /** say why autossh cannot go on (to the foreground of -f too); status 1 */
  fail(message: string): 1
  /** an info line, unless the foreground of -f has said it already */
  say(message: string): void
}

interface Input {
  settings: Settings
  line: CommandLine & { action: 'run' }
}

/** the AUTOSSH_* variables, then the command line; -V and usage end here */
const readInput = async (io: Io): Promise<Input | number> => {
  const read = readSettings(io.env)
  if (!read.ok) return io.fail(read.error)
  const settings = read.settings
  io.log.level = settings.logLevel
  // autossh logs these before its log file is open
  settings.notes.forEach(io.say)

  const line = readCommandLine(io.argv, settings.port, settings.sshFlavor)
  // commander only for these two: it is not loaded to supervise ssh
  if (line.action === 'version') {
    writeAll(1, (await import('./options/usage.js')).versionLine())
    return 0
  }
  if (line.action === 'usage') {
    if (line.complaint) writeAll(2, line.complaint + '\n')
    writeAll(2, (await import('./options/usage.js')).usageText())
    return 1
  }
  return { settings, line }
}

interface MonitorChoice {
  /** the spec as written, or as picked: the status file shows it */
  text: string
  spec: MonitorSpec
  /** picked by us, not given: taken meanwhile, it may be picked again */
  picked: boolean
  netTimeout: number
}

/** the monitor port, from -M or AUTOSSH_PORT or picked; the log file opened on the way, as 1.4g */
const chooseMonitor = ({ settings, line }: Input, io: Io): MonitorChoice | number => {
  // neither -M nor AUTOSSH_PORT: Debian's wrapper picks a free pair and sets AUTOSSH_PORT
  // (ssh and the background copy of -f see it too)
  let text = line.monitor
  const picked = text === undefined
  if (text === undefined) {
    const port = chooseMonitorPort()
    if (port === undefined) return io.fail(NO_FREE_PORT)
    io.env.AUTOSSH_PORT = text = String(port)
  }

  if (settings.logFile !== undefined) {
    try {
      io.log.use(fileTarget(settings.logFile))
    } catch (err) {
      return io.fail(`${settings.logFile}: ${strerror(err)}`)
    }
  }

  // after the log file is open, as 1.4g: a bad -M is in the log too
  const spec = parseMonitorSpec(text)
  if (!spec.ok) return io.fail(spec.error)

  if (spec.spec.mode === 'off') io.say('port set to 0, monitoring disabled')
  const netTimeout = netTimeoutMs(settings.pollTime)
  if (netTimeout < NET_TIMEOUT_MS) io.say(`short poll time: adjusting net timeouts to ${netTimeout}`)
  return { text, spec: spec.spec, picked, netTimeout }
}

/** -f in the foreground: start the background copy and report how it went */
const goBackground = async ({ settings }: Input, io: Io): Promise<number> => {
  // told to exit while starting (signals on their way arrive first): as 1.4g killed
  // before its fork, no background copy
  await new Promise(resolve => setImmediate(resolve))
  const exits: Signal[] = ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGABRT']
  if (takeEarlySignals().some(s => exits.includes(s))) return 1
  // and while the background copy starts: it is told to go too, as it would not have been forked
  const told = new AbortController()
  const exit = () => told.abort()
  for (const s of exits) process.on(s, exit)
  // the log file was opened here; the background copy opens it again from /
  const childEnv = settings.logFile === undefined ? io.env : { ...io.env, AUTOSSH_LOGFILE: resolve(settings.logFile) }
  const complaint = await detach(io.argv, childEnv, told.signal)
  for (const s of exits) process.off(s, exit)
  if (complaint === TOLD_TO_EXIT) return 1
  if (complaint === undefined) return 0
  writeAll(2, `autossh: ${complaint}\n`)
  return 1
}

/** what autossh makes of ssh's own configuration: where the monitor listens, and what ssh must be told */
interface SshPlan {
  /** ssh's effective configuration; undefined where it could not be read */
  config?: EffectiveConfig
  host: string
  /** options before all others (ssh keeps the first value of each) */
  first: string[]
  /** the user's option letters left out */
  drop: string
}

/** ssh -G, of OpenSSH itself: a wrapper script is not run with words it does not expect */
const readConfig = (sshPath: string, args: string[], flavor: Flavor): Promise<ConfigRead> => {
  let path: string
  try {
    path = findExecutable(sshPath)
  } catch (err) {
    return Promise.resolve({ ok: false, why: `${sshPath}: ${strerror(err)}` })
  }
  if (flavor === 'openssh' && !isCompiled(path)) return Promise.resolve({ ok: false, why: `${path} is a script, not asked for its configuration` })
  return readEffectiveConfig(path, args, flavor)
}

/**
 * Learn what ssh will do with the user's arguments and config files (ssh -G),
 * before it starts: a failure to learn it is a trace line, never a failed start.
 */
const learnSsh = async ({ settings, line }: Input, monitorOff: boolean, io: Io, before?: SshPlan): Promise<SshPlan> => {
  const flavor = settings.sshFlavor
  const read = await readConfig(settings.sshPath, sshArgs(line.tokens, [], flavor), flavor)
  if (!read.ok) trace(`ssh's configuration not read: ${read.why}`)
  const config = read.ok ? read.config : undefined
  // with -6 or AddressFamily inet6 ssh listens on ::1 only, and 127.0.0.1 would be refused at every probe
  const v6 = config ? monitorHostFor(config) === MONITOR_HOST_IPV6 : ipv6Only(line.tokens, flavor)
  // learnt again before a restart: the monitor's port is bound where it was
  const host = before?.host ?? settings.monitorHost ?? (v6 ? MONITOR_HOST_IPV6 : MONITOR_HOST)
  const plan: SshPlan = { config, host, first: [], drop: '' }
  if (config && usesMultiplexing(config)) {
    // a master in the background would hold the forwards, and ssh would exit 0: nothing left to watch
    plan.first = noMultiplexArgs()
    plan.drop = 'S'
    if (before?.drop !== 'S') io.log.log(LOG_INFO, sharingNote(config))
  }
  if (config && warnNoKeepalive(config, monitorOff) && before === undefined) io.log.log(LOG_WARNING, keepaliveWarning(flavor))
  return plan
}

/** pair mode: the port the test line comes back on, bound for the whole run */
const bindMonitor = async (choice: MonitorChoice, host: string, io: Io, held: { listener?: Server }): Promise<MonitorChoice | number> => {
  let { spec, text } = choice
  if (spec.mode !== 'pair') return choice
  for (let tries = 1; held.listener === undefined; tries++) {
    const readPort = spec.port + 1
    try {
      held.listener = await listen(readPort, host)
    } catch (err) {
      // a port we picked, taken since /proc said it was free: pick again (the wrapper just fails)
      const port = choice.picked && (err as NodeJS.ErrnoException).code === 'EADDRINUSE' && tries < PICK_AGAIN ? chooseMonitorPort() : undefined
      if (port === undefined) return io.fail(`bind on ${hostPort(host, readPort)}: ${strerror(err)}`)
      io.log.log(LOG_DEBUG, `picked monitor port ${spec.port} taken meanwhile; trying ${port}`)
      io.env.AUTOSSH_PORT = text = String(port)
      spec = { mode: 'pair', port }
    }
  }
  return { ...choice, spec, text }
}

/** the pid file and the status file, each removed on every way out (a crash too) */
const writeFiles = ({ settings }: Input, choice: MonitorChoice, io: Io): Reporter | number => {
  if (settings.pidFile !== undefined) {
    try {
      writePidFile(settings.pidFile)
    } catch (err) {
      return io.fail(`cannot open pid file "${settings.pidFile}": ${strerror(err)}`)
    }
    process.once('exit', () => removePidFile(settings.pidFile!))
  }
  let reporter: Reporter
  try {
    reporter = createReporter({ env: io.env, statusFile: settings.statusFile, monitor: choice.text, onError: m => io.log.log(LOG_WARNING, m) })
  } catch (err) {
    return io.fail(`cannot open status file "${settings.statusFile}": ${strerror(err)}`)
  }
  process.once('exit', () => void reporter.close())
  return reporter
}

/** everything is in place: supervise ssh until autossh should exit */
const supervise = (input: Input, choice: MonitorChoice, ssh: SshPlan, listener: Server | undefined, reporter: Reporter, io: Io): Promise<number> => {
  const { settings, line } = input
  const { spec, netTimeout } = choice
  const { host } = ssh
  const flavor = settings.sshFlavor
  const monitorForwards = forwards(spec, host)
  const argsOf = (plan: SshPlan) => ({
    sshArgs: sshArgs(line.tokens, [...plan.first, ...monitorForwards], flavor, plan.drop),
    unwatchedArgs: sshArgs(line.tokens, plan.first, flavor, plan.drop),
  })
  const forwardsOf = (plan: SshPlan) =>
    modelForwards({ effective: plan.config?.forwards, commandLine: commandLineForwards(line.tokens, flavor), monitor: argvForwards(monitorForwards, flavor) })
  let learnt = ssh
  const monitor =
    spec.mode === 'off'
      ? undefined
      : new Monitor({
          mode: spec.mode,
          port: spec.port,
          host,
          listener,
          message: settings.message,
          keep: settings.probeConnection === 'keep',
          strangerMs: netTimeout,
          log: (level, message) => io.log.log(level, message),
        })
  if (io.readyFd !== undefined) report(io.readyFd, READY)
  return run({
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
      monitorRemotePort: spec.mode === 'pair' ? spec.port : undefined,
      forwards: forwardsOf(ssh),
    },
    sshPath: settings.sshPath,
    ...argsOf(ssh),
    // before each start: the user may have changed ssh's configuration meanwhile
    relearn: async () => {
      learnt = await learnSsh(input, spec.mode === 'off', io, learnt)
      return { ...argsOf(learnt), forwards: forwardsOf(learnt) }
    },
    log: io.log,
    monitor,
    classify: hear,
    // only a tunnel with a probe has a probe to make when the world changes; ssh's connection is watched in every mode
    sources: worldEvents({
      probeOnChange: settings.netWatch && monitor !== undefined,
      connWatch: settings.connWatch,
      say: message => io.log.log(LOG_DEBUG, message),
    }),
    reporter,
  }).finally(() => reporter.close())
}

export const main = async (argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> => {
  await startTracing(env)
  const readyFd = takeReadyFd(env)
  const socket = env.AUTOSSH_SYSLOG_SOCKET || SYSLOG_SOCKET
  const log = new Logger(syslogTarget(socket), LOG_INFO, env.AUTOSSH_DEBUG !== undefined)
  const io: Io = {
    argv,
    env,
    log,
    readyFd,
    fail(message) {
      log.fatal(message)
      if (readyFd !== undefined) report(readyFd, message)
      return 1
    },
    say: message => void (readyFd === undefined && log.log(LOG_INFO, message)),
  }
  // the monitor's listening port: closed on the way out unless the monitor took it
  const held: { listener?: Server } = {}
  try {
    const input = await readInput(io)
    if (typeof input === 'number') return input
    const chosen = chooseMonitor(input, io)
    if (typeof chosen === 'number') return chosen
    if (input.line.daemon && readyFd === undefined) return await goBackground(input, io)

    const ssh = await learnSsh(input, chosen.spec.mode === 'off', io)
    const choice = await bindMonitor(chosen, ssh.host, io, held)
    if (typeof choice === 'number') return choice
    const reporter = writeFiles(input, choice, io)
    if (typeof reporter === 'number') return reporter
    const { listener } = held
    held.listener = undefined
    return await supervise(input, choice, ssh, listener, reporter, io)
  } finally {
    held.listener?.close()
    await log.close()
  }
}
