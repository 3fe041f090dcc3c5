// What ssh will really do with the user's arguments and config files: its
// forwards, keepalive, multiplexing and address family. OpenSSH tells it with
// `ssh -G`; Dropbear's dbclient reads no config file, so its arguments say it
// all. Only readEffectiveConfig() does I/O; a failure to read is an answer,
// never an exception, as a start must not fail for it.
import { execFile } from 'node:child_process'
import { closeSync, openSync, readSync } from 'node:fs'
import { getopt, type Token } from '../options/getopt.js'
import { strerror } from '../os/strerror.js'
import { MONITOR_HOST, MONITOR_HOST_IPV6 } from '../monitor/host.js'
import { SSH_OPTIONS, type Flavor } from './flavor.js'
import { forwardKey, parseForwardArg, parseGForward, type ForwardKind, type ForwardSpec } from './forward-spec.js'

export type ControlMaster = 'no' | 'yes' | 'auto' | 'ask' | 'autoask'
export type AddressFamily = 'any' | 'inet' | 'inet6'

export interface EffectiveConfig {
  /** the forwards ssh sets up, command line's and config's: as `ssh -G` lists them (dynamic, local, remote) */
  forwards: ForwardSpec[]
  /** seconds; 0: off (OpenSSH's ServerAliveInterval, dbclient's -K) */
  serverAliveInterval: number
  serverAliveCountMax: number
  exitOnForwardFailure: boolean
  controlMaster: ControlMaster
  controlPersist: boolean
  /** undefined: none */
  controlPath?: string
  addressFamily: AddressFamily
  /** OpenSSH's words: QUIET, FATAL, ERROR, INFO, VERBOSE, DEBUG1... */
  logLevel: string
  /** the host ssh connects to (HostName), and its port */
  host?: string
  port?: number
  /** dbclient's -I: seconds without traffic before it exits; 0: never */
  idleTimeout?: number
}

/** what ssh does with no option given */
const DEFAULTS: EffectiveConfig = {
  forwards: [],
  serverAliveInterval: 0,
  serverAliveCountMax: 3,
  exitOnForwardFailure: false,
  controlMaster: 'no',
  controlPersist: false,
  addressFamily: 'any',
  logLevel: 'INFO',
}

const G_KINDS: Record<string, ForwardKind> = { localforward: 'local', remoteforward: 'remote', dynamicforward: 'dynamic' }

const CONTROL_MASTER: Record<string, ControlMaster> = { false: 'no', true: 'yes', no: 'no', yes: 'yes', auto: 'auto', ask: 'ask', autoask: 'autoask' }

const count = (s: string, dflt: number): number => (/^\d+$/.test(s) ? Number(s) : dflt)

/**
 * OpenSSH 9.2's dump_cfg_forwards() prints a LocalForward to a unix socket
 * (`-L 9000:/run/x.sock`) a second time, as a `dynamicforward` of its listen
 * address: drop one such ghost per local forward to a path.
 */
const withoutGhosts = (forwards: ForwardSpec[]): ForwardSpec[] => {
  const ghosts = forwards.filter(f => f.kind === 'local' && f.target?.path !== undefined).map(f => forwardKey({ kind: 'dynamic', listen: f.listen }))
  return forwards.filter(f => {
    if (f.kind !== 'dynamic') return true
    const at = ghosts.indexOf(forwardKey(f))
    if (at < 0) return true
    ghosts.splice(at, 1)
    return false
  })
}

/** `ssh -G`'s output: one `keyword value` a line, keywords in lower case */
export const parseSshG = (text: string): EffectiveConfig => {
  const c: EffectiveConfig = { ...DEFAULTS, forwards: [] }
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+(.*?)\s*$/.exec(line)
    if (!m) continue
    const [, key, value] = m as unknown as [string, string, string]
    const kind = G_KINDS[key]
    if (kind !== undefined) {
      const f = parseGForward(kind, value)
      if (f) c.forwards.push(f)
      continue
    }
    switch (key) {
      case 'serveraliveinterval':
        c.serverAliveInterval = count(value, 0)
        break
      case 'serveralivecountmax':
        c.serverAliveCountMax = count(value, 3)
        break
      case 'exitonforwardfailure':
        c.exitOnForwardFailure = value === 'yes'
        break
      case 'controlmaster':
        c.controlMaster = CONTROL_MASTER[value] ?? 'no'
        break
      case 'controlpersist':
        // "no", "yes" (no timeout), or the timeout in seconds
        c.controlPersist = value !== 'no' && value !== '0'
        break
      case 'controlpath':
        if (value !== 'none') c.controlPath = value
        break
      case 'addressfamily':
        if (value === 'inet' || value === 'inet6') c.addressFamily = value
        break
      case 'loglevel':
        c.logLevel = value
        break
      case 'hostname':
        c.host = value
        break
      case 'port':
        c.port = count(value, 22)
        break
    }
  }
  c.forwards = withoutGhosts(c.forwards)
  return c
}

