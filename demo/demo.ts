// `npm run demo`: autossh at work in a private world on this machine. A real
// sshd with throwaway keys behind a link that can be cut, an echo service and
// a target service (the end-to-end tests' world); autossh carries a forward
// to the target through it, the link is cut, and the demo narrates what
// happens, with timings. Echo mode always; port-pair mode too where a network
// namespace can be made (root). Alongside the log, what autossh tells a
// machine: its status file, and the notifications a stand-in for systemd
// receives. Everything it starts, it stops, however it ends: done, failed,
// Ctrl-C, SIGTERM or SIGHUP.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync, existsSync, watch, type FSWatcher } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { LogTail } from '../test/helpers/logtail.js'
import { notifyReceiver, type Receiver } from '../test/helpers/notify-receiver.js'
import { freePort, freePortPair, makeWorld, netnsAvailable, talk } from '../test/world/index.js'

const CLI = fileURLToPath(new URL('../dist/cli.cjs', import.meta.url))
const POLL = 5
const FIRST_POLL = 2
/** systemd's WatchdogSec=4: autossh is to say WATCHDOG=1 every 2 s */
const WATCHDOG_S = 4

// ---- output ----------------------------------------------------------------

const tty = process.stdout.isTTY === true && !process.env.NO_COLOR
const paint = (code: string) => (s: string) => (tty ? `\x1b[${code}m${s}\x1b[0m` : s)
const dim = paint('2')
const bold = paint('1')
const green = paint('32')
const yellow = paint('33')
const red = paint('31')
const magenta = paint('35')
const cyan = paint('36')

