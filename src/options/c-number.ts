// autossh reads every number with strtoul()/strtol() in base 0 and then
// narrows it into an int or a double. Reproducing that exactly keeps odd
// inputs (" 5", "0x10", "010", "-1", "4294967296") meaning what they meant.

const ULONG_MAX = (1n << 64n) - 1n
const LONG_MAX = (1n << 63n) - 1n
const LONG_MIN = -(1n << 63n)

export interface CNumber {
  /** the value strtoul/strtol returned */
  value: bigint
  /** true when the whole string was a number (C: `*s != '\0' && *end == '\0'`) */
  whole: boolean
}

const isSpace = (c: string) => ' \t\n\v\f\r'.includes(c)

const digitValue = (c: string): number => {
  const d = parseInt(c, 36)
  return Number.isNaN(d) ? 99 : d
}

const scan = (s: string): { negative: boolean; magnitude: bigint; overflow: boolean; end: number } => {
  let i = 0
  while (i < s.length && isSpace(s[i]!)) i++
  let negative = false
  if (s[i] === '+' || s[i] === '-') {
    negative = s[i] === '-'
    i++
  }
  let base = 10
  if (s[i] === '0' && (s[i + 1] === 'x' || s[i + 1] === 'X') && digitValue(s[i + 2] ?? '') < 16) {
    base = 16
    i += 2
  } else if (s[i] === '0') {
    base = 8
  }
  const first = i
  let magnitude = 0n
  let overflow = false
  while (i < s.length && digitValue(s[i]!) < base) {
    magnitude = magnitude * BigInt(base) + BigInt(digitValue(s[i]!))
    if (magnitude > ULONG_MAX) overflow = true
    i++
  }
  // no digits at all: C leaves end at the very start of the string
  return { negative, magnitude, overflow, end: i === first ? 0 : i }
}

export const strtoul = (s: string): CNumber => {
  const { negative, magnitude, overflow, end } = scan(s)
  let value = overflow ? ULONG_MAX : magnitude
  if (!overflow && negative) value = BigInt.asUintN(64, -value)
  return { value, whole: s.length > 0 && end === s.length }
}

export const strtol = (s: string): CNumber => {
  const { negative, magnitude, end } = scan(s)
  const signed = negative ? -magnitude : magnitude
  const value = signed > LONG_MAX ? LONG_MAX : signed < LONG_MIN ? LONG_MIN : signed
  return { value, whole: s.length > 0 && end === s.length }
}

/** C's conversion of a long into an int: keep the low 32 bits */
export const toInt = (v: bigint): number => Number(BigInt.asIntN(32, v))
