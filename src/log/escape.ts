// Control characters made visible before a message is logged: whatever comes
// from outside (a line read back from the monitor port, ssh's stderr, a
// setting) stays on one line of the log, and cannot start a line of its own
// there (a fake `ssh exited ...` for a log watcher to act on), nor drive a
// terminal that shows the log. autossh's own messages have none, so they are
// left exactly as 1.4g writes them.

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' }

/**
 * C0 controls, DEL and C1 controls (every Unicode "Cc") as C escapes: \n, \r,
 * \t by name, the rest as \xHH. C1 too because the monitor reads latin1, so
 * a byte 0x85 (NEL, a line break to some readers) or 0x9b (CSI) arrives as
 * that character. A backslash is left alone: the point is one message per
 * line, and an escaped backslash would change lines autossh 1.4g writes (a
 * path with a backslash in it).
 */
export const escapeControls = (message: string): string =>
  message.replace(/[\x00-\x1f\x7f-\x9f]/g, c => NAMED[c] ?? '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0'))
