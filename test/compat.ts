// Side by side with the real autossh 1.4g (Debian's /usr/lib/autossh/autossh,
// not the /usr/bin/autossh wrapper): the same command line and environment,
// each with its own copy of the same stand-in ssh, and then the same argv
// for ssh, the same exit status, the same log lines and, where they can be
// seen, the same syslog lines out of both.
//
// Where we differ on purpose (DIFFERENCES FROM AUTOSSH 1.4G in the manual)
// the comparison leaves that out, or the case asserts what we do and that
// 1.4g does otherwise, so that the list stays true.
//
// syslog: 1.4g writes to /dev/log, so where a mount namespace can be had
// (root, `unshare -m`) it runs with a /dev of its own (a tmpfs with null,
// zero, random, urandom) whose log socket is a receiver of ours; our program
// is given a receiver through AUTOSSH_SYSLOG_SOCKET. Without the namespace
// the syslog comparisons are skipped and the rest runs. Both programs run in
// a session of their own (1.4g's child kills its process group when the
// exec of ssh fails).
//
// -f: the foreground of both exits at once; the background copy goes on
// with the same stand-in, so those cases wait for it to log its last line
// and to be gone, then compare like the others.
//
// COMPAT_TIMES=1 prints the run times of each case (1.4g, ours) on stderr.
import t, { type Test } from 'tap'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import net from 'node:net'
import { alive, CLI, FORWARD, sleep, waitFor } from './helpers/autossh.js'
import { needs, path as where, which } from './helpers/needs.js'
import { tied } from './helpers/tied.js'
import { IN_NAMESPACE, RECEIVER } from './helpers/devlog.js'
import { freePortPair } from './world/index.js'

const AUTOSSH_14G = '/usr/lib/autossh/autossh'
/** Debian's wrapper: picks a port when neither -M nor AUTOSSH_PORT is given, then runs 1.4g */
const WRAPPER = '/usr/bin/autossh'
/** 1.4g itself; python3 for the stand-in forwards, perl for the syslog receivers */
const skip = needs(AUTOSSH_14G, 'python3', 'perl')

/** can 1.4g be given a /dev/log of ours? */
const namespace = !skip && which('unshare') !== undefined && spawnSync(where('unshare'), ['-m', 'true'], { stdio: 'ignore', timeout: 5000 }).status === 0
const noSyslog = needs('unshare') || (namespace ? false : 'no mount namespace (unshare -m) for a /dev/log of our own')

/** a run is SIGKILLed after this long (the longest, a silent cut, takes 5 s to 8 s) */
const RUN_LIMIT_MS = 20000
/** this many cases at a time (each runs 1.4g, then ours) */
const PARALLEL = 6

type Env = Record<string, string | undefined>

/**
 * The stand-in ssh, in a private directory. Each start writes its pid and
 * its arguments, each ended by a NUL (so empty words, spaces, `|` and
 * newlines come through as they are) to runs/N, then does what line N+1 of
 * `plan` says (the last line once the plan is used up): a number exits with
 * it, `kill:SIG` dies of that signal, `cut:N` stands in for the forwards of
 * pair mode, passing N test lines and then going silent (FORWARD in
 * helpers/autossh.ts).
 */
class Stand {
  readonly dir = mkdtempSync(join(tmpdir(), 'autossh-compat-'))
  readonly ssh = join(this.dir, 'ssh')
  readonly log = join(this.dir, 'log')
  readonly syslog = join(this.dir, 'syslog')
  private readonly runsDir = join(this.dir, 'runs')

  constructor(plan: string[]) {
    mkdirSync(this.runsDir)
    writeFileSync(join(this.dir, 'plan'), plan.join('\n') + '\n')
    writeFileSync(
      this.ssh,
      `#!/bin/sh
d=${JSON.stringify(this.dir)}
n=$(ls "$d/runs" | wc -l)
{ printf '%s\\0' "$$"; for a in "$@"; do printf '%s\\0' "$a"; done; } > "$d/run.$$"
mv "$d/run.$$" "$d/runs/$n"
what=$(sed -n "$((n + 1))p" "$d/plan")
[ -n "$what" ] || what=$(tail -n 1 "$d/plan")
lport=; prev=
for a in "$@"; do [ "$prev" = -L ] && [ -z "$lport" ] && lport=\${a%%:*}; prev=$a; done
case "$what" in
  kill:*) kill -s "\${what#kill:}" $$ ;;
  # the system's python where there is one: a version manager's shim costs a second to start
  cut:*) py=/usr/bin/python3; [ -x "$py" ] || py=python3; exec "$py" -c "$FORWARD" "$lport" "\${what#cut:}" "$d" ;;
  *) exit "$what" ;;
esac
`,
    )
    chmodSync(this.ssh, 0o755)
  }

  runs(): { pid: number; args: string[] }[] {
    const names = readdirSync(this.runsDir)
      .map(Number)
      .sort((a, b) => a - b)
    return names.map(n => {
      const [pid, ...args] = readFileSync(join(this.runsDir, String(n)), 'utf8').split('\0').slice(0, -1)
      return { pid: Number(pid), args }
    })
  }

