// A world whose link is the kernel's own: three network namespaces, client,
// router and server, joined by two veth pairs, the router forwarding between
// two subnets. ssh's TCP connection is a real one end to end, so what the
// kernel knows of it (/proc/net/tcp, ss) is what a watcher would see on a
// real machine; the userspace relay of link.ts hides that. A cut is silent
// (blackhole routes in the router: no ICMP, no reset), the client's address
// can move from under ssh's socket, and the link can be slowed (tbf).
//
//   client ns            router ns                     server ns
//   c0 10.201.N.1 ---- r0 10.201.N.254 | r1 10.202.0.254 ---- s0 10.202.0.1
//                                                         sshd :22, echo :7, target :1883
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { tied } from '../helpers/tied.js'
import { own, sshOptions, stopProcess } from './index.js'
import { listen, splice } from './netns-client.js'
import { makeKeys } from './services.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const REMOTE = fileURLToPath(new URL('./remote.ts', import.meta.url))
const INSIDE = fileURLToPath(new URL('./netns-inside.ts', import.meta.url))
const START_MS = 15000
const CMD_MS = 10000
/**
 * our namespaces are named PREFIX<pid>-<tag>-<role>, our files in tmpdir
 * PREFIX<pid>-...: a later run can tell a dead run's leftovers
 */
const PREFIX = 'aksk-'

export type Role = 'client' | 'router' | 'server'

export const SERVER_ADDRESS = '10.202.0.1'
const clientAddress = (subnet: number) => `10.201.${subnet}.1`
const gateway = (subnet: number) => `10.201.${subnet}.254`
/** the router's table for a cut: one blackhole route, used while the cut's rules are in */
const CUT_TABLE = 77

export interface Spawned {
  child: ChildProcess
  stdout(): string
  stderr(): string
}

export interface KernelLink {
  /** the namespaces' names, for `ip -n NAME` or /run/netns/NAME */
  names: Record<Role, string>
  dir: string
  /** ssh options for the server's sshd (port 22), without the host */
  sshOptions: string[]
  /** root@10.202.0.1 */
  host: string
  serverAddress: string
  /** the echo and the target services' ports, as seen from the server */
  echoPort: number
  targetPort: number
  /** the client's address now (it changes with changeClientAddress) */
  clientAddress(): string
  /** argv prefix that runs a command in a namespace (nsenter; the command keeps its pid) */
  enter(role?: Role): string[]
  /** a command in the client namespace (or another), tied to the test; stopped by close() */
  spawn(argv: string[], opts?: { env?: Record<string, string>; role?: Role }): Spawned
  /** run a command in a namespace to the end, bounded in time; its stdout */
  run(role: Role, argv: string[]): Promise<string>
  /** the host port that reaches 127.0.0.1:port of the client namespace (ports given in `expose`) */
  exposed(port: number): number
  /** silent cut: the router drops everything it would forward, both ways, saying nothing */
  cut(): Promise<void>
  restore(): Promise<void>
  isCut(): boolean
  /** the client's address moves to a new subnet, the old one deleted for good; routes follow */
  changeClientAddress(): Promise<void>
  /** rateKbit each way through the router with a queue of queueMs (tbf); null: full speed again */
  slow(rateKbit: number | null, queueMs?: number): Promise<void>
  /** bytes through the router's client-side veth (r0), from /sys/class/net/r0/statistics */
  wireBytes(): Promise<{ fromClient: number; toClient: number }>
  close(): Promise<void>
}

export interface KernelLinkOptions {
  /** 127.0.0.1 ports of the client namespace to reach from the host (the user's -L port) */
  expose?: number[]
  /** extra sshd_config lines */
  sshd?: string[]
}

const exec = promisify(execFile)

const ip = async (ns: string, lines: string[]): Promise<void> => {
  const c = execFile('ip', ['-n', ns, '-batch', '-'], { timeout: CMD_MS })
  c.stdin!.end(lines.join('\n') + '\n')
  let err = ''
  c.stderr!.on('data', d => (err += d))
  const code = await new Promise(r => c.once('close', r))
  if (code !== 0) throw new Error(`ip -n ${ns}: ${code}: ${err} (${lines.join('; ')})`)
}

/** every process in the namespace killed, then the namespace deleted; never throws */
const removeNetns = (name: string): void => {
  const pids = spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8', timeout: CMD_MS }).stdout ?? ''
  for (const pid of pids.split('\n').filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL')
    } catch {
      // gone already
    }
  }
  spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore', timeout: CMD_MS })
}

