// exec → ssh: how long after the supervisor's exec ssh is exec'd, and how
// much CPU the supervisor has used by then; autossh-ts beside autossh 1.4g.
// The ssh is a compiled stand-in (bench/stamp.c, built here with cc): it
// notes the time of its exec and its parent's CPU, and ends the run; asked
// for ssh's configuration (ssh -G, which autossh-ts reads first, and only
// from a compiled program) it goes on to the real ssh. The runs of each case
// alternate between the contenders, so that a busy machine weighs on them
// alike; the figures are medians with the middle half's spread.
//
//   -M 0: no monitor, no syslog, no systemd
//   service: pair mode, a syslog socket and NOTIFY_SOCKET (the syslog
//     logger, the notify sender and ip monitor are all started)
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CLI } from '../test/helpers/autossh.js'
import { notifyReceiver } from '../test/helpers/notify-receiver.js'
import { AUTOSSH_14G, SSH } from './contender.js'

export const STARTUP_RUNS = 15
const STAMP_C = fileURLToPath(new URL('stamp.c', import.meta.url))

export interface StartupRow {
  case: string
  contender: string
  runs: number
  /** spawn of the supervisor to the exec of ssh: median, first and third quartiles */
  execToSshMs: [number, number, number]
  /** the supervisor's CPU (all its threads) until then */
  cpuMs: [number, number, number]
}

const quartiles = (xs: number[]): [number, number, number] => {
  const s = [...xs].sort((a, b) => a - b)
  const q = (p: number) => Math.round(s[Math.round(p * (s.length - 1))]! * 10) / 10
  return [q(0.5), q(0.25), q(0.75)]
}

/** the rows, or why there are none */
export const runStartup = async (progress: (s: string) => void, runs = STARTUP_RUNS): Promise<StartupRow[] | string> => {
  const dir = mkdtempSync(join(tmpdir(), 'autossh-startup-'))
  const syslog = await notifyReceiver()
  const notify = await notifyReceiver()
  try {
    const stamp = join(dir, 'ssh')
    const cc = spawnSync('cc', ['-O2', '-o', stamp, STAMP_C], { encoding: 'utf8' })
    if (cc.status !== 0) return `exec→ssh not measured: no C compiler to build the stand-in ssh (${(cc.error?.message ?? cc.stderr).trim()})`
    const stamps = join(dir, 'stamps')
    const base = { PATH: process.env.PATH, HOME: process.env.HOME, AUTOSSH_PATH: stamp, AUTOSSH_GATETIME: '0', STAMP_FILE: stamps, STAMP_SSH: SSH }
    const cases = [
      { name: '-M 0', env: { ...base, AUTOSSH_SYSLOG_SOCKET: '/nonexistent/log' }, monitor: () => '0' },
      {
        name: 'service',
        env: { ...base, AUTOSSH_SYSLOG_SOCKET: syslog.socket, NOTIFY_SOCKET: notify.socket },
        monitor: () => String(20000 + 2 * Math.floor(Math.random() * 10000)),
      },
    ]
    const contenders = [
      { name: 'autossh-ts', file: process.execPath, pre: [CLI] },
      ...(existsSync(AUTOSSH_14G) ? [{ name: 'autossh 1.4g', file: AUTOSSH_14G, pre: [] }] : []),
    ]
    const rows: StartupRow[] = []
    for (const c of cases) {
      const got = new Map(contenders.map(k => [k.name, { wall: [] as number[], cpu: [] as number[] }]))
      for (let i = 0; i < runs; i++) {
        for (const k of contenders) {
          rmSync(stamps, { force: true })
          const args = [...k.pre, '-M', c.monitor(), '-N', '-o', 'BatchMode=yes', 'example.invalid']
          const t0 = process.hrtime.bigint()
          const child = spawn(k.file, args, { env: c.env, stdio: 'ignore' })
          const ended = new Promise(resolve => child.once('close', resolve))
          const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
          await ended
          clearTimeout(timer)
          const line = existsSync(stamps) ? readFileSync(stamps, 'utf8').split('\n').find(l => l.startsWith('ssh ')) : undefined
          if (line === undefined) continue
          const [, ns, cpu] = line.split(' ')
          got.get(k.name)!.wall.push(Number(BigInt(ns!) - t0) / 1e6)
          got.get(k.name)!.cpu.push(Number(cpu) / 1e6)
          // the helpers of the killed run (logger, notify sender, ip monitor) die with it: let them go
          await new Promise(r => setTimeout(r, 100))
        }
      }
      for (const [contender, { wall, cpu }] of got) {
        if (wall.length === 0) continue
        rows.push({ case: c.name, contender, runs: wall.length, execToSshMs: quartiles(wall), cpuMs: quartiles(cpu) })
        progress(`exec→ssh ${c.name}, ${contender}: ${quartiles(wall)[0]} ms`)
      }
    }
    return rows
  } finally {
    await syslog.close()
    await notify.close()
    rmSync(dir, { recursive: true, force: true })
  }
}
