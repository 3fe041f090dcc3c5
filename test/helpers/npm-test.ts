// `npm test` after the build: tap with the arguments given, then one line on
// how many tests were skipped for a missing package (the skip reasons of
// needs.ts's form, counted in the TAP that tap keeps of each test file under
// .tap/test-results), and which packages would run them. Exits as tap did.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { packagesOf } from './needs.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const RESULTS = join(ROOT, '.tap', 'test-results')

/** every .tap file under dir */
const tapFiles = (dir: string): string[] =>
  !existsSync(dir)
    ? []
    : readdirSync(dir, { withFileTypes: true }).flatMap(e =>
        e.isDirectory() ? tapFiles(join(dir, e.name)) : e.name.endsWith('.tap') ? [join(dir, e.name)] : [],
      )

/** the line: how many skips named a package, and the packages; '' when none did */
export const missingLine = (dir: string): string => {
  let count = 0
  const packages = new Set<string>()
  for (const file of tapFiles(dir))
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const m = /^\s*ok \d+ .*? # SKIP (.*)$/.exec(line)
      const named = m && packagesOf(m[1]!)
      if (!named) continue
      count++
      for (const p of named) packages.add(p)
    }
  if (count === 0) return ''
  const list = [...packages].sort()
  return `${count} test${count === 1 ? '' : 's'} skipped for missing packages: ${list.join(', ')} (apt-get install ${list.join(' ')})`
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // only this run's results are counted
  rmSync(RESULTS, { recursive: true, force: true })
  const env = { ...process.env, PATH: [join(ROOT, 'node_modules', '.bin'), process.env.PATH].join(delimiter) }
  const r = spawnSync('tap', process.argv.slice(2), { stdio: 'inherit', env, cwd: ROOT })
  const line = missingLine(RESULTS)
  if (line) process.stdout.write(`${line}\n`)
  if (r.signal) process.kill(process.pid, r.signal)
  process.exit(r.status ?? 1)
}
