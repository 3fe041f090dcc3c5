// The shapes of a log line.

const pad = (n: number) => String(n).padStart(2, '0')

/** strftime("%Y/%m/%d %H:%M:%S") in local time */
export const timestr = (d: Date): string =>
  `${d.getFullYear()}/${pad(d.getMonth() + 1)}/${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`

/** a line of AUTOSSH_LOGFILE */
export const fileLine = (d: Date, pid: number, message: string): string => `${timestr(d)} autossh[${pid}]: ${message}\n`

/** the copy on stderr that syslog's LOG_PERROR makes under AUTOSSH_DEBUG */
export const perrorLine = (pid: number, message: string): string => `autossh[${pid}]: ${message}\n`
