// The console's front-end build (console/build.mjs): the same bytes every time, nothing of GOV.UK's
// own identity (GDS Transport, the crown), every image the CSS names shipped, and scripts that
// load as ES modules from /assets/ only.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { consoleDir } from './lib/hub.mjs'

let dir
before(() => { dir = mkdtempSync(join(tmpdir(), 'mash-console-build-')) })
after(() => rmSync(dir, { recursive: true, force: true }))

function build (out) {
  const r = spawnSync(process.execPath, [join(consoleDir, 'build.mjs')], {
    env: { ...process.env, MASH_CONSOLE_DIST: out }, encoding: 'utf8'
  })
  assert.equal(r.status, 0, r.stderr)
  return readFileSync(join(out, 'manifest.txt'), 'utf8')
}

test('two builds write the same bytes', { timeout: 120_000 }, () => {
  const a = build(join(dir, 'a'))
  const b = build(join(dir, 'b'))
  assert.equal(a, b)
  for (const f of ['console.css', 'console.js', 'govuk-frontend.min.js', 'moj-frontend.min.js', 'images/favicon.ico', 'images/favicon.svg']) {
    assert.match(a, new RegExp(`^[0-9a-f]{64}  ${f.replace('.', '\\.')}$`, 'm'), `${f} not built`)
  }
  // The manifest lists exactly the files written.
  for (const line of a.trim().split('\n')) assert.ok(existsSync(join(dir, 'a', line.slice(66))), line)
})

test('the stylesheet uses Arial, no GDS Transport, no font files, and only shipped images', { timeout: 60_000 }, () => {
  const out = join(dir, 'a')
  const css = readFileSync(join(out, 'console.css'), 'utf8')
  // (assert.ok, not assert.match: a failure should not print 150 kB of CSS.)
  assert.ok(!/GDS Transport|@font-face|\/fonts\//.test(css), 'GDS Transport or a font file in console.css')
  assert.ok(/font-family:arial,sans-serif/.test(css), 'no Arial')
  assert.ok(/\.govuk-generic-header\{/.test(css), 'no Generic header styles')
  for (const cls of ['moj-filter', 'moj-timeline', 'moj-page-header-actions', 'moj-sub-navigation', 'moj-button-menu']) {
    assert.ok(new RegExp(`\\.${cls}[_{ .:-]`).test(css), `${cls} missing`)
  }
  assert.ok(css.includes('[aria-sort] button'), 'no sortable table styles')
  // Not the MOJ components the console does not use.
  for (const cls of ['moj-header', 'moj-rich-text-editor', 'moj-multi-file-upload']) {
    assert.ok(!new RegExp(`\\.${cls}[_{ .:-]`).test(css), `${cls} should not be in console.css`)
  }
  for (const [, path] of css.matchAll(/url\("?([^")]+)"?\)/g)) {
    if (path.startsWith('data:') || path === '/assets/images/govuk-crest.svg') continue
    assert.match(path, /^\/assets\/images\//)
    assert.ok(existsSync(join(out, path.slice('/assets/'.length))), `${path} is not shipped`)
  }
  assert.ok(!existsSync(join(out, 'images/govuk-crest.svg')), 'the crest is shipped')
  // The favicon is the console's own, not the GOV.UK crown.
  assert.doesNotMatch(readFileSync(join(out, 'images/favicon.svg'), 'utf8'), /crown|gov\.uk/i)
})

test('console.js is an ES module that imports only the two bundles next to it', { timeout: 60_000 }, () => {
  const js = readFileSync(join(dir, 'a', 'console.js'), 'utf8')
  const imports = [...js.matchAll(/^import .* from '([^']+)'/gm)].map(m => m[1])
  assert.deepEqual(imports, ['./govuk-frontend.min.js', './moj-frontend.min.js'])
  assert.match(js, /classList\.add\('js-enabled', 'govuk-frontend-supported'\)/)
  for (const bundle of ['govuk-frontend.min.js', 'moj-frontend.min.js']) {
    const text = readFileSync(join(dir, 'a', bundle), 'utf8')
    assert.doesNotMatch(text, /^import |\bimport\s*\(|from\s*"(?!\.)[^"]+"/m, `${bundle} imports another module`)
    assert.match(text, /export\s*\{[^}]*\binitAll\b/)
  }
})
