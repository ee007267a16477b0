// Signing in and out of the web console, and what protects it: the Generic header (no crown, no
// GDS font), the error summary, __Host- cookies, CSRF tokens on every form, the strict
// Content-Security-Policy, and axe-core on the pages.
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import {
  checkA11y, checkErrors, currentHub, hubFetch, login, logout, mashctl, openBrowser, screenshot, startHub, stopHub, url
} from './lib/hub.mjs'

before(startHub, { timeout: 300_000 })
after(stopHub, { timeout: 120_000 })

const T = { timeout: 120_000 }

// The directives of a Content-Security-Policy header: { 'script-src': ["'self'"], ... }.
function cspDirectives (header) {
  return Object.fromEntries(header.split(';').map(d => d.trim()).filter(Boolean)
    .map(d => { const [name, ...values] = d.split(/\s+/); return [name.toLowerCase(), values] }))
}

test('the login page has the Generic header with the service name and no crown', T, async () => {
  const page = await openBrowser()
  const response = await page.goto(url('/login'))
  assert.equal(response.status(), 200)
  assert.equal(await page.title(), 'Sign in - MASH Exchange')
  const header = page.locator('header.govuk-generic-header')
  assert.equal(await header.count(), 1, 'no Generic header')
  assert.equal((await header.innerText()).trim(), 'MASH Exchange')
  // Nothing of GOV.UK's own header: no crown logotype, no GOV.UK link, no GDS Transport.
  assert.equal(await page.locator('.govuk-header, .govuk-header__logotype, svg[aria-label="GOV.UK"]').count(), 0)
  assert.doesNotMatch(await page.locator('body').innerText(), /GOV\.UK/)
  const fonts = await page.evaluate(() => [...document.querySelectorAll('h1, label, .govuk-button, .govuk-generic-header__homepage-link')]
    .map(e => getComputedStyle(e).fontFamily))
  for (const font of fonts) assert.match(font, /^arial, sans-serif$/i)
  // No inline script, style or event handler: the CSP would block them.
  const inline = await page.evaluate(() => ({
    scripts: document.querySelectorAll('script:not([src])').length,
    styles: document.querySelectorAll('style, [style]').length,
    handlers: [...document.querySelectorAll('*')].filter(e => [...e.attributes].some(a => a.name.startsWith('on'))).length
  }))
  assert.deepEqual(inline, { scripts: 0, styles: 0, handlers: 0 })
  // The page is enhanced by console.js (an ES module from /assets/) and the skip link works.
  await page.waitForFunction(() => document.body.classList.contains('govuk-frontend-supported'))
  assert.equal(await page.locator('a.govuk-skip-link[href="#main-content"]').count(), 1)
  assert.equal(await page.locator('main#main-content').count(), 1)
  await screenshot(page, 'login')
  await checkA11y(page)
  await page.context().close()
})

test('every console response has a strict Content-Security-Policy and the other headers', T, async () => {
  for (const path of ['/login', '/account', '/no-such-page', '/assets/console.css']) {
    const r = await hubFetch(path)
    const header = r.headers['content-security-policy']
    assert.ok(header, `${path}: no Content-Security-Policy`)
    assert.doesNotMatch(header, /unsafe-inline|unsafe-eval|unsafe-hashes|\*|data:|http:/, `${path}: ${header}`)
    const csp = cspDirectives(header)
    assert.deepEqual(csp['default-src'], ["'none'"], header)
    assert.deepEqual(csp['script-src'], ["'self'"], header)
    assert.deepEqual(csp['style-src'], ["'self'"], header)
    assert.deepEqual(csp['frame-ancestors'], ["'none'"], header)
    assert.deepEqual(csp['form-action'], ["'self'"], header)
    assert.deepEqual(csp['base-uri'], ["'none'"], header)
    assert.equal(r.headers['x-frame-options'], 'DENY', path)
    assert.equal(r.headers['x-content-type-options'], 'nosniff', path)
    assert.match(r.headers['strict-transport-security'] || '', /max-age=\d{7,}/, path)
    assert.ok(r.headers['referrer-policy'], path)
    if (!path.startsWith('/assets/')) assert.equal(r.headers['cache-control'], 'no-store', path)
  }
  // A page that needs a login sends an anonymous visitor to it, with no page content.
  const r = await hubFetch('/account')
  assert.equal(r.status, 303)
  assert.equal(r.headers.location, '/login?next=%2Faccount')
})