const deadRun = (name: string): boolean => {
  const m = new RegExp(`^${PREFIX}(\\d+)-`).exec(name)
  return m !== null && !existsSync(`/proc/${m[1]}`)
}

/** namespaces and files of runs whose process is gone (SIGKILLed by a timeout, say): their exit handler never ran */
const sweep = (): void => {
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: CMD_MS }).stdout ?? ''
  for (const name of list.split('\n').map(l => l.split(' ')[0]!)) if (deadRun(name)) removeNetns(name)
  for (const name of readdirSync(tmpdir())) if (deadRun(name)) rmSync(join(tmpdir(), name), { recursive: true, force: true })
}

let known: true | string | undefined
/** true, or why not: needs root and `ip netns` */
export const kernelLinkAvailable = (): true | string => {
  if (known !== undefined) return known
  if (process.getuid?.() !== 0) return (known = 'needs root (ip netns)')
  const name = `${PREFIX}${process.pid}-probe`
  const ok = spawnSync('ip', ['netns', 'add', name], { stdio: 'ignore', timeout: CMD_MS }).status === 0
  removeNetns(name)
  return (known = ok || 'ip netns add does not work here')
}

const live = new Set<string>()
process.once('exit', () => live.forEach(removeNetns))

/** a child that prints `ready` when it is; rejects if it exits or takes too long */
const ready = (c: ChildProcess, what: string): Promise<void> => {
  let out = ''
  let err = ''
  c.stderr!.on('data', d => (err += d))
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: not ready in ${START_MS} ms: ${err}`)), START_MS)
    c.stdout!.on('data', d => {
      out += d
      if (out.includes('ready')) {
        clearTimeout(timer)
        resolve()
      }
    })
    c.once('exit', code => {
      clearTimeout(timer)
      reject(new Error(`${what} exited (${code}): ${err}`))
    })
  })
}

export const makeKernelLink = async (opts: KernelLinkOptions = {}): Promise<KernelLink> => {
  sweep()
  const tag = randomBytes(3).toString('hex')
  const names: Record<Role, string> = {
    client: `${PREFIX}${process.pid}-${tag}-c`,
    router: `${PREFIX}${process.pid}-${tag}-r`,
    server: `${PREFIX}${process.pid}-${tag}-s`,
  }
  const dir = mkdtempSync(join(tmpdir(), `${PREFIX}${process.pid}-`))
  const children = new Set<ChildProcess>()
  const hostServers: net.Server[] = []
  const cleanups: (() => Promise<void> | void)[] = [() => rmSync(dir, { recursive: true, force: true })]
  const close = async () => {
    for (const c of [...children]) await stopProcess(c)
    for (const s of hostServers.splice(0)) await new Promise(r => s.close(r))
    for (const c of cleanups.splice(0).reverse()) await c()
  }
  const enter = (role: Role = 'client') => ['nsenter', `--net=/run/netns/${names[role]}`, '--']
  // stdin: a pipe for the world's helpers, which end when it closes; nothing for the test's commands
  const spawnIn = (argv: string[], o: { env?: Record<string, string>; role?: Role; helper?: boolean } = {}): Spawned => {
    const [file, ...args] = tied([...enter(o.role), ...argv])
    const child = own(spawn(file!, args, { cwd: ROOT, env: { ...process.env, ...o.env }, stdio: [o.helper ? 'pipe' : 'ignore', 'pipe', 'pipe'] }))
    children.add(child)
    child.once('exit', () => children.delete(child))
    let stdout = ''
    let stderr = ''
    child.stdout!.on('data', d => (stdout += d))
    child.stderr!.on('data', d => (stderr += d))
    return { child, stdout: () => stdout, stderr: () => stderr }
  }
  let subnet = 1
  let isCut = false
  try {
    for (const name of Object.values(names)) {
      await exec('ip', ['netns', 'add', name], { timeout: CMD_MS })
      live.add(name)
      cleanups.push(() => {
        removeNetns(name)
        live.delete(name)
      })
    }
    const { client: C, router: R, server: S } = names
    // made straight inside their namespaces: no name is ever taken on the host
    await exec('ip', ['link', 'add', 'c0', 'netns', C, 'type', 'veth', 'peer', 'name', 'r0', 'netns', R], { timeout: CMD_MS })
    await exec('ip', ['link', 'add', 's0', 'netns', S, 'type', 'veth', 'peer', 'name', 'r1', 'netns', R], { timeout: CMD_MS })
    await ip(C, ['link set lo up', `addr add ${clientAddress(subnet)}/24 dev c0`, 'link set c0 up', `route add default via ${gateway(subnet)} dev c0`])
    await ip(S, ['link set lo up', `addr add ${SERVER_ADDRESS}/24 dev s0`, 'link set s0 up', 'route add default via 10.202.0.254 dev s0'])
    await ip(R, [
      'link set lo up',
      `addr add ${gateway(subnet)}/24 dev r0`,
      'addr add 10.202.0.254/24 dev r1',
      'link set r0 up',
      'link set r1 up',
      // the cut's table: what it routes vanishes, with no ICMP (unlike unreachable or prohibit)
      `route add blackhole default table ${CUT_TABLE}`,
    ])
    await exec(enter('router')[0]!, [...enter('router').slice(1), 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1'], { timeout: CMD_MS })

    const { userKey } = makeKeys(dir)
    const remote = spawnIn([process.execPath, '--import', 'tsx', REMOTE, dir, JSON.stringify(opts.sshd ?? []), '0.0.0.0'], { role: 'server', helper: true })
    await ready(remote.child, 'the server namespace')

    const hostPorts = new Map<number, number>()
    if (opts.expose?.length) {
      const expose = opts.expose.map(port => ({ port, path: join(tmpdir(), `${PREFIX}${process.pid}-${tag}-e${port}.sock`) }))
      cleanups.push(() => expose.forEach(e => rmSync(e.path, { force: true })))
      const inside = spawnIn([process.execPath, '--import', 'tsx', INSIDE, JSON.stringify({ reach: [], expose, veth: false })], { helper: true })
      await ready(inside.child, 'the client namespace bridge')
      for (const { port, path } of expose) {
        const s = await listen(net.createServer(c => splice(c, net.connect(path))), { port: 0, host: '127.0.0.1' })
        hostServers.push(s)
        hostPorts.set(port, (s.address() as net.AddressInfo).port)
      }
    }

    const cutRules = (op: 'add' | 'del') => [`rule ${op} pref 77 iif r0 lookup ${CUT_TABLE}`, `rule ${op} pref 78 iif r1 lookup ${CUT_TABLE}`]
    return {
      names,
      dir,
      sshOptions: sshOptions(userKey, 22),
      host: `root@${SERVER_ADDRESS}`,
      serverAddress: SERVER_ADDRESS,
      echoPort: 7,
      targetPort: 1883,
      clientAddress: () => clientAddress(subnet),
      enter,
      spawn: spawnIn,
      run: async (role, argv) => (await exec(enter(role)[0]!, [...enter(role).slice(1), ...argv], { timeout: CMD_MS })).stdout,
      exposed: port => {
        const p = hostPorts.get(port)
        if (p === undefined) throw new Error(`port ${port} is not exposed`)
        return p
      },
      // rules, not routes per address: what arrives on either side is dropped, whatever the client's address
      cut: async () => {
        if (isCut) return
        await ip(R, cutRules('add'))
        isCut = true
      },
      restore: async () => {
        if (!isCut) return
        await ip(R, cutRules('del'))
        isCut = false
      },
      isCut: () => isCut,
      changeClientAddress: async () => {
        const old = subnet++
        await ip(R, [`addr add ${gateway(subnet)}/24 dev r0`])
        await ip(C, [`addr add ${clientAddress(subnet)}/24 dev c0`, `route replace default via ${gateway(subnet)} dev c0`, `addr del ${clientAddress(old)}/24 dev c0`])
      },
      slow: async (rateKbit, queueMs = 1000) => {
        for (const dev of ['r0', 'r1']) {
          if (rateKbit === null) await exec('tc', ['-n', R, 'qdisc', 'del', 'dev', dev, 'root'], { timeout: CMD_MS }).catch(() => {})
          // burst: a full frame at least; latency: how long a packet may wait in the queue before tbf drops it
          else await exec('tc', ['-n', R, 'qdisc', 'replace', 'dev', dev, 'root', 'tbf', 'rate', `${rateKbit}kbit`, 'burst', '3028', 'latency', `${queueMs}ms`], { timeout: CMD_MS })
        }
      },
      wireBytes: async () => {
        const [link] = JSON.parse((await exec('ip', ['-n', R, '-j', '-s', 'link', 'show', 'dev', 'r0'], { timeout: CMD_MS })).stdout) as { stats64: { rx: { bytes: number }; tx: { bytes: number } } }[]
        return { fromClient: link!.stats64.rx.bytes, toClient: link!.stats64.tx.bytes }
      },
      close,
    }
  } catch (e) {
    await close()
    throw e
  }
}
