// Lines out of a byte stream, for the three streams autossh reads line by
// line: ssh's stderr (latin1, a long line's tail, where ssh's words are),
// `ip monitor`'s output (utf8, a long line's head) and the monitor's test
// connections (latin1, the line as it came; a stranger that sends too much
// without a newline is closed). Memory stays bounded whatever comes.
import { StringDecoder } from 'node:string_decoder'

/**
 * What becomes of a line longer than maxLength: 'head' gives its first
 * maxLength characters as soon as they are there and drops the rest up to
 * its newline; 'tail' gives its last maxLength characters when its newline
 * comes. A function is called once more than maxLength characters wait for a
 * newline, and nothing more is given (a longer line that comes whole, with
 * its newline, is given whole).
 */
export type OverLong = 'head' | 'tail' | (() => void)

export interface LineOptions {
  /** how the bytes are read; 'utf8' unless told (a character split across chunks is whole) */
  encoding?: BufferEncoding
  /** the longest line kept, in characters; MAX_LINE unless told */
  maxLength?: number
  /** 'head' unless told */
  overLong?: OverLong
  /** each line with the \n (or \r\n) that ended it; else without, and without a \r before it */
  keepEnd?: boolean
}

export interface LineSplitter {
  /** feed bytes (or text) as they come */
  push(chunk: Buffer | string): void
  /** the stream ended: a last line without a newline is given too */
  end(): void
}

/** lines longer than this are cut unless told: ssh's own lines are shorter than 1 kB */
export const MAX_LINE = 2048

export const splitLines = (onLine: (line: string) => void, o: LineOptions = {}): LineSplitter => {
  const { encoding = 'utf8', maxLength = MAX_LINE, overLong = 'head', keepEnd = false } = o
  const decoder = new StringDecoder(encoding)
  let buf = ''
  /** 'head': the rest of a line already given cut is being dropped */
  let skipping = false
  /** a function's overLong: it was called, and everything after is dropped */
  let failed = false
  /** raw: a line with its \n, a head cut off, or the last line of the stream */
  const emit = (raw: string) => {
    let line = raw
    if (!keepEnd) {
      let end = raw.length
      if (raw.charCodeAt(end - 1) === 0x0a) end--
      if (raw.charCodeAt(end - 1) === 0x0d) end--
      line = raw.slice(0, end)
    }
    onLine(overLong === 'head' ? line.slice(0, maxLength) : overLong === 'tail' ? line.slice(-maxLength) : line)
  }
  const take = (text: string) => {
    if (failed) return
    let from = 0
    for (;;) {
      const nl = text.indexOf('\n', from)
      if (nl < 0) break
      if (!skipping) emit(buf + text.slice(from, nl + 1))
      buf = ''
      skipping = false
      from = nl + 1
    }
    if (skipping) return
    buf += text.slice(from)
    if (buf.length <= maxLength) return
    if (overLong === 'head') {
      emit(buf.slice(0, maxLength))
      buf = ''
      skipping = true
    } else if (overLong === 'tail') {
      buf = buf.slice(-maxLength)
    } else {
      buf = ''
      failed = true
      overLong()
    }
  }
  return {
    push: chunk => take(typeof chunk === 'string' ? chunk : decoder.write(chunk)),
    end() {
      take(decoder.end())
      if (buf !== '' && !skipping) emit(buf)
      buf = ''
      skipping = false
    },
  }
}