let stopping = false
let t0 = Date.now()
const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`
const stamp = () => `[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s]`
// once a signal has come, the story stops: only the cleanup speaks
const say = (line: string) => void (stopping || console.log(`${stamp()} ${line}`))
const more = (line: string) => void (stopping || console.log(`         ${line}`))
/** continuation lines, wrapped at word boundaries */
const moreWrapped = (text: string, width = 100) => {
  let line = ''
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      more(line)
      line = '    ' + word
    } else line = line ? `${line} ${word}` : word
  }
  if (line) more(line)
}

// ---- what has to be cleaned up ---------------------------------------------

class Stopped extends Error {}
const running = new Set<Autossh>()
const tails = new Set<LogTail>()
const watchers = new Set<Watcher>()

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))

/**
 * What the demo makes and must close however it ends: each thing being made
 * (so that a signal can wait for it) and each one made.
 */
const tracked = <T extends { close(): Promise<void> }, A extends unknown[]>(make: (...args: A) => Promise<T>) => {
  const pending = new Set<Promise<T>>()
  const live = new Set<T>()
  return {
    pending,
    live,
    async open(...args: A): Promise<T> {
      if (stopping) throw new Stopped()
      const p = make(...args)
      pending.add(p)
      try {
        const x = await p
        live.add(x)
        return x
      } finally {
        pending.delete(p)
      }
    },
    async close(x: T): Promise<void> {
      live.delete(x)
      await x.close()
    },
  }
}

const worlds = tracked((netns: boolean) => makeWorld({ netns }))
/** stand-ins for systemd */
const receivers = tracked(() => notifyReceiver())

let python: boolean | undefined
/** the stand-in for systemd is a python3 child */
const pythonAvailable = (): boolean =>
  (python ??= spawnSync('python3', ['-c', ''], { stdio: 'ignore', timeout: 5000 }).status === 0)

// ---- autossh, and its log ----------------------------------------------------

interface Autossh {
  child: ChildProcess
  stderr(): string
  /** exit status, or the signal's name */
  status: number | string | undefined
  done: Promise<number | string>
}

const launch = (args: string[], env: Record<string, string>): Autossh => {
  if (stopping) throw new Stopped()
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AUTOSSH_')))
  const child = spawn(process.execPath, [CLI, ...args], {
    // keep syslog out of it: the demo reads the log file
    env: { ...clean, AUTOSSH_SYSLOG_SOCKET: '/nonexistent/log', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let err = ''
  child.stderr!.on('data', d => (err += d))
  const a: Autossh = {
    child,
    stderr: () => err,
    status: undefined,
    done: new Promise(resolve =>
      child.on('close', (code, sig) => {
        a.status = code ?? sig!
        resolve(a.status)
      }),
    ),
  }
  child.on('error', () => {})
  running.add(a)
  void a.done.then(() => running.delete(a))
  return a
}

/** poll until fn is true or time runs out: whether it came true */
const waitFor = async (fn: () => boolean, timeoutMs: number): Promise<boolean> => {
  const end = Date.now() + timeoutMs
  while (!fn() && Date.now() < end) await sleep(50)
  return fn()
}

/** SIGTERM, then SIGKILL if it lingers past ssh's own grace time */
const stopAutossh = async (a: Autossh, graceMs = 7000): Promise<number | string> => {
  if (a.status !== undefined) return a.status
  a.child.kill('SIGTERM')
  const t = setTimeout(() => a.child.kill('SIGKILL'), graceMs)
  const status = await a.done
  clearTimeout(t)
  return status
}

/** poll until fn gives a truthy value; give up if autossh ends, the demo is stopped, or time runs out */
const until = async <T>(a: Autossh, fn: () => T | Promise<T>, timeoutMs: number, what: string): Promise<NonNullable<T>> => {
  const end = Date.now() + timeoutMs
  for (;;) {
    if (stopping) throw new Stopped()
    const v = await fn()
    if (v) return v as NonNullable<T>
    if (a.status !== undefined) throw new Error(`autossh exited (${a.status}) while waiting for ${what}${a.stderr() ? `:\n${a.stderr()}` : ''}`)
    if (Date.now() > end) throw new Error(`gave up waiting for ${what} after ${secs(timeoutMs)}${a.stderr() ? `; autossh and ssh said:\n${a.stderr().trimEnd()}` : ''}`)
    await sleep(50)
  }
}

// ---- what autossh tells a machine: the status file, and systemd -------------

interface StatusDoc {
  state: string
  ssh_pid: number | null
  last_probe: { ok: boolean; rtt_ms: number | null } | null
  last_failure: { reason: string } | null
}

/** the status file's lines the demo shows, as this would print them */
const JQ = `jq -c '{state, ssh_pid, rtt_ms: .last_probe.rtt_ms, failure: .last_failure.reason}'`
const view = (d: StatusDoc) =>
  JSON.stringify({ state: d.state, ssh_pid: d.ssh_pid, rtt_ms: d.last_probe?.rtt_ms ?? null, failure: d.last_failure?.reason ?? null })

/**
 * Reads the status file whenever its directory changes (and every 50 ms), and
 * the receiver's datagrams, and says what is new: each view of the file that
 * differs from the last, each notification that says something new. STATUS=
 * lines that differ only in their numbers (ages, rtt: refreshed on each probe
 * and watchdog tick) and WATCHDOG=1 are counted, and said as one line when
 * something new comes, or at the end. The log tail is read first, so that
 * autossh's log line comes before what it told the file and systemd.
 */
class Watcher {
  /** the status file as last read; undefined before it is written and once it is gone */
  doc: StatusDoc | undefined
  /** every state the file was seen in, in order */
  readonly states: string[] = []
  /** every notification's fields, as handled */
  readonly told: Record<string, string>[] = []
  /** when each WATCHDOG=1 arrived (wall clock, ms) */
  readonly dogs: number[] = []
  /** the last STATUS= systemd got */
  status = ''
  private shown: string | undefined
  private handled = 0
  private shape: string | undefined
  private quietDogs = 0
  private quietRefreshes = 0
  private timer: NodeJS.Timeout
  private fsw: FSWatcher | undefined

  constructor(
    private file: string,
    private rx: Receiver | undefined,
    private tail: LogTail,
  ) {
    this.timer = setInterval(() => this.check(), 50)
    try {
      this.fsw = watch(dirname(file), () => this.check())
      this.fsw.on('error', () => {})
    } catch {
      // no inotify: the timer alone
    }
  }

  check(): void {
    this.tail.pump()
    this.readFile()
    this.readMessages()
  }

  private readFile(): void {
    let d: StatusDoc
    try {
      d = JSON.parse(readFileSync(this.file, 'utf8')) as StatusDoc
    } catch {
      // not written yet, or gone (it is replaced by rename, so never half-written)
      if (this.doc) say(magenta(`  status file: gone`))
      this.doc = undefined
      return
    }
    this.doc = d
    const v = view(d)
    if (v === this.shown) return
    if (d.state !== this.states.at(-1)) this.states.push(d.state)
    this.shown = v
    say(magenta(`  status file: ${v}`))
  }

  private readMessages(): void {
    if (!this.rx) return
    const all = this.rx.messages()
    for (const { fields } of all.slice(this.handled)) {
      this.told.push(fields)
      if ('WATCHDOG' in fields) {
        this.dogs.push(Date.now())
        this.quietDogs++
      }
      const news = Object.entries(fields)
        .filter(([k]) => k !== 'WATCHDOG' && k !== 'STATUS')
        .map(([k, v]) => `${k}=${v}`)
      if (fields.STATUS !== undefined) {
        this.status = fields.STATUS
        const shape = fields.STATUS.replace(/\d+/g, '#')
        if (news.length || shape !== this.shape) news.push(`STATUS="${fields.STATUS}"`)
        else this.quietRefreshes++
        this.shape = shape
      }
      if (news.length) {
        this.flush()
        say(cyan(`  systemd got: ${news.join(' ')}`))
      }
    }
    this.handled = all.length
  }

  /** say the WATCHDOG=1 and refreshed STATUS= counted since the last line */
  flush(): void {
    const parts = [
      this.quietDogs ? `WATCHDOG=1 x${this.quietDogs}` : '',
      this.quietRefreshes ? `STATUS= with new numbers x${this.quietRefreshes}` : '',
    ].filter(Boolean)
    if (parts.length) say(dim(cyan(`  systemd got: ${parts.join(', ')}`)))
    this.quietDogs = this.quietRefreshes = 0
  }

  /** a notification with this field (and value) has been said */
  got(key: string, value?: RegExp): boolean {
    return this.told.some(f => key in f && (!value || value.test(f[key]!)))
  }

  stop(): void {
    clearInterval(this.timer)
    this.fsw?.close()
    this.check()
    this.flush()
  }
}

// ---- one mode ---------------------------------------------------------------

/** autossh's debug lines about its own bookkeeping, left out of the narration */
const NOISE = /^(checking for grace period|child of \d+ execing|short poll time)/

const quote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`)

