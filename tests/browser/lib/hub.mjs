// The browser-test harness: a real MASH hub (tests/browser/lib/start-hub.sh: mash-broker serving
// the web console, six agents on generated records, one staff account per role) and Debian's
// Chromium driven by playwright-core. See tests/browser/README.md.
//
//   import { startHub, stopHub, openBrowser, login, screenshot, checkA11y } from './lib/hub.mjs'
//   before(startHub); after(stopHub)
//   test('...', async () => { const page = await openBrowser(); await login(page, 'practitioner') })
//
// Chromium trusts exactly the broker's key: --ignore-certificate-errors-spki-list pins the SHA-256
// of the broker certificate's public key (SubjectPublicKeyInfo), so any other certificate error,
// or any other server, still fails; Playwright's ignoreHTTPSErrors stays off. Requests made from
// Node (hubFetch) verify the broker's chain against the hub's development CA.
import { spawn } from 'node:child_process'
import { createHash, X509Certificate } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { request as httpsRequest } from 'node:https'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')
export const consoleDir = join(repoRoot, 'console')
export const buildDir = resolve(process.env.MASH_BUILD_DIR || join(repoRoot, 'build/dev'))
export const screenshotDir = join(buildDir, 'screenshots')
export const chromiumPath = process.env.MASH_CHROMIUM || '/usr/bin/chromium'

// playwright-core and axe-core live in console/node_modules (npm ci --prefix console).
const requireFromConsole = createRequire(join(consoleDir, 'package.json'))
const { chromium } = requireFromConsole('playwright-core')
const axePath = requireFromConsole.resolve('axe-core/axe.min.js')

// Chromium's flags here: headless in a new temporary profile (Playwright makes one and passes
// --user-data-dir, which --ignore-certificate-errors-spki-list needs), and no calls home: without
// the background-networking flags Chromium keeps dialling hosts this machine cannot reach.
const chromiumArgs = [
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-extensions'
]

let hub = null // the running hub's description (start-hub.sh's JSON line)
let hubProcess = null
let hubExit = null // a promise of the hub process's exit code
let hubShared = false
let browser = null
const contexts = new Set()

// startHub(): starts a hub for this test file (about 20 to 60 s) and returns its description:
// { url, ca, cert, work, synth, logs, mashctl_env, users: { practitioner: { user, password, role,
// team, name, token_file }, practitioner2, manager, ig, dpo, admin, custodian } }.
// When MASH_BROWSER_HUB names a file holding such a description (tests/browser/run.mjs starts
// one hub for the whole run), that hub is used and stopHub leaves it running.
export async function startHub () {
  if (hub) return hub
  if (process.env.MASH_BROWSER_HUB) {
    hub = JSON.parse(readFileSync(process.env.MASH_BROWSER_HUB, 'utf8'))
    hubShared = true
    return hub
  }
  const { description, child, exited } = await launchHub()
  hub = description
  hubProcess = child
  hubExit = exited
  return hub
}

// launchHub(): runs start-hub.sh and waits for its JSON line (used by startHub and run.mjs).
export async function launchHub ({ families } = {}) {
  for (const bin of ['broker/mash-broker', 'agent/mash-agent', 'cli/mashctl', 'agent/mash-synth']) {
    if (!existsSync(join(buildDir, bin))) {
      throw new Error(`${join(buildDir, bin)} is missing: build first (./mash build) or set MASH_BUILD_DIR`)
    }
  }
  const args = [buildDir]
  if (families) args.push(String(families))
  const child = spawn(join(repoRoot, 'tests/browser/lib/start-hub.sh'), args, {
    cwd: repoRoot,
    stdio: ['pipe', 'pipe', 'pipe']
  })
  child.stderr.on('data', data => process.stderr.write(data))
  const exited = new Promise(resolve => child.on('exit', (code, signal) => resolve(code ?? signal)))
  // If this process dies, the hub's standard input closes and it stops by itself; on a normal
  // exit without stopHub, send it SIGTERM.
  process.on('exit', () => { if (child.exitCode === null) child.kill('SIGTERM') })
  const lines = createInterface({ input: child.stdout })
  const description = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGTERM')
      reject(new Error('the hub did not start within 300 s'))
    }, 300_000)
    lines.once('line', line => {
      clearTimeout(timer)
      try { resolve(JSON.parse(line)) } catch (e) { reject(new Error(`start-hub.sh printed ${line}`)) }
    })
    exited.then(code => {
      clearTimeout(timer)
      reject(new Error(`start-hub.sh exited (${code}) before the hub was ready`))
    })
  })
  return { description, child, exited }
}

