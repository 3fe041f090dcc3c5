// One port forward as ssh reads it: from a -L/-R/-D argument (OpenSSH's
// parse_forward() in readconf.c), or from a line of `ssh -G`. Both give the
// same shape, so that the forwards of the command line can be found among
// the effective ones. Pure.

export type ForwardKind = 'local' | 'remote' | 'dynamic'

/** an address end of a forward: a TCP host and port, or a unix socket path */
export interface End {
  /** undefined: no bind address given (ssh's default, GatewayPorts) */
  host?: string
  port?: number
  path?: string
}

export interface ForwardSpec {
  kind: ForwardKind
  listen: End
  /** none for -D, and for a remote dynamic forward (-R port) */
  target?: End
}

/** an end as ssh shows it, without the brackets a non-IPv6 host does not need: "22883", "127.0.0.1:22883", "[::1]:8080", "/run/x.sock" */
export const showEnd = (e: End): string => {
  if (e.path !== undefined) return e.path
  if (e.host === undefined) return String(e.port)
  return `${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port}`
}

/** what tells two forwards apart: ssh drops a forward equal to one it has */
export const forwardKey = (f: ForwardSpec): string => `${f.kind} ${showEnd(f.listen)} ${f.target === undefined ? '' : showEnd(f.target)}`

interface Field {
  arg: string
  isPath: boolean
}

/** OpenSSH's parse_fwd_field(): a [bracketed] field is literal; a '/' makes a path; '\' escapes */
const fields = (spec: string): Field[] | undefined => {
  const out: Field[] = []
  let rest = spec.trimStart()
  while (rest !== '' && out.length < 5) {
    if (rest[0] === '[') {
      const close = rest.indexOf(']')
      if (close < 0 || (rest[close + 1] !== ':' && close + 1 < rest.length)) return undefined
      const arg = rest.slice(1, close)
      out.push({ arg, isPath: arg.includes('/') })
      rest = rest.slice(close + 2)
      continue
    }
    let arg = ''
    let i = 0
    for (; i < rest.length && rest[i] !== ':'; i++) {
      if (rest[i] === '\\' && ++i === rest.length) return undefined
      arg += rest[i]
    }
    out.push({ arg, isPath: arg.includes('/') })
    rest = rest.slice(i + 1)
  }
  return out
}

const port = (s: string): number | undefined => (/^\d{1,5}$/.test(s) && Number(s) <= 65535 ? Number(s) : undefined)

const tcp = (host: string | undefined, portText: string): End | undefined => {
  const p = port(portText)
  return p === undefined ? undefined : { ...(host === undefined ? {} : { host }), port: p }
}

const end = (f: Field): End | undefined => (f.isPath ? { path: f.arg } : tcp(undefined, f.arg))

/**
 * A -L, -R or -D argument (or a LocalForward line's words joined by ':'):
 * `[bind:]port:host:hostport`, `[bind:]port:/path`, `/path:host:hostport`,
 * `/path:/path`; for -D and a remote dynamic -R, `[bind:]port` or `/path`.
 * undefined: ssh would refuse it.
 */
export const parseForwardArg = (kind: ForwardKind, spec: string): ForwardSpec | undefined => {
  const f = fields(spec)
  if (f === undefined) return undefined
  const [a, b, c, d] = f
  let listen: End | undefined
  let target: End | undefined
  switch (f.length) {
    case 1:
      listen = end(a!)
      break
    case 2:
      if (b!.isPath) [listen, target] = [end(a!), { path: b!.arg }]
      else listen = tcp(a!.arg, b!.arg)
      break
    case 3:
      if (a!.isPath) [listen, target] = [{ path: a!.arg }, tcp(b!.arg, c!.arg)]
      else if (c!.isPath) [listen, target] = [tcp(a!.arg, b!.arg), { path: c!.arg }]
      else [listen, target] = [tcp(undefined, a!.arg), tcp(b!.arg, c!.arg)]
      break
    case 4:
      ;[listen, target] = [tcp(a!.arg, b!.arg), tcp(c!.arg, d!.arg)]
      break
    default:
      return undefined
  }
  if (listen === undefined) return undefined
  const hasTarget = f.length >= 3 || (f.length === 2 && b!.isPath)
  if (hasTarget && target === undefined) return undefined
  // -D has no target; -L needs one; -R without one is a remote dynamic forward
  if (kind === 'dynamic' ? hasTarget : kind === 'local' && !hasTarget) return undefined
  return { kind, listen, ...(target === undefined ? {} : { target }) }
}

/** an end as `ssh -G` prints it: "22883", "[127.0.0.1]:22883", "/path" */
const gEnd = (s: string): End | undefined => {
  const m = /^\[(.*)\]:(\d+)$/.exec(s)
  if (m) return tcp(m[1], m[2]!)
  if (/^\d+$/.test(s)) return tcp(undefined, s)
  return { path: s }
}

/**
 * The words after `localforward`, `remoteforward` or `dynamicforward` in
 * `ssh -G`'s output. A remote dynamic forward shows its target as
 * `[socks]:0`: it has none.
 */
export const parseGForward = (kind: ForwardKind, words: string): ForwardSpec | undefined => {
  const [l, t, extra] = words.trim().split(/\s+/)
  const listen = gEnd(l!)
  if (listen === undefined || extra !== undefined) return undefined
  if (kind === 'dynamic') return t === undefined ? { kind, listen } : undefined
  if (t === undefined) return undefined
  if (kind === 'remote' && t === '[socks]:0') return { kind, listen }
  const target = gEnd(t)
  return target === undefined ? undefined : { kind, listen, target }
}
