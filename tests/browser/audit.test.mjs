// IG officers' pages over the audit trail: search (the subject identifier never in a URL), an
// event, verify a range, the export count and the streamed download, the subject report, form
// errors, and a practitioner kept out.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, before, test } from 'node:test'
import { checkA11y, login, openBrowser, screenshot, startHub, stopHub, url } from './lib/hub.mjs'

before(startHub, { timeout: 300_000 })
after(stopHub, { timeout: 120_000 })

const T = { timeout: 120_000 }

test('an IG officer searches the trail, opens an event and verifies a range', T, async () => {
  const page = await openBrowser()
  await login(page, 'ig')
  await page.goto(url('/audit'))
  assert.equal(await page.title(), 'Search the audit trail - MASH Exchange')
  // The hub recorded its policies and keys at start: search for those events.
  await page.selectOption('#type', 'policy_published')
  await page.getByRole('button', { name: 'Search' }).click()
  await page.waitForURL(/\/audit\?type=policy_published$/)
  const rows = page.locator('table tbody tr')
  assert.ok(await rows.count() >= 1, 'no results')
  for (const cell of await page.locator('table tbody tr td:nth-child(3)').allInnerTexts()) {
    assert.equal(cell.trim(), 'policy_published')
  }
  assert.equal(await page.locator('table[data-module="moj-sortable-table"]').count(), 1)
  await screenshot(page, 'audit-search')
  await checkA11y(page)

  // The first result's detail.
  const link = rows.first().locator('a')
  const entry = (await link.innerText()).trim()
  await link.click()
  await page.waitForURL(new RegExp(`/audit/events/${entry}$`))
  assert.equal(await page.locator('h1').innerText(), `Audit event ${entry}`)
  const list = await page.locator('.govuk-summary-list').first().innerText()
  assert.match(list, /policy_published/)
  assert.match(list, /mash-broker/)
  assert.match(await page.locator('main').innerText(), /Entry hash/)
  await screenshot(page, 'audit-event')
  await checkA11y(page)

  // Verify a range around it.
  await page.goto(url('/audit/verify'))
  await page.fill('#from', '0')
  await page.fill('#to', entry)
  await page.getByRole('button', { name: 'Verify' }).click()
  await page.waitForURL(/\/audit\/verify\?from=0&to=/)
  const result = page.locator('#verify-result')
  assert.match(await result.innerText(), /Verified/)
  assert.match(await result.innerText(), new RegExp(`Entries 0 to ${entry}: ${Number(entry) + 1} entries`))
  await screenshot(page, 'audit-verify')
  await checkA11y(page)

  // The whole log.
  await page.goto(url('/audit/verify?run=1'))
  assert.match(await page.locator('#verify-result').innerText(), /Verified[\s\S]*The whole log/)
  await page.context().close()
})

test('a subject search posts the identifier and shows only its pseudonym in the address', T, async () => {
  const page = await openBrowser()
  await login(page, 'ig')
  await page.goto(url('/audit'))
  await page.selectOption('#subject_kind', 'nhs_number')
  await page.fill('#subject_value', '943 476 5919')
  await page.getByRole('button', { name: 'Search' }).click()
  await page.waitForURL(/\/audit\?subject=ps1%3A[0-9a-f]{64}$/)
  assert.doesNotMatch(page.url(), /943|5919/)
  assert.doesNotMatch(await page.content(), /943 476 5919|9434765919/)
  assert.equal(await page.locator('#subject_kind').inputValue(), 'pseudonym')
  await page.context().close()
})

test('the search form shows its errors', T, async () => {
  const page = await openBrowser()
  await login(page, 'ig')
  await page.goto(url('/audit'))
  await page.fill('#from-day', '31')
  await page.fill('#from-month', '2')
  await page.fill('#from-year', '2026')
  await page.fill('#to-day', '1')
  await page.fill('#to-month', '1')
  await page.fill('#to-year', '2026')
  await page.selectOption('#subject_kind', 'nhs_number')
  await page.getByRole('button', { name: 'Search' }).click()
  const summary = page.locator('.govuk-error-summary')
  await summary.waitFor()
  const text = await summary.innerText()
  assert.match(text, /Enter a real date for From/)
  assert.match(text, /Enter the identifier/)
  assert.match(await page.title(), /^Error: /)
  assert.equal(await page.locator('.govuk-error-summary a[href="#from-day"]').count(), 1)
  assert.match(await page.locator('#from-day').locator('xpath=ancestor::fieldset').innerText(), /Enter a real date for From/)
  await screenshot(page, 'audit-search-errors')
  await checkA11y(page)
  // To before From, and an unknown event type in a hand-made address.
  await page.goto(url('/audit?from=2026-03-02&to=2026-03-01&type=no_such_event'))
  const again = await page.locator('.govuk-error-summary').innerText()
  assert.match(again, /To must be the same as or after From/)
  assert.match(again, /Choose an event type from the list/)
  await page.context().close()
})

test('the export page shows the count first, then downloads the log as JSON lines', T, async () => {
  const page = await openBrowser()
  await login(page, 'ig')
  await page.goto(url('/audit/export'))
  const count = Number((await page.locator('#export-count').innerText()).trim())
  assert.ok(count > 0, `count ${count}`)
  await screenshot(page, 'audit-export')
  await checkA11y(page)
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Download the export' }).click()
  ])
  assert.match(download.suggestedFilename(), /^mash-audit-\d{4}-\d{2}-\d{2}\.jsonl$/)
  const lines = readFileSync(await download.path(), 'utf8').trim().split('\n').map(l => JSON.parse(l))
  assert.equal(lines[0].type, 'header')
  assert.equal(lines[0].format, 'mash-audit-export/v1')
  const entries = lines.filter(l => l.type === 'event' || l.type === 'purged')
  // Everything counted, and the export's own record (committed before the first byte).
  assert.ok(entries.length > count, `${entries.length} entries for a count of ${count}`)
  assert.ok(entries.some(l => l.event && l.event.type === 'exported' && l.event.person === 'ian.ig'))
  await page.context().close()
})

test('the subject report is made from a posted identifier', T, async () => {
  const page = await openBrowser()
  await login(page, 'ig')
  await page.goto(url('/subject-report'))
  await page.getByRole('button', { name: 'Make the report' }).click()
  assert.match(await page.locator('.govuk-error-summary').innerText(), /Choose the kind of identifier/)
  await page.check('input[name="kind"][value="nhs_number"]')
  await page.fill('#value', '401 023 2137')
  await page.getByRole('button', { name: 'Make the report' }).click()
  await page.waitForURL(/\/subject-report\?subject=ps1%3A[0-9a-f]{64}$/)
  assert.equal(await page.locator('h1').innerText(), 'Disclosure report')
  assert.doesNotMatch(await page.content(), /401 023 2137|4010232137/)
  await screenshot(page, 'audit-subject-report')
  await checkA11y(page)
  await page.context().close()
})

test('a practitioner gets the not found page at the audit pages', T, async () => {
  const page = await openBrowser()
  await login(page, 'practitioner')
  for (const path of ['/audit', '/audit/events/1', '/audit/verify', '/audit/export', '/subject-report']) {
    const response = await page.goto(url(path))
    assert.equal(response.status(), 404, path)
    assert.equal(await page.locator('h1').innerText(), 'Page not found')
  }
  await page.context().close()
})
