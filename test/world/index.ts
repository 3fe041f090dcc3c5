// A real OpenSSH world for end-to-end tests, the bench and the demo: sshd
// with throwaway keys behind a link that can be cut, an echo service and a
// target service. With netns, the remote host lives in its own network
// namespace, so that ssh's -L port and sshd's -R port do not collide.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { needs, path, which } from '../helpers/needs.js'
import { tied } from '../helpers/tied.js'
import { startLink, type Link } from './link.js'
import { makeKeys, serve, startEcho, startSshd, startTarget, waitListening } from './services.js'

export type { Link }

export interface World {
  /** with netns: a process in the remote's namespace (nsenter -t remotePid -n) */
  remotePid?: number
  netns: boolean
  dir: string
  link: Link
  /** ssh options to reach the remote through the link, without the host */
  sshOptions: string[]
  /** the same for Dropbear's dbclient */
  dbclientOptions: string[]
  host: string
  /** the echo service's port, as seen from the remote */
  echoPort: number
  /** the target service's port, as seen from the remote: answers `ok <line>` */
  targetPort: number
  close(): Promise<void>
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const REMOTE = fileURLToPath(new URL('./remote.ts', import.meta.url))
const START_MS = 15000

let netnsKnown: boolean | undefined
/** can this process make a network namespace (root, or a user namespace)? */
export const netnsAvailable = (): boolean =>
  (netnsKnown ??= which('unshare') !== undefined && spawnSync(path('unshare'), ['-n', 'true'], { stdio: 'ignore', timeout: 5000 }).status === 0)

/** why a test cannot have a network namespace with a network in it here (unshare, ip, nsenter, root), or false */
export const netnsSkip = (): string | false =>
  needs('unshare', 'nsenter', 'ip') || (netnsAvailable() ? false : 'needs network namespaces (root)')

/** why makeWorld(opts) cannot run here (OpenSSH, and for netns a namespace), or false */
export const worldSkip = (opts: { netns?: boolean } = {}): string | false =>
  needs('ssh', 'ssh-keygen', 'sshd') || (opts.netns ? netnsSkip() : false)

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = net.createServer()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo
      s.close(() => resolve(port))
    })
  })

const portFree = (port: number): Promise<boolean> =>
  new Promise(resolve => {
    const s = net.createServer()
    s.on('error', () => resolve(false))
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)))
  })

/** p such that p and p+1 are both free */
export const freePortPair = async (): Promise<number> => {
  for (;;) {
    const p = await freePort()
    if (p < 65534 && (await portFree(p + 1))) return p
  }
}

/** send a line to 127.0.0.1:port, resolve the first line back, or null */
export const talk = (port: number, line: string, timeoutMs: number): Promise<string | null> =>
  new Promise(resolve => {
    const s = net.connect(port, '127.0.0.1')
    let buf = ''
    const done = (v: string | null) => {
      clearTimeout(timer)
      s.destroy()
      resolve(v)
    }
    const timer = setTimeout(() => done(null), timeoutMs)
    s.setEncoding('utf8')
    s.on('connect', () => s.write(line + '\n'))
    s.on('data', (d: string) => {
      buf += d
      const nl = buf.indexOf('\n')
      if (nl >= 0) done(buf.slice(0, nl))
    })
    s.on('error', () => done(null))
    s.on('close', () => done(null))
  })

/** talk() from where the remote is: inside its network namespace when it has one (a -R forward's port) */
export const remoteTalk = (w: World, port: number, line: string, timeoutMs: number): Promise<string | null> => {
  if (w.remotePid === undefined) return talk(port, line, timeoutMs)
  const code = `const s=require('net').connect(${port},'127.0.0.1');let b='';s.setEncoding('utf8');s.on('connect',()=>s.write(${JSON.stringify(line + '\n')}));s.on('data',d=>{b+=d;if(b.includes('\\n')){process.stdout.write(b.split('\\n')[0]);process.exit(0)}});s.on('error',()=>process.exit(1));setTimeout(()=>process.exit(1),${timeoutMs})`
  return new Promise(resolve =>
    execFile(path('nsenter'), ['-t', String(w.remotePid), '-n', process.execPath, '-e', code], { timeout: timeoutMs + 3000 }, (err, out) => resolve(err ? null : out)),
  )
}

const children = new Set<ChildProcess>()
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL')
})
/** a child of the world: SIGKILLed when the test process exits, whatever happened */
export const own = (c: ChildProcess) => {
  children.add(c)
  c.once('exit', () => children.delete(c))
  return c
}

