// One logger for all of autossh's messages: filtered by level, escaped, sent
// to one target, copied to stderr under AUTOSSH_DEBUG.
import { LOG_ERR } from './levels.js'
import { escapeControls } from './escape.js'
import { perrorLine } from './format.js'
import { writeAll, type Target } from './targets.js'

/** how long autossh's exit waits for the last lines to leave */
export const CLOSE_MS = 1000

export class Logger {
  constructor(
    public target: Target,
    public level: number,
    /** AUTOSSH_DEBUG: every line on stderr too */
    public copyToStderr: boolean,
  ) {}

  /** true when the line was logged and reached stderr */
  log(level: number, message: string): boolean {
    if (level > this.level) return false
    // the one place for it: every target, every message, whoever made it
    const line = escapeControls(message)
    if (this.target.write(level, line)) return true
    if (this.copyToStderr) writeAll(2, perrorLine(process.pid, line))
    return this.copyToStderr
  }

  /** a message that ends autossh: logged, and on stderr whatever the settings */
  fatal(message: string): void {
    if (!this.log(LOG_ERR, message)) writeAll(2, `autossh: ${escapeControls(message)}\n`)
  }

  /** switch target (once the log file is open), closing the old one */
  use(target: Target): void {
    const old = this.target
    this.target = target
    if (old === target) return
    old.close()
    void old.closed?.(CLOSE_MS)
  }

  /** close the target; resolves once its lines are out (CLOSE_MS at most) */
  async close(): Promise<void> {
    this.target.close()
    await this.target.closed?.(CLOSE_MS)
  }
}
