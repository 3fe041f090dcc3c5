// package.json: `npm ci` from a fresh clone must be quiet. npm 11 warns about
// every dependency whose install script package.json's allowScripts does not
// decide (and later npm versions skip them), so each one in the lockfile is
// decided there.
import t from 'tap'
import { readFileSync } from 'node:fs'

const read = (name: string) => JSON.parse(readFileSync(new URL(`../${name}`, import.meta.url), 'utf8'))
const pkg = read('package.json') as {
  allowScripts?: Record<string, boolean>
  bin: Record<string, string>
  man: string[]
  scripts: Record<string, string>
}
const lock = read('package-lock.json') as { packages: Record<string, { hasInstallScript?: boolean }> }

/** `node_modules/a/node_modules/@b/c` is @b/c */
const nameOf = (path: string) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length)

const withScripts = Object.entries(lock.packages)
  .filter(([path, p]) => path !== '' && p.hasInstallScript)
  .map(([path]) => nameOf(path))

t.test('every dependency with an install script is decided in allowScripts', async t => {
  t.ok(withScripts.length > 0, 'the lockfile has some (esbuild)')
  for (const name of withScripts) t.type(pkg.allowScripts?.[name], 'boolean', name)
})

t.test('esbuild runs without its postinstall: its binary comes as an optional dependency', async t => {
  // install.js only checks the binary and links it over the JS shim in bin/esbuild
  t.equal(pkg.allowScripts?.esbuild, false)
  const optional = Object.keys(lock.packages).filter(p => p.startsWith('node_modules/@esbuild/linux-'))
  t.ok(optional.length > 0, 'the lockfile has the Linux binaries')
})

t.test('installed as autossh and as autossh-ts, a name no distribution package has', async t => {
  t.same(pkg.bin, { autossh: 'dist/cli.cjs', 'autossh-ts': 'dist/cli.cjs' })
  t.same(pkg.man, ['man/autossh.1', 'man/autossh-ts.1'])
  // npm links man/autossh-ts.1 beside man/autossh.1 in PREFIX/share/man/man1
  t.equal(readFileSync(new URL('../man/autossh-ts.1', import.meta.url), 'utf8'), '.so man1/autossh.1\n')
})

t.test('npm install -g of the tarball is quiet: no script of ours that npm 11 asks about', async t => {
  // the tarball carries dist/ built by prepack; prepare would be listed as an install script not allowed
  for (const name of ['preinstall', 'install', 'postinstall', 'prepare']) t.notOk(pkg.scripts[name], name)
  t.equal(pkg.scripts.prepack, 'npm run build')
})
