// Run the built autossh as a process, with a stand-in ssh where the point is
// argv or exit handling.
import { spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { tied } from './tied.js'

export const CLI = fileURLToPath(new URL('../../dist/cli.cjs', import.meta.url))

export interface Running {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  /** resolves with exit status (or signal name) */
  done: Promise<number | string>
}

/**
 * start autossh, dying with the test process (see tied.ts); `prefix` is a
 * command that runs it (such as `unshare -m sh -c SCRIPT sh`)
 */
export const start = (args: string[], env: Record<string, string | undefined> = {}, cwd?: string, prefix: string[] = []): Running => {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AUTOSSH_')))
  // syslog stays out of the way unless a test asks; a variable given as undefined is unset
  const merged = { ...clean, AUTOSSH_SYSLOG_SOCKET: '/nonexistent/log', ...env }
  const [file, ...argv] = tied([...prefix, process.execPath, CLI, ...args])
  const child = spawn(file!, argv, {
    env: Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== undefined)),
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd,
  })
  let out = ''
  let err = ''
  child.stdout!.on('data', d => (out += d))
  child.stderr!.on('data', d => (err += d))
  const done = new Promise<number | string>(resolve => child.on('close', (code, sig) => resolve(code ?? sig!)))
  // where there is no setpriv, at least an ordinary end of the test takes it
  const reap = () => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL')
  process.once('exit', reap)
  void done.then(() => process.off('exit', reap))
  return { child, stdout: () => out, stderr: () => err, done }
}

/** run to the end, bounded in time */
export const runAutossh = async (args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 20000) => {
  const r = start(args, env)
  const timer = setTimeout(() => r.child.kill('SIGKILL'), timeoutMs)
  const status = await r.done
  clearTimeout(timer)
  return { status, stdout: r.stdout(), stderr: r.stderr() }
}

export const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))

/** poll until fn returns a truthy value, or throw after timeoutMs */
type Truthy<T> = Exclude<T, undefined | null | false | 0 | ''>

export const waitFor = async <T>(fn: () => T | Promise<T>, timeoutMs = 10000, what = 'condition'): Promise<Truthy<T>> => {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v) return v as Truthy<T>
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

/**
 * The pid is still taken: the process runs, or it is a zombie that its parent
 * has not reaped (a parent that forgets to wait is a bug to see). A zombie
 * left to init counts as gone: its parent is, and init here may never reap.
 */
export const alive = (pid: number): boolean => {
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return false
  }
  const [, state, ppid] = /^.*\) (\S) (\d+) /s.exec(stat)!
  return state !== 'Z' || ppid !== '1'
}

/**
 * ssh's pair of forwards, stood in for: what comes into the -L port goes to
 * port+1, on a connection back for each one in (as ssh's -R makes them), for
 * the first N lines; then the link is cut without a word: lines are taken
 * and go nowhere, and no connection comes back. In DIR: `accepts` (a line
 * per connection in), `lines` (what came in), `cut` (when the N-th line went
 * through), `term` (when SIGTERM came), times in seconds since the epoch.
 */
export const FORWARD = `
import os, signal, socket, sys, select, time
lport, n, d = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def note(name, text):
    with open(os.path.join(d, name), "a") as f:
        f.write(text)
def term(*_):
    note("term", repr(time.time()) + "\\n")
    sys.exit(0)
signal.signal(signal.SIGTERM, term)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", lport))
s.listen(8)
back = {}
passed = 0
while True:
    for r in select.select([s, *back, *[b for b in back.values() if b]], [], [])[0]:
        if r is s:
            c = s.accept()[0]
            note("accepts", "1\\n")
            back[c] = socket.create_connection(("127.0.0.1", lport + 1)) if passed < n else None
            continue
        try:
            data = r.recv(4096)
        except OSError:
            data = b""
        if r in back:
            if not data:
                if back[r]:
                    back[r].close()
                del back[r]
                r.close()
                continue
            note("lines", data.decode("latin1"))
            if passed < n and back[r]:
                back[r].sendall(data)
                passed += data.count(b"\\n")
                if passed >= n:
                    note("cut", repr(time.time()) + "\\n")
        elif not data:
            for c, b in list(back.items()):
                if b is r:
                    back[c] = None
            r.close()
`

