// What ssh says on stderr, recognised: OpenSSH's and Dropbear dbclient's
// messages for the failures a tunnel keeper must act on, each turned into a
// verdict with the port or host it names, and the plain words autossh logs.
// Pure: a line in, a verdict out. The wording is taken from the sources and
// from the real programs (test/ssh-says.ts records both).
import { escapeControls } from '../log/escape.js'

export type SshSaid =
  /** the server refused a -R forward (the port is held, or forwarding is off) */
  | { kind: 'remote-forward-failed'; port?: number; path?: string }
  /** a -L (or -D) forward could not listen on any address */
  | { kind: 'local-forward-failed'; port?: number }
  /** one listening address of a -L forward could not be bound */
  | { kind: 'local-bind-failed'; address?: string; port?: number; reason: string }
  | { kind: 'auth-failed'; who?: string; methods?: string }
  | { kind: 'host-key-unknown'; host?: string }
  /** the host key differs from the known one (ssh then refuses, or runs without forwards) */
  | { kind: 'host-key-changed'; host?: string }
  /** the host key changed and ssh was told not to check (StrictHostKeyChecking=no): it runs on, without any forward */
  | { kind: 'forwarding-disabled' }
  /** ssh gave up on the host key: after one of the two above, or alone where it could not ask */
  | { kind: 'host-key-unverified' }
  | { kind: 'resolve-failed'; host: string; reason: string }
  | { kind: 'connect-refused'; host?: string; port?: number }
  | { kind: 'connect-timeout'; host?: string; port?: number; during?: string }
  /** a connection failed for another reason: no route, network unreachable */
  | { kind: 'connect-failed'; host?: string; port?: number; reason: string }
  /** ssh's own keepalive gave up (ServerAliveCountMax, dbclient -K) */
  | { kind: 'server-not-responding'; host?: string }
  /** the server gave a -R 0 forward its port; target: "host:port" as ssh names it */
  | { kind: 'remote-forward-allocated'; port: number; target: string }
  /** the far end could not open a -L/-D connection (its target refused, is unknown, or forwarding is off there); the line names no forward */
  | { kind: 'forward-open-failed'; channel: number; reason: string }
  /** ssh could not connect a -R connection to its target here; port: none when the host is unknown */
  | { kind: 'forward-connect-failed'; host: string; port?: number; reason?: string }

export type SshSaidKind = SshSaid['kind']

/** what ssh said, as far as the supervise machine cares: made by hear() below */
export interface Said {
  kind: SshSaidKind
  port?: number
  /** a remote forward's unix socket path, when refused */
  path?: string
  /** a forward's target as ssh names it: "host:port" (allocated), the host (connect failed) */
  target?: string
  /** the log line, in plain words */
  words: string
  /** what it is about: lines about one thing are logged once per outage */
  about: string
}

/** longest field taken from a line (before its escapes): ssh itself cuts host names at 100 */
const FIELD_MAX = 200

/**
 * a field as it may go into our log, the status file and systemd's STATUS=:
 * bounded, control characters as the log writes them (C escapes), so that
 * the words are the same wherever they go and none can start a line
 */
const field = (s: string): string => escapeControls(s.slice(0, FIELD_MAX))

const num = (s: string): number => Number(s)

/** "[::1]:22", "[127.0.0.1]:2222", "host" as OpenSSH writes host and port */
const hostPort = (s: string): { host: string; port?: number } => {
  const m = /^\[(.+)\]:(\d+)$/.exec(s)
  return m ? { host: field(m[1]!), port: num(m[2]!) } : { host: field(s) }
}

// dbclient wraps its messages: "dbclient: Connection to user@host:port exited: <msg>",
// "dbclient: Exited: <msg>", "dbclient: <msg>"; OpenSSH prefixes some with its
// program name, "Warning: ", "Error: " or a function name. The rules below
// match the message after any such prefix.
const PREFIX = /^[\w./+-]+: (?:Connection to (?:([^@\s]*)@)?(\S+):(\d+) exited: |Exited: )?/

interface Envelope {
  body: string
  /** user, host and port from dbclient's "Connection to user@host:port exited:" */
  user?: string
  host?: string
  port?: number
}

const open = (line: string): Envelope => {
  const m = PREFIX.exec(line)
  if (!m) return { body: line }
  const body = line.slice(m[0].length)
  if (m[2] === undefined) return { body }
  return { body, ...(m[1] ? { user: field(m[1]) } : {}), host: field(m[2]), port: num(m[3]!) }
}

