import t from 'tap'
import { ipv6Only, readCommandLine, sshArgs, stripF } from '../../src/options/args.js'
import { forwards, parseMonitorSpec } from '../../src/monitor/spec.js'
import type { Flavor } from '../../src/ssh/flavor.js'

/** what ssh gets for a command line, as autossh builds it */
const argvFor = (argv: string[], envPort?: string, flavor?: Flavor): string[] | string => {
  const line = readCommandLine(argv, envPort, flavor)
  if (line.action === 'usage' && line.complaint) return line.complaint
  if (line.action !== 'run') return line.action
  if (line.monitor === undefined) return 'no monitor port'
  const spec = parseMonitorSpec(line.monitor)
  if (!spec.ok) return spec.error
  return sshArgs(line.tokens, forwards(spec.spec), flavor)
}

const PAIR = ['-L', '20000:127.0.0.1:20000', '-R', '20000:127.0.0.1:20001']

t.test('-M goes, and the monitor forwards come first, wherever it stood (as 1.4g)', async t => {
  t.same(argvFor(['-M', '20000', 'host', '-N']), [...PAIR, '-N', 'host'])
  t.same(argvFor(['-N', '-M20000', 'host']), [...PAIR, '-N', 'host'])
  t.same(argvFor(['-N', 'host', '-L', '1:h:2', '-M', '20000']), [...PAIR, '-N', '-L', '1:h:2', 'host'])
  t.same(argvFor(['-M', '20000:7', 'host']), ['-L', '20000:127.0.0.1:7', 'host'])
  t.same(argvFor(['-M', '0', '-N', 'host']), ['-N', 'host'])
  t.same(argvFor(['-M', '0x4e20', 'host']), [...PAIR, 'host'], 'ports are numbers, written back in decimal')
})

t.test('the last -M wins', async t => {
  t.same(argvFor(['-M', '0', '-N', '-M', '5', 'host']), ['-L', '5:127.0.0.1:5', '-R', '5:127.0.0.1:6', '-N', 'host'])
})

t.test('AUTOSSH_PORT beats -M; its forwards come first', async t => {
  t.same(argvFor(['-N', 'host'], '20000'), [...PAIR, '-N', 'host'])
  t.same(argvFor(['-M', '30000', '-N', 'host'], '20000'), [...PAIR, '-N', 'host'])
  t.same(argvFor(['-N', '-M30000', 'host'], '20000'), [...PAIR, '-N', 'host'])
  t.same(argvFor(['-N', 'host'], '0'), ['-N', 'host'])
  t.same(argvFor(['-N', 'host'], ''), 'no monitor port', 'an empty AUTOSSH_PORT is unset')
})

t.test('neither -M nor AUTOSSH_PORT: a run without a monitor port (main picks one); no host: usage', async t => {
  t.same(argvFor(['-N', 'host']), 'no monitor port')
  t.same(argvFor(['host'], undefined), 'no monitor port')
  // getopt decides, not the look of the words (the wrapper's regular expression sees -M here)
  t.same(argvFor(['--', '-M', '5', 'host']), 'no monitor port', '-M after -- is ssh\'s')
  t.same(argvFor(['-o', '-M 5', 'host']), 'no monitor port', '-M inside an argument is not one')
  t.same(argvFor([]), 'usage')
  t.same(argvFor(['-N']), 'usage')
  t.same(argvFor(['-M', '0']), 'usage')
})