// stopHub(): closes every browser context and Chromium, then stops the hub (every process gets
// SIGTERM and the temporary folder is removed). Throws when a hub process exited with an error:
// a broker or agent that crashed during the tests fails the file.
export async function stopHub () {
  for (const context of contexts) await context.close().catch(() => {})
  contexts.clear()
  if (browser) await browser.close().catch(() => {})
  browser = null
  const child = hubProcess
  const exited = hubExit
  hub = null
  hubProcess = null
  hubExit = null
  if (hubShared || !child) return
  if (child.exitCode === null) child.kill('SIGTERM')
  const code = await exited
  if (code !== 0) throw new Error(`the hub did not stop cleanly (start-hub.sh exit ${code})`)
}

export function currentHub () {
  if (!hub) throw new Error('startHub() first')
  return hub
}

// The base64 SHA-256 of the broker certificate's SubjectPublicKeyInfo, for Chromium's
// --ignore-certificate-errors-spki-list.
export function brokerSpkiHash (certPath) {
  const der = new X509Certificate(readFileSync(certPath)).publicKey.export({ type: 'spki', format: 'der' })
  return createHash('sha256').update(der).digest('base64')
}

// openBrowser(options): a new page in a new browser context (no cookies: a new session), in one
// shared headless Chromium. options go to browser.newContext (javaScriptEnabled: false tests the
// pages without JavaScript; viewport, ...). The context is closed by stopHub, or by
// page.context().close().
export async function openBrowser (options = {}) {
  const { cert } = currentHub()
  if (!existsSync(chromiumPath)) throw new Error(`${chromiumPath} is missing (apt-get install chromium, or ./mash test)`)
  if (!browser) {
    browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      args: [...chromiumArgs, `--ignore-certificate-errors-spki-list=${brokerSpkiHash(cert)}`]
    })
  }
  const context = await browser.newContext({
    viewport: { width: 1280, height: 900 },
    locale: 'en-GB',
    timezoneId: 'Europe/London',
    ...options,
    ignoreHTTPSErrors: false
  })
  contexts.add(context)
  context.on('close', () => contexts.delete(context))
  context.setDefaultTimeout(20_000)
  context.setDefaultNavigationTimeout(30_000)
  return context.newPage()
}

// url(path): the hub's URL of a console path ('/login', 'checks', ...).
export function url (path = '/') {
  return new URL(path, currentHub().url).toString()
}

// login(page, who): signs in through the login page as who: a key of hub.users ('practitioner',
// 'manager', 'ig', 'dpo', 'admin', 'custodian', 'practitioner2') or { user, password }. Waits
// for the page after the login and returns it (page.url() tells where it landed).
export async function login (page, who) {
  const account = typeof who === 'string' ? currentHub().users[who] : who
  if (!account) throw new Error(`no staff account '${who}'`)
  await page.goto(url('/login'))
  await page.locator('input[name="user"]').fill(account.user)
  await page.locator('input[name="password"]').fill(account.password)
  await Promise.all([
    page.waitForNavigation(),
    page.locator('form[action="/login"] button[type="submit"], form[action="/login"] button:not([type])').first().click()
  ])
  return page
}

// logout(page): the sign-out button in the header (a POST with the CSRF token).
export async function logout (page) {
  await Promise.all([
    page.waitForNavigation(),
    page.locator('form[action="/logout"] button').first().click()
  ])
}

// screenshot(page, name): the whole page as $MASH_BUILD_DIR/screenshots/NAME.png; returns the path.
export async function screenshot (page, name) {
  mkdirSync(screenshotDir, { recursive: true })
  const path = join(screenshotDir, `${name.replace(/[^A-Za-z0-9._-]/g, '-')}.png`)
  await page.screenshot({ path, fullPage: true })
  return path
}

// checkA11y(page, options): runs axe-core on the page (WCAG 2.0-2.2 A and AA rules and axe's best
// practices) and throws when a violation is serious or critical, naming each rule and element.
// Returns every violation (the minor and moderate ones too). axe is evaluated through the DevTools
// protocol, which the page's Content-Security-Policy does not apply to: no bypassCSP needed.
// options: { exclude: ['css selector', ...], disableRules: ['rule-id', ...] }
export async function checkA11y (page, { exclude = [], disableRules = [] } = {}) {
  const hasAxe = await page.evaluate(() => typeof window.axe === 'object')
  if (!hasAxe) await page.evaluate(readFileSync(axePath, 'utf8'))
  const results = await page.evaluate(async ({ exclude, disableRules }) => {
    const rules = Object.fromEntries(disableRules.map(id => [id, { enabled: false }]))
    const context = exclude.length ? { exclude: exclude.map(s => [s]) } : document
    const r = await window.axe.run(context, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
      rules,
      resultTypes: ['violations']
    })
    return r.violations.map(v => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map(n => ({ target: n.target.join(' '), summary: n.failureSummary }))
    }))
  }, { exclude, disableRules })
  const serious = results.filter(v => v.impact === 'serious' || v.impact === 'critical')
  if (serious.length) {
    const lines = serious.map(v => `  ${v.impact}: ${v.id} (${v.help})\n` +
      v.nodes.map(n => `    at ${n.target}: ${n.summary.replace(/\n/g, ' ')}`).join('\n'))
    throw new Error(`axe found ${serious.length} serious or critical accessibility violation(s) on ${page.url()}:\n${lines.join('\n')}`)
  }
  return results
}

