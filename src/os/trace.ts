// Tracing under DEBUG=autossh:*, through the debug package. It is loaded only
// when DEBUG is set: otherwise it would cost 6 MB and 10 ms at every start.
import type createDebug from 'debug'

export type Trace = (formatter: string, ...args: unknown[]) => void

let make: typeof createDebug | undefined

/** load debug if DEBUG asks for tracing; before this, and without DEBUG, tracing costs nothing */
export const startTracing = async (env: NodeJS.ProcessEnv = process.env): Promise<void> => {
  if (env.DEBUG) make = (await import('debug')).default
}

export const tracer = (namespace: string): Trace => {
  let trace: Trace | undefined
  return (formatter, ...args) => {
    if (make === undefined) return
    ;(trace ??= make(namespace))(formatter, ...args)
  }
}