test('a wrong password shows the error summary, linked to the field', T, async () => {
  const page = await openBrowser()
  const who = currentHub().users.practitioner2
  await page.goto(url('/login'))
  await page.getByLabel('User ID').fill(who.user)
  await page.getByLabel('Password').fill(`${who.password}-wrong`)
  const [response] = await Promise.all([
    page.waitForResponse(r => r.url().endsWith('/login') && r.request().method() === 'POST'),
    page.getByRole('button', { name: 'Sign in' }).click()
  ])
  assert.equal(response.status(), 401)
  await page.waitForLoadState()
  assert.equal(await page.title(), 'Error: Sign in - MASH Exchange')
  assert.deepEqual(await checkErrors(page), [{ field: 'user', message: 'Enter a correct user ID and password' }])
  const summary = page.locator('.govuk-error-summary')
  assert.equal(await summary.locator('h2').innerText(), 'There is a problem')
  const link = summary.locator('a[href="#user"]')
  assert.equal(await link.innerText(), 'Enter a correct user ID and password')
  assert.match(await page.locator('#user-error').innerText(), /Enter a correct user ID and password/)
  assert.equal(await page.locator('#user').getAttribute('aria-describedby'), 'user-error')
  // What was typed comes back for the user ID, never for the password.
  assert.equal(await page.locator('#user').inputValue(), who.user)
  assert.equal(await page.locator('#password').inputValue(), '')
  // GOV.UK Frontend moves focus to the summary; its link moves focus to the field.
  await page.waitForFunction(() => document.activeElement?.classList.contains('govuk-error-summary'))
  await link.click()
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'user')
  await screenshot(page, 'login-error')
  await checkA11y(page)

  // Both fields empty: one message each, in the order of the fields.
  await page.getByLabel('User ID').fill('')
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.waitForLoadState()
  assert.deepEqual(await checkErrors(page), [
    { field: 'user', message: 'Enter your user ID' }, { field: 'password', message: 'Enter your password' }])
  assert.deepEqual(await summary.locator('li a').allInnerTexts(), ['Enter your user ID', 'Enter your password'])
  assert.deepEqual(await summary.locator('li a').evaluateAll(as => as.map(a => a.getAttribute('href'))), ['#user', '#password'])
  await page.context().close()
})

test('a practitioner signs in to the checks list with a __Host- session cookie', T, async () => {
  const page = await openBrowser()
  await page.goto(url('/login'))
  const hub = currentHub()
  await page.getByLabel('User ID').fill(hub.users.practitioner.user)
  await page.getByLabel('Password').fill(hub.users.practitioner.password)
  const [response] = await Promise.all([
    page.waitForResponse(r => r.url().endsWith('/login') && r.request().method() === 'POST'),
    page.getByRole('button', { name: 'Sign in' }).click()
  ])
  assert.equal(response.status(), 303)
  await page.waitForURL(u => u.pathname === '/checks')
  assert.match(await page.locator('.mash-signed-in').innerText(), /Signed in as pat\.practitioner \(practitioner, north-mash\)/)
  const current = page.locator('.govuk-service-navigation__item--active a[aria-current="page"]')
  assert.equal((await current.innerText()).trim(), 'Checks')

  // The cookie as the broker set it: __Host- (so Secure, Path=/ and no Domain), HttpOnly,
  // SameSite=Strict, a session cookie (no Expires / Max-Age); the login cookie is cleared.
  const setCookies = await response.headerValues('set-cookie')
  const session = setCookies.find(c => c.startsWith('__Host-mash-session='))
  assert.ok(session, `no session cookie in ${setCookies}`)
  const attributes = session.split(';').slice(1).map(a => a.trim().toLowerCase())
  for (const a of ['path=/', 'secure', 'httponly', 'samesite=strict']) assert.ok(attributes.includes(a), `${a} missing: ${session}`)
  assert.ok(!attributes.some(a => a.startsWith('domain=') || a.startsWith('expires=') || a.startsWith('max-age=')), session)
  assert.ok(setCookies.some(c => /^__Host-mash-login=;.*Max-Age=0/.test(c)), 'the login cookie is not cleared')
  const cookies = await page.context().cookies()
  assert.deepEqual(cookies.map(c => c.name), ['__Host-mash-session'])
  for (const c of cookies) {
    assert.equal(c.secure, true)
    assert.equal(c.httpOnly, true)
    assert.equal(c.sameSite, 'Strict')
    assert.equal(c.path, '/')
    assert.ok(c.name.startsWith('__Host-'))
  }
  // JavaScript cannot read it.
  assert.equal(await page.evaluate(() => document.cookie), '')
  // Nothing personal in the address: the user ID and password went in the POST body only.
  assert.doesNotMatch(page.url(), /pat|password/i)
  await screenshot(page, 'checks-list')
  await checkA11y(page)
  await page.context().close()
})

