// A stand-in for systemd's notification socket: a python3 child binds a unix
// datagram socket (under os.tmpdir(), or an abstract name) and prints each
// datagram as one JSON line, with the sender's pid from SCM_CREDENTIALS, as
// systemd sees it. Passed descriptors (systemd-notify's BARRIER=1) are closed,
// which is how systemd answers a barrier.
import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const RECEIVER = `
import json, os, socket, struct, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
p = sys.argv[1]
s.bind('\\0' + p[1:] if p.startswith('@') else p)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
print('ready', flush=True)
time.sleep(float(sys.argv[2]))
while True:
    data, anc, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(12) + socket.CMSG_SPACE(64))
    pid = None
    for level, kind, d in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack('iII', d[:12])[0]
        elif level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            for fd in struct.unpack('%di' % (len(d) // 4), d[:len(d) - len(d) % 4]):
                os.close(fd)
    print(json.dumps({'pid': pid, 'at': time.time() * 1000, 'data': data.decode(errors='replace')}), flush=True)
`

export interface Notification {
  /** the sender's pid, as the kernel vouches for it */
  pid: number | null
  /** wall-clock ms when it arrived */
  at: number
  /** the datagram as sent */
  data: string
  /** its KEY=VALUE lines */
  fields: Record<string, string>
}

export interface Receiver {
  /** the value for NOTIFY_SOCKET */
  socket: string
  messages(): Notification[]
  close(): Promise<void>
}

const fieldsOf = (data: string): Record<string, string> =>
  Object.fromEntries(
    data
      .split('\n')
      .filter(Boolean)
      .map(l => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  )

/**
 * Bind a receiver; `abstract` uses an abstract socket name (`@…`) instead of
 * a path; `delayMs` leaves datagrams unread that long (a busy systemd).
 */
export const notifyReceiver = async ({ abstract = false, delayMs = 0 } = {}): Promise<Receiver> => {
  const dir = mkdtempSync(join(tmpdir(), 'nr-'))
  const socket = abstract ? `@${dir.slice(1).replace(/\//g, '-')}` : join(dir, 's')
  const py = spawn('python3', ['-c', RECEIVER, socket, String(delayMs / 1000)], { stdio: ['ignore', 'pipe', 'inherit'] })
  const kill = () => py.kill('SIGKILL')
  process.once('exit', kill)
  const exited = new Promise<void>(resolve => py.once('close', () => resolve()))
  let out = ''
  py.stdout.setEncoding('utf8').on('data', d => (out += d))
  const end = Date.now() + 10000
  while (!out.startsWith('ready\n')) {
    if (Date.now() > end || py.exitCode !== null) {
      kill()
      throw new Error('the notify receiver did not start')
    }
    await new Promise(r => setTimeout(r, 20))
  }
  return {
    socket,
    messages: () =>
      out
        .split('\n')
        .slice(1)
        .filter(Boolean)
        .map(l => {
          const m = JSON.parse(l) as Omit<Notification, 'fields'>
          return { ...m, fields: fieldsOf(m.data) }
        }),
    async close() {
      kill()
      await exited
      process.off('exit', kill)
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** the pids of this process's children: a notifier that should not exist has none */
export const children = (): number[] =>
  readdirSync(`/proc/${process.pid}/task`).flatMap(tid =>
    readFileSync(`/proc/${process.pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean).map(Number),
  )
