// The user's forwards are the tunnel: each one, where it came from, and what
// it is doing, from what ssh says and what the system shows. Autossh's own
// monitor forwards are kept in a list of their own. Pure.
//
// The rules, where ssh leaves it to us:
// - A remote forward is granted when the tunnel is up with no refusal for it
//   (tunnelUp). ssh sends every forward request right after logging in, and
//   the server answers them in order, before it opens any channel: so once a
//   probe has gone round, every answer has been read. ssh says nothing on a
//   grant, except the port of a -R 0 ("Allocated port N ..."). With -M 0 the
//   machine's "settled" is the only sign: a refusal after it still counts.
// - A local forward listens when the tunnel is up with no failure for it (ssh
//   binds them all before it sends the remote requests), or when the system
//   shows its port listening (sawListening).
// - "channel N: open failed: ..." names no forward: it is a -L or -D
//   connection that the far end could not open. It goes to the user's one
//   local or dynamic forward, or, with several, to each of them: the words
//   do not claim which. A -R target that cannot be reached is named by ssh
//   ("connect_to host port N: failed."): it goes to the remote forwards with
//   that target. Neither changes a forward's state, nor restarts anything.
import { forwardKey, showEnd, type ForwardKind, type ForwardSpec } from '../ssh/forward-spec.js'
import type { Said } from '../ssh/says.js'

export type ForwardFrom = 'config' | 'command-line' | 'monitor'

export type ForwardState =
  /** no ssh runs */
  | 'down'
  /** ssh runs and has not yet shown it (local), or the server has not answered (remote) */
  | 'requested'
  /** a local or dynamic forward: ssh listens */
  | 'listening'
  /** a local or dynamic forward: ssh could not listen */
  | 'failed'
  | 'granted'
  | 'refused'

export interface Forward {
  kind: ForwardKind
  /** as ssh shows it: "22883", "127.0.0.1:22883", "[::1]:8080", "/run/x.sock" */
  listen: string
  listenPort?: number
  /** where connections go; none for dynamic forwards (and -R port alone) */
  target?: string
  from: ForwardFrom
  state: ForwardState
  /** the port the server gave a -R 0, while its ssh runs */
  port?: number
  /** at: ms (wall clock) */
  lastError?: { at: number; words: string }
  /** as ssh read it: matched against what ssh says */
  spec: ForwardSpec
}

export interface Forwards {
  /** the user's, in the order ssh was given them: the command line's, then the config's */
  user: Forward[]
  /** autossh's own -M forwards */
  monitor: Forward[]
}

const make = (spec: ForwardSpec, from: ForwardFrom): Forward => ({
  kind: spec.kind,
  listen: showEnd(spec.listen),
  ...(spec.listen.port === undefined ? {} : { listenPort: spec.listen.port }),
  ...(spec.target === undefined ? {} : { target: showEnd(spec.target) }),
  from,
  state: 'down',
  spec,
})

/**
 * The forwards, from what ssh will set up (effective: `ssh -G`'s, or
 * undefined when it could not be read: then the command line's and the
 * monitor's are all there is), the command line's (in its order) and the
 * monitor's. An effective forward the command line gave is 'command-line';
 * the rest came from the config. The command line's come first: ssh reads
 * them before its config files. Among the config's, `ssh -G`'s order
 * (dynamic, local, remote): it does not keep their order across kinds.
 */
export const modelForwards = (o: {
  effective: readonly ForwardSpec[] | undefined
  commandLine: readonly ForwardSpec[]
  monitor: readonly ForwardSpec[]
}): Forwards => {
  const remaining = [...(o.effective ?? [...o.monitor, ...o.commandLine])]
  const take = (spec: ForwardSpec): boolean => {
    const at = remaining.findIndex(f => forwardKey(f) === forwardKey(spec))
    if (at >= 0) remaining.splice(at, 1)
    return at >= 0
  }
  const monitor = o.monitor.map(spec => (take(spec), make(spec, 'monitor')))
  // a command-line forward ssh will not set up (ClearAllForwardings) is left out
  const user = o.commandLine.filter(take).map(spec => make(spec, 'command-line'))
  return { user: [...user, ...remaining.map(spec => make(spec, 'config'))], monitor }
}

/** every forward, monitor's first (ssh sets them up first), changed by f */
const each = (fw: Forwards, f: (x: Forward) => Forward): Forwards => ({ user: fw.user.map(f), monitor: fw.monitor.map(f) })