  /** the log file's lines as [pid, message] */
  lines(): [number, string][] {
    if (!existsSync(this.log)) return []
    return readFileSync(this.log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map(l => {
        const m = /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d autossh\[(\d+)\]: (.*)$/.exec(l)
        return m ? [Number(m[1]), m[2]!] : [0, `UNPARSED: ${l}`]
      })
  }

  /** the syslog datagrams as `<priority> message` (the tag is apart: see syslogTags) */
  syslogLines(): string[] {
    if (!existsSync(this.syslog)) return []
    return readFileSync(this.syslog, 'utf8')
      .split('\0')
      .filter(Boolean)
      .map(l => {
        const m = /^<(\d+)>\w{3} [ \d]\d \d\d:\d\d:\d\d autossh(?:\[\d+\])?: (.*?)\n?$/s.exec(l)
        return m ? `<${m[1]}> ${m[2]}` : `UNPARSED: ${l}`
      })
  }

  /** the tags of the syslog datagrams, the pid as N */
  syslogTags(): string[] {
    if (!existsSync(this.syslog)) return []
    return [...readFileSync(this.syslog, 'utf8').matchAll(/(?:^|\0)<\d+>.{15} (autossh(?:\[\d+\])?):/g)].map(m => m[1]!.replace(/\d+/, 'N'))
  }

  cleanup(): void {
    for (const r of this.runs()) if (alive(r.pid)) process.kill(r.pid, 'SIGKILL')
    rmSync(this.dir, { recursive: true, force: true })
  }
}

/** 1.4g's debug lines about its own alarm and wait loop, which we do not have */
const INTERNAL = /^(<\d+> )?(check on child \d+|clear alarm timer \(\d+ secs left\)|set alarm for \d+ secs|expired child, returning \d+)$/
/** the last line of a run that ends by itself */
const LAST = /(autossh exiting|max start count reached; exiting|shutting down)$/

interface Messages {
  /** 1.4g's internal debug lines and the exec lines taken out, the child's pid as P */
  lines: string[]
  /** `child of A execing PATH` lines (1.4g's child writes them, so they race with the parent's) */
  execs: string[]
  /** the pids in `ssh child pid is` lines */
  childPids: number[]
}

const messages = (raw: string[], dir: string): Messages => {
  const out: Messages = { lines: [], execs: [], childPids: [] }
  for (const message of raw) {
    if (INTERNAL.test(message)) continue
    const exec = /^(<\d+> )?child of \d+ execing (.*)$/.exec(message)
    if (exec) {
      out.execs.push(`${exec[1] ?? ''}child of A execing ${exec[2]!.replaceAll(dir, '$DIR')}`)
      continue
    }
    const pid = /ssh child pid is (\d+)$/.exec(message)
    if (pid) out.childPids.push(Number(pid[1]))
    out.lines.push(message.replace(/ssh child pid is \d+$/, 'ssh child pid is P').replaceAll(dir, '$DIR'))
  }
  return out
}

/**
 * stderr with log lines (AUTOSSH_DEBUG) as messages() makes them, and a usage
 * text as what comes before it, its first line and the variables it lists
 */
const normalStderr = (stderr: string, dir: string): string => {
  const usage = /^usage:.*$/m.exec(stderr)
  if (usage) {
    const vars = [...stderr.matchAll(/^ {4}(AUTOSSH_\w+)/gm)].map(m => m[1])
    return `${stderr.slice(0, usage.index)}${usage[0]}\n(variables: ${vars.join(' ')})`
  }
  const lines = stderr.split('\n')
  const tail = lines.pop()
  const logged = lines.filter(l => /^autossh\[\d+\]: /.test(l))
  const said = messages(
    logged.map(l => l.replace(/^autossh\[\d+\]: /, '')),
    dir,
  )
  return [...lines.filter(l => !logged.includes(l)), ...said.lines.map(l => `autossh[N]: ${l}`), ...said.execs.sort(), tail].join('\n')
}

interface Outcome {
  status: number | string
  /** ssh's argv, one entry per start */
  runs: string[][]
  log: string[]
  execs: string[]
  /** `<priority> message`; null when 1.4g's could not be seen */
  syslog: string[] | null
  syslogExecs: string[] | null
  syslogTags: string[]
  /** the pids in `ssh child pid is` lines, and the pids the stand-in saw itself run as */
  childPids: number[]
  sshPids: number[]
  logExists: boolean
  stdout: string
  stderr: string
  ms: number
}

const runOne = async (
  which: 'theirs' | 'ours',
  args: string[],
  env: Env,
  plan: string[],
  background: boolean,
  theirProgram = AUTOSSH_14G,
): Promise<Outcome> => {
  const f = new Stand(plan)
  const began = Date.now()
  let receiver: ChildProcess | undefined
  try {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AUTOSSH_')))
    const merged: Env = {
      ...clean,
      AUTOSSH_SYSLOG_SOCKET: join(f.dir, 'log.sock'),
      AUTOSSH_PATH: f.ssh,
      AUTOSSH_LOGFILE: f.log,
      AUTOSSH_LOGLEVEL: '7',
      AUTOSSH_GATETIME: '0',
      AUTOSSH_POLL: '600',
      FORWARD,
      ...Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v?.replaceAll('$DIR', f.dir)])),
    }
    let command: string[]
    if (which === 'ours') {
      const [perl, ...argv] = tied([where('perl'), '-e', RECEIVER, join(f.dir, 'log.sock'), f.syslog])
      receiver = spawn(perl!, argv, { stdio: 'ignore' })
      await waitFor(() => existsSync(`${f.syslog}.ready`), 5000, 'the syslog receiver')
      command = [process.execPath, CLI, ...args]
    } else if (namespace) {
      command = [where('unshare'), '-m', 'sh', '-c', IN_NAMESPACE, 'sh', f.syslog, theirProgram, ...args]
      merged.RECEIVER = RECEIVER
    } else command = [theirProgram, ...args]
    // detached: a session of its own, as 1.4g's is in the namespace; tied: it dies with the test
    command = tied(command)
    const child = spawn(command[0]!, command.slice(1), {
      env: Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== undefined)) as Record<string, string>,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    })
    let stdout = ''
    let stderr = ''
    child.stdout!.on('data', d => (stdout += d))
    child.stderr!.on('data', d => (stderr += d))
    const kill = () => {
      for (const pid of [child.pid!, Number(readFileSync(`${f.syslog}.pid`, { encoding: 'utf8', flag: 'a+' }))])
        try {
          if (pid) process.kill(-pid, 'SIGKILL')
        } catch {}
    }
    const timer = setTimeout(kill, RUN_LIMIT_MS)
    const status = await new Promise<number | string>(resolve => child.on('close', (code, signal) => resolve(code ?? signal!)))
    clearTimeout(timer)
    if (status === 125 && which === 'theirs' && namespace) throw new Error(`could not set up the namespace: ${stderr}`)
    if (background) {
      // the detached copy: wait for its last line, then for it to be gone
      const end = Date.now() + RUN_LIMIT_MS
      let last: [number, string] | undefined
      while (Date.now() < end && !(last && LAST.test(last[1]) && !alive(last[0]))) {
        await sleep(50)
        last = f
          .lines()
          .filter(([, m]) => !INTERNAL.test(m))
          .at(-1)
      }
      if (last && alive(last[0])) process.kill(last[0], 'SIGKILL')
    }
    if (receiver) {
      receiver.kill('SIGTERM')
      await new Promise(resolve => (receiver!.exitCode === null ? receiver!.on('exit', resolve) : resolve(null)))
    }
    const runs = f.runs()
    const log = messages(
      f.lines().map(([, m]) => m),
      f.dir,
    )
    const sys = messages(f.syslogLines(), f.dir)
    const seen = which === 'ours' || namespace
    return {
      status,
      runs: runs.map(r => r.args.map(a => a.replaceAll(f.dir, '$DIR'))),
      log: log.lines,
      execs: log.execs,
      syslog: seen ? sys.lines : null,
      syslogExecs: seen ? sys.execs : null,
      syslogTags: f.syslogTags(),
      childPids: [...log.childPids, ...sys.childPids],
      sshPids: runs.map(r => r.pid),
      logExists: existsSync(f.log),
      stdout,
      stderr: normalStderr(stderr.replaceAll(AUTOSSH_14G, 'autossh').replaceAll(f.dir, '$DIR'), f.dir),
      ms: Date.now() - began,
    }
  } finally {
    if (receiver?.exitCode === null) receiver.kill('SIGKILL')
    f.cleanup()
  }
}