/** SIGTERM, and SIGKILL if it has not exited within graceMs */
export const stopProcess = async (c: ChildProcess, graceMs = 2000): Promise<void> => {
  if (c.exitCode !== null || c.signalCode !== null) return
  const gone = new Promise(r => c.once('exit', r))
  c.kill('SIGTERM')
  const t = setTimeout(() => c.kill('SIGKILL'), graceMs)
  await gone
  clearTimeout(t)
}

/** the remote, in a network namespace of its own, dying with this process */
const remoteCommand = (dir: string, sshdOptions: string[]): [string, string[]] => {
  const [file, ...argv] = tied([path('unshare'), '-n', '--', process.execPath, '--import', 'tsx', REMOTE, dir, JSON.stringify(sshdOptions)])
  return [file!, argv]
}

const withTimeout = <T>(p: Promise<T>, what: string): Promise<T> =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer in ${START_MS} ms`)), START_MS).unref())])

/** ssh options for a world's sshd on port, with the world's throwaway user key, without the host */
export const sshOptions = (userKey: string, port: number): string[] => [
  '-F', '/dev/null',
  '-i', userKey,
  '-o', 'IdentitiesOnly=yes',
  '-o', 'BatchMode=yes',
  '-o', 'StrictHostKeyChecking=no',
  '-o', 'UserKnownHostsFile=/dev/null',
  '-o', 'LogLevel=ERROR',
  '-o', 'ServerAliveInterval=0',
  '-o', 'ExitOnForwardFailure=yes',
  '-p', String(port),
]

export interface WorldOptions {
  /** the remote in a network namespace of its own (root) */
  netns?: boolean
  /** ssh reaches the remote at ::1, and the echo service answers on ::1 (only, without netns) */
  ipv6?: boolean
  /** extra sshd_config lines, such as `ClientAliveInterval 2`; they win over the world's own */
  sshd?: string[]
}

export const makeWorld = async (opts: WorldOptions = {}): Promise<World> => {
  const netns = opts.netns ?? false
  const loopback = opts.ipv6 ? '::1' : '127.0.0.1'
  const sshdOptions = opts.sshd ?? []
  const dir = mkdtempSync(join(tmpdir(), 'autossh-world-'))
  const cleanups: (() => Promise<void> | void)[] = [() => rmSync(dir, { recursive: true, force: true })]
  const close = async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  }
  try {
    const { userKey, dropbearKey } = makeKeys(dir)
    let upstream: { port: number } | { path: string }
    let echoPort: number
    let targetPort: number
    let remotePid: number | undefined
    if (netns) {
      const remote = own(
        spawn(...remoteCommand(dir, sshdOptions), { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] }),
      )
      cleanups.push(() => stopProcess(remote))
      remotePid = remote.pid
      let out = ''
      let err = ''
      remote.stderr!.on('data', d => (err += d))
      await withTimeout(
        new Promise<void>((resolve, reject) => {
          remote.stdout!.on('data', d => {
            out += d
            if (out.includes('ready')) resolve()
          })
          remote.once('exit', code => reject(new Error(`remote exited (${code}): ${err}`)))
        }),
        'the remote namespace',
      )
      upstream = { path: join(dir, 'sshd.sock') }
      echoPort = 7
      targetPort = 1883
    } else {
      const sshdPort = await freePort()
      const sshd = own(startSshd(dir, sshdPort, sshdOptions))
      cleanups.push(() => stopProcess(sshd))
      let err = ''
      sshd.stderr!.on('data', d => (err += d))
      await withTimeout(
        Promise.race([
          waitListening(sshdPort, START_MS, 'sshd'),
          new Promise<never>((_, reject) => sshd.once('exit', code => reject(new Error(`sshd exited (${code}): ${err}`)))),
        ]),
        'sshd',
      )
      const echo = await startEcho(0, loopback)
      const target = await startTarget(0)
      cleanups.push(() => void echo.close(), () => void target.close())
      echoPort = (echo.address() as net.AddressInfo).port
      targetPort = (target.address() as net.AddressInfo).port
      upstream = { port: sshdPort }
    }
    const link = await startLink(upstream, loopback)
    cleanups.push(() => link.close())
    return {
      netns,
      remotePid,
      dir,
      link,
      // sshd not run by root can only log in the user that runs it
      host: `${userInfo().username}@${loopback}`,
      sshOptions: sshOptions(userKey, link.port),
      // no host key check (-y -y), so that nothing is written under ~/.ssh
      dbclientOptions: ['-y', '-y', '-i', dropbearKey, '-o', 'ExitOnForwardFailure=yes', '-p', String(link.port)],
      echoPort,
      targetPort,
      close,
    }
  } catch (err) {
    await close()
    throw err
  }
}

export { serve }