const OPTION_KINDS: Record<string, ForwardKind> = { L: 'local', R: 'remote', D: 'dynamic' }

/** `-o LocalForward="8080 host:80"`, `-o DynamicForward=1080`: a forward, in OpenSSH's config words */
const optionForward = (text: string): ForwardSpec | undefined => {
  const m = /^\s*(localforward|remoteforward|dynamicforward)(?:\s*=\s*|\s+)(.*)$/i.exec(text)
  if (!m) return undefined
  const words = m[2]!.replace(/"/g, '').trim().split(/\s+/)
  return parseForwardArg(G_KINDS[m[1]!.toLowerCase()]!, words.join(':'))
}

/** the forwards on the command line, in its order: -L, -R, -D and (OpenSSH) -o LocalForward and the like */
export const commandLineForwards = (tokens: readonly Token[], flavor: Flavor = 'openssh'): ForwardSpec[] => {
  const out: ForwardSpec[] = []
  for (const t of tokens) {
    if (t.kind !== 'options') continue
    for (const o of t.opts) {
      const kind = OPTION_KINDS[o.ch]
      const f = kind !== undefined ? parseForwardArg(kind, o.arg!) : o.ch === 'o' && flavor === 'openssh' ? optionForward(o.arg!) : undefined
      if (f) out.push(f)
    }
  }
  return out
}

/** the forwards in an argv of options only, such as the monitor's (`-L 20000:127.0.0.1:20000 -R ...`) */
export const argvForwards = (argv: readonly string[], flavor: Flavor = 'openssh'): ForwardSpec[] =>
  commandLineForwards(getopt(argv, SSH_OPTIONS[flavor]).tokens, flavor)

/** dbclient's destination, `[user@]host[/port]` or `host^port`, hops joined by ',': the last hop */
const dbclientHost = (operand: string): { host: string; port?: number } => {
  const hop = operand.split(',').at(-1)!.replace(/^.*@/, '')
  const m = /^(.*)[/^](\d+)$/.exec(hop)
  return m ? { host: m[1]!, port: Number(m[2]) } : { host: hop }
}

/**
 * The same, from dbclient's arguments (getopt tokens read with its letters):
 * -L and -R forwards, -K keepalive seconds (it gives up after 3 missed, as
 * OpenSSH's default ServerAliveCountMax), -I idle timeout, -p, -o
 * ExitOnForwardFailure. dbclient has no multiplexing and no -4/-6.
 */
export const fromDbclientArgs = (tokens: readonly Token[]): EffectiveConfig => {
  const c: EffectiveConfig = { ...DEFAULTS, forwards: commandLineForwards(tokens, 'dropbear'), idleTimeout: 0 }
  let port: number | undefined
  for (const t of tokens) {
    if (t.kind === 'operand' && c.host === undefined) Object.assign(c, dbclientHost(t.raw))
    if (t.kind !== 'options') continue
    for (const o of t.opts) {
      if (o.ch === 'K') c.serverAliveInterval = count(o.arg!, 0)
      if (o.ch === 'I') c.idleTimeout = count(o.arg!, 0)
      if (o.ch === 'p') port = count(o.arg!, 22)
      const eo = o.ch === 'o' ? /^\s*exitonforwardfailure\s*=\s*(\w+)/i.exec(o.arg!) : null
      if (eo) c.exitOnForwardFailure = eo[1]!.toLowerCase() === 'yes'
    }
  }
  if (c.host !== undefined) c.port ??= port ?? 22
  return c
}

export type ConfigRead = { ok: true; config: EffectiveConfig } | { ok: false; why: string }

/**
 * Is this program ssh itself, a compiled program, and not a script? A wrapper
 * script given as AUTOSSH_PATH is not run with -G: what it does with words
 * it does not expect (log in, log, count) is its own business.
 */
export const isCompiled = (path: string): boolean => {
  let fd: number | undefined
  try {
    fd = openSync(path, 'r')
    const head = Buffer.alloc(4)
    return readSync(fd, head, 0, 4, 0) === 4 && head.toString('latin1') === '\x7fELF'
  } catch {
    return false
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

/** ssh -G prints some 5 kB; anything much bigger is not its answer */
const MAX_OUTPUT = 1024 * 1024

/**
 * What ssh will do with these arguments (the argv it is to be given, after
 * its path). OpenSSH: `ssh -G <args>`, which reads the config files as the
 * real run will, prints the result and exits; a remote command among the
 * args is ignored. No shell, and not execa: this is on every start's path.
 */
export const readEffectiveConfig = (sshPath: string, args: readonly string[], flavor: Flavor, timeoutMs = 2000): Promise<ConfigRead> => {
  if (flavor === 'dropbear') return Promise.resolve({ ok: true, config: fromDbclientArgs(getopt(args, SSH_OPTIONS.dropbear).tokens) })
  return new Promise(resolve => {
    execFile(
      sshPath,
      ['-G', ...args],
      { encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: MAX_OUTPUT, windowsHide: true },
      (err, stdout, stderr) => {
        const said = stderr.trim().split('\n')[0]!.trim()
        const tail = said === '' ? '' : `: ${said}`
        if (err) {
          const e = err as Omit<NodeJS.ErrnoException, 'code'> & { killed?: boolean; signal?: string | null; code?: number | string | null }
          if (typeof e.code === 'number') return resolve({ ok: false, why: `ssh -G exited with status ${e.code}${tail}` })
          if (e.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') return resolve({ ok: false, why: 'ssh -G printed more than a configuration' })
          if (e.killed) return resolve({ ok: false, why: `ssh -G gave no answer in ${timeoutMs} ms` })
          if (e.signal) return resolve({ ok: false, why: `ssh -G was killed by ${e.signal}` })
          return resolve({ ok: false, why: `cannot run ${sshPath}: ${strerror(err)}` })
        }
        if (!/^hostname /m.test(stdout)) return resolve({ ok: false, why: `ssh -G printed no configuration${tail}` })
        resolve({ ok: true, config: parseSshG(stdout) })
      },
    )
  })
}

/**
 * Would ssh hand its connection and forwards to a master (ControlMaster
 * auto/yes/ask with a ControlPath), or to one already there? Then it
 * backgrounds the master and exits 0 (ControlPersist), or exits at once
 * leaving the forwards to another process: nothing left for autossh to watch.
 */
export const usesMultiplexing = (c: EffectiveConfig): boolean => c.controlPath !== undefined && (c.controlMaster !== 'no' || c.controlPersist)

/**
 * Options that make this ssh hold its own connection and forwards, in the
 * foreground: no master, and no client of another's (ControlMaster=no alone
 * still joins an existing master and exits 0). They must come before the
 * user's -o options (ssh keeps the first value of each); a -S on the command
 * line still wins over ControlPath=none, wherever it stands.
 */
export const noMultiplexArgs = (): string[] => ['-o', 'ControlMaster=no', '-o', 'ControlPath=none']

/** the info line when autossh turns the config's connection sharing off for its ssh */
export const sharingNote = (c: EffectiveConfig): string =>
  `ssh's configuration shares connections (ControlMaster ${c.controlMaster}${c.controlPersist ? ', ControlPersist' : ''}): autossh's ssh keeps a connection of its own (ControlMaster=no, ControlPath=none)`

/** the warning for -M 0 without a keepalive, in the words of the ssh it is */
export const keepaliveWarning = (flavor: Flavor): string =>
  `monitoring is off and ssh has no keepalive (${flavor === 'dropbear' ? 'dbclient -K' : 'ServerAliveInterval'}): a dead connection may go unnoticed`

/** -M 0 with no keepalive of ssh's own: a dead connection may go unnoticed (warn once at start) */
export const warnNoKeepalive = (c: EffectiveConfig, monitorOff: boolean): boolean => monitorOff && c.serverAliveInterval === 0

/** where the monitor listens: ::1 when ssh uses IPv6 only */
export const monitorHostFor = (c: EffectiveConfig): string => (c.addressFamily === 'inet6' ? MONITOR_HOST_IPV6 : MONITOR_HOST)
