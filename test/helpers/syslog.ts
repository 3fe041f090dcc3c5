// A system log of the test's own: a datagram socket under os.tmpdir() (a unix
// socket path has at most 107 bytes, so never under the checkout), and a look
// at the processes a process has started.
import type { Test } from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { waitFor } from './autossh.js'

/** a fresh short directory under os.tmpdir(), removed after the test */
export const shortDir = (t: Test): string => {
  const dir = mkdtempSync(join(tmpdir(), 'as-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

const RECEIVER = `
import ctypes, signal, socket, sys
# dies with the test, whatever ends it (PR_SET_PDEATHSIG, SIGKILL)
ctypes.CDLL(None).prctl(1, 9)
stuck = len(sys.argv) > 2
if stuck:
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print('ready', flush=True)
if stuck:
    signal.sigwait([signal.SIGUSR1])
while True:
    print(s.recv(65536).decode(errors='replace').replace('\\n', ' '), flush=True)
`

/** a fresh network namespace, where a datagram socket's queue holds net.unix.max_dgram_qlen's default, 10 */
export const netns = spawnSync('unshare', ['-n', 'true'], { stdio: 'ignore', timeout: 5000 }).status === 0

export interface Receiver {
  /** the datagrams so far, one a line, newlines made spaces */
  lines: () => string[]
  /** a stuck receiver starts reading */
  resume: () => void
  stop: () => void
}

/**
 * A syslog receiver bound at path. A stuck one reads nothing until resume();
 * it is made in a network namespace of its own where it can be, so that its
 * queue is full after 10 datagrams whatever the host's sysctl says.
 */
export const receiver = async (t: Test, path: string, stuck = false): Promise<Receiver> => {
  const args = ['python3', '-c', RECEIVER, path, ...(stuck ? ['stuck'] : [])]
  const [file, ...argv] = stuck && netns ? ['unshare', '-n', '--', ...args] : args
  const py = spawn(file!, argv, { stdio: ['ignore', 'pipe', 'inherit'] })
  const stop = () => py.kill('SIGKILL')
  t.teardown(stop)
  let got = ''
  py.stdout.on('data', d => (got += d))
  await waitFor(() => got.startsWith('ready'), 5000, 'the receiver')
  return { lines: () => got.split('\n').slice(1).filter(Boolean), resume: () => py.kill('SIGUSR1'), stop }
}

/** a syslog datagram as `<priority> <message>`, without time and tag */
export const message = (datagram: string): string =>
  datagram.replace(/^<(\d+)>\w{3} [ \d]\d \d\d:\d\d:\d\d autossh\[\d+\]: /, '$1 ')

export interface Proc {
  pid: number
  comm: string
  state: string
}

/** the living (not zombie) children of a process, from /proc */
export const children = (ppid: number): Proc[] =>
  readdirSync('/proc')
    .filter(d => /^\d+$/.test(d))
    .flatMap(d => {
      try {
        const m = /^(\d+) \((.*)\) (\S) (\d+)/.exec(readFileSync(`/proc/${d}/stat`, 'utf8'))
        return m && Number(m[4]) === ppid && m[3] !== 'Z' ? [{ pid: Number(m[1]), comm: m[2]!, state: m[3]! }] : []
      } catch {
        return []
      }
    })

/** where in the kernel a process sleeps (`unix_wait_for_peer`: on a full datagram socket) */
export const wchan = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/wchan`, 'utf8')
  } catch {
    return ''
  }
}

/** the logger child of a process, once it runs logger itself (not setpriv before its exec) */
export const loggerOf = (ppid: number, not?: number): Promise<Proc> =>
  waitFor(() => children(ppid).find(c => c.comm === 'logger' && c.pid !== not), 5000, `a logger child of ${ppid}`)