// checkErrors(page): the page's form errors, checked against the GOV.UK pattern, and returned
// as [{ field, message }] in the summary's order ([] when the page has no error summary). Throws
// unless: the title starts with "Error: "; each summary link names an element of the page
// (#field); that element's form group is marked govuk-form-group--error and holds a
// govuk-error-message with the same text (after its hidden "Error:"); and every error message
// on the page is in the summary.
export async function checkErrors (page) {
  const found = await page.evaluate(() => {
    const summary = document.querySelector('.govuk-error-summary')
    if (!summary) return { none: true, messages: document.querySelectorAll('.govuk-error-message').length }
    const clean = t => t.replace(/^\s*Error:\s*/, '').trim()
    const items = [...summary.querySelectorAll('.govuk-error-summary__list li')].map(li => {
      const a = li.querySelector('a')
      const href = a?.getAttribute('href') || ''
      const target = href.startsWith('#') ? document.getElementById(href.slice(1)) : null
      const group = target?.closest('.govuk-form-group')
      const message = group?.querySelector('.govuk-error-message')
      return {
        field: href.slice(1),
        message: li.innerText.trim(),
        linked: !!a,
        target: !!target,
        groupMarked: !!group?.classList.contains('govuk-form-group--error'),
        fieldMessage: message ? clean(message.innerText) : null
      }
    })
    const all = [...document.querySelectorAll('.govuk-error-message')].map(m => clean(m.innerText))
    return { title: document.title, items, all }
  })
  if (found.none) {
    if (found.messages) throw new Error(`${page.url()}: field error messages without an error summary`)
    return []
  }
  const problems = []
  if (!found.title.startsWith('Error: ')) problems.push(`the title "${found.title}" does not start with "Error: "`)
  for (const i of found.items) {
    if (!i.linked) continue // a message that belongs to no one field
    if (!i.target) problems.push(`"${i.message}" links to #${i.field}, which is not on the page`)
    else if (!i.groupMarked) problems.push(`the form group of #${i.field} is not marked as in error`)
    else if (i.fieldMessage !== i.message) problems.push(`#${i.field} says "${i.fieldMessage}", the summary "${i.message}"`)
  }
  for (const m of found.all) {
    if (!found.items.some(i => i.message === m)) problems.push(`the field message "${m}" is not in the summary`)
  }
  if (problems.length) throw new Error(`${page.url()}: error summary:\n  ${problems.join('\n  ')}`)
  return found.items.map(i => ({ field: i.field, message: i.message }))
}

// mashctl(args, { as }): runs the build's mashctl against the hub, with the personal token of
// `as` (a key of hub.users) or, by default, the bootstrap admin token (demo.admin, the only
// [[api_token]] of broker.toml). Resolves to { code, stdout, stderr }; never throws on a non-zero
// exit. For preparing data (a check to look at, an account) the way staff would with mashctl.
export function mashctl (args, { as } = {}) {
  const hub = currentHub()
  const token = as ? hub.users[as]?.token_file : hub.admin_token_file
  if (!token) throw new Error(`no staff account '${as}'`)
  return new Promise((resolve, reject) => {
    const child = spawn(join(buildDir, 'cli/mashctl'), args, {
      env: { ...process.env, ...hub.mashctl_env, MASH_TOKEN_FILE: token },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', d => { stdout += d })
    child.stderr.on('data', d => { stderr += d })
    child.on('error', reject)
    child.on('exit', code => resolve({ code, stdout, stderr }))
  })
}

// hubFetch(path, { method, headers, body }): an HTTPS request from Node to the hub, the broker's
// chain verified against the hub's CA. Resolves to { status, headers, body } (body a string;
// headers as Node gives them: 'set-cookie' is an array).
export function hubFetch (path, { method = 'GET', headers = {}, body } = {}) {
  const { ca } = currentHub()
  const target = new URL(path, currentHub().url)
  return new Promise((resolve, reject) => {
    const req = httpsRequest(target, { method, headers, ca: readFileSync(ca) }, res => {
      const chunks = []
      res.on('data', c => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }))
    })
    req.on('error', reject)
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path}: no answer in 30 s`)))
    if (body !== undefined) req.write(body)
    req.end()
  })
}