test('signing out ends the session at the broker, not only in the browser', T, async () => {
  const page = await openBrowser()
  await login(page, 'manager')
  const [session] = (await page.context().cookies()).filter(c => c.name === '__Host-mash-session')
  assert.ok(session, 'no session cookie')
  const cookie = `__Host-mash-session=${session.value}`
  assert.equal((await hubFetch('/account', { headers: { cookie } })).status, 200, 'the session does not work from Node')
  await logout(page)
  assert.equal(new URL(page.url()).pathname + new URL(page.url()).search, '/login?signed-out=1')
  assert.match(await page.locator('.govuk-notification-banner').innerText(), /You have signed out/)
  assert.equal((await page.context().cookies()).filter(c => c.name === '__Host-mash-session').length, 0)
  // The old cookie, sent again, is a session that has ended.
  const replay = await hubFetch('/account', { headers: { cookie } })
  assert.equal(replay.status, 303)
  assert.match(replay.headers.location, /^\/login\?expired=1/)
  await screenshot(page, 'login-signed-out')
  await page.context().close()
})

test('a POST without the CSRF field, with a wrong one, or from another site is refused with 403', T, async () => {
  const page = await openBrowser()
  // Before login: the login form without its token.
  await page.goto(url('/login'))
  const anonymous = await page.evaluate(async () => {
    const r = await fetch('/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'user=a&password=b' })
    return { status: r.status, text: await r.text() }
  })
  assert.equal(anonymous.status, 403)
  assert.match(anonymous.text, /Your form could not be sent/)

  await login(page, 'practitioner')
  const token = await page.locator('form[action="/logout"] input[name="csrf"]').inputValue()
  assert.match(token, /^[0-9a-f]{64}$/)
  // From the signed-in page, as a forged form would send it: no field, then a wrong value.
  for (const body of ['', 'csrf=' + '0'.repeat(64), 'csrf=' + token.slice(0, 63)]) {
    const refused = await page.evaluate(async body => {
      const r = await fetch('/logout', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body, redirect: 'manual' })
      return { status: r.status, text: await r.text() }
    }, body)
    assert.equal(refused.status, 403, `body '${body}'`)
    assert.match(refused.text, /<title>Your form could not be sent - MASH Exchange<\/title>/)
    assert.match(refused.text, /Nothing has been changed/)
  }
  // The right token from another site (Origin), or not as a form: refused too.
  const [session] = (await page.context().cookies()).filter(c => c.name === '__Host-mash-session')
  const cookie = `__Host-mash-session=${session.value}`
  const form = { 'content-type': 'application/x-www-form-urlencoded', cookie }
  const foreign = await hubFetch('/logout', { method: 'POST', headers: { ...form, origin: 'https://attacker.example' }, body: `csrf=${token}` })
  assert.equal(foreign.status, 403)
  const crossSite = await hubFetch('/logout', { method: 'POST', headers: { ...form, 'sec-fetch-site': 'cross-site' }, body: `csrf=${token}` })
  assert.equal(crossSite.status, 403)
  const json = await hubFetch('/logout', { method: 'POST', headers: { 'content-type': 'application/json', cookie }, body: JSON.stringify({ csrf: token }) })
  assert.equal(json.status, 403)
  // Nothing was changed: still signed in. Then the real form, with its token, does sign out.
  await page.goto(url('/checks'))
  assert.match(await page.locator('.mash-signed-in').innerText(), /pat\.practitioner/)
  await page.goto(url('/login'))
  const [refusedPage] = await Promise.all([
    page.waitForResponse(r => r.request().method() === 'POST'),
    page.evaluate(() => {
      // A real form of the page, sent without its token field.
      const f = document.createElement('form')
      f.method = 'post'
      f.action = '/logout'
      document.body.append(f)
      f.submit()
    })
  ])
  assert.equal(refusedPage.status(), 403)
  await page.waitForLoadState()
  assert.equal(await page.locator('h1').innerText(), 'Your form could not be sent')
  await screenshot(page, 'csrf-refused')
  await checkA11y(page)
  const signedOut = await hubFetch('/logout', { method: 'POST', headers: form, body: `csrf=${token}` })
  assert.equal(signedOut.status, 303)
  assert.equal(signedOut.headers.location, '/login?signed-out=1')
  await page.context().close()
})