interface Case {
  /** `$P`, `$Q`: a free port p with p+1 free too, the same for both programs */
  args: string[]
  env?: Env
  /** the stand-in's exit plan, ['0'] unless told */
  plan?: string[]
  /** -f: the foreground returns at once, the rest is the background copy's */
  background?: boolean
  /** something else listens on $P+1 meanwhile */
  hold?: boolean
  /** theirs is Debian's wrapper, /usr/bin/autossh */
  wrapper?: boolean
  name?: string
}

interface Pair {
  c: Case
  name: string
  theirs: Outcome
  ours: Outcome
}

// ports handed out in this process, so that cases run side by side never share one
const taken = new Set<number>()
const portPair = async (): Promise<number> => {
  for (;;) {
    const p = await freePortPair()
    if (!taken.has(p) && !taken.has(p + 1)) {
      taken.add(p).add(p + 1)
      return p
    }
  }
}

const usesPorts = (c: Case) => [...c.args, ...Object.values(c.env ?? {})].some(a => a?.includes('$P') || a?.includes('$Q'))

const nameOf = (c: Case) =>
  c.name ??
  ([
    ...Object.entries(c.env ?? {}).map(
      ([k, v]) => `${k}=${v === undefined ? '(unset)' : JSON.stringify(v.length > 20 ? `${v.slice(0, 8)}…(${Buffer.byteLength(v)} bytes)` : v)}`,
    ),
    ...c.args.map(a => (/^[\w@:.=/$-]+$/.test(a) ? a : JSON.stringify(a))),
    ...(c.plan ? [`[ssh: ${c.plan.join(' ')}]`] : []),
  ].join(' ') || '(no arguments)')

const ports = new Map<Case, (s: string) => string>()
/** a case's $P and $Q */
const fill = (c: Case, s: string) => ports.get(c)?.(s) ?? s

/** run 1.4g, then ours (one after the other: with a monitor port both bind port+1) */
const runCase = async (c: Case): Promise<Pair> => {
  let args = c.args
  let env = c.env ?? {}
  if (usesPorts(c)) {
    const [p, q] = [await portPair(), await portPair()]
    ports.set(c, (s: string) => s.replaceAll('$P', String(p)).replaceAll('$Q', String(q)))
    args = args.map(a => fill(c, a))
    env = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === undefined ? v : fill(c, v)]))
  }
  const plan = c.plan ?? ['0']
  const held = c.hold ? net.createServer() : undefined
  if (held) await new Promise<void>(resolve => held.listen(Number(fill(c, '$P')) + 1, '127.0.0.1', resolve))
  const theirs = await runOne('theirs', args, env, plan, !!c.background, c.wrapper ? WRAPPER : AUTOSSH_14G)
  const ours = await runOne('ours', args, env, plan, !!c.background)
  if (held) await new Promise(resolve => held.close(resolve))
  if (process.env.COMPAT_TIMES) console.error(`${theirs.ms}\t${ours.ms}\t${nameOf(c)}`)
  return { c, name: nameOf(c), theirs, ours }
}

/** all cases of a group, PARALLEL at a time */
const runAll = async (cases: Case[]): Promise<Pair[]> => {
  const out: Pair[] = new Array(cases.length)
  let next = 0
  const worker = async () => {
    while (next < cases.length) {
      const i = next++
      out[i] = await runCase(cases[i]!)
    }
  }
  await Promise.all(Array.from({ length: Math.min(PARALLEL, cases.length) }, worker))
  return out
}

/** what must be the same: argv for ssh, status, log; stdout and stderr (empty, mostly) */
const comparable = (o: Outcome) => ({ status: o.status, runs: o.runs, log: o.log, execs: o.execs, stdout: o.stdout, stderr: o.stderr })

/**
 * The same status, argv, log, stdout, stderr and syslog lines, and the pids
 * logged are the stand-in's own; but for the differences we mean: a fatal
 * error before ssh also on stderr in ours
 */
const compare = (t: Test, p: Pair) => {
  const [ours, theirs] = [comparable(p.ours), comparable(p.theirs)]
  let syslog = p.theirs.syslog !== null
  const fatal = /^autossh: (.*)\n$/.exec(ours.stderr)
  if (fatal && p.ours.status === 1 && p.ours.runs.length === 0 && theirs.stderr === '') {
    // on purpose: ours also says it on stderr; 1.4g says it in the log file or the syslog
    const said = p.theirs.log.at(-1) ?? p.theirs.syslog?.at(-1)?.replace(/^<\d+> /, '')
    if (said !== undefined) t.equal(fatal[1], said, `${p.name}: the same message, ours also on stderr`)
    else if (p.theirs.syslog !== null) {
      // reported: 1.4g has set its log level to the bad value before saying it is bad, and says nothing
      t.same([p.ours.syslog, p.theirs.syslog], [[`<11> ${fatal[1]}`], []], `${p.name}: 1.4g says nothing; ours does`)
      syslog = false
    }
    ours.stderr = ''
  }
  const env = p.c.env ?? {}
  const debugWithFile = 'AUTOSSH_DEBUG' in env && !('AUTOSSH_LOGFILE' in env && env.AUTOSSH_LOGFILE === undefined)
  if (debugWithFile) {
    // decided: AUTOSSH_DEBUG puts every line on stderr too, log file or not (1.4g: only with syslog)
    if (!fatal) t.match(ours.stderr, /autossh\[(\d+|N)\]: /, `${p.name}: AUTOSSH_DEBUG with a log file: ours copies to stderr`)
    ours.stderr = theirs.stderr
  }
  t.same(ours, theirs, p.name)
  if (syslog)
    t.same(
      { syslog: p.ours.syslog, execs: p.ours.syslogExecs },
      { syslog: p.theirs.syslog, execs: p.theirs.syslogExecs },
      `${p.name}: syslog`,
    )
  for (const [who, o] of [['1.4g', p.theirs], ['ours', p.ours]] as const)
    if (o.childPids.length) t.same(o.childPids, o.sshPids, `${p.name}: ${who} logs the pids ssh ran as`)
}

