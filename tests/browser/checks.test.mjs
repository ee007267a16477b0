// Practitioners and managers in the web console: raise a check through every question page and
// "check your answers", see the answers arrive, authorise an override as a manager of the team,
// record the MASH decision; form errors on every page; what another team may not see.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { checkA11y, currentHub, login, openBrowser, screenshot, startHub, stopHub, url } from './lib/hub.mjs'

before(startHub, { timeout: 300_000 })
after(stopHub, { timeout: 120_000 })

const T = { timeout: 180_000 }

// A child the generated records hold at health (with an NHS number), as scripts/demo.sh picks one.
function subject () {
  const dir = currentHub().synth
  const people = readFileSync(join(dir, 'health', 'people.csv'), 'utf8').trim().split('\n')
  const head = people.shift().split(',')
  const col = name => head.indexOf(name)
  for (const line of people) {
    const f = line.split(',')
    const dob = f[col('dob')]
    if (!dob || !f[col('nhs_number')]) continue
    const year = Number(dob.slice(0, 4))
    if (year < 2010 || year > 2020) continue
    return { given: f[col('given_names')], family: f[col('family_name')], dob, nhs: f[col('nhs_number')] }
  }
  throw new Error('no child with an NHS number in the generated health records')
}

async function submit (page, text) {
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: text }).click()])
}

// The error summary's messages and the field messages, in order.
async function errorsOn (page) {
  const summary = await page.locator('.govuk-error-summary__list li').allInnerTexts()
  const fields = await page.locator('.govuk-error-message').allInnerTexts()
  return { summary, fields: fields.map(t => t.replace(/^Error:\s*/, '')) }
}

