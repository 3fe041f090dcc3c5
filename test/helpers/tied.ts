// Every process a test starts dies with the test, however the test ends: a
// tap timeout kills the test process with a signal, and 'exit' handlers do
// not run then. Started through setpriv with a parent-death signal, a child
// gets SIGKILL when the test process goes, even on SIGKILL. (The signal
// holds across exec, not across fork: what the child starts, it must tie.)
import { which } from './needs.js'

/** the argv that runs argv tied to this process */
export const tied = (argv: readonly string[]): string[] => {
  const setpriv = which('setpriv')
  return setpriv ? [setpriv, '--pdeathsig', 'KILL', '--', ...argv] : [...argv]
}