t.before(() => {
  if (skip) return
  t.comment(namespace ? '1.4g runs with a /dev/log of ours: syslog lines compared' : `syslog lines not compared: ${noSyslog}`)
})

// ---------------------------------------------------------------------------

t.test('ssh gets the same argv; the same status and log lines (level 7)', { skip }, async t => {
  const cases: Case[] = [
    { args: ['-M', '0', 'host'] },
    { args: ['-M0', 'host'] },
    { args: ['-M', '$P', 'host'] },
    { args: ['-M$P', 'host'] },
    { args: ['-M', '$P:7', 'host'] },
    { args: ['-M', '$P:7', '-N', 'host'], env: { AUTOSSH_GATETIME: undefined } },
    { args: ['-M', '$Q', '-N', '-M', '$P', 'host'], name: 'last -M wins' },
    { args: ['-M', '$P', '-N', '-M', '0', 'host'], name: 'last -M wins: 0' },
    { args: ['host', '-M', '0', '-N'], name: '-M after the host' },
    { args: ['-N', 'host', '-M', '$P', '-L', '1:h:2', 'uptime'], name: '-M and -L after the host' },
    { args: ['-M', '0', 'host', '-p', '22', '-N'], name: 'options after the host' },
    { args: ['-M', '0', 'host', '--', 'ls', '-l'] },
    { args: ['-M', '0', '--', 'host', '-M', '5'], name: '-M after -- goes to ssh' },
    { args: ['-M', '0', 'host', '--', 'a', '--', 'b'], name: 'the second -- goes to ssh' },
    { args: ['-M', '0', 'host', '--', 'tail', '-f', 'log'], name: 'after --, a word with -f loses its f (kept quirk)' },
    { args: ['-M', '0', '-p2222', '-oBatchMode=yes', 'host'] },
    { args: ['-M', '0', '-p', '2222', '-o', 'ServerAliveInterval=30', 'host'] },
    { args: ['-M', '0', '-W', 'h:22', 'host'] },
    { args: ['-M', '0', '-E', 'log.txt', '-F', '/dev/null', 'host'] },
    { args: ['-M', '0', '-D', '1080', '-C', '-q', 'host'] },
    { args: ['-M', '0', '-46Ax', 'host'] },
    { args: ['-M', '0', '-vvv', '-T', 'host'] },
    { args: ['-M', '0', '-i', '/dev/null', '-l', 'user', 'host'] },
    { args: ['-M', '0', '-R', '2222:localhost:22', '-o', 'ExitOnForwardFailure=yes', 'host'] },
    { args: ['-M', '0', '-L', '8080:localhost:80', '-N', 'host'] },
    { args: ['-M', '0', '-Lp:h:1', 'host'] },
    { args: ['-M', '0', '-S', 'none', '-O', 'check', 'host'] },
    { args: ['-M', '0', '-c', 'aes128-ctr', '-m', 'hmac-sha2-256', '-b', '127.0.0.1', 'host'] },
    { args: ['-M', '0', '-e', 'none', '-w', '0:1', '-Q', 'cipher', 'host'] },
    { args: ['-M', '0', '-I', 'pkcs11', '-a', '-g', '-k', '-n', '-s', '-t', '-y', '-G', '-K', '-X', '-Y', '-1', '-2', 'host'] },
    { args: ['-M', '0', 'user@host', 'echo', 'a b', 'c|d', 'e\nf'], name: 'remote command words with space, | and newline' },
    { args: ['-M', '0', '-Np', '22', 'host'] },
    { args: ['-M', '0', '-NL', '1:h:2', 'host'] },
    { args: ['-M', '0', '-o', 'ProxyCommand=ssh -W %h:%p jump', 'host'] },
    { args: ['-M', '0', 'host', 'tail', '-n', '5', 'log'], name: 'a remote command with options' },
    { args: ['-M', '0', '-N', '-N', 'host'] },
    { args: ['-M', ' 0', 'host'], name: '-M " 0" (strtoul skips blanks)' },
    { args: ['-M', '00', 'host'] },
    { args: ['-M', '0x0', 'host'] },
    { args: ['-M', '+0', 'host'] },
    { args: ['-M', '4294967296', 'host'], name: '-M 2^32 (wraps to 0 in 1.4g)' },
    { args: ['-M', '0', 'host'], env: { AUTOSSH_GATETIME: undefined, AUTOSSH_LOGLEVEL: undefined }, name: 'defaults' },
  ]
  for (const p of await runAll(cases)) compare(t, p)
})

t.test('AUTOSSH_PORT without -M', { skip }, async t => {
  const pairs = await runAll([
    { args: ['-N', 'host'], env: { AUTOSSH_PORT: '$P' } },
    { args: ['host'], env: { AUTOSSH_PORT: '0' } },
    { args: ['host'], env: { AUTOSSH_PORT: '$P:7' } },
    { args: ['host', '-N'], env: { AUTOSSH_PORT: '$P' } },
    { args: ['-p', '22', 'host'], env: { AUTOSSH_PORT: '$P' } },
    { args: ['host'], env: { AUTOSSH_PORT: 'abc' } },
    { args: ['host'], env: { AUTOSSH_PORT: '70000' } },
  ])
  for (const p of pairs) compare(t, p)
})

