// One logger for all of autossh's messages: filtered by level, sent to one
// target, copied to stderr under AUTOSSH_DEBUG.
import { LOG_ERR } from './levels.js'
import { perrorLine } from './format.js'
import { writeAll, type Target } from './targets.js'

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
    this.target.write(level, message)
    if (this.target.name === 'stderr') return true
    if (this.copyToStderr) writeAll(2, perrorLine(process.pid, message))
    return this.copyToStderr
  }

  /** a message that ends autossh: logged, and on stderr whatever the settings */
  fatal(message: string): void {
    if (!this.log(LOG_ERR, message)) writeAll(2, `autossh: ${message}\n`)
  }

  /** switch target (once the log file is open), closing the old one */
  use(target: Target): void {
    const old = this.target
    this.target = target
    if (old !== target) old.close()
  }

  /** close the target; resolves once its lines are out (a second at most) */
  async close(): Promise<void> {
    this.target.close()
    if (this.target.closed) {
      await Promise.race([this.target.closed(), new Promise(r => setTimeout(r, 1000).unref())])
    }
  }
}
