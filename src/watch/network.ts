// Changes of this machine's network, as they happen: links going down or up,
// addresses added or removed, routes replaced. The kernel tells `ip monitor`
// (rtnetlink) at once; a long-lived `ip -o monitor link address route` child
// turns that into lines, for no cost while nothing happens (it sleeps in
// recv(); measured: 2.4 MB RSS, no CPU, no wake-ups while idle; a poller that
// reacts within 5 s costs a process and a wake-up every 2 s). Its lines only
// raise the question: what counts is a fresh reading of the state (`ip -o
// link/addr/route show`) after the burst has settled, compared with the last.
// That keeps refreshes that change nothing (IPv6 router advertisements, DHCP
// renewals, wireless drivers' link messages) from ever giving a probe, and a
// route put back as it was from being missed. Where `ip` is missing, nothing
// is watched (a trace says so). Node has no netlink socket of its own.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { findExecutable, SETPRIV } from '../ssh/child.js'
import { splitLines } from '../os/lines.js'
import { tracer } from '../os/trace.js'

const trace = tracer('autossh:netwatch')

/** one thing the network state is made of: "link v0" UP, "addr v0 10.9.0.1/24", "route default via 10.9.0.2 dev v0" */
export interface Fact {
  key: string
  /** what it is now: a link's state, an address's "deprecated"; "" when only being there counts */
  value: string
  deleted: boolean
}

export type NetState = ReadonlyMap<string, string>

const LINK = /^(\d+): ([^\s:@]+)(?:@[^\s:]*)?: <[^>]*>.* state (\S+)/
const ADDR = /^(\d+): (\S+)\s+(inet6?) (\S+)(?: peer (\S+))?(.*)$/

/**
 * What one line of `ip -o monitor link address route`, or of `ip -o link/addr/route
 * show`, says about the network; undefined for what does not move our traffic:
 * IPv6 link-local addresses, the kernel's own routes that follow addresses and
 * links (proto kernel, table local), the route cache. An address still in
 * duplicate address detection counts as not there yet.
 */
export const parseFact = (raw: string): Fact | undefined => {
  let line = raw.replace(/\s+$/, '')
  const deleted = line.startsWith('Deleted ')
  if (deleted) line = line.slice('Deleted '.length)
  // -o puts a backslash where a line continues: what follows is link/ether, lifetimes
  const head = line.split('\\')[0]!.replace(/\s+$/, '')
  const link = LINK.exec(head)
  if (link) return { key: `link ${link[2]}`, value: link[3]!, deleted }
  const addr = ADDR.exec(head)
  if (addr) {
    const [, , name, family, address, peer, rest] = addr
    if (family === 'inet6' && / scope link\b/.test(rest!)) return undefined
    const key = `addr ${name} ${address}${peer ? ` peer ${peer}` : ''}`
    if (/ (tentative|dadfailed)\b/.test(rest!)) return { key, value: '', deleted: true }
    return { key, value: / deprecated\b/.test(rest!) ? 'deprecated' : '', deleted }
  }
  if (head === '' || /\b(?:table local|proto kernel|cache)\b/.test(head) || /^(?:local|broadcast|multicast|anycast) /.test(head)) return undefined
  return { key: `route ${head.replace(/ expires \S+/, '')}`, value: '', deleted }
}

/** the state that lines of `ip -o … show` describe */
export const parseState = (text: string): Map<string, string> => {
  const state = new Map<string, string>()
  for (const line of text.split('\n')) {
    const f = parseFact(line)
    if (f && !f.deleted) state.set(f.key, f.value)
  }
  return state
}

/** does the fact tell what the state already holds? Then it is a refresh, not a change */
export const agrees = (state: NetState, f: Fact): boolean => (f.deleted ? !state.has(f.key) : state.get(f.key) === f.value)

/** the state with the fact applied */
export const apply = (state: NetState, f: Fact): Map<string, string> => {
  const next = new Map(state)
  if (f.deleted) next.delete(f.key)
  else next.set(f.key, f.value)
  return next
}

const WHAT_MAX = 300

/** what differs from a to b, in words: "+addr v0 10.9.1.1/24, -route default via 10.9.0.2 dev v0, link v0 DOWN" */
export const difference = (a: NetState, b: NetState): string => {
  const out: string[] = []
  for (const [k, v] of b) if (!a.has(k)) out.push(`+${k}${v ? ` ${v}` : ''}`)
  for (const [k, v] of b) if (a.has(k) && a.get(k) !== v) out.push(`${k} ${v}`)
  for (const k of a.keys()) if (!b.has(k)) out.push(`-${k}`)
  return bounded(out)
}

const bounded = (parts: string[]): string => {
  const s = parts.join(', ')
  return s.length > WHAT_MAX ? s.slice(0, WHAT_MAX - 3) + '...' : s
}

export interface NetWatchOptions {
  /** how to run ip: its argv before ip's arguments (tests run it in a namespace: ['nsenter', '--net=…', 'ip']) */
  ip?: readonly string[]
  /** where to look for ip when opts.ip is not given */
  searchPath?: string
  /** quiet time that ends a burst: one call per burst */
  settleMs?: number
  /** a burst that goes on longer than this is reported anyway */
  maxDelayMs?: number
  /** start ip through setpriv with a parent-death signal, so that it goes with us even on SIGKILL */
  tie?: boolean
}

