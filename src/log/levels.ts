// syslog's levels, which autossh's messages and AUTOSSH_LOGLEVEL use.
export const LOG_EMERG = 0
export const LOG_ALERT = 1
export const LOG_CRIT = 2
export const LOG_ERR = 3
export const LOG_WARNING = 4
export const LOG_NOTICE = 5
export const LOG_INFO = 6
export const LOG_DEBUG = 7

/** syslog's facility "user", shifted as a priority needs it */
export const LOG_USER = 1 << 3