/** the port a program picked (the first start's -L), and the outcome with it written $PICK */
const picked = (o: Outcome): { port: number; masked: Outcome } => {
  const m = /^(\d+):127\.0\.0\.1:(\d+)$/.exec(o.runs[0]?.[1] ?? '')
  const port = m && m[1] === m[2] ? Number(m[1]) : NaN
  const mask = (s: string) => s.replace(/\d+/g, n => (Number(n) === port ? '$PICK' : Number(n) === port + 1 ? '$PICK+1' : n))
  const masked = { ...o, runs: o.runs.map(r => r.map(mask)), log: o.log.map(mask), syslog: o.syslog?.map(mask) ?? null, stderr: mask(o.stderr) }
  return { port, masked }
}

const noWrapper = !skip && !existsSync(WRAPPER) && `${WRAPPER} (Debian's wrapper) is missing`

t.test('neither -M nor AUTOSSH_PORT: as Debian\'s wrapper, the picked port masked', { skip: skip || noWrapper }, async t => {
  const cases: Case[] = [
    { args: ['-N', 'host'] },
    { args: ['host'], env: { AUTOSSH_PORT: '' } },
    { args: ['-N', 'host', '-L', '1:h:2', 'uptime'] },
    { args: ['host'], plan: ['255', 'kill:TERM', '0'] },
    { args: ['host'], env: { AUTOSSH_POLL: '5' } },
    { args: ['host'], env: { AUTOSSH_LOGFILE: undefined } },
    { args: ['host'], env: { AUTOSSH_DEBUG: '1', AUTOSSH_LOGFILE: undefined } },
    { args: ['-f', '-N', 'host'], background: true },
    { args: [] },
  ]
  const pairs = await runAll(cases.map(c => ({ ...c, wrapper: true, name: `wrapper: ${nameOf(c)}` })))
  // both pick a port and bind it later: on a machine busy with other tests the port can be
  // taken in between (ours then picks again, the wrapper fails); such a run is run again
  const raced = (o: Outcome) => [...o.log, ...(o.syslog ?? []), o.stderr].some(l => l.includes('Address already in use'))
  for (let i = 0; i < pairs.length; i++) {
    for (let again = 0; again < 3 && (raced(pairs[i]!.ours) || raced(pairs[i]!.theirs)); again++) {
      pairs[i] = (await runAll([pairs[i]!.c]))[0]!
    }
  }
  for (const p of pairs) {
    const [ours, theirs] = [picked(p.ours), picked(p.theirs)]
    if (p.c.args.length > 0)
      for (const [who, x] of [['ours', ours], ['the wrapper', theirs]] as const)
        t.ok(x.port >= 0x8000 && x.port < 65535, `${p.name}: ${who} picked a pair from 32768 up (${x.port})`)
    compare(t, { ...p, ours: ours.masked, theirs: theirs.masked })
  }
})

t.test('environment values, good, odd and bad', { skip }, async t => {
  const cases: Env[] = [
    // good
    { AUTOSSH_POLL: '5' },
    { AUTOSSH_POLL: '29' },
    { AUTOSSH_POLL: '30' },
    { AUTOSSH_POLL: '40', AUTOSSH_FIRST_POLL: '10' },
    { AUTOSSH_POLL: '0x10' },
    { AUTOSSH_POLL: '010' },
    { AUTOSSH_FIRST_POLL: '700' },
    { AUTOSSH_MAXLIFETIME: '100' },
    { AUTOSSH_MAXLIFETIME: '100', AUTOSSH_FIRST_POLL: '200' },
    { AUTOSSH_MAXLIFETIME: '1000' },
    { AUTOSSH_MAXLIFETIME: '0' },
    { AUTOSSH_MESSAGE: 'x'.repeat(64) },
    { AUTOSSH_MESSAGE: '' },
    { AUTOSSH_LOGLEVEL: '0' },
    { AUTOSSH_LOGLEVEL: '3' },
    { AUTOSSH_LOGLEVEL: '5' },
    { AUTOSSH_LOGLEVEL: '6' },
    { AUTOSSH_MAXSTART: '-1' },
    { AUTOSSH_MAXSTART: '5' },
    { AUTOSSH_GATETIME: '30' },
    // odd, taken by both
    { AUTOSSH_POLL: '-5' },
    { AUTOSSH_MAXLIFETIME: '-1' },
    { AUTOSSH_DEBUG: '1', AUTOSSH_LOGLEVEL: '9' },
    // bad
    { AUTOSSH_POLL: 'abc' },
    { AUTOSSH_POLL: '0' },
    { AUTOSSH_POLL: '' },
    { AUTOSSH_POLL: '10s' },
    { AUTOSSH_FIRST_POLL: 'x' },
    { AUTOSSH_FIRST_POLL: '0' },
    { AUTOSSH_GATETIME: '-1' },
    { AUTOSSH_GATETIME: 'abc' },
    { AUTOSSH_GATETIME: '0.5' },
    { AUTOSSH_MAXSTART: '-2' },
    { AUTOSSH_MAXSTART: 'x' },
    { AUTOSSH_MAXLIFETIME: 'x' },
    { AUTOSSH_LOGLEVEL: '9' },
    { AUTOSSH_LOGLEVEL: 'abc' },
    { AUTOSSH_LOGLEVEL: '-1' },
    { AUTOSSH_MESSAGE: 'x'.repeat(65) },
    { AUTOSSH_MESSAGE: 'é'.repeat(33) },
  ]
  const pairs = await runAll([
    ...cases.map(env => ({ args: ['-M', '0', 'host'], env })),
    { args: ['-M', '$P', 'host'], env: { AUTOSSH_POLL: '5' } },
    { args: ['-M', '$P', 'host'], env: { AUTOSSH_MAXLIFETIME: '100', AUTOSSH_POLL: '200' } },
  ])
  for (const p of pairs) {
    compare(t, p)
    // on purpose: ours creates no log file when a value is bad (nor does 1.4g: it opens it after the checks)
    if (p.ours.status === 1 && p.ours.runs.length === 0) t.notOk(p.ours.logExists, `${p.name}: ours leaves no log file`)
  }
})