test('signing in works with JavaScript off', T, async () => {
  const page = await openBrowser({ javaScriptEnabled: false })
  await login(page, 'ig')
  assert.equal(new URL(page.url()).pathname, '/audit')
  assert.equal(await page.evaluate(() => document.body.classList.contains('govuk-frontend-supported')).catch(() => false), false)
  assert.match(await page.locator('.mash-signed-in').innerText(), /ian\.ig/)
  await page.context().close()
})

test('a page that needs a login returns there after signing in', T, async () => {
  const page = await openBrowser()
  await page.goto(url('/account'))
  assert.equal(new URL(page.url()).pathname + new URL(page.url()).search, '/login?next=%2Faccount')
  assert.equal(await page.locator('input[type="hidden"][name="next"]').inputValue(), '/account')
  await page.getByLabel('User ID').fill(currentHub().users.admin.user)
  await page.getByLabel('Password').fill(currentHub().users.admin.password)
  await Promise.all([page.waitForURL(u => u.pathname === '/account'), page.getByRole('button', { name: 'Sign in' }).click()])
  assert.equal(await page.locator('h1').innerText(), 'Your account')
  await screenshot(page, 'account')
  await checkA11y(page)
  await page.context().close()
})

test('a new member of staff sets their password in the console with the one-time password', T, async () => {
  // The admin adds the account (mashctl user add); the one-time password goes to a 0600 file.
  const dir = mkdtempSync(join(tmpdir(), 'mash-browser-otp-'))
  let oneTime
  try {
    const added = await mashctl(['user', 'add', '--user', 'nia.new', '--name', 'Nia New', '--role', 'practitioner',
      '--team', 'north-mash', '--out', join(dir, 'otp')])
    assert.equal(added.code, 0, added.stderr)
    oneTime = readFileSync(join(dir, 'otp'), 'utf8').trim()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  const page = await openBrowser()
  // A one-time password does not sign in: the same message as any other refusal.
  await page.goto(url('/login'))
  await page.getByLabel('User ID').fill('nia.new')
  await page.getByLabel('Password').fill(oneTime)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.waitForLoadState()
  assert.equal(await page.locator('.govuk-error-summary a[href="#user"]').innerText(), 'Enter a correct user ID and password')

  await page.getByRole('link', { name: 'Set your password' }).click()
  await page.waitForURL(u => u.pathname === '/set-password')
  assert.equal(await page.locator('h1').innerText(), 'Set your password')
  await screenshot(page, 'set-password')
  await checkA11y(page)
  const fill = async (password, next, confirm) => {
    await page.getByLabel('User ID').fill('nia.new')
    await page.getByLabel('One-time or current password').fill(password)
    await page.getByLabel('New password', { exact: true }).fill(next)
    await page.getByLabel('Confirm new password').fill(confirm)
    await page.getByRole('button', { name: 'Set password and sign in' }).click()
    await page.waitForLoadState()
  }
  const chosen = 'correct horse battery staple 7'
  // The confirmation does not match: said beside that field, nothing changed.
  await fill(oneTime, chosen, `${chosen}!`)
  assert.deepEqual(await checkErrors(page), [{ field: 'confirm_password', message: 'The passwords do not match' }])
  assert.deepEqual(await page.locator('.govuk-error-summary li a').allInnerTexts(), ['The passwords do not match'])
  assert.equal(await page.locator('.govuk-error-summary li a').getAttribute('href'), '#confirm_password')
  assert.match(await page.locator('#confirm_password-error').innerText(), /The passwords do not match/)
  await screenshot(page, 'set-password-error')
  await checkA11y(page)
  // Too short: the broker's rule, shown for the new password.
  await fill(oneTime, 'short', 'short')
  assert.equal(await page.locator('.govuk-error-summary li a').getAttribute('href'), '#new_password')
  assert.match(await page.locator('.govuk-error-summary li a').innerText(), /^The new password /)
  // Right: signed in, at the practitioner's home.
  await fill(oneTime, chosen, chosen)
  await page.waitForURL(u => u.pathname === '/checks')
  assert.match(await page.locator('.mash-signed-in').innerText(), /Signed in as nia\.new \(practitioner, north-mash\)/)
  await logout(page)
  // The new password signs in; the one-time password is spent.
  await login(page, { user: 'nia.new', password: chosen })
  assert.equal(new URL(page.url()).pathname, '/checks')
  await logout(page)
  await login(page, { user: 'nia.new', password: oneTime })
  assert.equal(new URL(page.url()).pathname, '/login')
  assert.equal(await page.locator('.govuk-error-summary').count(), 1)
  await page.context().close()
})

test('the sign-in and not-found pages reflow to 320 CSS pixels without scrolling sideways', T, async () => {
  const page = await openBrowser({ viewport: { width: 320, height: 640 } })
  for (const [path, name] of [['/login', 'login-narrow'], ['/no-such-page', 'not-found-narrow']]) {
    await page.goto(url(path))
    await page.waitForFunction(() => document.body.classList.contains('govuk-frontend-supported'))
    const widths = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth])
    assert.ok(widths[0] <= widths[1], `${path} scrolls sideways at 320 px: ${widths}`)
    await screenshot(page, name)
  }
  // Signed in, the service navigation collapses behind its Menu button (GOV.UK Frontend's JS).
  await login(page, 'practitioner')
  const toggle = page.locator('.govuk-service-navigation__toggle')
  assert.equal(await toggle.isVisible(), true)
  assert.equal(await page.locator('#navigation').isVisible(), false)
  await toggle.click()
  assert.equal(await page.locator('#navigation').isVisible(), true)
  assert.equal(await toggle.getAttribute('aria-expanded'), 'true')
  await screenshot(page, 'navigation-narrow')
  await checkA11y(page)
  await page.context().close()
})

