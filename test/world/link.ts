// The network between ssh and the remote's sshd, as a relay that can be cut,
// slowed and moved. Cut means silent, as a pulled cable or a NAT that forgot
// the flow: nothing crosses and nothing is closed; bytes wait, new
// connections hang. Restored, the waiting bytes are delivered and traffic
// flows again. Slowed means a long line: each chunk, each end and each reset
// arrives a set time after it was sent, in the order sent. Moved means the
// path changed under the connections open now (a roaming client, a NAT that
// rebooted): those go silent for good, while new connections pass.
import net from 'node:net'
import { performance } from 'node:perf_hooks'

export interface Link {
  /** ssh connects to 127.0.0.1:port (or ::1:port, when asked) */
  port: number
  cut(): void
  restore(): void
  isCut(): boolean
  /** one-way delay, each direction, from now on (what is on its way keeps its time and its order) */
  setDelay(ms: number): void
  delay(): number
  /** every connection open now goes silent for good; new ones pass */
  move(): void
  /** payload bytes forwarded so far, client to server and back */
  bytes(): { up: number; down: number }
  /** connections accepted so far */
  connections(): number
  close(): Promise<void>
}

type Upstream = { port: number } | { path: string }

/** on its way: a chunk, the end of a direction, or the connection gone (a close or a reset) */
type Item = { chunk: Buffer | 'end' | 'close'; due: number }

interface Pair {
  client: net.Socket
  server?: net.Socket
  /** what is on its way, in order, per direction; held there while cut or until due */
  queue: { up: Item[]; down: Item[] }
  timer: { up?: NodeJS.Timeout; down?: NodeJS.Timeout }
  /** the path moved under it: nothing crosses any more */
  moved: boolean
}

export const startLink = (upstream: Upstream, host = '127.0.0.1'): Promise<Link> => {
  let cut = false
  let delayMs = 0
  let up = 0
  let down = 0
  let accepted = 0
  const pairs = new Set<Pair>()
  const waiting: Pair[] = []

  const drop = (p: Pair) => {
    pairs.delete(p)
    for (const dir of ['up', 'down'] as const) clearTimeout(p.timer[dir])
    p.client.destroy()
    p.server?.destroy()
  }

  /** deliver what is due in one direction, in order; wake again for the next */
  const pump = (p: Pair, dir: 'up' | 'down') => {
    clearTimeout(p.timer[dir])
    p.timer[dir] = undefined
    if (cut || p.moved || !pairs.has(p)) return
    const to = dir === 'up' ? p.server! : p.client
    const q = p.queue[dir]
    const now = performance.now()
    while (q.length > 0 && q[0]!.due <= now) {
      const { chunk } = q.shift()!
      if (chunk === 'close') {
        // what was written before it still gets there, as before a FIN or a reset
        if (to.writableLength === 0) return drop(p)
        to.once('finish', () => drop(p)).once('close', () => drop(p))
        to.end()
        return
      }
      if (chunk === 'end') {
        to.end()
        continue
      }
      if (dir === 'up') up += chunk.length
      else down += chunk.length
      to.write(chunk)
    }
    if (q.length > 0) p.timer[dir] = setTimeout(() => pump(p, dir), q[0]!.due - now)
  }

  const send = (p: Pair, dir: 'up' | 'down', chunk: Item['chunk']) => {
    if (p.moved) return
    const q = p.queue[dir]
    // never before what was sent earlier, whatever the delay did since
    const due = Math.max(performance.now() + delayMs, q.at(-1)?.due ?? 0)
    q.push({ chunk, due })
    if (q.length === 1) pump(p, dir)
  }

  const wire = (p: Pair) => {
    const server = (p.server = net.connect(upstream as net.NetConnectOpts))
    const side = (from: net.Socket, dir: 'up' | 'down') => {
      from.on('data', (d: Buffer) => send(p, dir, d))
      from.on('end', () => send(p, dir, 'end'))
      from.on('error', () => {})
      // a reset is not silent; while cut, it waits like everything else
      from.on('close', () => send(p, dir, 'close'))
    }
    side(p.client, 'up')
    side(server, 'down')
    p.client.resume()
  }

  const server = net.createServer({ pauseOnConnect: true }, client => {
    accepted++
    const p: Pair = { client, queue: { up: [], down: [] }, timer: {}, moved: false }
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
            if (!p.server || p.moved) continue
            pump(p, 'up')
            pump(p, 'down')
            p.client.resume()
            p.server.resume()
          }
          for (const p of waiting.splice(0)) wire(p)
        },
        isCut: () => cut,
        setDelay(ms: number) {
          delayMs = ms
        },
        delay: () => delayMs,
        move() {
          for (const p of pairs) {
            p.moved = true
            for (const dir of ['up', 'down'] as const) clearTimeout(p.timer[dir])
            p.client.pause()
            p.server?.pause()
          }
          // one that waits for a cut to end was opened on the old path too
          waiting.splice(0)
        },
        bytes: () => ({ up, down }),
        connections: () => accepted,
        close: () =>
          new Promise<void>(done => {
            for (const p of pairs) drop(p)
            server.close(() => done())
          }),
      }),
    ),
  )
}
