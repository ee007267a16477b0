// Every page in each role's navigation, checked the same way: it loads (200), in the console's
// layout, with the strict CSP and no inline script, style or handler; every POST form carries
// its CSRF token; no GET form asks for personal details (they would end up in the URL); no asset
// fails and no script error; axe-core finds nothing serious; it works with JavaScript off; and a
// screenshot of it goes to the build folder (ROLE-PAGE.png). A navigation link to a page that is
// not built yet (404) is reported as a todo, not a failure.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { checkA11y, checkErrors, login, openBrowser, screenshot, startHub, stopHub, url } from './lib/hub.mjs'

before(startHub, { timeout: 300_000 })
after(stopHub, { timeout: 120_000 })

// Field names that hold a subject's personal details: a GET form with one would put them in the
// URL. (A subject's pseudonym or a staff user ID may be in a URL.)
const personal = /(^|_)(given|family|name|names|dob|birth|nhs|postcode|address|identifier)(_|$|-)/i

const roles = [
  ['practitioner', 'practitioner'],
  ['manager', 'manager'],
  ['ig', 'ig'],
  ['dpo', 'dpo'],
  ['admin', 'admin'],
  ['custodian', 'custodian']
]

async function checkPage (page, role, path, t) {
  const failed = []
  const errors = []
  const onFailed = r => failed.push(`${r.url()} ${r.failure()?.errorText}`)
  const onResponse = r => { if (r.status() >= 400 && new URL(r.url()).pathname.startsWith('/assets/')) failed.push(`${r.url()} ${r.status()}`) }
  const onError = e => errors.push(e.message)
  const onConsole = m => { if (m.type() === 'error') errors.push(m.text()) }
  page.on('requestfailed', onFailed)
  page.on('response', onResponse)
  page.on('pageerror', onError)
  page.on('console', onConsole)
  try {
    const response = await page.goto(url(path))
    if (response.status() === 404) {
      t.todo(`${path} is in the ${role}'s navigation but answers 404 (not built yet)`)
      return
    }
    assert.equal(response.status(), 200, `${path}: ${response.status()}`)
    const headers = response.headers()
    assert.match(headers['content-security-policy'] || '', /script-src 'self';/, path)
    assert.doesNotMatch(headers['content-security-policy'] || '', /unsafe/, path)
    assert.equal(headers['cache-control'], 'no-store', path)
    await page.waitForFunction(() => document.body.classList.contains('govuk-frontend-supported'))
    assert.match(await page.title(), / - MASH Exchange$/, path)
    const h1 = (await page.locator('h1').first().innerText()).trim()
    assert.ok(h1.length > 0, `${path}: no h1`)
    assert.equal(await page.locator('h1').count(), 1, `${path}: more than one h1`)
    assert.equal(await page.locator('header.govuk-generic-header').count(), 1, path)
    assert.equal(await page.locator('main#main-content').count(), 1, path)

    const found = await page.evaluate(personalSource => {
      const personal = new RegExp(personalSource, 'i')
      const forms = [...document.forms]
      return {
        inlineScripts: document.querySelectorAll('script:not([src])').length,
        inlineStyles: document.querySelectorAll('style, [style]').length,
        handlers: [...document.querySelectorAll('*')].filter(e => [...e.attributes].some(a => a.name.startsWith('on'))).length,
        postWithoutToken: forms.filter(f => f.method === 'post')
          .filter(f => !/^[0-9a-f]{64}$/.test(f.querySelector('input[type="hidden"][name="csrf"]')?.value || ''))
          .map(f => f.getAttribute('action')),
        personalInGet: forms.filter(f => f.method === 'get')
          .flatMap(f => [...f.elements].map(e => e.name).filter(n => n && personal.test(n))),
        personalInLinks: [...document.querySelectorAll('a[href*="?"]')]
          .flatMap(a => [...new URL(a.href).searchParams.keys()].filter(k => personal.test(k)))
      }
    }, personal.source)
    assert.deepEqual(found, {
      inlineScripts: 0, inlineStyles: 0, handlers: 0, postWithoutToken: [], personalInGet: [], personalInLinks: []
    }, path)

    // A page as first opened shows no error (and no field message without a summary).
    assert.deepEqual(await checkErrors(page), [], `${path}: errors on first view`)
    await checkA11y(page)
    await screenshot(page, `${role}-${path.replace(/^\//, '').replace(/\//g, '-') || 'home'}`)
    assert.deepEqual(failed, [], `${path}: assets failed`)
    assert.deepEqual(errors, [], `${path}: script errors`)
    return h1
  } finally {
    page.off('requestfailed', onFailed)
    page.off('response', onResponse)
    page.off('pageerror', onError)
    page.off('console', onConsole)
  }
}

for (const [key, role] of roles) {
  test(`every page in the ${role}'s navigation`, { timeout: 300_000 }, async t => {
    const page = await openBrowser()
    await login(page, key)
    const home = new URL(page.url()).pathname
    const nav = await page.locator('.govuk-service-navigation__list a').evaluateAll(as => as.map(a => a.getAttribute('href')))
    const paths = [...new Set([home, ...nav, '/account'])]
    const headings = {}
    for (const path of paths) {
      await t.test(path, async st => {
        const h1 = await checkPage(page, role, path, st)
        if (h1) headings[path] = h1
        // The navigation marks the page it is on.
        if (h1 && nav.includes(path)) {
          assert.equal(await page.locator('.govuk-service-navigation__list a[aria-current="page"]').getAttribute('href'), path)
        }
      })
    }
    // The same pages with JavaScript off: served whole, the same heading.
    const noJs = await openBrowser({ javaScriptEnabled: false })
    await login(noJs, key)
    for (const [path, h1] of Object.entries(headings)) {
      const response = await noJs.goto(url(path))
      assert.equal(response.status(), 200, `${path} without JavaScript`)
      assert.equal((await noJs.locator('h1').first().innerText()).trim(), h1, `${path} without JavaScript`)
    }
    await noJs.context().close()
    await page.context().close()
  })
}

test('a page of another role is the same 404 as a page that does not exist', { timeout: 120_000 }, async () => {
  const page = await openBrowser()
  await login(page, 'custodian')
  const missing = await page.goto(url('/no-such-page'))
  const missingText = await page.locator('main').innerText()
  for (const path of ['/checks', '/checks/new', '/deadlines', '/audit', '/alerts', '/policies']) {
    const r = await page.goto(url(path))
    assert.equal(r.status(), 404, `${path} for a custodian`)
    assert.equal(await page.locator('main').innerText(), missingText, path)
  }
  assert.equal(missing.status(), 404)
  await page.context().close()
})
