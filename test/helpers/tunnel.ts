// autossh over real OpenSSH in a test world, carrying a user's forward to the
// world's target service.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { freePort, freePortPair, talk, type World } from '../world/index.js'
import { start, waitFor, type Running } from './autossh.js'
import { path as where } from './needs.js'

export interface Tunnel {
  autossh: Running
  /** the monitor port (-M) */
  port: number
  /** the user's forward: 127.0.0.1:userPort reaches the target service */
  userPort: number
  messages(): string[]
  /** pids of every ssh started, in order */
  sshPids(): number[]
  /** true once a line through the user's forward comes back (each try waits tryMs for it) */
  forwardWorks(timeoutMs?: number, tryMs?: number): Promise<boolean>
}

export const startTunnel = async (
  w: World,
  mode: 'pair' | 'echo',
  env: Record<string, string> = {},
  /** the ssh program and its options to reach the world: OpenSSH's by default */
  ssh: { path: string; options: string[] } = { path: where('ssh'), options: w.sshOptions },
): Promise<Tunnel> => {
  const port = mode === 'pair' ? await freePortPair() : await freePort()
  const userPort = await freePort()
  const log = join(w.dir, `autossh-${port}.log`)
  const spec = mode === 'pair' ? String(port) : `${port}:${w.echoPort}`
  const autossh = start(['-M', spec, '-N', '-L', `${userPort}:127.0.0.1:${w.targetPort}`, ...ssh.options, w.host], {
    AUTOSSH_PATH: ssh.path,
    AUTOSSH_LOGFILE: log,
    AUTOSSH_LOGLEVEL: '7',
    AUTOSSH_GATETIME: '0',
    AUTOSSH_POLL: '4',
    AUTOSSH_FIRST_POLL: '3',
    ...env,
  })
  const messages = () =>
    existsSync(log)
      ? readFileSync(log, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map(l => l.replace(/^\S+ \S+ autossh\[\d+\]: /, ''))
      : []
  return {
    autossh,
    port,
    userPort,
    messages,
    sshPids: () => messages().flatMap(m => (/^ssh child pid is (\d+)$/.exec(m) ? [Number(RegExp.$1)] : [])),
    forwardWorks: async (timeoutMs = 15000, tryMs = 1000) => {
      try {
        await waitFor(async () => (await talk(userPort, 'hello', tryMs)) === 'ok hello', timeoutMs, 'the forward')
        return true
      } catch {
        return false
      }
    },
  }
}

/** how many lines say this */
export const count = (t: Tunnel, message: string) => t.messages().filter(m => m === message).length
