// The port the test line comes back on (pair mode), open for the whole run.
import net from 'node:net'
import { MONITOR_HOST } from './host.js'

/** resolves once listening; rejects with the bind error (EADDRINUSE, EACCES) */
export const listen = (port: number, host = MONITOR_HOST): Promise<net.Server> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen({ host, port }, () => {
      server.off('error', reject)
      server.on('error', () => {})
      resolve(server)
    })
  })