// Raises a check without consent through every question page, checking each page's errors.
async function raiseOverride (page, who) {
  await page.goto(url('/checks/new'))
  await submit(page, 'Start now')
  assert.match(page.url(), /\/checks\/new\/subject$/)

  // Nothing entered: the summary links to each field, which has its message too.
  await submit(page, 'Continue')
  let e = await errorsOn(page)
  assert.deepEqual(e.summary, ['Enter the family name'])
  assert.deepEqual(e.fields, ['Enter the family name'])
  assert.equal(await page.title(), 'Error: Who is the check about? - MASH Exchange')
  assert.equal(await page.locator('.govuk-error-summary a[href="#family_name"]').count(), 1)
  await screenshot(page, 'checks-subject-errors')
  await checkA11y(page)

  // A wrong NHS number check digit and an impossible date are both caught.
  await page.fill('#given_names', who.given)
  await page.fill('#family_name', who.family)
  await page.fill('#dob-day', '31'); await page.fill('#dob-month', '2'); await page.fill('#dob-year', '2015')
  await page.fill('#nhs_number', '9434765918')
  await submit(page, 'Continue')
  e = await errorsOn(page)
  assert.deepEqual(e.summary, ['Date of birth must be a real date, for example 27 3 2011',
    'Enter a valid NHS number: 10 digits with a correct check digit'])
  // What was typed is kept.
  assert.equal(await page.inputValue('#family_name'), who.family)

  const [y, mo, d] = who.dob.split('-')
  await page.fill('#dob-day', String(Number(d))); await page.fill('#dob-month', String(Number(mo)))
  await page.fill('#dob-year', y)
  await page.fill('#nhs_number', who.nhs)
  await submit(page, 'Continue')
  assert.match(page.url(), /\/checks\/new\/purpose$/)
  // Nothing of the subject is in any URL of the flow.
  assert.doesNotMatch(page.url(), new RegExp(who.family, 'i'))

  await submit(page, 'Continue')
  e = await errorsOn(page)
  assert.deepEqual(e.summary, ['Select the purpose of the check', 'Select the lawful basis'])
  await page.check('input[name="purpose"][value="child-protection-s47"]')
  await page.check('input[name="lawful_basis"][value="uk-gdpr-6-1-e"]')
  await submit(page, 'Continue')

  assert.match(page.url(), /\/checks\/new\/consent$/)
  await submit(page, 'Continue')
  assert.deepEqual((await errorsOn(page)).summary, ['Select whether the person has given consent'])
  await page.check('input[name="consent_state"][value="not_sought"]')
  await submit(page, 'Continue')

  assert.match(page.url(), /\/checks\/new\/override$/)
  await page.fill('#justification', 'too short')
  await submit(page, 'Continue')
  assert.deepEqual((await errorsOn(page)).summary, ['Select the ground for going ahead without consent',
    'Justification must be between 10 and 4000 characters'])
  await page.check('input[name="override_ground"][value="child_significant_harm"]')
  await page.fill('#justification', 'Seeking consent would alert the alleged perpetrator and put the child at risk.')
  await submit(page, 'Continue')

  assert.match(page.url(), /\/checks\/new\/urgency$/)
  await page.check('input[name="urgency"][value="red"]')
  await submit(page, 'Continue')

  assert.match(page.url(), /\/checks\/new\/agencies$/)
  await submit(page, 'Continue')
  assert.deepEqual((await errorsOn(page)).summary, ['Select at least one agency'])
  for (const a of ['police', 'health', 'education']) await page.check(`input[name="agencies"][value="${a}"]`)
  await page.check('input[name="level"][value="2"]')
  await submit(page, 'Continue')

  // Check your answers, with a working "Change" link that comes back here.
  assert.match(page.url(), /\/checks\/new\/check$/)
  const answers = await page.locator('main').innerText()
  for (const text of [`${who.given} ${who.family}`, who.dob, 'Child protection enquiry', 'Not sought',
    'Seeking consent would alert', 'Police', 'Health', 'Education']) {
    assert.ok(answers.includes(text), `check your answers lacks ${text}`)
  }
  await screenshot(page, 'checks-check-your-answers')
  await checkA11y(page)
  await Promise.all([page.waitForNavigation(), page.locator('a[href="/checks/new/urgency?change=1"]').click()])
  await page.check('input[name="urgency"][value="amber"]')
  await submit(page, 'Continue')
  assert.match(page.url(), /\/checks\/new\/check$/)
  assert.match(await page.locator('main').innerText(), /Amber/)

  await submit(page, 'Raise check')
  const m = page.url().match(/\/checks\/([0-9a-f]{32})\?raised=1$/)
  assert.ok(m, `not on the new check: ${page.url()}`)
  return m[1]
}

