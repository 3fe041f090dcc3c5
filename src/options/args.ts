// autossh's command line: its own -M, -f and -V among ssh's options, and the
// ssh argv it builds from the rest.
import { getopt, takesArgument, type Token } from './getopt.js'
import { optionString, type Flavor } from '../ssh/flavor.js'

export type CommandLine =
  | { action: 'version' }
  | { action: 'usage'; complaint?: string }
  | {
      action: 'run'
      /** the monitor spec, `port[:echo_port]`: AUTOSSH_PORT when set, else the last -M; undefined: neither */
      monitor: string | undefined
      daemon: boolean
      tokens: Token[]
    }

export const readCommandLine = (argv: readonly string[], envPort: string | undefined, flavor: Flavor = 'openssh'): CommandLine => {
  const { tokens, sequence, error } = getopt(argv, optionString(flavor))
  let monitor: string | undefined
  let daemon = false
  for (const { ch, arg } of sequence) {
    if (ch === 'V') return { action: 'version' }
    if (ch === 'M') monitor = arg
    if (ch === 'f') daemon = true
  }
  if (error !== undefined) return { action: 'usage', complaint: error }
  if (envPort !== undefined && envPort !== '') monitor = envPort
  const hasHost = tokens.some(t => t.kind === 'operand' || t.kind === 'after')
  if (!hasHost) return { action: 'usage' }
  return { action: 'run', monitor, daemon, tokens }
}

/** autossh's strip_arg(): drop 'f' letters from a word up to the first letter that takes an argument */
export const stripF = (word: string, flavor: Flavor = 'openssh'): string => {
  if (word.length < 2 || word[0] !== '-') return word
  let out = '-'
  for (let i = 1; i < word.length; i++) {
    const ch = word[i]!
    if (takesArgument(optionString(flavor), ch)) return out + word.slice(i)
    if (ch !== 'f') out += ch
  }
  return out === '-' ? '' : out
}

/** the words one option token gives ssh once -f and -M, and the letters in drop, are taken out */
const keptWords = (t: Token & { kind: 'options' }, drop: string): string[] => {
  const kept = t.opts.filter(o => o.ch !== 'f' && o.ch !== 'M' && !drop.includes(o.ch))
  if (kept.length === t.opts.length) return t.next === undefined ? [t.raw] : [t.raw, t.next]
  if (kept.length === 0) return []
  const last = kept[kept.length - 1]!
  const letters = '-' + kept.map(o => o.ch).join('')
  if (last.arg === undefined) return [letters]
  // the argument stays where it was: attached, or the next word
  return t.next === undefined ? [letters + last.arg] : [letters, last.arg]
}

/**
 * The argv given to ssh (after the program path): the monitor forwards first
 * of all, wherever -M stood (1.4g does so), then the user's words in
 * getopt's order, without -f, -M, the first '--' and the option letters in drop.
 */
export const sshArgs = (tokens: readonly Token[], forwards: readonly string[], flavor: Flavor = 'openssh', drop = ''): string[] => {
  const out: string[] = [...forwards]
  for (const t of tokens) {
    switch (t.kind) {
      case 'options':
        out.push(...keptWords(t, drop))
        break
      case 'end':
        break
      case 'operand':
        // autossh's add_arg() skips empty words
        if (t.raw !== '') out.push(t.raw)
        break
      case 'after': {
        // autossh strips -f even after '--' (but does not go to the background)
        const word = stripF(t.raw, flavor)
        if (word !== '') out.push(word)
        break
      }
    }
  }
  return out
}

/** OpenSSH's AddressFamily in a -o argument, lower case */
const addressFamily = (line: string): string | undefined =>
  /^\s*addressfamily(?:\s*=\s*|\s+)"?([^\s"]*)"?\s*$/i.exec(line)?.[1]!.toLowerCase()

/**
 * Does ssh's command line make it use IPv6 only, and so listen on ::1 only?
 * As in OpenSSH's ssh.c: the last -4 or -6 wins, and beats -o AddressFamily,
 * where the first one wins. Dropbear's dbclient has neither.
 */
export const ipv6Only = (tokens: readonly Token[], flavor: Flavor = 'openssh'): boolean => {
  if (flavor !== 'openssh') return false
  let flag: string | undefined
  let option: string | undefined
  for (const t of tokens) {
    if (t.kind !== 'options') continue
    for (const o of t.opts) {
      if (o.ch === '4' || o.ch === '6') flag = o.ch
      else if (o.ch === 'o') option ??= addressFamily(o.arg!)
    }
  }
  return flag === undefined ? option === 'inet6' : flag === '6'
}
