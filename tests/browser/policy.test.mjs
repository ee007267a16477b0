// The data protection officer's pages (docs/console.md, "DPOs"): the agreement in force with its
// version, review date and publication history; "try a request" with the decision and its
// explanation, and the error summary; the shadow differences; who may see them.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { checkA11y, login, openBrowser, screenshot, startHub, stopHub, url } from './lib/hub.mjs'

before(startHub, { timeout: 300_000 })
after(stopHub, { timeout: 120_000 })

const T = { timeout: 120_000 }

// Fills the "try a request" form with a consented s47 request (`consent` may change it) to
// `agencies` and sends it; returns the response of the POST.
async function tryRequest (page, { consent = 'given', agencies = ['police', 'health'] } = {}) {
  await page.getByLabel('Role of the person asking').selectOption('practitioner')
  await page.locator('input[name="purpose"][value="child-protection-s47"]').check()
  await page.getByLabel('Lawful basis').selectOption('uk-gdpr-6-1-e')
  await page.locator(`input[name="consent_state"][value="${consent}"]`).check()
  await page.locator('input[name="urgency"][value="amber"]').check()
  await page.locator('input[name="level"][value="2"]').check()
  for (const a of agencies) await page.locator(`input[name="agencies"][value="${a}"]`).check()
  const [response] = await Promise.all([
    page.waitForResponse(r => r.url().endsWith('/policies/try') && r.request().method() === 'POST'),
    page.getByRole('button', { name: 'Try the request' }).click()
  ])
  await page.waitForLoadState()
  return response
}

test('a DPO sees the agreement in force, its version, review date and history', T, async () => {
  const page = await openBrowser()
  await login(page, 'dpo')
  assert.equal(new URL(page.url()).pathname, '/policies')
  assert.equal(await page.locator('h1').innerText(), 'Policies in force')
  const card = page.locator('.govuk-summary-card', { hasText: 'Sharing agreement in force' })
  const text = await card.innerText()
  assert.match(text, /northshire-mash-agreement/)
  assert.match(text, /sha256:[0-9a-f]{64}/)
  assert.match(text, /Review date\s+\d{4}-\d{2}-\d{2}/)
  // The hub's agreement is signed by the partnership's DPO key and published in a store.
  assert.match(text, /Signed by\s+sha256:[0-9a-f]{64}/)
  const history = page.locator('table', { hasText: 'Publications of the agreement' })
  assert.ok(await history.locator('tbody tr').count() >= 1)
  assert.match(await history.locator('tbody tr').first().innerText(), /Enforced/)
  const agencies = page.locator('table', { hasText: 'Agencies and the policy version' })
  assert.equal(await agencies.locator('tbody tr').count(), 6)
  await screenshot(page, 'policy-policies')
  await checkA11y(page)
  await page.context().close()
})

test('a DPO tries a request and sees the decision and its explanation', T, async () => {
  const page = await openBrowser()
  await login(page, 'dpo')
  await page.goto(url('/policies/try'))
  assert.equal(await page.locator('h1').innerText(), 'Try a request')
  await checkA11y(page)

  // Nothing chosen: an error summary linking to each field.
  const [empty] = await Promise.all([
    page.waitForResponse(r => r.url().endsWith('/policies/try') && r.request().method() === 'POST'),
    page.getByRole('button', { name: 'Try the request' }).click()
  ])
  assert.equal(empty.status(), 400)
  await page.waitForLoadState()
  const summary = page.locator('.govuk-error-summary')
  assert.deepEqual(await summary.locator('li a').evaluateAll(as => as.map(a => a.getAttribute('href'))),
    ['#role', '#purpose', '#lawful_basis', '#consent_state', '#urgency', '#level', '#agencies'])
  assert.match(await page.locator('#purpose-error').innerText(), /Select a purpose/)
  assert.match(await page.title(), /^Error: /)
  await screenshot(page, 'policy-try-errors')
  await checkA11y(page)

  // A consented s47 request to two agencies: allowed, with the deciding rule and the reasons.
  const allowed = await tryRequest(page)
  assert.equal(allowed.status(), 200)
  const decision = page.locator('#decision')
  assert.match(await decision.innerText(), /Allowed/)
  assert.match(await decision.innerText(), /A check with these agencies would be raised/)
  const police = decision.locator('.govuk-summary-card', { hasText: '(police)' })
  const explanation = await police.locator('.mash-explain').first().innerText()
  assert.match(explanation, /permit at level 2\s+\(deciding rule: s47-all-agencies\)/)
  assert.match(explanation, /reasons:/)
  assert.match(explanation, /policy version: sha256:[0-9a-f]{64}/)
  assert.equal(await decision.locator('.govuk-summary-card').count(), 2)
  // The answers stay in the form.
  assert.equal(await page.locator('input[name="purpose"][value="child-protection-s47"]').isChecked(), true)
  // Nothing about the request is in the address.
  assert.equal(new URL(page.url()).search, '')
  await screenshot(page, 'policy-try-allowed')
  await checkA11y(page)

  // Consent refused and no override ground: denied, with the agreement's rule and reason.
  await page.locator('input[name="consent_state"][value="refused"]').check()
  await Promise.all([
    page.waitForResponse(r => r.url().endsWith('/policies/try') && r.request().method() === 'POST'),
    page.getByRole('button', { name: 'Try the request' }).click()
  ])
  await page.waitForLoadState()
  assert.match(await decision.innerText(), /Denied/)
  assert.match(await decision.innerText(), /would be refused/)
  const refused = await decision.locator('.mash-explain').first().innerText()
  assert.match(refused, /deny\s+\(deciding rule: refused-without-override\)/)
  assert.match(refused, /consent refused or withdrawn/)
  await screenshot(page, 'policy-try-denied')
  await page.context().close()
})

test('trying a request works with JavaScript off', T, async () => {
  const page = await openBrowser({ javaScriptEnabled: false })
  await login(page, 'dpo')
  await page.goto(url('/policies/try'))
  const response = await tryRequest(page, { agencies: ['education'] })
  assert.equal(response.status(), 200)
  assert.match(await page.locator('#decision').innerText(), /deciding rule: /)
  await page.context().close()
})

test('the shadow differences page lists what the broker recorded', T, async () => {
  const page = await openBrowser()
  await login(page, 'dpo')
  await page.goto(url('/policies/shadow'))
  assert.equal(await page.locator('h1').innerText(), 'Shadow differences')
  // The hub's store has no shadow version: nothing differs, and the page says so.
  assert.match(await page.locator('main').innerText(), /No differences have been recorded|by deciding rules/)
  await screenshot(page, 'policy-shadow')
  await checkA11y(page)
  await page.context().close()
})

test('an IG officer reads the policies but cannot try requests; a practitioner gets 404', T, async () => {
  const ig = await openBrowser()
  await login(ig, 'ig')
  assert.equal((await ig.goto(url('/policies'))).status(), 200)
  assert.equal((await ig.goto(url('/policies/shadow'))).status(), 200)
  assert.equal((await ig.goto(url('/policies/try'))).status(), 404)
  await ig.context().close()

  const page = await openBrowser()
  await login(page, 'practitioner')
  for (const path of ['/policies', '/policies/try', '/policies/shadow']) {
    const response = await page.goto(url(path))
    assert.equal(response.status(), 404, path)
    assert.equal(await page.locator('h1').innerText(), 'Page not found')
  }
  await page.context().close()
})
