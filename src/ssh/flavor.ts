// Which ssh autossh runs, OpenSSH's ssh or Dropbear's dbclient, and the
// option letters each reads: autossh reads ssh's command line with them, so
// that an option's argument is never taken for an option, nor the reverse.
import { basename } from 'node:path'

export type Flavor = 'openssh' | 'dropbear'

/** getopt() strings of each ssh, less -M and -V, which autossh takes for itself */
export const SSH_OPTIONS: Record<Flavor, string> = {
  // current OpenSSH's (ssh.c)
  openssh: '1246ab:c:e:fgi:kl:m:no:p:qstvw:xyAB:CD:E:F:GI:J:KL:NO:P:Q:R:S:TW:XY',
  // `dbclient -h` of Dropbear 2022.83; -K and -I take seconds, -b an address
  dropbear: 'b:c:fgi:l:m:o:p:qstyzAB:I:J:K:L:NR:TW:',
}

/** autossh's own getopt() string for a flavor of ssh */
export const optionString = (flavor: Flavor): string => `M:V${SSH_OPTIONS[flavor]}`

export const isFlavor = (name: string): name is Flavor => Object.hasOwn(SSH_OPTIONS, name)

/** the flavor of the program at path, by its name: dbclient is Dropbear's */
export const flavorOf = (path: string): Flavor => (basename(path) === 'dbclient' ? 'dropbear' : 'openssh')
