// systemd's notifications (sd_notify(3)): READY=1, STATUS=…, WATCHDOG=1 as
// datagrams to $NOTIFY_SOCKET. Node cannot send unix datagrams and a native
// module would need a compiler at install, so one small perl child (perl-base
// is Essential on Debian and carries Socket) sends what we write to its stdin,
// NUL between messages, and answers each with a newline once it is sent.
// It is in the unit's cgroup but not the main process: NotifyAccess=all.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { SETPRIV } from '../ssh/child.js'
import { now } from '../shell/timer.js'

export const PERL = '/usr/bin/perl'
/** a dead sender is replaced no sooner than this after the last one started */
export const RESTART_MS = 1000
/**
 * messages kept for a sender that is not there yet, and written ahead of its
 * answers to one that is: the oldest go first
 */
export const MAX_PENDING = 64
/** how long close() waits for the sender to finish before killing it */
export const CLOSE_MS = 1000

// Signals that reach the whole unit or process group (systemd's SIGTERM to
// the cgroup, ^C) are ignored: the sender lives as long as its stdin, so that
// STOPPING=1 still goes out, or until we die (its parent-death signal). A send
// waits for room in systemd's queue as sd_notify's does, but no more than 2 s:
// then that message is lost rather than the sender stuck.
const SENDER = String.raw`
$0 = 'autossh: sd_notify sender';
$SIG{$_} = 'IGNORE' for qw(HUP INT QUIT TERM USR1 USR2);
use Socket;
my $to = shift;
$to =~ s/^\@/\0/;
socket(my $s, PF_UNIX, SOCK_DGRAM, 0) or die "socket: $!\n";
setsockopt($s, SOL_SOCKET, SO_SNDTIMEO, pack('l!l!', 2, 0));
$to = pack_sockaddr_un($to);
$/ = "\0";
$| = 1;
while (defined(my $m = <STDIN>)) { chomp $m; send($s, $m, 0, $to); print "\n" }
`

type Env = Readonly<Record<string, string | undefined>>

export interface Notifier {
  /** one datagram, `KEY=VALUE` lines in the order given */
  send(fields: Record<string, string>): void
  /** deliver what is pending and end the sender, waiting at most CLOSE_MS */
  close(): Promise<void>
  /** the sender child's pid, while there is one */
  readonly pid: number | undefined
}

export interface NotifierOptions {
  /** the perl to run (tests put a stand-in here) */
  perl?: string
  /** told once why there will be no notifications */
  onError?: (message: string) => void
  /** start the sender through setpriv with a parent-death signal (default: where setpriv is) */
  tie?: boolean
}

/** a notifier when NOTIFY_SOCKET names a unix socket (a path, or `@name` for an abstract one) */
export const createNotifier = (env: Env, o: NotifierOptions = {}): Notifier | undefined => {
  const socket = env.NOTIFY_SOCKET
  if (!socket) return undefined
  if (!socket.startsWith('/') && !socket.startsWith('@')) {
    o.onError?.(`cannot notify systemd at "${socket}": not a unix socket`)
    return undefined
  }
  const perl = o.perl ?? PERL
  if (!existsSync(perl)) {
    o.onError?.(`cannot notify systemd: ${perl}: No such file or directory`)
    return undefined
  }
  // tied to us as ssh is: a sender waiting on a full socket dies with us all the same
  const [file, args] = (o.tie ?? existsSync(SETPRIV))
    ? [SETPRIV, ['--pdeathsig', 'KILL', '--', perl, '-e', SENDER, socket]]
    : [perl, ['-e', SENDER, socket]]

  let child: ChildProcess | undefined
  let ended: Promise<void> = Promise.resolve()
  let startedAt = -Infinity
  let timer: NodeJS.Timeout | undefined
  /** the first sender is started on the next turn of the event loop: what is being started meanwhile (ssh) goes first */
  let first: NodeJS.Immediate | undefined
  let closed = false
  /** written to the sender, not yet answered: sent again by its successor if it dies */
  let inflight: string[] = []
  let queue: string[] = []

  const flush = () => {
    for (let m; child && inflight.length < MAX_PENDING && (m = queue.shift()) !== undefined; ) {
      inflight.push(m)
      child.stdin!.write(m + '\0')
    }
  }

  const start = () => {
    clearImmediate(first)
    startedAt = now()
    let c: ChildProcess
    try {
      c = spawn(file, args, { stdio: ['pipe', 'pipe', 'ignore'] })
      /* c8 ignore next 4 */
    } catch {
      // fork() itself failed (no processes or memory left): try again later
      return schedule()
    }
    child = c
    // 'close' once its last answer is read; 'error' alone if it never ran
    ended = new Promise<void>(resolve => {
      c.once('close', () => resolve())
      c.once('error', () => resolve())
    }).then(() => {
      // gone: what it had not answered goes to the next one
      child = undefined
      queue = [...inflight, ...queue].slice(-MAX_PENDING)
      inflight = []
      if (queue.length) schedule()
    })
    c.stdin!.on('error', () => {})
    c.stdout!.on('data', (acks: Buffer) => {
      inflight.splice(0, acks.length)
      flush()
    })
    flush()
  }

  const schedule = () => {
    if (timer || closed) return
    timer = setTimeout(
      () => {
        timer = undefined
        start()
      },
      Math.max(0, startedAt + RESTART_MS - now()),
    )
  }

  return {
    get pid() {
      return child?.pid
    },
    send(fields) {
      if (closed) return
      // a newline would split a value into a field of its own, and NUL ends the message
      queue.push(
        Object.entries(fields)
          .map(([k, v]) => `${k}=${v.replace(/[\n\0]/g, ' ')}`)
          .join('\n'),
      )
      queue = queue.slice(-MAX_PENDING)
      if (child) flush()
      // a full queue does not wait for it (it would drop the oldest)
      else if (startedAt === -Infinity && queue.length < MAX_PENDING) first ??= setImmediate(() => ((first = undefined), start()))
      else if (now() - startedAt >= RESTART_MS) start()
      else schedule()
    },
    async close() {
      if (closed) return ended
      closed = true
      clearTimeout(timer)
      clearImmediate(first)
      // one last sender for what is still pending (STOPPING=1), whatever the pace
      if (!child && queue.length) start()
      const c = child
      if (c) {
        c.stdin!.end()
        const kill = setTimeout(() => c.kill('SIGKILL'), CLOSE_MS)
        await ended
        clearTimeout(kill)
      }
    },
  }
}

/**
 * How often to send WATCHDOG=1: half of WATCHDOG_USEC, if it is set and meant
 * for us (WATCHDOG_PID unset or our pid), as sd_watchdog_enabled(3) decides.
 */
export const watchdogMs = (env: Env, pid = process.pid): number | undefined => {
  const usec = env.WATCHDOG_USEC
  if (usec === undefined || !/^\d+$/.test(usec) || Number(usec) === 0) return undefined
  const owner = env.WATCHDOG_PID
  if (owner !== undefined && !(/^\d+$/.test(owner) && Number(owner) === pid)) return undefined
  return Math.max(1, Math.floor(Number(usec) / 2000))
}
