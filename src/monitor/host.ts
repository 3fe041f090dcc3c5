// The monitor's address: where ssh's -L port listens for the test line, the
// far end of the forwards, and where the line comes back in pair mode.
import { isIP } from 'node:net'

/** 1.4g's, always */
export const MONITOR_HOST = '127.0.0.1'
/** with -6, ssh listens on ::1 only */
export const MONITOR_HOST_IPV6 = '::1'

/**
 * What AUTOSSH_MHOST may be: an IP address, not a name (nothing to resolve,
 * and the same address at both ends), and not the unspecified one (the
 * listening port would be open to every network).
 */
export const isMonitorHost = (text: string): boolean => isIP(text) !== 0 && !/^[0.]*$|^[0:]*$/.test(text)

export const isIPv6 = (host: string): boolean => isIP(host) === 6

/** `host:port`, an IPv6 address in brackets, as ssh's forwards want it and as the log shows it */
export const hostPort = (host: string, port: number): string => (isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`)
