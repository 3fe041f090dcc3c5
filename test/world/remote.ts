// The remote host, run inside its own network namespace (unshare -n, or
// nsenter into the kernel link's server namespace): sshd on 22, echo on 7, the
// target on 1883, and a unix socket bridge to sshd that the outside reaches
// through the filesystem. Ends when its stdin closes.
import { execFileSync } from 'node:child_process'
import net from 'node:net'
import { join } from 'node:path'
import { startEcho, startSshd, startTarget, waitListening } from './services.js'

const dir = process.argv[2]!
/** extra sshd_config lines, as JSON */
const options = JSON.parse(process.argv[3] ?? '[]') as string[]
/** where sshd listens: the kernel link's server reaches it on its veth address */
const listen = process.argv[4] ?? '127.0.0.1'
execFileSync('ip', ['link', 'set', 'lo', 'up'])
const sshd = startSshd(dir, 22, options, listen)
let err = ''
sshd.stderr!.on('data', d => (err += d))
const quit = () => {
  // wait for sshd, so that no zombie is left for init to reap
  sshd.removeAllListeners('exit')
  sshd.once('exit', () => process.exit(0))
  sshd.kill('SIGKILL')
}
sshd.on('exit', code => {
  process.stderr.write(`remote sshd exited (${code}): ${err}`)
  process.exit(1)
})
await startEcho(7)
await startTarget(1883)
await waitListening(22, 10000, 'sshd')
const bridge = net.createServer(c => {
  const s = net.connect(22, '127.0.0.1')
  c.on('error', () => s.destroy())
  s.on('error', () => c.destroy())
  c.pipe(s).pipe(c)
})
bridge.listen(join(dir, 'sshd.sock'), () => process.stdout.write('ready\n'))
process.stdin.on('end', quit)
process.stdin.on('close', quit)
process.stdin.resume()
process.on('SIGTERM', quit)
