// autossh's own command-line surface: its version and its usage text.
import { Command } from 'commander'
import { GATE_TIME } from './settings.js'

export const VERSION = '1.4g+ts.0.1.0'

const DETAILS = `
    -M specifies monitor port. May be overridden by environment
       variable AUTOSSH_PORT. 0 turns monitoring loop off.
       Alternatively, a port for an echo service on the remote
       machine may be specified. (Normally port 7.)
    -f run in background (autossh handles this, and does not
       pass it to ssh.)
    -V print autossh version and exit.

Environment variables are:
    AUTOSSH_GATETIME    - how long must an ssh session be established
                          before we decide it really was established
                          (in seconds). Default is ${GATE_TIME} seconds; use of -f
                          flag sets this to 0.
    AUTOSSH_LOGFILE     - file to log to (default is to use the syslog
                          facility)
    AUTOSSH_LOGLEVEL    - level of log verbosity
    AUTOSSH_MAXLIFETIME - set the maximum time to live (seconds)
    AUTOSSH_MAXSTART    - max times to restart (default is no limit)
    AUTOSSH_MESSAGE     - message to append to echo string (max 64 bytes)
    AUTOSSH_PATH        - path to ssh if not default
    AUTOSSH_PIDFILE     - write pid to this file
    AUTOSSH_POLL        - how often to check the connection (seconds)
    AUTOSSH_FIRST_POLL  - time before first connection check (seconds)
    AUTOSSH_PORT        - port to use for monitor connection
    AUTOSSH_DEBUG       - turn logging to maximum verbosity and log to
                          stderr
`

/**
 * The command-line surface. Parsing itself is getopt's (see args.ts): ssh's
 * options must pass through in order, which no option library does.
 */
export const program = new Command('autossh')
  .usage('[-V] [-M monitor_port[:echo_port]] [-f] [SSH_OPTIONS]')
  .version(VERSION, '-V')
  .helpOption(false)
  .configureHelp({ formatHelp: (cmd, helper) => `usage: ${helper.commandUsage(cmd)}\n` })

export const versionLine = (): string => `${program.name()} ${program.version()}\n`

export const usageText = (): string => program.helpInformation() + DETAILS + '\n'
