// POSIX getopt() as glibc does it, with GNU argument permutation: options
// after the first operand are still options, and the result keeps every
// token as the user wrote it so that ssh's options pass through untouched.

/** One option letter found on the command line. */
export interface Opt {
  ch: string
  /** its argument, for letters followed by ':' in the option string */
  arg?: string
}

export type Token =
  /** one argv word holding option letters, and the next word when that is the last letter's argument */
  | { kind: 'options'; raw: string; opts: Opt[]; next?: string }
  /** a word that is not an option (the host, the remote command) */
  | { kind: 'operand'; raw: string }
  /** the '--' that ended option parsing */
  | { kind: 'end' }
  /** a word after that '--': nobody parsed it */
  | { kind: 'after'; raw: string }

export interface Parsed {
  /** the words in glibc's permuted order: options, then '--', then operands */
  tokens: Token[]
  /** every option letter in command-line order, up to the first error */
  sequence: Opt[]
  /** glibc's complaint, when parsing stopped at a bad option */
  error?: string
}

export const takesArgument = (optstring: string, ch: string): boolean | undefined => {
  const at = ch === ':' ? -1 : optstring.indexOf(ch)
  return at < 0 ? undefined : optstring[at + 1] === ':'
}

export const getopt = (argv: readonly string[], optstring: string, progname = 'autossh'): Parsed => {
  const options: Token[] = []
  const operands: Token[] = []
  const sequence: Opt[] = []
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!
    if (word === '--') {
      const rest = argv.slice(i + 1).map((raw): Token => ({ kind: 'after', raw }))
      return { tokens: [...options, { kind: 'end' }, ...operands, ...rest], sequence }
    }
    if (word.length < 2 || word[0] !== '-') {
      operands.push({ kind: 'operand', raw: word })
      continue
    }
    const token: Token & { kind: 'options' } = { kind: 'options', raw: word, opts: [] }
    options.push(token)
    for (let j = 1; j < word.length; j++) {
      const ch = word[j]!
      const wantsArg = takesArgument(optstring, ch)
      if (wantsArg === undefined) {
        return { tokens: options, sequence, error: `${progname}: invalid option -- '${ch}'` }
      }
      if (!wantsArg) {
        token.opts.push({ ch })
        sequence.push({ ch })
        continue
      }
      let arg: string
      if (j + 1 < word.length) {
        arg = word.slice(j + 1)
      } else if (i + 1 < argv.length) {
        arg = argv[++i]!
        token.next = arg
      } else {
        return { tokens: options, sequence, error: `${progname}: option requires an argument -- '${ch}'` }
      }
      token.opts.push({ ch, arg })
      sequence.push({ ch, arg })
      break
    }
  }
  return { tokens: [...options, ...operands], sequence }
}