type Rule = [RegExp, (m: RegExpExecArray, e: Envelope) => SshSaid]

/** rules on the whole line, before any prefix is taken off */
const LINE_RULES: Rule[] = [
  // OpenSSH 8.x and later; before, "bind: <reason>" (below)
  [/^bind \[(.*)\]:(\d+): (.+)$/, m => ({ kind: 'local-bind-failed', address: field(m[1]!), port: num(m[2]!), reason: field(m[3]!) })],
  [/^bind: (.+)$/, m => ({ kind: 'local-bind-failed', reason: field(m[1]!) })],
  // "user@host: Permission denied (publickey)."; before 7.x without who
  [/^(?:(\S+): )?Permission denied \(([^()]*)\)\.?$/, m => ({ kind: 'auth-failed', ...(m[1] ? { who: field(m[1]) } : {}), methods: field(m[2]!) })],
  // a changed key: the banner ("@ WARNING: REMOTE HOST IDENTIFICATION HAS
  // CHANGED! @") names no host, and the first line heard is the one logged;
  // the hint to remove the old key names it, whether ssh then refuses or goes
  // on without forwards. Quoted "…" (OpenSSH 9.2) or '…' (later versions).
  [/^ +ssh-keygen -f (["']).*\1 -R (["'])(.+)\2$/, m => ({ kind: 'host-key-changed', ...hostPort(m[3]!) })],
  // dbclient asks on the terminal; without one, or after a "no", it exits
  [/^Host '(.+)' is not in the trusted hosts file\.$/, m => ({ kind: 'host-key-unknown', host: field(m[1]!) })],
  [/^Host '(.+)' key unknown\.$/, m => ({ kind: 'host-key-unknown', host: field(m[1]!) })],
  [/^\S+ host key mismatch for (.+) !$/, m => ({ kind: 'host-key-changed', host: field(m[1]!) })],
  [/^Timeout, server (.+) not responding\.$/, m => ({ kind: 'server-not-responding', host: field(m[1]!) })],
  // the server answers nothing after the TCP connection: a stalled path or relay
  [/^Connection timed out during banner exchange$/, () => ({ kind: 'connect-timeout', during: 'banner exchange' })],
  [/^Connection to (.+) port (\d+) timed out$/, m => ({ kind: 'connect-timeout', host: field(m[1]!), port: num(m[2]!) })],
  [/^No \S+ host key is known for (.+) and you have requested strict checking\.$/, m => ({ kind: 'host-key-unknown', ...hostPort(m[1]!) })],
  [/^Host key for (.+) has changed and you have requested strict checking\.$/, m => ({ kind: 'host-key-changed', ...hostPort(m[1]!) })],
  // after the unknown and changed lines above; alone when ssh could not ask
  [/^Host key verification failed\.$/, () => ({ kind: 'host-key-unverified' })],
  // OpenSSH at LogLevel INFO: a -L or -D connection the server could not open ("connect failed: Connection refused")
  [/^channel (\d+): open failed: (.+)$/, m => ({ kind: 'forward-open-failed', channel: num(m[1]!), reason: field(m[2]!) })],
  // OpenSSH: a -R connection whose target here could not be reached
  [/^connect_to (.+) port (\d+): failed\.$/, m => ({ kind: 'forward-connect-failed', host: field(m[1]!), port: num(m[2]!) })],
  [/^connect_to (.+): unknown host \((.+)\)$/, m => ({ kind: 'forward-connect-failed', host: field(m[1]!), reason: field(m[2]!) })],
  // StrictHostKeyChecking=no with a changed key: ssh goes on, without forwards
  [/^Port forwarding is disabled to avoid man-in-the-middle attacks\.$/, () => ({ kind: 'forwarding-disabled' })],
]

const connectFailure = (host: string | undefined, port: number | undefined, reason: string): SshSaid => {
  const where = { ...(host === undefined ? {} : { host }), ...(port === undefined ? {} : { port }) }
  // glibc says "Connection timed out", the BSDs "Operation timed out"
  if (/^(?:Connection|Operation) timed out$/.test(reason)) return { kind: 'connect-timeout', ...where }
  if (reason === 'Connection refused') return { kind: 'connect-refused', ...where }
  return { kind: 'connect-failed', ...where, reason: field(reason) }
}

/** rules on the message after the program's prefix */
const BODY_RULES: Rule[] = [
  // -R 0: OpenSSH alone, dbclient after its prefix; a unix socket target shows as "/path:-2"
  [/^Allocated port (\d+) for remote forward to (.+)$/, m => ({ kind: 'remote-forward-allocated', port: num(m[1]!), target: field(m[2]!) })],
  [/^remote port forwarding failed for listen port (\d+)$/, m => ({ kind: 'remote-forward-failed', port: num(m[1]!) })],
  [/^remote port forwarding failed for listen path (.+)$/, m => ({ kind: 'remote-forward-failed', path: field(m[1]!) })],
  [/^Could not request remote forwarding\.$/, () => ({ kind: 'remote-forward-failed' })],
  [/^Remote TCP forward request failed \(port (\d+) -> /, m => ({ kind: 'remote-forward-failed', port: num(m[1]!) })],
  [/^cannot listen to port: (\d+)$/, m => ({ kind: 'local-forward-failed', port: num(m[1]!) })],
  [/^Could not request local forwarding\.$/, () => ({ kind: 'local-forward-failed' })],
  // dbclient: "listenaddr:listenport:host:port", the address may be "(null)";
  // before 2013, "listenport:host:port"
  [/^Failed local port forward .*?:(\d+):.+:\d+$/, m => ({ kind: 'local-forward-failed', port: num(m[1]!) })],
  [/^Failed local port forward (\d+):.+:\d+$/, m => ({ kind: 'local-forward-failed', port: num(m[1]!) })],
  // dbclient: the reason comes first, then "Failed local port forward" with the port
  [/^TCP forward failed: (?:Error listening: )?(.+)$/, m => ({ kind: 'local-bind-failed', reason: field(m[1]!) })],
  [/^No auth methods could be used\.$/, (_, e) => ({ kind: 'auth-failed', ...(e.host === undefined ? {} : { who: e.user ? `${e.user}@${e.host}` : e.host }) })],
  [/^(?:Didn't validate host key|Not accepted automatically)$/, () => ({ kind: 'host-key-unverified' })],
  [/^forwarding disabled due to host key check failure$/, () => ({ kind: 'forwarding-disabled' })],
  [/^Could not resolve hostname (.+?): (.+)$/, m => ({ kind: 'resolve-failed', host: field(m[1]!), reason: field(m[2]!) })],
  [/^Connect failed: Error resolving '(.*)' port '\d*'\. (.+)$/, m => ({ kind: 'resolve-failed', host: field(m[1]!), reason: field(m[2]!) })],
  // OpenSSH before 6.x: "ssh: <host>: <getaddrinfo's words>"
  [/^([^\s:]+): (Name or service not known|Temporary failure in name resolution|No address associated with hostname|nodename nor servname provided, or not known|Name does not resolve)$/, m => ({ kind: 'resolve-failed', host: field(m[1]!), reason: m[2]! })],
  [/^connect to host (.+) port (\d+): (.+)$/, m => connectFailure(field(m[1]!), num(m[2]!), m[3]!)],
  [/^Connect failed: (.+)$/, (m, e) => connectFailure(e.host, e.port, m[1]!)],
  [/^Keepalive timeout$/, (_, e) => ({ kind: 'server-not-responding', ...(e.host === undefined ? {} : { host: e.host }) })],
]

/** what one line of ssh's stderr says, if it is one of the failures we know; \r and trailing blanks are ignored */
export const classify = (line: string): SshSaid | undefined => {
  const text = line.replace(/[\r\s]+$/, '')
  // ssh -v: the debug lines around a failure are not the failure
  if (/^debug\d: /.test(text)) return undefined
  for (const [re, make] of LINE_RULES) {
    const m = re.exec(text)
    if (m) return make(m, { body: text })
  }
  const e = open(text)
  for (const [re, make] of BODY_RULES) {
    const m = re.exec(e.body)
    if (m) return make(m, e)
  }
  return undefined
}

const at = (host?: string, port?: number): string =>
  host === undefined ? '' : port === undefined ? ` to ${host}` : ` to ${host} port ${port}`

/** the line autossh logs for it: stable words, grep-able by their start ("ssh: remote forward refused") */
export const plainWords = (s: SshSaid): string => {
  switch (s.kind) {
    case 'remote-forward-failed':
      return `ssh: remote forward refused${s.port !== undefined ? ` for port ${s.port}` : s.path !== undefined ? ` for path ${s.path}` : ''}`
    case 'local-forward-failed':
      return `ssh: local forward cannot listen${s.port === undefined ? '' : ` on port ${s.port}`}`
    case 'local-bind-failed':
      return `ssh: local forward cannot bind${s.address === undefined ? '' : ` ${s.address} port ${s.port}`}: ${s.reason}`
    case 'auth-failed':
      return `ssh: authentication refused${s.who === undefined ? '' : ` for ${s.who}`}${s.methods === undefined ? '' : ` (${s.methods})`}`
    case 'host-key-unknown':
      return `ssh: host key unknown${s.host === undefined ? '' : ` for ${s.host}`}`
    case 'host-key-changed':
      return `ssh: host key changed${s.host === undefined ? '' : ` for ${s.host}`}`
    case 'host-key-unverified':
      return 'ssh: host key not verified'
    case 'forwarding-disabled':
      return 'ssh: host key changed: ssh runs without any forward (port forwarding disabled against man-in-the-middle attacks)'
    case 'resolve-failed':
      return `ssh: cannot resolve host name ${s.host}: ${s.reason}`
    case 'connect-refused':
      return `ssh: connection${at(s.host, s.port)} refused`
    case 'connect-timeout':
      return `ssh: connection${at(s.host, s.port)} timed out${s.during === undefined ? '' : ` during ${s.during}`}`
    case 'connect-failed':
      return `ssh: connection${at(s.host, s.port)} failed: ${s.reason}`
    case 'server-not-responding':
      return `ssh: server${s.host === undefined ? '' : ` ${s.host}`} not responding`
    case 'remote-forward-allocated':
      return `ssh: remote forward to ${s.target} allocated port ${s.port}`
    case 'forward-open-failed':
      return `ssh: forwarded connection failed at the far end: ${s.reason}`
    case 'forward-connect-failed':
      return `ssh: cannot connect to forward target ${s.host}${s.port === undefined ? '' : ` port ${s.port}`}${s.reason === undefined ? '' : `: ${s.reason}`}`
  }
}

/**
 * What a verdict is about. ssh often says one thing in several lines (the
 * host key hint that names the host, then "has changed", then "verification failed"; the bind error,
 * then "cannot listen"): lines about the same thing share this, so that the
 * first is logged and the rest are not. Forwards are told apart by port.
 */
export const about = (s: SshSaid): string => {
  switch (s.kind) {
    case 'remote-forward-failed':
      return `remote-forward:${s.port ?? s.path ?? ''}`
    case 'local-forward-failed':
    case 'local-bind-failed':
      return `local-forward:${s.port ?? ''}`
    case 'host-key-unknown':
    case 'host-key-changed':
    case 'host-key-unverified':
      return 'host-key'
    case 'forwarding-disabled':
      return 'forwarding-disabled'
    case 'auth-failed':
      return 'auth'
    case 'resolve-failed':
      return 'resolve'
    case 'connect-refused':
    case 'connect-timeout':
    case 'connect-failed':
      return 'connect'
    case 'server-not-responding':
      return 'server-not-responding'
    case 'remote-forward-allocated':
      return `remote-forward-allocated:${s.port}`
    // the channel differs for each connection: one line per reason
    case 'forward-open-failed':
      return `forward-open:${s.reason}`
    case 'forward-connect-failed':
      return `forward-connect:${s.host}:${s.port ?? s.reason}`
  }
}


/**
 * Whether a verdict about key is news after what was heard before (the abouts
 * already logged, kept by the caller for as long as "once" should last: an
 * outage). A forward line without a port ("Could not request local
 * forwarding.", about "local-forward:") is old news once any forward of its
 * side was heard.
 */
export const isNewAbout = (heard: Iterable<string>, key: string): boolean => {
  for (const h of heard) if (h === key || (key.endsWith(':') && h.startsWith(key))) return false
  return true
}

/** a line as the supervise machine hears it: recognised, in plain words, with what it is about */
export const hear = (line: string): Said | undefined => {
  const s = classify(line)
  if (s === undefined) return undefined
  const target = s.kind === 'remote-forward-allocated' ? s.target : s.kind === 'forward-connect-failed' ? s.host : undefined
  return {
    kind: s.kind,
    port: 'port' in s ? s.port : undefined,
    ...('path' in s && s.path !== undefined ? { path: s.path } : {}),
    ...(target === undefined ? {} : { target }),
    words: plainWords(s),
    about: about(s),
  }
}