const demo = async (mode: 'echo' | 'pair') => {
  t0 = Date.now()
  console.log()
  console.log(bold(mode === 'echo' ? '== Echo mode: -M port:echo_port ==' : '== Port-pair mode: -M port, in its own network namespace =='))

  // the world
  const w = await worlds.open(mode === 'pair')
  const sshdPort = readdirSync(w.dir).find(f => f.startsWith('sshd_config.'))?.slice('sshd_config.'.length) ?? '?'
  if (mode === 'pair') {
    say(`remote host in its own network namespace: sshd with throwaway keys on its 127.0.0.1:${sshdPort},`)
    more(`echo service on its port ${w.echoPort}, target service on its port ${w.targetPort} (answers "ok <line>")`)
  } else {
    say(`sshd with throwaway keys on 127.0.0.1:${sshdPort}, echo service on 127.0.0.1:${w.echoPort},`)
    more(`target service on 127.0.0.1:${w.targetPort} (answers "ok <line>")`)
  }
  say(`ssh reaches sshd through a link that can be cut, on 127.0.0.1:${w.link.port}`)

  // autossh
  const port = mode === 'pair' ? await freePortPair() : await freePort()
  const userPort = await freePort()
  const spec = mode === 'pair' ? String(port) : `${port}:${w.echoPort}`
  const forward = `${userPort}:127.0.0.1:${w.targetPort}`
  const log = join(w.dir, 'autossh.log')
  const statusFile = join(w.dir, 'status.json')
  const rx = pythonAvailable() ? await receivers.open() : undefined
  const env: Record<string, string> = {
    AUTOSSH_PATH: '/usr/bin/ssh',
    AUTOSSH_POLL: String(POLL),
    AUTOSSH_FIRST_POLL: String(FIRST_POLL),
    AUTOSSH_GATETIME: '0',
    AUTOSSH_LOGLEVEL: '7',
    AUTOSSH_LOGFILE: log,
    AUTOSSH_STATUSFILE: statusFile,
    ...(rx && { NOTIFY_SOCKET: rx.socket, WATCHDOG_USEC: String(WATCHDOG_S * 1e6) }),
  }
  const host = w.host
  const args = ['-M', spec, '-N', '-L', forward, ...w.sshOptions, host]
  say('running:')
  more(bold(`autossh -M ${spec} -N -L ${forward} [ssh options] ${host}`))
  moreWrapped(`ssh options: ${w.sshOptions.map(quote).join(' ')}`)
  moreWrapped(`environment: ${Object.entries(env).map(([k, v]) => `${k}=${quote(v)}`).join(' ')}`)
  if (mode === 'pair') {
    more(`-M ${spec}: ssh also carries 127.0.0.1:${port} to the remote's port ${port} (-L), and that back to`)
    more(`127.0.0.1:${port + 1} (-R), where autossh listens; every ${POLL} s autossh sends a test line round the loop.`)
  } else {
    more(`-M ${spec}: ssh also carries 127.0.0.1:${port} to the remote's echo service (port ${w.echoPort});`)
    more(`every ${POLL} s autossh sends a test line through it and waits for it to come back.`)
  }
  more(`-L ${forward}: the user's forward, to the target service.`)
  if (mode === 'echo') {
    more(`AUTOSSH_STATUSFILE: autossh keeps the tunnel's state there as JSON; "status file" lines show`)
    more(`each change as \`${JQ} status.json\` would:`)
    if (rx) {
      more(`NOTIFY_SOCKET: a stand-in for systemd receives autossh's notifications there, and`)
      more(`WATCHDOG_USEC=${WATCHDOG_S * 1e6} (WatchdogSec=${WATCHDOG_S}) asks for WATCHDOG=1 every ${WATCHDOG_S / 2} s.`)
    }
  } else more(`status file and systemd stand-in as before.`)
  if (!rx) more(yellow('no python3 here: the stand-in for systemd is left out'))

  const tail = new LogTail(
    log,
    e => {
      if (!NOISE.test(e.message)) say(dim(`  | ${e.line}`))
    },
    50,
  )
  tails.add(tail)
  const told = new Watcher(statusFile, rx, tail)
  watchers.add(told)
  const a = launch(args, env)

  // the forward works
  const hello = () => talk(userPort, 'hello', 1000)
  await until(a, async () => (await hello()) === 'ok hello', 20000, 'the forward')
  say(green(`forward 127.0.0.1:${userPort} works: sent "hello", got "ok hello"`))
  const firstPid = (await until(a, () => tail.sshPids()[0], 5000, 'the ssh pid'))!
  // up: an early test passed; the status file and systemd hear it with the log
  const upAt = await until(a, () => tail.find(m => m.startsWith('tunnel up')) + 1, 20000, 'the tunnel to be up')
  await until(a, () => told.doc?.state === 'up' && (!rx || told.got('READY')), 5000, 'the status file and READY=1')
  say(green(`up: an early test got through, ${rx ? 'and only now is systemd told READY=1' : 'and the status file says so'}`))
  if (rx) more(green(`(units ordered after this one start once the forward really works)`))
  if (mode === 'echo') {
    more(`the whole status file now (jq . status.json):`)
    for (const line of JSON.stringify(told.doc, null, 2).split('\n')) more(dim(`  ${line}`))
  }
  // cut just after the first regular test, so that the silence lasts until the next one
  const okAt = await until(a, () => tail.find(m => m === 'connection ok', upAt) + 1, (FIRST_POLL + 5) * 1000, 'a passed test')
  say(`a regular test passed (the first is due ${FIRST_POLL} s after ssh starts); the next one is due in ${POLL} s`)

  // the cut
  w.link.cut()
  const cutAt = Date.now()
  const sinceCut = () => secs(Date.now() - cutAt)
  say(yellow(`cutting the link: from now on nothing crosses it, and nothing is closed (a pulled cable)`))
  const answer = await talk(userPort, 'hello', 2000)
  if (answer === null) say(yellow(`forward 127.0.0.1:${userPort} is silent: sent "hello", no answer in 2.0s`))
  else say(red(`unexpected: the forward answered "${answer}" across a cut link`))
  if (alive(firstPid)) say(yellow(`ssh ${firstPid} is still running: no error, no close, nothing tells it the link is gone`))

  // the monitor notices
  const downAt = await until(a, () => tail.find(m => m === 'port down, restarting ssh', okAt) + 1, 30000, 'the monitor to notice')
  say(red(`the monitor noticed, ${sinceCut()} after the cut: its test line, due ${POLL} s after the cut, did not come back`))
  await until(a, () => told.doc?.state !== 'up', 5000, 'the status file to leave up')
  // the file is replaced, not appended to: a reader can miss a state that lasts a few ms
  const fileSays = told.states.includes('down') ? 'the status file says down' : `the status file says ${told.doc?.state}`
  if (rx) {
    await until(a, () => told.got('STATUS', /^down/), 5000, 'STATUS=down')
    more(`${fileSays}, systemd's STATUS= says down, both say why; WATCHDOG=1 kept coming through`)
    more(`the silence: it vouches for autossh's own loop, not for the tunnel (systemd restarts an autossh that hangs)`)
  } else more(`${fileSays}, and why`)
  await until(a, () => !alive(firstPid), 10000, 'the old ssh to go')
  say(`the stuck ssh ${firstPid} is gone, ${sinceCut()} after the cut`)
  const newPid = await until(a, () => tail.sshPids().find(p => p !== firstPid), 10000, 'a new ssh')
  say(`a new ssh ${newPid} is running, ${sinceCut()} after the cut; its connection waits at the cut`)
  await sleep(500)

  // the restore
  w.link.restore()
  const restoredAt = Date.now()
  say(green('restoring the link'))
  await until(a, async () => (await hello()) === 'ok hello', 20000, 'the forward again')
  say(green(`forward 127.0.0.1:${userPort} works again: sent "hello", got "ok hello"`))
  more(green(`${secs(Date.now() - restoredAt)} after the restore, ${sinceCut()} after the cut`))
  await until(a, () => tail.find(m => m === 'connection ok', downAt) >= 0, (FIRST_POLL + POLL + 5) * 1000, 'a passed test on the new ssh')
  say(`the monitor's test passes again through ssh ${newPid}`)
  await until(a, () => told.doc?.state === 'up' && told.doc.ssh_pid === newPid && (!rx || /^up/.test(told.status)), 5000, 'the status file and STATUS= to say up again')
  more(`the status file says up again, with ssh ${newPid}${rx ? `; systemd's STATUS= too, and no second READY=1: it is said once` : ''}`)

  // the end
  say('stopping autossh with SIGTERM')
  const status = await stopAutossh(a)
  if (rx) await waitFor(() => (told.check(), told.got('STOPPING')), 2000)
  told.stop()
  watchers.delete(told)
  tail.stop()
  tails.delete(tail)
  say(`autossh exited with status ${status}`)
  if (existsSync(statusFile)) say(red(`the status file ${statusFile} is still there`))
  else say(`the status file is gone: autossh removes it on the way out`)
  if (rx) {
    const dogs = told.dogs
    const every = dogs.length > 1 ? `, one every ${secs((dogs.at(-1)! - dogs[0]!) / (dogs.length - 1))}` : ''
    const readies = told.told.filter(f => 'READY' in f).length
    if (told.got('STOPPING')) say(`systemd got STOPPING=1 on the way out; before it, READY=1 ${readies === 1 ? 'once' : `${readies} times`}, WATCHDOG=1 ${dogs.length} times${every}`)
    else say(red('systemd never got STOPPING=1'))
    await receivers.close(rx)
  }
  const pids = tail.sshPids()
  const left = pids.filter(alive)
  if (left.length === 0) say(`no ssh left behind: ${pids.map(p => `ssh ${p}`).join(', ')} ${pids.length === 1 ? 'is' : 'are'} gone`)
  else say(red(`ssh left behind: ${left.join(', ')}`))
  await worlds.close(w)
  say('world torn down: sshd, services, link and throwaway keys gone')
}

// ---- the whole -----------------------------------------------------------------

let cleaning: Promise<void> | undefined
const cleanup = (): Promise<void> =>
  (cleaning ??= (async () => {
    stopping = true
    const sshPids = [...tails].flatMap(t => t.sshPids())
    for (const w of [...watchers]) w.stop()
    for (const t of [...tails]) t.stop()
    await Promise.all([...running].map(a => stopAutossh(a)))
    for (const pid of sshPids)
      if (alive(pid))
        try {
          process.kill(pid, 'SIGKILL')
        } catch {
          // gone meanwhile
        }
    // a world being made: makeWorld cleans up itself if it fails, else close it here
    await Promise.allSettled<unknown>([...worlds.pending, ...receivers.pending])
    for (const rx of [...receivers.live]) await receivers.close(rx).catch(() => {})
    for (const w of [...worlds.live]) await worlds.close(w).catch(() => {})
  })())

const bail = (signal: string, code: number) => {
  if (stopping) return
  console.log()
  console.log(`${signal}: stopping autossh and tearing the world down`)
  void cleanup().then(() => {
    console.log('cleaned up')
    process.exit(code)
  })
}
process.on('SIGINT', () => bail('interrupted', 130))
process.on('SIGTERM', () => bail('SIGTERM', 143))
process.on('SIGHUP', () => bail('SIGHUP', 129))

const main = async () => {
  const start = Date.now()
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`)
  const missing = ['/usr/bin/ssh', '/usr/sbin/sshd', '/usr/bin/ssh-keygen'].filter(f => !existsSync(f))
  if (missing.length) throw new Error(`the demo needs OpenSSH's client and server (${missing.join(', ')} missing): install openssh-client and openssh-server`)
  console.log('autossh demo: a private ssh world on this machine; autossh keeps a forward')
  console.log('alive through it while the link is cut and restored.')
  await demo('echo')
  if (netnsAvailable()) await demo('pair')
  else console.log('\nPort-pair mode (-M port) skipped: it needs root, to put the remote in its own network namespace.')
  console.log()
  console.log(`demo done in ${secs(Date.now() - start)}; nothing left running.`)
}

main().then(
  async () => {
    await cleanup()
    process.exit(0)
  },
  async err => {
    if (stopping) return // a signal is being handled
    console.error()
    console.error(red(`demo failed: ${err instanceof Error ? err.message : String(err)}`))
    await cleanup()
    process.exit(1)
  },
)