test('a page that does not exist is a 404 page in the console layout', T, async () => {
  const page = await openBrowser()
  const response = await page.goto(url('/no-such-page'))
  assert.equal(response.status(), 404)
  assert.equal(await page.locator('h1').innerText(), 'Page not found')
  assert.equal(await page.locator('header.govuk-generic-header').count(), 1)
  await checkA11y(page)
  await screenshot(page, 'not-found')
  await page.context().close()
})

test('signing in with the keyboard alone: skip link, fields, visible focus, Enter', T, async () => {
  const page = await openBrowser()
  await page.goto(url('/login'))
  await page.waitForFunction(() => document.body.classList.contains('govuk-frontend-supported'))
  await page.keyboard.press('Tab')
  assert.equal(await page.evaluate(() => document.activeElement.className), 'govuk-skip-link')
  assert.equal(await page.locator('.govuk-skip-link').isVisible(), true, 'the skip link is not shown when focused')
  await page.keyboard.press('Enter')
  assert.equal(await page.evaluate(() => document.activeElement.id), 'main-content')
  await page.keyboard.press('Tab')
  assert.equal(await page.evaluate(() => document.activeElement.id), 'user')
  // The focused field shows GOV.UK's focus style (yellow outline), not the browser's default.
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineColor)
  assert.equal(outline, 'rgb(255, 221, 0)')
  const who = currentHub().users.dpo
  await page.keyboard.type(who.user)
  await page.keyboard.press('Tab')
  assert.equal(await page.evaluate(() => document.activeElement.id), 'password')
  await page.keyboard.type(who.password)
  await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')])
  assert.equal(new URL(page.url()).pathname, '/policies')
  assert.match(await page.locator('.mash-signed-in').innerText(), /dee\.dpo/)
  await page.context().close()
})

test('each sign-in gets a new session; the wrong method is 405', T, async () => {
  const page = await openBrowser()
  const sessionOf = async () => (await page.context().cookies()).find(c => c.name === '__Host-mash-session')?.value
  await login(page, 'practitioner')
  const first = await sessionOf()
  await logout(page)
  await login(page, 'practitioner')
  const second = await sessionOf()
  assert.ok(first && second && first !== second, 'the session token was reused')
  await page.context().close()
  const get = await hubFetch('/logout')
  assert.equal(get.status, 405)
  assert.equal(get.headers.allow, 'POST')
  assert.match(get.headers['content-security-policy'] || '', /script-src 'self'/)
})
