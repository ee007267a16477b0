// The harness itself: Chromium reaches the hub over HTTPS only because the broker's key is pinned,
// and the broker serves the console's built assets at /assets/.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, before, test } from 'node:test'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import {
  brokerSpkiHash, chromiumPath, consoleDir, currentHub, hubFetch, openBrowser, startHub, stopHub, url
} from './lib/hub.mjs'

before(startHub, { timeout: 300_000 })
after(stopHub, { timeout: 120_000 })

test('Chromium connects to the broker with its key pinned', { timeout: 60_000 }, async () => {
  const page = await openBrowser()
  const response = await page.goto(url('/assets/console.css'))
  assert.ok(response, 'no response')
  const security = await response.securityDetails()
  assert.equal(security.protocol, 'TLS 1.3')
  assert.match(security.subjectName, /broker|localhost|127\.0\.0\.1/)
  await page.context().close()
})

test('without the pin Chromium refuses the broker certificate', { timeout: 60_000 }, async () => {
  const require = createRequire(join(consoleDir, 'package.json'))
  const { chromium } = require('playwright-core')
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run']
  })
  try {
    const page = await browser.newPage()
    await assert.rejects(page.goto(url('/assets/console.css')), /ERR_CERT_AUTHORITY_INVALID/)
    // The pin names one key, not "any certificate": a wrong hash still fails.
    assert.notEqual(brokerSpkiHash(currentHub().cert), brokerSpkiHash(currentHub().ca))
  } finally {
    await browser.close()
  }
})

test('the broker serves the built console assets at /assets/', { timeout: 60_000 }, async () => {
  const dist = join(consoleDir, 'dist')
  for (const [path, type] of [
    ['console.css', /^text\/css/],
    ['console.js', /^(text|application)\/javascript/],
    ['govuk-frontend.min.js', /^(text|application)\/javascript/],
    ['moj-frontend.min.js', /^(text|application)\/javascript/],
    ['images/favicon.ico', /^image\//],
    ['images/favicon.svg', /^image\/svg\+xml/]
  ]) {
    const r = await hubFetch(`/assets/${path}`)
    assert.equal(r.status, 200, `/assets/${path}: ${r.status}`)
    assert.match(r.headers['content-type'] || '', type, `/assets/${path}: ${r.headers['content-type']}`)
    assert.equal(r.headers['x-content-type-options'], 'nosniff', `/assets/${path}: no nosniff`)
    if (!path.startsWith('images/')) {
      assert.equal(r.body, readFileSync(join(dist, path), 'utf8'), `/assets/${path} is not dist/${path}`)
    }
  }
  // Nothing outside dist/: a traversal or an unknown file is 404, never a file from elsewhere.
  for (const path of ['/assets/../package.json', '/assets/%2e%2e/package.json',
    '/assets/..%2fpackage.json', '/assets/nope.css']) {
    const r = await hubFetch(path)
    assert.ok(r.status === 404 || r.status === 400, `${path}: ${r.status}`)
    assert.doesNotMatch(r.body, /"name": "mash-console"/)
  }
})

test('a page of the console loads its stylesheet and script in Chromium', { timeout: 60_000 }, async () => {
  const page = await openBrowser()
  const failed = []
  page.on('requestfailed', r => failed.push(`${r.url()} ${r.failure()?.errorText}`))
  page.on('response', r => { if (r.status() >= 400 && r.url().includes('/assets/')) failed.push(`${r.url()} ${r.status()}`) })
  const errors = []
  page.on('pageerror', e => errors.push(e.message))
  await page.goto(url('/login'))
  await page.waitForFunction(() => document.body.classList.contains('govuk-frontend-supported'))
  const font = await page.evaluate(() => getComputedStyle(document.querySelector('h1')).fontFamily)
  assert.match(font, /^arial, sans-serif$/i, 'the heading is not in Arial / sans-serif')
  assert.deepEqual(failed, [])
  assert.deepEqual(errors, [])
  await page.context().close()
})