const SWALLOW = `
import os, socket, sys, time, select
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
end = time.time() + float(sys.argv[2])
held = [s]
while time.time() < end:
    for r in select.select(held, [], [], 0.1)[0]:
        if r is s:
            held.append(s.accept()[0])
        elif not r.recv(4096):
            held.remove(r)
        elif len(sys.argv) > 3:
            # die the moment the test line comes: the forward closes as ssh exits
            sys.exit(255)
# a grandchild keeps the sockets open a while, so that ssh's end is not
# announced by closed connections first
if os.fork() == 0:
    time.sleep(3)
    os._exit(0)
sys.exit(255)
`

/**
 * A private directory with a stand-in ssh. Each run appends a line to
 * `runs` (`<pid> <args joined by |>`), then behaves as the next word of
 * FAKE_PLAN says: a number exits with it, `sleep` sleeps until killed,
 * `stubborn` also ignores SIGTERM, `kill:SIG` dies of that signal,
 * `swallow:SECS` listens on the first -L port, swallows what comes and
 * exits 255 after SECS seconds (its connections stay open 3 s longer),
 * `die-on-data` listens there too and exits 255 when a probe's line comes,
 * `forward` and `forward:N` stand in for the forwards of pair mode (see
 * FORWARD), cut after N lines.
 */
export class Fake {
  dir = mkdtempSync(join(tmpdir(), 'autossh-fake-'))
  ssh = join(this.dir, 'ssh')
  runsFile = join(this.dir, 'runs')
  log = join(this.dir, 'log')

  constructor(plan: string[]) {
    writeFileSync(join(this.dir, 'plan'), plan.join('\n') + '\n')
    writeFileSync(
      this.ssh,
      `#!/bin/sh
d=${JSON.stringify(this.dir)}
n=$(cat "$d/runs" 2>/dev/null | wc -l)
line=$$
for a in "$@"; do line="$line|$a"; done
echo "$line" >> "$d/runs"
lport=; prev=
for a in "$@"; do [ "$prev" = -L ] && [ -z "$lport" ] && lport=\${a%%:*}; prev=$a; done
what=$(sed -n "$((n + 1))p" "$d/plan")
[ -n "$what" ] || what=$(tail -n 1 "$d/plan")
# the system's python where there is one: a version manager's shim costs a second to start
py=/usr/bin/python3; [ -x "$py" ] || py=python3
case "$what" in
  sleep) exec sleep 1000 ;;
  stubborn) trap '' TERM; exec sleep 1000 ;;
  kill:*) kill -s "\${what#kill:}" $$ ;;
  # listen on the first -L port, take what comes and answer nothing, then exit 255
  swallow:*) exec "$py" -c "$SWALLOW" "$lport" "\${what#swallow:}" ;;
  die-on-data) exec "$py" -c "$SWALLOW" "$lport" 1000 die ;;
  forward) exec "$py" -c "$FORWARD" "$lport" 1000000 "$d" ;;
  forward:*) exec "$py" -c "$FORWARD" "$lport" "\${what#forward:}" "$d" ;;
  *) exit "$what" ;;
esac
`,
    )
    chmodSync(this.ssh, 0o755)
  }

  runs(): { pid: number; args: string[] }[] {
    if (!existsSync(this.runsFile)) return []
    return readFileSync(this.runsFile, 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map(l => {
        const [pid, ...args] = l.split('|')
        return { pid: Number(pid), args }
      })
  }

  /** the log file's messages, without time and pid */
  messages(): string[] {
    if (!existsSync(this.log)) return []
    return readFileSync(this.log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map(l => l.replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d autossh\[\d+\]: /, ''))
  }

  env(more: Record<string, string> = {}): Record<string, string> {
    return { AUTOSSH_PATH: this.ssh, AUTOSSH_LOGFILE: this.log, SWALLOW, FORWARD, ...more }
  }

  /** a file the stand-in wrote in its directory, or '' */
  read(name: string): string {
    const path = join(this.dir, name)
    return existsSync(path) ? readFileSync(path, 'utf8') : ''
  }

  cleanup(): void {
    for (const r of this.runs()) if (alive(r.pid)) process.kill(r.pid, 'SIGKILL')
    rmSync(this.dir, { recursive: true, force: true })
  }
}