const isLocal = (f: Forward): boolean => f.kind !== 'remote'

const without = (f: Forward, key: 'port'): Forward => {
  const { [key]: _, ...rest } = f
  return rest
}

/** ssh started: every forward asked for again, no port given yet */
export const sshStarted = (fw: Forwards): Forwards => each(fw, f => ({ ...without(f, 'port'), state: 'requested' }))

/** ssh is gone, and its forwards with it */
export const sshEnded = (fw: Forwards): Forwards => each(fw, f => ({ ...without(f, 'port'), state: 'down' }))

/** the tunnel is up (a probe went round, or -M 0 settled): what ssh has not refused, it has */
export const tunnelUp = (fw: Forwards): Forwards =>
  each(fw, f => (f.state === 'requested' ? { ...f, state: isLocal(f) ? 'listening' : 'granted' } : f))

/** the system shows these local ports listening (ssh's, while it runs) */
export const sawListening = (fw: Forwards, ports: ReadonlySet<number>): Forwards =>
  each(fw, f => (isLocal(f) && f.state === 'requested' && f.listenPort !== undefined && ports.has(f.listenPort) ? { ...f, state: 'listening' } : f))

/** how ssh 9.2 names a -R target in "Allocated port N for remote forward to ...": no brackets; a path with ":-2"; -R 0 alone "socks:0" */
const allocatedTarget = (f: Forward): string => {
  const t = f.spec.target
  if (t === undefined) return 'socks:0'
  return t.path !== undefined ? `${t.path}:-2` : `${t.host}:${t.port}`
}

type Change = (f: Forward) => Forward

/** change the forwards picked; none picked: the same value, so that nothing is written again */
const change = (fw: Forwards, picked: readonly Forward[], c: Change): Forwards =>
  picked.length === 0 ? fw : each(fw, f => (picked.includes(f) ? c(f) : f))

/** the first of these still waiting for an answer, else the first */
const firstAsked = (fs: Forward[]): Forward[] => {
  const f = fs.find(x => x.state === 'requested') ?? fs[0]
  return f === undefined ? [] : [f]
}

/** what ssh said (hear()'s Said), at this wall-clock time: a forward's state or last error */
export const heardForwards = (fw: Forwards, said: Said, at: number): Forwards => {
  const all = [...fw.monitor, ...fw.user]
  const error: Change = f => ({ ...f, lastError: { at, words: said.words } })
  const onPort = (f: Forward) => f.listenPort === said.port
  switch (said.kind) {
    case 'local-forward-failed':
      if (said.port === undefined) return fw
      return change(fw, all.filter(f => isLocal(f) && onPort(f)), f => ({ ...error(f), state: 'failed' }))
    case 'local-bind-failed':
      // one address of it: it may listen on another (localhost is 127.0.0.1 and ::1)
      if (said.port === undefined) return fw
      return change(fw, all.filter(f => isLocal(f) && onPort(f)), error)
    case 'remote-forward-failed': {
      // "Could not request remote forwarding." names none: the line with the port has said it
      if (said.port === undefined && said.path === undefined) return fw
      const remote = all.filter(f => f.kind === 'remote' && (said.path !== undefined ? f.listen === said.path : onPort(f)))
      return change(fw, firstAsked(remote), f => ({ ...error(f), state: 'refused' }))
    }
    case 'remote-forward-allocated': {
      // the answers come in the order asked: the first -R 0 to that target still waiting
      const zero = all.filter(f => f.kind === 'remote' && f.listenPort === 0 && f.state === 'requested')
      const mine = zero.filter(f => allocatedTarget(f) === said.target)
      return change(fw, (mine.length ? mine : zero).slice(0, 1), f => ({ ...f, state: 'granted', port: said.port! }))
    }
    case 'forward-open-failed':
      return change(fw, fw.user.filter(isLocal), error)
    case 'forward-connect-failed':
      return change(
        fw,
        all.filter(f => f.kind === 'remote' && f.spec.target?.host === said.target && (said.port === undefined || f.spec.target?.port === said.port)),
        error,
      )
    default:
      return fw
  }
}

const UP: ReadonlySet<ForwardState> = new Set(['listening', 'granted'])

/** how many of these forwards are up */
export const forwardsUp = (fs: readonly { state: ForwardState }[]): number => fs.filter(f => UP.has(f.state)).length