t.test('what an exit of ssh means: restarts, statuses, backoff lines', { skip }, async t => {
  const fast = (plan: string[], env: Env = {}): Case => ({ args: ['-M', '0', 'host'], env, plan })
  const bounded = { AUTOSSH_MAXSTART: '4' }
  const cases: Case[] = [
    fast(['0']),
    fast(['255', '255', '0']),
    fast(['1', '0']),
    fast(['2', '0']),
    fast(['0', '1']),
    fast(['255', '1'], bounded),
    fast(['255', '2'], bounded),
    fast(['3']),
    fast(['255', '3']),
    fast(['254', '0']),
    fast(['126']),
    fast(['kill:TERM', 'kill:HUP', '0']),
    fast(['kill:KILL', 'kill:INT', '0']),
    fast(['kill:USR1', '0']),
    fast(['0'], { AUTOSSH_GATETIME: undefined }),
    fast(['1'], { AUTOSSH_GATETIME: undefined }),
    fast(['2'], { AUTOSSH_GATETIME: undefined }),
    fast(['3'], { AUTOSSH_GATETIME: undefined }),
    fast(['255'], { AUTOSSH_GATETIME: undefined }),
    fast(['kill:KILL', '0'], { AUTOSSH_GATETIME: undefined }),
    fast(['kill:TERM', '0'], { AUTOSSH_GATETIME: undefined }),
    fast(['255'], { AUTOSSH_MAXSTART: '2' }),
    fast(['1'], { AUTOSSH_MAXSTART: '1' }),
    fast(['3'], { AUTOSSH_MAXSTART: '1' }),
    fast(['0'], { AUTOSSH_MAXSTART: '0' }),
    fast(['kill:TERM'], { AUTOSSH_MAXSTART: '3' }),
    fast(['255'], { AUTOSSH_MAXSTART: '4', AUTOSSH_LOGLEVEL: '6' }),
    // the waits after five quick starts differ on purpose: see 'where we differ on purpose'
    { args: ['-M', '$P', 'host'], plan: ['255', '255', '0'] },
    { args: ['-M', '$P:7', 'host'], plan: ['kill:TERM', '1'], env: bounded },
  ]
  const pairs = await runAll(cases)
  for (const p of pairs) {
    compare(t, p)
    if (!p.c.env?.AUTOSSH_LOGLEVEL && p.c.env?.AUTOSSH_MAXSTART !== '0')
      t.ok(p.ours.log.some(m => m.startsWith('starting ssh (count 1')), `${p.name}: logged`)
  }
})

t.test('no log file: the same lines in the syslog', { skip: skip || noSyslog }, async t => {
  const plain = { AUTOSSH_LOGFILE: undefined }
  const pairs = await runAll([
    { args: ['-M', '0', 'host'], env: plain },
    { args: ['-M', '0', 'host'], env: plain, plan: ['255', 'kill:TERM', '0'] },
    { args: ['-M', '0', 'host'], env: { ...plain, AUTOSSH_GATETIME: undefined }, plan: ['255'] },
    { args: ['-M', '0', 'host'], env: { ...plain, AUTOSSH_MAXSTART: '2' }, plan: ['3'] },
    { args: ['-M', '$P', 'host'], env: { ...plain, AUTOSSH_LOGLEVEL: undefined } },
    { args: ['-M', '0', 'host'], env: { ...plain, AUTOSSH_MAXLIFETIME: '60' } },
    { args: ['-M', '70000', 'host'], env: plain },
    { args: ['-M', '0', 'host'], env: { ...plain, AUTOSSH_POLL: 'x' } },
    { args: ['-M', '0', 'host'], env: { ...plain, AUTOSSH_PATH: '$DIR/nope' }, name: 'exec failure, no log file' },
  ])
  for (const p of pairs.slice(0, -1)) {
    compare(t, p)
    t.ok(p.theirs.syslog!.length > 0, `${p.name}: 1.4g's lines were seen`)
  }
  // the tag: autossh[pid]; in 1.4g, before openlog (a bad value), plain autossh
  const [first, , , , , lifetime] = pairs
  const tags = (o: Outcome) => [...new Set(o.syslogTags)]
  t.same(tags(first!.ours), tags(first!.theirs), 'the tags')
  t.same(tags(first!.ours), ['autossh[N]'], 'the tags: autossh[pid]')
  t.same(lifetime!.theirs.syslogTags.slice(0, 2), ['autossh', 'autossh'], '1.4g: no pid in the tag before openlog')
  // decided: ours has the pid in the tag from the first line on
  t.same(lifetime!.ours.syslogTags.slice(0, 2), ['autossh[N]', 'autossh[N]'], 'ours: autossh[pid] from the first line')
  const exec = pairs.at(-1)!
  t.equal(exec.ours.status, exec.theirs.status, 'exec failure: status')
  const nope = '<11> $DIR/nope: No such file or directory'
  const theirs = exec.theirs.syslog!.filter(l => l !== '<14> ssh child pid is P')
  t.same(exec.ours.syslog, theirs.slice(0, theirs.indexOf(nope) + 1), 'exec failure: the same up to the path and why')
  t.equal(exec.ours.syslog!.at(-1), nope, 'exec failure: nothing after it in ours')
})

t.test('AUTOSSH_DEBUG: a copy of the lines on stderr', { skip }, async t => {
  const pairs = await runAll([
    { args: ['-M', '0', 'host'], env: { AUTOSSH_DEBUG: '1', AUTOSSH_LOGFILE: undefined }, plan: ['255', '0'] },
    { args: ['-M', '0', 'host'], env: { AUTOSSH_DEBUG: '', AUTOSSH_LOGFILE: undefined, AUTOSSH_LOGLEVEL: '0' } },
    { args: ['-M', '0', 'host'], env: { AUTOSSH_DEBUG: '1', AUTOSSH_LOGLEVEL: '3' } },
  ])
  for (const p of pairs) compare(t, p)
  for (const p of pairs.slice(0, 2)) t.ok(p.theirs.stderr.split('\n').length > 3, `${p.name}: 1.4g's copies were seen`)
})

t.test('set-up failures: a busy port, the pid file, the log file', { skip }, async t => {
  const pairs = await runAll([
    { args: ['-M', '$P', 'host'], hold: true, name: 'the monitor port+1 in use' },
    { args: ['-M', '$P:7', 'host'], hold: true, name: 'port+1 in use, but an echo port given' },
    { args: ['-M', '0', 'host'], env: { AUTOSSH_PIDFILE: '$DIR/a.pid' } },
    { args: ['-M', '0', 'host'], env: { AUTOSSH_PIDFILE: '/nonexistent/a.pid' } },
    { args: ['-M', '$P', 'host'], env: { AUTOSSH_PIDFILE: '/nonexistent/a.pid' } },
    { args: ['-M', '0', 'host'], env: { AUTOSSH_LOGFILE: '/nonexistent/dir/log' } },
    { args: ['-M', '0', 'host'], env: { AUTOSSH_LOGFILE: '$DIR' } },
  ])
  for (const p of pairs) compare(t, p)
  t.match(pairs[0]!.ours.log, [/^bind on 127\.0\.0\.1:\d+: Address already in use$/], 'the busy port is told')
})

