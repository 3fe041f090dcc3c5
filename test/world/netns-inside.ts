// The inside of a client's network namespace (run by netns-client.ts through
// unshare -n): loopback, a veth pair v0/v1 with an address and a default route
// that the test can change, and bridges through unix sockets, since host
// loopback is out of reach from here: each `reach` port is listened on here at
// the same number and carried out to the host's; each `expose` port of here is
// reachable from outside through its socket. Ends when its stdin closes.
// With veth false (the kernel link's client namespace, whose network is
// already made), only the bridges.
import { execFileSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import net from 'node:net'

interface Config {
  reach: { port: number; path: string }[]
  expose: { port: number; path: string }[]
  veth?: boolean
}

const config = JSON.parse(process.argv[2]!) as Config

if (config.veth !== false) execFileSync('ip', ['-batch', '-'], {
  input: ['link set lo up', 'link add v0 type veth peer name v1', 'addr add 10.77.0.1/24 dev v0', 'link set v1 up', 'link set v0 up', 'route add default via 10.77.0.2 dev v0', ''].join('\n'),
})

/** both ways, and either end's failure ends the other */
export const splice = (a: net.Socket, b: net.Socket): void => {
  a.on('error', () => b.destroy())
  b.on('error', () => a.destroy())
  a.pipe(b).pipe(a)
}

const listening: Promise<void>[] = []
const listen = (server: net.Server, where: number | string) =>
  listening.push(
    new Promise((resolve, reject) => {
      server.once('error', reject)
      if (typeof where === 'number') server.listen(where, '127.0.0.1', () => resolve())
      else server.listen(where, () => resolve())
    }),
  )

for (const { port, path } of config.reach) listen(net.createServer(c => splice(c, net.connect(path))), port)
for (const { port, path } of config.expose) {
  rmSync(path, { force: true })
  listen(net.createServer(c => splice(c, net.connect(port, '127.0.0.1'))), path)
}

await Promise.all(listening)
process.stdout.write('ready\n')
const quit = () => process.exit(0)
process.stdin.on('end', quit)
process.stdin.on('close', quit)
process.stdin.resume()
process.on('SIGTERM', quit)
