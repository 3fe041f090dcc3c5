// The remote host's services: sshd with throwaway keys, an echo service, a
// target service standing in for the user's broker.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { mkdirSync, writeFileSync, readFileSync, existsSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { path, which } from '../helpers/needs.js'
import { tied } from '../helpers/tied.js'


/** every byte back, as inetd's echo does */
export const startEcho = (port: number, host?: string): Promise<net.Server> =>
  serve(net.createServer(s => {
    s.on('error', () => {})
    s.pipe(s)
  }), port, host)

/** answers each line with `ok <line>` */
export const startTarget = (port: number): Promise<net.Server> =>
  serve(net.createServer(s => {
    s.on('error', () => {})
    let buf = ''
    s.setEncoding('utf8')
    s.on('data', (d: string) => {
      buf += d
      let nl
      while ((nl = buf.indexOf('\n')) >= 0) {
        s.write(`ok ${buf.slice(0, nl)}\n`)
        buf = buf.slice(nl + 1)
      }
    })
  }), port)

export const serve = (server: net.Server, port: number, host = '127.0.0.1'): Promise<net.Server> =>
  new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve(server))
  })

/**
 * Host and user keys for one world, made fresh; and the user key in
 * Dropbear's format, which is the only one dbclient reads, where Dropbear's
 * tools are installed.
 */
export const makeKeys = (dir: string): { hostKey: string; userKey: string; dropbearKey: string; authorized: string } => {
  const hostKey = join(dir, 'host_ed25519')
  const userKey = join(dir, 'user_ed25519')
  const dropbearKey = join(dir, 'user_ed25519.dropbear')
  const authorized = join(dir, 'authorized_keys')
  if (!existsSync(hostKey)) {
    execFileSync(path('ssh-keygen'), ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey])
    execFileSync(path('ssh-keygen'), ['-q', '-t', 'ed25519', '-N', '', '-f', userKey])
    writeFileSync(authorized, readFileSync(userKey + '.pub'))
    const dropbearconvert = which('dropbearconvert')
    if (dropbearconvert) execFileSync(dropbearconvert, ['openssh', 'dropbear', userKey, dropbearKey], { stdio: 'ignore' })
  }
  return { hostKey, userKey, dropbearKey, authorized }
}

/**
 * sshd on listen:port (127.0.0.1 unless a namespace's own address is wanted),
 * in the foreground, logging to stderr; `options`: sshd_config lines that go
 * first, since sshd takes the first value of each keyword
 */
export const startSshd = (dir: string, port: number, options: string[] = [], listen = '127.0.0.1'): ChildProcess => {
  const { hostKey, authorized } = makeKeys(dir)
  const config = join(dir, `sshd_config.${port}`)
  writeFileSync(
    config,
    [
      ...options,
      `ListenAddress ${listen}`,
      `Port ${port}`,
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${authorized}`,
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'PermitRootLogin prohibit-password',
      'AllowTcpForwarding yes',
      'GatewayPorts no',
      'PidFile none',
      'ClientAliveInterval 0',
      'TCPKeepAlive no',
      'LogLevel ERROR',
      'MaxStartups 100',
      'MaxSessions 100',
      '',
    ].join('\n'),
  )
  // privilege separation directory: missing where sshd never ran as a service
  try {
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 })
  } catch {
    // not root: sshd does not separate privileges then, and does not need it
  }
  const [file, ...argv] = tied([path('sshd'), '-D', '-e', '-f', config])
  return spawn(file!, argv, { stdio: ['ignore', 'ignore', 'pipe'] })
}

/** resolve once something accepts TCP connections on 127.0.0.1:port */
export const waitListening = async (port: number, timeoutMs: number, what: string): Promise<void> => {
  const end = Date.now() + timeoutMs
  for (;;) {
    const ok = await new Promise<boolean>(resolve => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy()
        resolve(true)
      })
      s.on('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > end) throw new Error(`${what} did not come up on port ${port}`)
    await new Promise(r => setTimeout(r, 50))
  }
}
