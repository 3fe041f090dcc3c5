// How long after its exec a hangup still kills autossh: the window before its
// first signal handler exists (Node's own start-up, then loading the bundle
// up to src/early.ts). Measured two ways on the built dist/cli.cjs, and on any
// other build given (an older one, to compare):
//   - inside the process (a preload that notes performance.now(), which counts
//     from the process's start): when the first code runs, and when the first
//     SIGHUP handler is installed;
//   - SIGHUP sent d ms after the spawn, for d in steps: the largest d that killed it.
// A measurement, not a test; about a minute.
//
//   node --import=tsx bench/window.ts [other-cli.cjs ...]
import { spawn } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CLI } from '../test/helpers/autossh.js'

const REPS = 10
const STEP_MS = 5
const MAX_MS = 150

const dir = mkdtempSync(join(tmpdir(), 'autossh-window-'))
const ssh = join(dir, 'ssh')
writeFileSync(ssh, '#!/bin/sh\nexec sleep 30\n')
chmodSync(ssh, 0o755)
const env = { PATH: process.env.PATH, AUTOSSH_PATH: ssh, AUTOSSH_GATETIME: '0', AUTOSSH_LOGFILE: join(dir, 'log'), AUTOSSH_SYSLOG_SOCKET: '/nonexistent' }

const HOOK = join(dir, 'hook.cjs')
writeFileSync(
  HOOK,
  `const first = performance.now()
const on = process.on
let told = false
process.on = function (event, ...rest) {
  if (!told && event === 'SIGHUP') {
    told = true
    require('fs').writeSync(3, first.toFixed(1) + ' ' + performance.now().toFixed(1))
  }
  return on.call(this, event, ...rest)
}
`,
)

const launch = (cli: string, preload: string[] = [], stdio: ('ignore' | 'pipe')[] = ['ignore', 'ignore', 'ignore']) => {
  const child = spawn(process.execPath, [...preload, cli, '-M', '0', '-N', 'host'], { env, stdio })
  const done = new Promise<string | number>(r => child.on('exit', (code, sig) => r(sig ?? code!)))
  return { child, done }
}

/** ms from the process's start to its first code, and to its first SIGHUP handler */
const inside = async (cli: string): Promise<[number, number]> => {
  const { child, done } = launch(cli, ['-r', HOOK], ['ignore', 'ignore', 'ignore', 'pipe'])
  let said = ''
  child.stdio[3]!.on('data', d => (said += d))
  await new Promise(r => setTimeout(r, 1000))
  child.kill('SIGTERM')
  await done
  const [first, handler] = said.split(' ').map(Number)
  return [first!, handler!]
}

/** of REPS hangups d ms after the spawn, how many killed it */
const killedAt = async (cli: string, d: number): Promise<number> => {
  let killed = 0
  for (let i = 0; i < REPS; i++) {
    const { child, done } = launch(cli)
    await new Promise(r => setTimeout(r, d))
    child.kill('SIGHUP')
    const outcome = await Promise.race([done, new Promise(r => setTimeout(() => r('alive'), 300))])
    if (outcome === 'SIGHUP') killed++
    else {
      child.kill('SIGTERM')
      await done
    }
  }
  return killed
}

const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

try {
  for (const cli of [CLI, ...process.argv.slice(2)]) {
    const firsts: number[] = []
    const handlers: number[] = []
    for (let i = 0; i < REPS; i++) {
      const [first, handler] = await inside(cli)
      firsts.push(first)
      handlers.push(handler)
    }
    process.stdout.write(
      `${cli}\n  first code at ${median(firsts).toFixed(1)} ms, first SIGHUP handler at ${median(handlers).toFixed(1)} ms after the process started (medians of ${REPS})\n`,
    )
    let last = -1
    for (let d = 0; d <= MAX_MS; d += STEP_MS) {
      const k = await killedAt(cli, d)
      if (k > 0) last = d
      process.stderr.write(`  hangup at ${d} ms: ${k}/${REPS} killed\n`)
      if (k === 0 && d > last + 4 * STEP_MS) break
    }
    process.stdout.write(`  a hangup sent up to ${last} ms after the spawn killed it\n`)
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
