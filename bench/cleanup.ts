// Everything the bench starts has to go however the bench ends: done, failed,
// Ctrl-C, SIGTERM, SIGHUP. Each resource registers how it is undone; setup
// steps still under way are tracked, so that what they make while the bench
// is stopping is undone too.

type Undo = () => Promise<void> | void

const undos: Undo[] = []
const inFlight = new Set<Promise<unknown>>()
let stopping = false

/** thrown into the bench's flow when it is stopping */
export class Stopped extends Error {
  constructor() {
    super('stopping')
  }
}

export const isStopping = (): boolean => stopping

const runUndo = async (undo: Undo) => {
  try {
    await undo()
  } catch (err) {
    process.stderr.write(`bench: cleanup: ${(err as Error).message}\n`)
  }
}

/**
 * Register how to undo something just made; returns a function that undoes it
 * now and forgets it. When the bench is already stopping, it is undone at once
 * and the caller gets Stopped.
 */
export const own = (undo: Undo): (() => Promise<void>) => {
  if (stopping) {
    track(runUndo(undo))
    throw new Stopped()
  }
  undos.push(undo)
  return async () => {
    const i = undos.indexOf(undo)
    if (i < 0) return
    undos.splice(i, 1)
    await runUndo(undo)
  }
}

/** a setup step whose result the cleanup must wait for, since it may own() something when it ends */
export const track = <T>(p: Promise<T>): Promise<T> => {
  inFlight.add(p)
  const forget = () => void inFlight.delete(p)
  p.then(forget, forget)
  return p
}

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))

/** undo everything, newest first; setup steps still running get 20 s to end and be undone */
export const cleanupAll = async (): Promise<void> => {
  stopping = true
  for (let round = 0; round < 3 && (undos.length > 0 || inFlight.size > 0); round++) {
    for (let undo; (undo = undos.pop()); ) await runUndo(undo)
    if (inFlight.size > 0) await Promise.race([Promise.allSettled([...inFlight]), sleep(20000)])
  }
}

/** on a signal: say so, clean up, exit as a process killed by it would be seen (128 + n) */
export const cleanUpOnSignals = (): void => {
  const on = (signal: NodeJS.Signals, code: number) =>
    process.on(signal, () => {
      if (stopping) return
      process.stderr.write(`\nbench: ${signal}, cleaning up\n`)
      void cleanupAll().then(() => process.exit(code))
    })
  on('SIGINT', 130)
  on('SIGTERM', 143)
  on('SIGHUP', 129)
}
