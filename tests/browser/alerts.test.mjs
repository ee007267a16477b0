// The IG alert queue in the console (docs/console.md, "Alert queue"): an IG officer finds the
// alert a consent override raised, takes it under review, is told when a note is missing, and
// closes it with one; the history shows each change. Only IG officers and DPOs see the queue.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { checkA11y, login, mashctl, openBrowser, screenshot, startHub, stopHub, url } from './lib/hub.mjs'

before(startHub, { timeout: 300_000 })
after(stopHub, { timeout: 120_000 })

const T = { timeout: 180_000 }

// Raises a check without consent as the practitioner (it waits for a manager, so nothing is
// sent) and returns the id of the override alert it raised, found as the IG officer with mashctl.
async function overrideAlert () {
  const dir = mkdtempSync(join(tmpdir(), 'mash-alerts-'))
  try {
    const file = join(dir, 'request.json')
    writeFileSync(file, JSON.stringify({
      subject: { given_names: 'Robin', family_name: 'Alerttest', dob: '2015-03-04' },
      purpose: 'child-protection-s47',
      lawful_basis: 'uk-gdpr-6-1-e',
      consent: {
        state: 'not_sought',
        override_ground: 'child_significant_harm',
        justification: 'Seeking consent would alert the alleged perpetrator.'
      },
      urgency: 'red',
      level: 1,
      agencies: ['police']
    }))
    const raised = await mashctl(['check', 'raise', '--from-file', file], { as: 'practitioner' })
    assert.equal(raised.code, 0, raised.stderr)
    const check = raised.stdout.trim().split(/\s+/).pop()
    assert.match(check, /^[0-9a-f]{32}$/)
    const listed = await mashctl(['audit', 'alerts', '--kind', 'override', '--json'], { as: 'ig' })
    assert.equal(listed.code, 0, listed.stderr)
    const alert = JSON.parse(listed.stdout).alerts.find(a => a.check === check)
    assert.ok(alert, `no override alert for check ${check}`)
    return { check, id: alert.id }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

test('an IG officer takes an override alert under review, then closes it with a note', T, async () => {
  const { id } = await overrideAlert()
  const page = await openBrowser()
  await login(page, 'ig')

  // The queue: the alert is there, new, with the ground in the hub's summary.
  let response = await page.goto(url('/alerts?kind=override'))
  assert.equal(response.status(), 200)
  const row = page.locator(`tr:has(a[href="/alerts/${id}"])`)
  assert.equal(await row.count(), 1)
  assert.match(await row.innerText(), /Consent override/)
  assert.match(await row.innerText(), /without consent: .*significant harm/)
  assert.equal((await row.locator('.govuk-tag--blue').innerText()).trim(), 'New')
  assert.doesNotMatch(await page.locator('main').innerText(), /Alerttest|Robin/, 'no subject in the queue')
  await screenshot(page, 'alerts-queue')
  await checkA11y(page)

  // The alert: under review, without a note.
  await row.locator(`a[href="/alerts/${id}"]`).click()
  await page.waitForURL(url(`/alerts/${id}`))
  assert.match(await page.locator('main').innerText(), /Seeking consent would alert the alleged perpetrator/)
  await page.getByLabel('Under review', { exact: true }).check()
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Save' }).click()])
  assert.equal(new URL(page.url()).pathname, `/alerts/${id}`)
  assert.match(await page.locator('.govuk-notification-banner').innerText(), /now Under review/)
  assert.equal((await page.locator('.govuk-summary-list .govuk-tag--yellow').innerText()).trim(), 'Under review')

  // Closing without a note: the error summary, linked to the note, and the field's message.
  await page.getByLabel('Close', { exact: true }).check()
  const [refused] = await Promise.all([
    page.waitForNavigation(), page.getByRole('button', { name: 'Save' }).click()
  ])
  assert.equal(refused.status(), 400)
  assert.match(await page.title(), /^Error: /)
  const summary = page.locator('.govuk-error-summary')
  assert.equal(await summary.count(), 1)
  assert.match(await summary.innerText(), /Enter a note to close the alert/)
  assert.equal(await summary.locator('a[href="#note"]').count(), 1)
  assert.match(await page.locator('#note-error').innerText(), /Enter a note to close the alert/)
  await screenshot(page, 'alerts-error')
  await checkA11y(page)

  // With the note it closes; the history has both changes, newest first; no form is left.
  const note = 'Ground and justification checked with the team manager; proportionate.'
  await page.getByLabel('Close', { exact: true }).check()
  await page.locator('#note').fill(note)
  response = (await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Save' }).click()]))[0]
  assert.equal(response.status(), 200)
  assert.equal((await page.locator('.govuk-summary-list .govuk-tag--grey').innerText()).trim(), 'Closed')
  const titles = await page.locator('.moj-timeline__title').allInnerTexts()
  assert.deepEqual(titles.map(t => t.trim()), ['Closed', 'Under review', 'Alert raised'])
  assert.match(await page.locator('.moj-timeline').innerText(), new RegExp(note.replace(/[.;]/g, '.')))
  assert.match(await page.locator('.moj-timeline').innerText(), /ian\.ig \(ig_officer\)/)
  assert.equal(await page.locator('form[action^="/alerts/"]').count(), 0, 'a closed alert has no form')
  await screenshot(page, 'alerts-detail')
  await checkA11y(page)

  // It has left the default queue and is found with the closed filter.
  await page.goto(url('/alerts'))
  assert.equal(await page.locator(`a[href="/alerts/${id}"]`).count(), 0)
  await page.goto(url('/alerts?status=closed&kind=override'))
  assert.equal(await page.locator(`a[href="/alerts/${id}"]`).count(), 1)
  await page.context().close()
})

test('the queue is for IG officers and DPOs only', T, async () => {
  const { id } = await overrideAlert()
  const page = await openBrowser()
  await login(page, 'practitioner')
  for (const path of ['/alerts', `/alerts/${id}`]) {
    const response = await page.goto(url(path))
    assert.equal(response.status(), 404, path)
  }
  await page.context().close()
  const dpo = await openBrowser()
  await login(dpo, 'dpo')
  const response = await dpo.goto(url(`/alerts/${id}`))
  assert.equal(response.status(), 200)
  await dpo.context().close()
})
