// The monitor spec `port[:echo_port]` from -M or AUTOSSH_PORT, and the
// forwards it adds to ssh's command line.
import { strtoul, toInt } from '../options/c-number.js'
import { hostPort, MONITOR_HOST } from './host.js'

export type MonitorSpec =
  /** -M 0: no monitoring */
  | { mode: 'off' }
  /** -M port: a loop out through -L port and back through -R port to port+1 */
  | { mode: 'pair'; port: number }
  /** -M port:echo_port: out through -L port to the remote's echo service, back on the same connection */
  | { mode: 'echo'; port: number; echoPort: number }

export type SpecResult = { ok: true; spec: MonitorSpec } | { ok: false; error: string }

const fail = (error: string): SpecResult => ({ ok: false, error })

export const parseMonitorSpec = (text: string): SpecResult => {
  const colon = text.indexOf(':')
  const portText = colon < 0 ? text : text.slice(0, colon)
  let echoPort: number | undefined
  if (colon >= 0) {
    const echoText = text.slice(colon + 1)
    const n = strtoul(echoText)
    echoPort = toInt(n.value)
    // autossh 1.4g lets any non-zero int through (and ssh fails later); a port is 1..65535
    if (!n.whole || echoPort < 1 || echoPort > 65535) {
      return fail(`invalid echo port  "${echoText}"`)
    }
  }
  const n = strtoul(portText)
  if (!n.whole) return fail(`invalid port "${portText}"`)
  const port = toInt(n.value)
  if (port === 0) return { ok: true, spec: { mode: 'off' } }
  if (port > 65534 || port < 0) return fail(`monitor port (${port}) out of range`)
  return {
    ok: true,
    spec: echoPort === undefined ? { mode: 'pair', port } : { mode: 'echo', port, echoPort },
  }
}

/** the port forwards that carry the test traffic */
export const forwards = (spec: MonitorSpec, host = MONITOR_HOST): string[] => {
  switch (spec.mode) {
    case 'off':
      return []
    case 'echo':
      return ['-L', `${spec.port}:${hostPort(host, spec.echoPort)}`]
    case 'pair':
      return ['-L', `${spec.port}:${hostPort(host, spec.port)}`, '-R', `${spec.port}:${hostPort(host, spec.port + 1)}`]
  }
}