test('a practitioner raises an override, a manager authorises it, the answers arrive, the decision closes it', T, async () => {
  const who = subject()
  const page = await openBrowser()
  await login(page, 'practitioner')
  const id = await raiseOverride(page, who)

  // Waiting for a manager: nothing sent, and the practitioner cannot authorise it.
  let main = await page.locator('main').innerText()
  assert.match(main, /Awaiting authorisation/)
  assert.match(main, /Nothing has been sent/)
  assert.equal(await page.locator('form[action$="/authorisation"]').count(), 0)
  await screenshot(page, 'checks-awaiting-authorisation')

  // The manager finds it in the team's list and authorises it, after a form error.
  const manager = await openBrowser()
  await login(manager, 'manager')
  await manager.goto(url('/checks?state=awaiting_authorisation'))
  await Promise.all([manager.waitForNavigation(), manager.locator(`a[href="/checks/${id}"]`).click()])
  await submit(manager, 'Record authorisation')
  assert.deepEqual((await errorsOn(manager)).summary, ['Select whether you authorise the override', 'Enter the reason'])
  await manager.check('input[name="decision"][value="authorise"]')
  await manager.fill('#reason', 'The risk of significant harm is clear from the referral.')
  await submit(manager, 'Record authorisation')
  assert.match(manager.url(), new RegExp(`/checks/${id}\\?authorised=1$`))
  await screenshot(manager, 'checks-authorised')

  // The answers arrive: health holds the child (the generated records say so).
  let answered = false
  for (let i = 0; i < 60 && !answered; i++) {
    await page.goto(url(`/checks/${id}`))
    main = await page.locator('main').innerText()
    answered = /Health[\s\S]*Answered/.test(main) && /Police[\s\S]*(Answered|Awaiting custodian)/.test(main)
    if (!answered) await page.waitForTimeout(1000)
  }
  assert.ok(answered, 'the agencies did not answer')
  assert.match(main, /Match\s+Confirmed/)
  assert.match(main, /Override authorised/)
  assert.match(main, /Sent to Health/)
  // Every category says why it was shared or withheld, naming the agency's policy.
  const why = await page.locator('.govuk-summary-card table tbody tr td:nth-child(4)').allInnerTexts()
  assert.ok(why.length > 0 && why.every(t => t.length > 10), `categories without a why: ${why}`)
  await screenshot(page, 'checks-answers')
  await checkA11y(page)

  // The decision: errors first, then it closes the check.
  await submit(page, 'Record decision')
  assert.deepEqual((await errorsOn(page)).summary, ['Select the outcome of the MASH decision', 'Enter the rationale'])
  await page.check('input[name="outcome"][value="strategy_discussion"]')
  await page.fill('#rationale', 'Threshold met: health and police information indicate risk of significant harm.')
  await submit(page, 'Record decision')
  main = await page.locator('main').innerText()
  assert.match(main, /Decision recorded: the check is closed/)
  assert.match(main, /MASH decision[\s\S]*Strategy discussion/)
  assert.equal(await page.locator('form[action$="/decision"]').count(), 0)
  await screenshot(page, 'checks-closed')

  // The list filters by state and shows the tag.
  await page.goto(url('/checks?state=closed'))
  assert.equal(await page.locator(`a[href="/checks/${id}"]`).count(), 1)
  await page.goto(url('/checks?state=open'))
  assert.equal(await page.locator(`a[href="/checks/${id}"]`).count(), 0)
  await screenshot(page, 'checks-list')
  await checkA11y(page)

  // The manager's deadlines page shows the team at a glance.
  await manager.goto(url('/deadlines'))
  assert.match(await manager.locator('main').innerText(), /open checks[\s\S]*overdue[\s\S]*awaiting authorisation/)
  await screenshot(manager, 'checks-team-deadlines')
  await checkA11y(manager)
  await page.context().close()
  await manager.context().close()
})

test('another team, an IG officer and the raiser themself cannot see or authorise a check', T, async () => {
  const page = await openBrowser()
  await login(page, 'practitioner')
  const id = await raiseOverride(page, subject())

  const other = await openBrowser()
  await login(other, 'practitioner2')
  let r = await other.goto(url(`/checks/${id}`))
  assert.equal(r.status(), 404)
  await other.goto(url('/checks'))
  assert.equal(await other.locator(`a[href="/checks/${id}"]`).count(), 0)

  const ig = await openBrowser()
  await login(ig, 'ig')
  r = await ig.goto(url(`/checks/${id}`))
  assert.equal(r.status(), 404)
  r = await ig.goto(url('/checks/new'))
  assert.equal(r.status(), 404)

  // A forged authorisation by the practitioner who raised it (the form is not offered): refused.
  const status = await page.evaluate(async ({ id }) => {
    const csrf = document.querySelector('input[name="csrf"]').value
    const body = new URLSearchParams({ csrf, decision: 'authorise', reason: 'I authorise my own check' })
    const res = await fetch(`/checks/${id}/authorisation`, { method: 'POST', body, redirect: 'manual' })
    return res.status
  }, { id })
  assert.equal(status, 404)
  await page.goto(url(`/checks/${id}`))
  assert.match(await page.locator('main').innerText(), /Awaiting authorisation/)
  for (const p of [page, other, ig]) await p.context().close()
})

test('a question page without a check being raised goes back to the start', T, async () => {
  const page = await openBrowser()
  await login(page, 'practitioner')
  await page.goto(url('/checks/new/check'))
  assert.match(page.url(), /\/checks\/new$/)
  await checkA11y(page)
  await page.context().close()
})