t.test('-f is autossh\'s wherever it stands, never inside an argument', async t => {
  t.same(argvFor(['-M', '0', '-fN', 'host']), ['-N', 'host'])
  t.same(argvFor(['-M', '0', '-Nf', 'host']), ['-N', 'host'])
  t.same(argvFor(['-M', '0', '-fp', '22', 'host']), ['-p', '22', 'host'], 'the argument stays the next word')
  t.same(argvFor(['-M', '0', '-fp22', 'host']), ['-p22', 'host'], 'or attached')
  t.same(argvFor(['-M', '0', '-vfv', '-f', 'host']), ['-vv', 'host'])
  t.same(argvFor(['-M', '0', '-fl', 'f', 'host']), ['-l', 'f', 'host'])
  t.same(argvFor(['-M', '0', '-lf', 'host']), ['-lf', 'host'])
  t.same(argvFor(['-M', '0', '-oForwardAgent=yes', 'host']), ['-oForwardAgent=yes', 'host'])
  t.same(argvFor(['-M', '0', '-o', '-fN', 'host']), ['-o', '-fN', 'host'])
  t.same(argvFor(['-M', '0', '-vfo', 'Foo=f', 'host']), ['-vo', 'Foo=f', 'host'])
  t.same(argvFor(['-M', '0', '-fvoFoo', 'host']), ['-voFoo', 'host'])
  const line = readCommandLine(['-M', '0', 'host', '-f'], undefined)
  t.equal(line.action === 'run' && line.daemon, true)
})

t.test('-M inside a cluster is autossh\'s too (1.4g passed it to ssh)', async t => {
  t.same(argvFor(['-fM', '20000', 'host']), [...PAIR, 'host'])
  t.same(argvFor(['-NM20000', 'host']), [...PAIR, '-N', 'host'])
  t.same(argvFor(['-NfM', '20000', 'host']), [...PAIR, '-N', 'host'])
})

t.test('the first -- is autossh\'s; after it all is ssh\'s but -f', async t => {
  t.same(argvFor(['-M', '20000', 'host', '-N', '--', '-M', '5', 'ls']), [...PAIR, '-N', 'host', '-M', '5', 'ls'])
  t.same(argvFor(['-M', '0', '-N', 'host', '--', '--', 'x', '--']), ['-N', 'host', '--', 'x', '--'])
  t.same(argvFor(['-M', '0', '--', 'host', 'tail', '-f', 'x']), ['host', 'tail', 'x'], 'as 1.4g: -f is dropped')
  t.same(argvFor(['-M', '0', '--', 'host', 'ls', '-af']), ['host', 'ls', '-a'])
  t.same(argvFor(['-M', '0', '-E', '--x', 'host']), ['-E', '--x', 'host'], 'an argument is not a terminator')
})

t.test('options keep their order and arguments; current OpenSSH letters', async t => {
  t.same(argvFor(['host', '-M', '0', '-L', '1:a:2', 'cmd', 'arg', '-x']), ['-L', '1:a:2', '-x', 'host', 'cmd', 'arg'])
  t.same(argvFor(['-M', '0', '-B', 'eth0', '-J', 'jump', '-P', 'tag', '-W', 'h:1', 'host', '-N']), [
    '-B', 'eth0', '-J', 'jump', '-P', 'tag', '-W', 'h:1', '-N', 'host',
  ])
  t.same(argvFor(['-M', '0', 'host', '', 'x']), ['host', 'x'], 'empty operands are dropped as 1.4g does')
  t.same(argvFor(['-M', '0', '-l', '', 'host']), ['-l', '', 'host'], 'an empty argument stays')
})

t.test('version, usage', async t => {
  t.same(readCommandLine(['-V'], undefined), { action: 'version' })
  t.same(readCommandLine(['-M', '0', 'h', '-V'], undefined), { action: 'version' })
  t.same(readCommandLine(['-V', '-Z'], undefined), { action: 'version' })
  t.same(readCommandLine(['-Z', '-V'], undefined), { action: 'usage', complaint: "autossh: invalid option -- 'Z'" })
  t.match(readCommandLine(['host'], undefined), { action: 'run', monitor: undefined }, 'no -M: a port is picked')
  t.same(readCommandLine(['-M', '0'], undefined), { action: 'usage' })
  t.same(readCommandLine(['-M', '0', '--'], undefined), { action: 'usage' })
  t.match(readCommandLine(['--', '-M', '0', 'host'], undefined), { action: 'run', monitor: undefined }, 'after --, -M is ssh\'s')
  t.equal(readCommandLine(['-M', '0', '--', 'host'], undefined).action, 'run')
})