export interface NetWatch {
  close(): void
}

/** a burst measured on veth: link, addresses and routes of one `ip link set up` come within 10 ms; DAD and DHCP within some 100 */
export const SETTLE_MS = 500
export const MAX_DELAY_MS = 2000

/** the state, read by one ip: links, addresses, routes of every table and both families */
const SHOW = ['-o', '-batch', '-']
const SHOW_INPUT = 'link show\naddr show\nroute show table all\n'

// not root: /usr/sbin is often not on PATH
const IP_PATH = [process.env.PATH, '/usr/sbin', '/sbin', '/usr/bin', '/bin'].filter(Boolean).join(':')

const findIp = (searchPath: string): string[] | undefined => {
  try {
    return [findExecutable('ip', searchPath)]
  } catch {
    return undefined
  }
}

const run = (argv: readonly string[], input: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const c = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'ignore'] })
    let out = ''
    // an ip that ends without reading its input: the exit status tells
    c.stdin.on('error', () => {})
    c.stdin.end(input)
    c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d))
    c.on('error', reject)
    c.on('close', code => (code === 0 ? resolve(out) : reject(new Error(`${argv.join(' ')}: status ${code}`))))
  })

/**
 * Call onChange(what) once per burst of changes of this machine's links,
 * addresses and routes, what being the difference in words. Nothing is called
 * while nothing changes. close() ends the watch and its child.
 */
export const watchNetwork = (onChange: (what: string) => void, opts: NetWatchOptions = {}): NetWatch => {
  const ip = opts.ip ?? findIp(opts.searchPath ?? IP_PATH)
  if (!ip) {
    trace('no ip command: network changes are not watched')
    return { close() {} }
  }
  const settleMs = opts.settleMs ?? SETTLE_MS
  const maxDelayMs = opts.maxDelayMs ?? MAX_DELAY_MS
  const tie = opts.tie ?? existsSync(SETPRIV)
  let closed = false
  /** the state last reported (or first read): what a change is measured against */
  let base = new Map<string, string>()
  /** the state as the lines since then tell it: a line that agrees with it is a refresh */
  let known = new Map<string, string>()
  /** links that went down or up within the burst, even if they are back as they were */
  let flaps: string[] = []
  let pending = false
  let reading = false
  let timer: NodeJS.Timeout | undefined
  let burstStart = 0

  const read = async (): Promise<Map<string, string> | undefined> => {
    try {
      return parseState(await run([...ip, ...SHOW], SHOW_INPUT))
    } catch (e) {
      trace('cannot read the network state: %s', (e as Error).message)
      return undefined
    }
  }
  const first = read().then(s => {
    base = s ?? base
    // lines that came before the first reading were judged against nothing
    known = new Map(base)
    return base
  })

  const settle = async () => {
    // close() clears the timer, and no timer is set while reading
    timer = undefined
    reading = true
    pending = false
    await first
    const was = base
    const now = await read()
    reading = false
    if (closed) return
    const flapped = flaps
    flaps = []
    if (now === undefined) {
      // cannot tell: a probe too many beats a change missed
      onChange(bounded(flapped) || 'network changed')
    } else {
      base = now
      known = new Map(now)
      // a link that went and came back leaves no difference: say that it flapped
      const what = difference(was, now) || bounded(flapped)
      if (what) onChange(what)
      else trace('network messages, no change')
    }
    // lines came while reading: one more look
    if (pending) arm()
  }

  const arm = () => {
    const now = performance.now()
    if (timer === undefined) burstStart = now
    else clearTimeout(timer)
    const wait = Math.min(settleMs, Math.max(0, burstStart + maxDelayMs - now))
    timer = setTimeout(() => void settle(), wait)
  }

  const onLine = (line: string) => {
    const f = parseFact(line)
    if (!f || agrees(known, f)) return
    trace('%s', line)
    if (f.key.startsWith('link ') && known.has(f.key)) flaps.push(`${f.key} ${f.deleted ? 'gone' : f.value}`)
    known = apply(known, f)
    pending = true
    if (!reading) arm()
  }

  const argv = [...ip, '-o', 'monitor', 'link', 'address', 'route']
  const [file, args] = tie ? [SETPRIV, ['--pdeathsig', 'KILL', '--', ...argv]] : [argv[0]!, argv.slice(1)]
  const child: ChildProcess = spawn(file, args, { stdio: ['ignore', 'pipe', 'ignore'] })
  // a helper of the loop, never what keeps the process alive
  child.unref()
  const lines = splitLines(onLine)
  child.stdout!.on('data', (d: Buffer) => lines.push(d))
  ;(child.stdout as unknown as { unref(): void }).unref()
  child.on('error', e => trace('ip monitor: %s', e.message))
  child.on('exit', (code, signal) => {
    if (!closed) trace('ip monitor exited (%s): network changes are no longer watched', signal ?? code)
  })
  trace('watching the network: %s', argv.join(' '))


  return {
    close() {
      if (closed) return
      closed = true
      if (timer !== undefined) clearTimeout(timer)
      child.kill('SIGKILL')
    },
  }
}