t.test('-f: the same argv and log from the background copy', { skip }, async t => {
  const bg = (args: string[], plan?: string[], env?: Env): Case => ({ args, plan, env, background: true })
  const pairs = await runAll([
    bg(['-M', '0', '-f', 'host']),
    bg(['-f', '-M', '0', '-N', 'host']),
    bg(['-M', '0', '-fN', 'host']),
    bg(['-M', '0', '-Nf', 'host']),
    bg(['-M', '0', '-Nfq', 'host']),
    bg(['-M', '0', 'host', '-f']),
    bg(['-M', '$P', '-f', '-N', 'host']),
    // -f sets the gate time to 0: a quick first failure is restarted
    bg(['-M', '0', '-f', 'host'], ['255', '0'], { AUTOSSH_GATETIME: undefined }),
    bg(['-M', '0', '-f', 'host'], ['1', '0'], { AUTOSSH_GATETIME: undefined }),
    bg(['-M', '0', '-f', 'host'], ['255'], { AUTOSSH_MAXSTART: '2' }),
  ])
  for (const p of pairs) {
    compare(t, p)
    t.ok(p.ours.log.length > 0 && LAST.test(p.ours.log.at(-1)!), `${p.name}: ran to the end`)
  }
})

t.test('usage and bad options: the same status, no ssh, usage on stderr', { skip }, async t => {
  const pairs = await runAll(
    [
      ['-M', '0'],
      ['-N'],
      ['-M'],
      ['-Z', '-M', '0', 'host'],
      ['-M', '0', 'host', 'ls', '-l'],
      [],
      ['-M', '0', '-p'],
      ['-M', '0', 'host', '-u'],
      ['-M', '0', '-L'],
    ].map(args => ({ args })),
  )
  for (const p of pairs) {
    // stderr is compared as its first line and the variables listed: the -M paragraph's wording differs on purpose
    compare(t, p)
    t.equal(p.ours.status, 1, `${p.name}: status 1`)
    t.same(p.ours.runs, [], `${p.name}: no ssh`)
    t.match(p.ours.stderr, /usage: autossh \[-V\] \[-M monitor_port\[:echo_port\]\] \[-f\] \[SSH_OPTIONS\]\n\(variables: AUTOSSH_\w+/)
  }
})

t.test('a bad -M: the same status and message; ours also on stderr', { skip }, async t => {
  const pairs = await runAll(
    ['abc', '65535', '70000', '-1', '20000:abc', '20000:0', '20000:', ':7', '', '0x', '1e3', '20000x'].map(spec => ({
      args: ['-M', spec, 'host'],
    })),
  )
  for (const p of pairs) {
    compare(t, p)
    t.equal(p.ours.status, 1, `${p.name}: status 1`)
    t.equal(p.ours.log.length, 1, `${p.name}: one line`)
    t.equal(p.ours.stderr, `autossh: ${p.ours.log[0]}\n`, `${p.name}: on stderr too`)
  }
})

t.test('where we differ on purpose (DIFFERENCES FROM AUTOSSH 1.4G)', { skip }, async t => {
  const argv: [string[], string[], string][] = [
    [['-M', '0', '-m', '-vf', 'host'], ['-m', '-vf', 'host'], 'an option argument keeps its f'],
    [['-M', '0', '-F', '--', 'host'], ['-F', '--', 'host'], 'an option argument is not the terminator'],
    [['-M', '0', 'host', '-J', 'jump'], ['-J', 'jump', 'host'], '-J takes an argument, as OpenSSH'],
    [['-M', '0', 'host', '-P', 'tag'], ['-P', 'tag', 'host'], '-P takes an argument, as OpenSSH'],
    [['-M', '0', 'host', '-B', 'eth0'], ['-B', 'eth0', 'host'], '-B is an OpenSSH option'],
    [['-M', '0', '-o', '', 'host'], ['-o', '', 'host'], 'an empty option argument is kept'],
  ]
  const pairs = await runAll(argv.map(([args, , name]) => ({ args, name })))
  argv.forEach(([, expected, why], i) => {
    const p = pairs[i]!
    t.same(p.ours.runs, [expected], why)
    t.notSame(p.theirs.runs, p.ours.runs, `${why}: 1.4g does otherwise`)
  })

  const [fM, port, port0, version, exec] = await runAll([
    { args: ['-N', '-fM', '$P', 'host'], background: true, name: '-fM port' },
    { args: ['-M', '$P', 'host'], env: { AUTOSSH_PORT: '$Q' }, name: 'AUTOSSH_PORT and -M' },
    { args: ['-M', '0', 'host'], env: { AUTOSSH_PORT: '$Q' }, name: 'AUTOSSH_PORT and -M 0' },
    { args: ['-V'] },
    { args: ['-M', '0', 'host'], env: { AUTOSSH_PATH: '$DIR/nope' }, name: 'an ssh that is not there' },
  ])

  // -fM: ours reads -M as its own; 1.4g monitors the port too, but passes -M on to ssh as well
  const p = Number(fill(fM!.c, '$P'))
  const forwards = (p: number) => ['-L', `${p}:127.0.0.1:${p}`, '-R', `${p}:127.0.0.1:${p + 1}`]
  t.same(fM!.ours.runs, [[...forwards(p), '-N', 'host']], '-fM: ours reads -M')
  t.same(fM!.theirs.runs, [[...forwards(p), '-N', '-M', String(p), 'host']], '-fM: 1.4g passes -M on')

  // AUTOSSH_PORT beats -M in ours, as upstream; Debian's -M wins
  for (const [both, theirs] of [
    [port!, forwards(Number(fill(port!.c, '$P')))],
    [port0!, []],
  ] as const) {
    const q = Number(fill(both.c, '$Q'))
    t.same(both.ours.runs, [[...forwards(q), 'host']], `${both.name}: ours, the forwards of AUTOSSH_PORT`)
    t.same(both.theirs.runs, [[...theirs, 'host']], `${both.name}: 1.4g, those of -M`)
  }

  // the wrapper looks for -M with a regular expression; ours asks getopt, so -M after -- is ssh's
  if (!noWrapper) {
    const [after] = await runAll([{ args: ['--', '-M', '0', 'host'], wrapper: true, name: 'wrapper: -- -M 0 host' }])
    const q = picked(after!.ours).port
    t.same(after!.ours.runs, [[...forwards(q), '-M', '0', 'host']], '-M after --: ours picks a port, -M 0 goes to ssh')
    t.same([after!.theirs.status, after!.theirs.runs], [1, []], '-M after --: the wrapper takes it for a monitor port, 1.4g prints the usage')
  }

  // -V
  t.equal(version!.ours.status, 0)
  t.equal(version!.theirs.status, 0)
  t.match(version!.theirs.stdout, /^autossh 1\.4g\n$/)
  t.match(version!.ours.stdout, /^autossh 1\.4g\+ts\.\S+\n$/)

  // exec failure: the same path and reason and status, without 1.4g's signal line
  t.equal(exec!.ours.status, exec!.theirs.status, 'exec failure: status')
  t.equal(exec!.ours.status, 1)
  const nope = '$DIR/nope: No such file or directory'
  // 1.4g's child kills its process group: 1.4g is told of SIGTERM, before or after it has seen the child exit
  const upTo = (lines: string[]) => lines.slice(0, lines.indexOf(nope) + 1)
  t.ok(exec!.theirs.log.includes(nope), '1.4g logs the path and why')
  t.match(exec!.theirs.log.at(-1), /^(received signal to exit \(15\)|signalled to exit)$/, '1.4g: then a spurious signal line')
  t.equal(exec!.ours.log.at(-1), nope, 'ours: the path and why, last')
  t.equal(exec!.ours.stderr, `autossh: ${nope}\n`, 'ours: on stderr too')
  t.same(exec!.ours.runs, [])
  t.same(exec!.ours.log, upTo(exec!.theirs.log.filter(l => l !== 'ssh child pid is P')), 'ours: the same lines up to there')
  // decided: ours finds the program before it forks, so there is no child and no "ssh child pid" line
  t.notOk(exec!.ours.log.includes('ssh child pid is P'), 'ours: no child pid line')

  // the waits after five quick starts: 1.4g's are int(poll/100 * t * t/3) s (t = tries - 5), 0 at these
  // polls; ours are random under a cap of a quarter of the poll (src/machine/backoff.ts). The rest is the same.
  // whole seconds, as 1.4g logs them: log patterns written for 1.4g expect \d+
  const SLEEP = /^(<\d+> )?sleeping for grace time (\d+) secs$/
  const awake = (o: Outcome): Outcome => ({ ...o, log: o.log.filter(l => !/sleeping for grace time/.test(l)), syslog: o.syslog?.filter(l => !/sleeping for grace time/.test(l)) ?? null })
  const waits = (o: Outcome) => o.log.flatMap(l => (SLEEP.test(l) ? [Number(SLEEP.exec(l)![2])] : []))
  const backoff = await runAll([
    { args: ['-M', '0', 'host'], env: { AUTOSSH_POLL: '20', AUTOSSH_MAXSTART: '7' }, plan: ['255'] },
    { args: ['-M', '0', 'host'], env: { AUTOSSH_POLL: '4', AUTOSSH_MAXSTART: '9' }, plan: ['255'] },
  ])
  for (const [p, n, least, most] of [[backoff[0]!, 1, 2, 5], [backoff[1]!, 3, 0.4, 1]] as const) {
    compare(t, { ...p, theirs: awake(p.theirs), ours: awake(p.ours) })
    t.same(waits(p.theirs), [], `${p.name}: 1.4g does not wait`)
    const ours = waits(p.ours)
    t.equal(ours.length, n, `${p.name}: ours waits before each start after the fifth quick one`)
    t.ok(ours.every(s => s >= least && s <= most), `${p.name}: ours waits ${ours.join(', ')} s, each within ${least} to ${most} s`)
  }
})

// A silent cut: the link goes quiet right after a passed probe, ssh stays up.
// 1.4g opens new test connections for each probe and says that nothing
// connected back; ours keeps them open (and reads the line back on the kept
// connection) and must say the same, at info level, for the log watchers.
t.test('a silent cut in pair mode after a passed probe: the same info lines', { skip }, async t => {
  // the first probe 2 s after the start passes, the second 2 s later finds the link cut
  const cut = { AUTOSSH_POLL: '2', AUTOSSH_FIRST_POLL: '2', AUTOSSH_MAXSTART: '1', AUTOSSH_LOGLEVEL: '6' }
  const pairs = await runAll([
    { args: ['-M', '$P', '-N', 'host'], plan: ['cut:1'], env: cut, name: 'silent cut, kept test connections' },
    { args: ['-M', '$P', '-N', 'host'], plan: ['cut:1'], env: { ...cut, AUTOSSH_PROBE_CONNECTION: 'per-probe' }, name: 'silent cut, per-probe connections' },
    ...(noSyslog ? [] : [{ args: ['-M', '$P', '-N', 'host'], plan: ['cut:1'], env: { ...cut, AUTOSSH_LOGFILE: undefined }, name: 'silent cut, to the syslog' }]),
  ])
  // decided: ours logs when the tunnel is first up (early probes); that line aside, the same
  const UP = /^(<\d+> )?tunnel up, \d+\.\d s after ssh started$/
  for (const p of pairs) {
    const up = (o: Outcome): Outcome => ({ ...o, log: o.log.filter(l => !UP.test(l)), syslog: o.syslog?.filter(l => !UP.test(l)) ?? null })
    t.equal((p.ours.log.length ? p.ours.log : p.ours.syslog!).filter(l => UP.test(l)).length, 1, `${p.name}: ours says the tunnel is up, once`)
    compare(t, { ...p, ours: up(p.ours) })
    const said = p.ours.log.length ? p.ours.log : p.ours.syslog!.map(l => l.replace(/^<\d+> /, ''))
    const at = said.indexOf('timeout polling to accept read connection')
    t.ok(at > 0 && said[at + 1] === 'port down, restarting ssh', `${p.name}: 1.4g's two lines, in order`, { said })
  }
})