t.test('stripF', async t => {
  t.equal(stripF('-f'), '')
  t.equal(stripF('-'), '-')
  t.equal(stripF('x-f'), 'x-f')
  t.equal(stripF('-ff'), '')
  t.equal(stripF('-fof'), '-of')
})

t.test('dbclient\'s letters: -K and -I take seconds, and keep them', async t => {
  const db = (argv: string[]) => argvFor(argv, undefined, 'dropbear')
  t.same(db(['-M', '20000', '-K', '30', '-N', 'host']), [...PAIR, '-K', '30', '-N', 'host'])
  t.same(db(['-M', '20000', '-K5', '-I600', 'host']), [...PAIR, '-K5', '-I600', 'host'])
  t.same(db(['-M', '0', 'host', '-I', '600', '-y', '-y']), ['-I', '600', '-y', '-y', 'host'])
  t.same(db(['-M', '0', '-fK', '30', '-zqN', 'host']), ['-K', '30', '-zqN', 'host'], '-f is autossh\'s here too')
  t.same(db(['-M', '0', '-Kf', 'host']), ['-Kf', 'host'], 'an argument keeps its f')
  t.same(db(['-M', '0', '-b', '10.0.0.1:0', '-W', '65536', 'host']), ['-b', '10.0.0.1:0', '-W', '65536', 'host'])
  t.same(db(['-M', '0', '--', 'host', 'cmd', '-Kf']), ['host', 'cmd', '-Kf'], 'after --: no f stripped from an argument')
  t.equal(db(['-V']), 'version', '-V is autossh\'s')
  t.equal(db(['-M', '0', '-6', 'host']), "autossh: invalid option -- '6'", 'not a dbclient option')
  t.equal(db(['-M', '0', '-v', 'host']), "autossh: invalid option -- 'v'")
})

t.test('OpenSSH\'s letters are read as 1.4g reads them: its -K takes nothing', async t => {
  t.same(argvFor(['-M', '0', '-K', '30', '-N', 'host']), ['-K', '-N', '30', 'host'], 'ssh would take 30 for the host')
  t.equal(argvFor(['-M', '0', '-K5', 'host']), "autossh: invalid option -- '5'")
  t.same(argvFor(['-M', '0', '--', 'host', 'cmd', '-Kf']), ['host', 'cmd', '-K'])
  t.equal(stripF('-Kf', 'dropbear'), '-Kf')
  t.equal(stripF('-Kf'), '-K')
})

t.test('ipv6Only: the last -4 or -6, else the first -o AddressFamily, as ssh.c', async t => {
  const v6 = (argv: string[], flavor?: Flavor) => {
    const line = readCommandLine(['-M', '0', ...argv, 'host'], undefined, flavor)
    if (line.action !== 'run') throw new Error(line.action)
    return ipv6Only(line.tokens, flavor)
  }
  t.equal(v6([]), false)
  t.equal(v6(['-6']), true)
  t.equal(v6(['-6N']), true, 'in a cluster')
  t.equal(v6(['-N', '-v6']), true)
  t.equal(v6(['-4']), false)
  t.equal(v6(['-6', '-4']), false, 'the last one wins')
  t.equal(v6(['-4', '-6']), true)
  t.equal(v6(['-o', 'AddressFamily=inet6']), true)
  t.equal(v6(['-oaddressfamily = INET6']), true)
  t.equal(v6(['-o', 'AddressFamily "inet6"']), true)
  t.equal(v6(['-o', 'AddressFamily=inet', '-o', 'AddressFamily=inet6']), false, 'the first -o wins')
  t.equal(v6(['-o', 'Port=22', '-o', 'AddressFamily=inet6']), true, 'other -o do not count')
  t.equal(v6(['-o', 'AddressFamily=inet6', '-4']), false, '-4 beats -o')
  t.equal(v6(['-o', 'AddressFamily=inet', '-6']), true, '-6 beats -o')
  t.equal(v6(['-o', 'AddressFamilyX=inet6']), false)
  t.equal(v6(['-l', '-6']), false, 'an argument is not an option')
  t.equal(v6(['-o', 'AddressFamily=inet6'], 'dropbear'), false, 'dbclient has no such option')
})
