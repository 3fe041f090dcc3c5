// A client machine of its own: a command (the built autossh, or ssh) run in a
// fresh network namespace whose addresses, links and default route the test
// can change, while ssh inside still reaches the world's sshd. Host loopback,
// where the world's link listens, is out of a namespace's reach: the ports in
// `reach` are bridged in through unix sockets under os.tmpdir(), at the same
// numbers, so that the world's ssh options work unchanged inside; the ports
// in `expose` (the user's -L port, say) are bridged out to host ports.
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readlinkSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { path as where } from '../helpers/needs.js'
import { own, stopProcess } from './index.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const INSIDE = fileURLToPath(new URL('./netns-inside.ts', import.meta.url))
const START_MS = 15000

/**
 * address: the address moves to a new subnet and the default route follows;
 * route: the default route gets another gateway; link: v0 goes down and up
 * (the kernel drops its routes; the default route is put back);
 * all: the three in one burst, as a machine that changes networks.
 */
export type NetworkChange = 'address' | 'route' | 'link' | 'all'

export interface NetnsClient {
  /** the command, started by nsenter into the namespace: its pid is the command's */
  child: ChildProcess
  stdout(): string
  stderr(): string
  /** argv prefix that runs a command in the namespace, e.g. [...enter, 'ip', '-o', 'addr'] */
  enter: string[]
  /** the host port that reaches an `expose` port inside */
  exposed(port: number): number
  /** change the namespace's network, in one burst; resolves when ip is done */
  changeNetwork(kind: NetworkChange): Promise<void>
  /** stop the command (SIGTERM, then SIGKILL), the namespace and the bridges */
  close(): Promise<void>
}

export interface NetnsOptions {
  /** host loopback ports that the namespace reaches at the same numbers (the world's link port) */
  reach?: number[]
  /** loopback ports inside the namespace to reach from the host */
  expose?: number[]
}

export const splice = (a: net.Socket, b: net.Socket): void => {
  a.on('error', () => b.destroy())
  b.on('error', () => a.destroy())
  a.pipe(b).pipe(a)
}

export const listen = (server: net.Server, where: { port: number; host: string } | string): Promise<net.Server> =>
  new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(where, () => resolve(server))
  })


const run = (argv: string[], input: string): Promise<void> =>
  new Promise((resolve, reject) => {
    const c = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'ignore', 'pipe'] })
    let err = ''
    c.stderr!.on('data', d => (err += d))
    c.stdin!.end(input)
    c.on('close', code => (code === 0 ? resolve() : reject(new Error(`${argv.join(' ')}: ${code}: ${err}`))))
  })

export const startInNetns = async (argv: string[], env: Record<string, string> = {}, opts: NetnsOptions = {}): Promise<NetnsClient> => {
  const tag = randomBytes(4).toString('hex')
  const sock = (what: string) => join(tmpdir(), `ans-${tag}-${what}.sock`)
  const reach = (opts.reach ?? []).map(port => ({ port, path: sock(`r${port}`) }))
  const expose = (opts.expose ?? []).map(port => ({ port, path: sock(`e${port}`) }))
  const cleanups: (() => Promise<void> | void)[] = []
  const close = async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  }
  try {
    // outside ends of the reach bridges first: inside connects to them
    for (const { port, path } of reach) {
      rmSync(path, { force: true })
      const s = await listen(net.createServer(c => splice(c, net.connect(port, '127.0.0.1'))), path)
      cleanups.push(() => new Promise<void>(r => s.close(() => r())), () => rmSync(path, { force: true }))
    }
    const inside = own(
      spawn(where('unshare'), ['-n', '--', process.execPath, '--import', 'tsx', INSIDE, JSON.stringify({ reach, expose })], {
        cwd: ROOT,
        stdio: ['pipe', 'pipe', 'pipe'],
      }),
    )
    cleanups.push(() => stopProcess(inside), () => expose.forEach(e => rmSync(e.path, { force: true })))
    let err = ''
    inside.stderr!.on('data', d => (err += d))
    await new Promise<void>((resolve, reject) => {
      let out = ''
      const timer = setTimeout(() => reject(new Error(`the client namespace: not ready in ${START_MS} ms: ${err}`)), START_MS)
      inside.stdout!.on('data', d => {
        out += d
        if (out.includes('ready')) {
          clearTimeout(timer)
          resolve()
        }
      })
      inside.once('exit', code => {
        clearTimeout(timer)
        reject(new Error(`the client namespace exited (${code}): ${err}`))
      })
    })
    const enter = [where('nsenter'), `--net=/proc/${inside.pid}/ns/net`, '--']
    const hostPorts = new Map<number, number>()
    for (const { port, path } of expose) {
      const s = await listen(net.createServer(c => splice(c, net.connect(path))), { port: 0, host: '127.0.0.1' })
      hostPorts.set(port, (s.address() as net.AddressInfo).port)
      cleanups.push(() => new Promise<void>(r => s.close(() => r())))
    }

    // the command last: it runs in the namespace as the test's own child
    const child = own(spawn(enter[0]!, [...enter.slice(1), ...argv], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }))
    let stdout = ''
    let stderr = ''
    child.stdout!.on('data', d => (stdout += d))
    child.stderr!.on('data', d => (stderr += d))
    cleanups.push(() => stopProcess(child))

    let subnet = 0
    let gateway = 2
    const ip = (lines: string[]) => run([...enter, 'ip', '-batch', '-'], lines.join('\n') + '\n')
    const changeNetwork = async (kind: NetworkChange) => {
      const lines: string[] = []
      if (kind === 'link' || kind === 'all') lines.push('link set v0 down', 'link set v0 up')
      const old = subnet
      if (kind === 'address' || kind === 'all') lines.push(`addr add 10.77.${++subnet}.1/24 dev v0`)
      if (kind === 'route' || kind === 'all') gateway = gateway === 2 ? 3 : 2
      // always: the new gateway, the new subnet's, or the one a link going down took away
      lines.push(`route replace default via 10.77.${subnet}.${gateway} dev v0`)
      if (subnet !== old) lines.push(`addr del 10.77.${old}.1/24 dev v0`)
      await ip(lines)
    }
    return {
      child,
      stdout: () => stdout,
      stderr: () => stderr,
      enter,
      exposed: port => {
        const p = hostPorts.get(port)
        if (p === undefined) throw new Error(`port ${port} is not exposed`)
        return p
      },
      changeNetwork,
      close,
    }
  } catch (e) {
    await close()
    throw e
  }
}

/** the network namespace a process is in, as /proc names it */
export const netnsOf = (pid: number | 'self'): string => readlinkSync(`/proc/${pid}/ns/net`)
