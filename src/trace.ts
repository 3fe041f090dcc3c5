// Tracing under DEBUG=autossh:*, through the debug package. It is loaded only
// when DEBUG is set: otherwise it would cost 6 MB and 10 ms at every start.
import { createRequire } from 'node:module'
import type createDebug from 'debug'

export type Trace = (formatter: string, ...args: unknown[]) => void

const load = createRequire(import.meta.url)

export const tracer = (namespace: string, env: NodeJS.ProcessEnv = process.env): Trace =>
  env.DEBUG ? (load('debug') as typeof createDebug)(namespace) : () => {}
