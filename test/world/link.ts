// The network between ssh and the remote's sshd, as a relay that can be cut.
// Cut means silent, as a pulled cable or a NAT that forgot the flow: nothing
// crosses and nothing is closed; bytes wait, new connections hang. Restored,
// the waiting bytes are delivered and traffic flows again.
import net from 'node:net'

export interface Link {
  /** ssh connects to 127.0.0.1:port (or ::1:port, when asked) */
  port: number
  cut(): void
  restore(): void
  isCut(): boolean
  /** payload bytes forwarded so far, client to server and back */
  bytes(): { up: number; down: number }
  /** connections accepted so far */
  connections(): number
  close(): Promise<void>
}

type Upstream = { port: number } | { path: string }

interface Pair {
  client: net.Socket
  server?: net.Socket
  /** what arrived while cut, in order, per direction; null stands for the end */
  held: { up: (Buffer | null)[]; down: (Buffer | null)[] }
}

export const startLink = (upstream: Upstream, host = '127.0.0.1'): Promise<Link> => {
  let cut = false
  let up = 0
  let down = 0
  let accepted = 0
  const pairs = new Set<Pair>()
  const waiting: Pair[] = []

  const deliver = (p: Pair, dir: 'up' | 'down', chunk: Buffer | null) => {
    const to = dir === 'up' ? p.server! : p.client
    if (chunk === null) {
      to.end()
      return
    }
    if (dir === 'up') up += chunk.length
    else down += chunk.length
    to.write(chunk)
  }

  const wire = (p: Pair) => {
    const server = (p.server = net.connect(upstream as net.NetConnectOpts))
    const side = (from: net.Socket, dir: 'up' | 'down') => {
      from.on('data', (d: Buffer) => (cut ? p.held[dir].push(d) : deliver(p, dir, d)))
      from.on('end', () => (cut ? p.held[dir].push(null) : deliver(p, dir, null)))
      from.on('error', () => {})
    }
    side(p.client, 'up')
    side(server, 'down')
    const drop = () => {
      pairs.delete(p)
      p.client.destroy()
      server.destroy()
    }
    // a reset is not silent; while cut, it waits like everything else
    p.client.on('close', () => (cut ? p.held.up.push(null) : drop()))
    server.on('close', () => (cut ? p.held.down.push(null) : drop()))
    p.client.resume()
  }

  const server = net.createServer({ pauseOnConnect: true }, client => {
    accepted++
    const p: Pair = { client, held: { up: [], down: [] } }
    pairs.add(p)
    client.on('error', () => {})
    if (cut) waiting.push(p)
    else wire(p)
  })

  return new Promise(resolve =>
    server.listen(0, host, () =>
      resolve({
        port: (server.address() as net.AddressInfo).port,
        cut() {
          cut = true
          for (const p of pairs) {
            p.client.pause()
            p.server?.pause()
          }
        },
        restore() {
          cut = false
          for (const p of pairs) {
            if (!p.server) continue
            for (const dir of ['up', 'down'] as const) for (const chunk of p.held[dir].splice(0)) deliver(p, dir, chunk)
            p.client.resume()
            p.server.resume()
          }
          for (const p of waiting.splice(0)) wire(p)
        },
        isCut: () => cut,
        bytes: () => ({ up, down }),
        connections: () => accepted,
        close: () =>
          new Promise<void>(done => {
            for (const p of pairs) {
              p.client.destroy()
              p.server?.destroy()
            }
            server.close(() => done())
          }),
      }),
    ),
  )
}
