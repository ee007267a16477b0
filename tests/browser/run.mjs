// Runs the browser tests against ONE hub for the whole run (CTest's browser_console):
//
//   node tests/browser/run.mjs [FILE.test.mjs ...]     (default: every tests/browser/*.test.mjs)
//
// Starts a hub with tests/browser/lib/start-hub.sh, hands it to the test files through
// MASH_BROWSER_HUB (a 0600 file holding its description, staff passwords included), runs
// `node --test` on them, then stops the hub. Exit status: the tests' status, or 1 when they passed
// but a hub process did not exit cleanly.
//
// When Chromium or console/node_modules is missing it skips (exit 77, CTest's SKIP_RETURN_CODE),
// unless MASH_REQUIRE_BROWSER=1 (./mash test, which installs them), where that is a failure.
// A missing console/dist/ is built first (npm run build --prefix console).
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const repoRoot = resolve(here, '../..')
const consoleDir = join(repoRoot, 'console')
const chromium = process.env.MASH_CHROMIUM || '/usr/bin/chromium'

const missing = []
if (!existsSync(chromium)) missing.push(`${chromium} (Debian package chromium)`)
if (!existsSync(join(consoleDir, 'node_modules/playwright-core'))) {
  missing.push('console/node_modules (npm ci --prefix console)')
}
if (missing.length) {
  const required = process.env.MASH_REQUIRE_BROWSER === '1'
  console.log(`browser tests: ${missing.join(' and ')} missing; ./mash test installs them` +
    (required ? '' : ' (skipped)'))
  process.exit(required ? 1 : 77)
}
if (!existsSync(join(consoleDir, 'dist/console.css'))) {
  const built = spawnSync('npm', ['run', 'build', '--prefix', consoleDir], { stdio: 'inherit' })
  if (built.status !== 0) process.exit(1)
}

const files = process.argv.length > 2
  ? process.argv.slice(2).map(f => resolve(f))
  : readdirSync(here).filter(f => f.endsWith('.test.mjs')).sort().map(f => join(here, f))

const { launchHub } = await import('./lib/hub.mjs')
const started = Date.now()
const { description, child, exited } = await launchHub()
console.log(`browser tests: hub at ${description.url} ready in ${((Date.now() - started) / 1000).toFixed(1)} s`)

const dir = mkdtempSync(join(tmpdir(), 'mash-browser-run-'))
const hubFile = join(dir, 'hub.json')
writeFileSync(hubFile, JSON.stringify(description), { mode: 0o600 })

// The hub must outlive the tests: if it stops on its own (a crash, or a signal from outside),
// say so, since the tests then fail with connection errors.
let testsDone = false
exited.then(c => {
  if (!testsDone) console.log(`browser tests: the hub stopped during the tests (start-hub.sh exit ${c}); the failures below follow from that`)
})

let code
try {
  code = await new Promise(resolve => {
    const tests = spawn(process.execPath, ['--test', '--test-reporter=spec', ...files], {
      stdio: 'inherit',
      env: { ...process.env, MASH_BROWSER_HUB: hubFile }
    })
    tests.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)))
  })
} finally {
  testsDone = true
  rmSync(dir, { recursive: true, force: true })
  if (child.exitCode === null) child.kill('SIGTERM')
}
const hubCode = await exited
if (hubCode !== 0) console.log(`browser tests: the hub did not stop cleanly (start-hub.sh exit ${hubCode})`)
process.exit(code !== 0 ? code : hubCode === 0 ? 0 : 1)
