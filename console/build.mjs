// Builds the web console's front-end assets into dist/ (served by mash-broker at /assets/):
//
//   dist/console.css                 src/console.scss compiled with dart-sass (GOV.UK Frontend and
//                                    the MOJ components the console uses; Arial, no GDS Transport)
//   dist/console.js                  src/console.mjs: marks the page supported, initialises both
//   dist/govuk-frontend.min.js       GOV.UK Frontend's ES module bundle (+ .map)
//   dist/moj-frontend.min.js         MOJ Frontend's ES module bundle (+ .map)
//   dist/images/                     every image console.css refers to, and the console's own
//                                    favicon (favicon.svg, favicon.ico: not the GOV.UK crown)
//
// Run with `npm run build` after `npm ci`; it reads only node_modules/ and src/ (no network) and
// writes the same bytes for the same inputs (no timestamps, no absolute paths, sorted lists).
import { compile } from 'sass'
import { createHash } from 'node:crypto'
import { copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = dirname(fileURLToPath(import.meta.url))
const dist = join(root, 'dist')
const govuk = join(root, 'node_modules/govuk-frontend/dist/govuk')
const moj = join(root, 'node_modules/@ministryofjustice/frontend/moj')

// Images the CSS may name but the console deliberately does not ship: the Royal Arms crest of
// GOV.UK's footer (.govuk-footer__copyright-logo) is for services on GOV.UK only.
const notShipped = new Set(['govuk-crest.svg'])

function fail (message) {
  console.error(`console build: ${message}`)
  process.exit(1)
}

rmSync(dist, { recursive: true, force: true })
mkdirSync(join(dist, 'images'), { recursive: true })

// 1. The stylesheet. Deprecation warnings from the packages' own Sass (GOV.UK Frontend v5 still
// uses @import) are not ours to fix: quietDeps hides those, and the @import of GOV.UK Frontend
// from src/_govuk.scss is the one v5 documents.
const result = compile(join(root, 'src/console.scss'), {
  loadPaths: [root],
  style: 'compressed',
  quietDeps: true,
  silenceDeprecations: ['import'],
  sourceMap: false
})
const css = result.css
if (/GDS Transport/.test(css)) fail('console.css names the GDS Transport font')
if (/@font-face/.test(css)) fail('console.css has an @font-face rule')
writeFileSync(join(dist, 'console.css'), css + '\n')

// 2. The scripts: both packages ship ES module bundles that export initAll.
for (const [from, name] of [[govuk, 'govuk-frontend.min.js'], [moj, 'moj-frontend.min.js']]) {
  const js = readFileSync(join(from, name), 'utf8')
  if (!/export\s*\{[^}]*\binitAll\b/.test(js)) fail(`${name} does not export initAll`)
  copyFileSync(join(from, name), join(dist, name))
  copyFileSync(join(from, `${name}.map`), join(dist, `${name}.map`))
}
copyFileSync(join(root, 'src/console.mjs'), join(dist, 'console.js'))

// 3. Every image the stylesheet refers to, from GOV.UK Frontend's or MOJ Frontend's assets.
const referenced = [...css.matchAll(/url\(\s*["']?([^"')]+)["']?\s*\)/g)].map(m => m[1])
const images = new Set()
for (const url of referenced) {
  if (url.startsWith('data:')) continue
  const match = /^\/assets\/images\/([A-Za-z0-9._-]+)$/.exec(url)
  if (!match) fail(`console.css refers to ${url}, outside /assets/images/`)
  if (!notShipped.has(match[1])) images.add(match[1])
}
for (const name of [...images].sort()) {
  const from = [join(govuk, 'assets/images', name), join(moj, 'assets/images', name)]
    .find(path => { try { readFileSync(path); return true } catch { return false } })
  if (!from) fail(`console.css refers to /assets/images/${name}, which no package ships`)
  copyFileSync(from, join(dist, 'images', name))
}

// 4. The console's own favicon: a white M on GOV.UK black (the GOV.UK favicons are the crown).
copyFileSync(join(root, 'src/images/favicon.svg'), join(dist, 'images/favicon.svg'))
writeFileSync(join(dist, 'images/favicon.ico'), faviconIco())

// 5. A list of what was written, with SHA-256 digests: two builds of the same inputs match.
const files = listFiles(dist).filter(f => f !== 'manifest.txt')
const manifest = files.map(f => `${sha256(join(dist, f))}  ${f}`).join('\n') + '\n'
writeFileSync(join(dist, 'manifest.txt'), manifest)
console.log(`console build: ${files.length} files in dist/ (console.css ${css.length} bytes)`)

function listFiles (dir, prefix = '') {
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap(e => e.isDirectory()
      ? listFiles(join(dir, e.name), `${prefix}${e.name}/`)
      : [`${prefix}${e.name}`])
}

function sha256 (path) {
  return createHash('sha256').update(readFileSync(path)).digest('hex')
}

// favicon.ico: one 32x32 32-bit BMP image of favicon.svg's shape (the M polygon, same
// coordinates), rasterised at pixel centres; written byte by byte, so it is the same every build.
function faviconIco () {
  const size = 32
  const m = [[6, 26], [6, 6], [10, 6], [16, 15], [22, 6], [26, 6], [26, 26], [22, 26], [22, 13],
    [16, 22], [10, 13], [10, 26]]
  const inside = (x, y) => {
    let hit = false
    for (let i = 0, j = m.length - 1; i < m.length; j = i++) {
      const [xi, yi] = m[i]
      const [xj, yj] = m[j]
      if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) hit = !hit
    }
    return hit
  }
  const pixels = Buffer.alloc(size * size * 4)
  for (let row = 0; row < size; row++) {
    const y = size - 1 - row // BMP rows run bottom-up
    for (let x = 0; x < size; x++) {
      const white = inside(x + 0.5, y + 0.5)
      const o = (row * size + x) * 4
      pixels.set(white ? [0xff, 0xff, 0xff, 0xff] : [0x0c, 0x0c, 0x0b, 0xff], o) // B, G, R, A
    }
  }
  const mask = Buffer.alloc((size / 8) * size) // AND mask: all opaque
  const info = Buffer.alloc(40)
  info.writeUInt32LE(40, 0) // BITMAPINFOHEADER
  info.writeInt32LE(size, 4)
  info.writeInt32LE(size * 2, 8) // colour image + mask
  info.writeUInt16LE(1, 12) // planes
  info.writeUInt16LE(32, 14) // bits per pixel
  info.writeUInt32LE(pixels.length + mask.length, 20)
  const image = Buffer.concat([info, pixels, mask])
  const header = Buffer.alloc(6 + 16)
  header.writeUInt16LE(0, 0)
  header.writeUInt16LE(1, 2) // icon
  header.writeUInt16LE(1, 4) // one image
  header.writeUInt8(size, 6)
  header.writeUInt8(size, 7)
  header.writeUInt16LE(1, 10) // planes
  header.writeUInt16LE(32, 12) // bits per pixel
  header.writeUInt32LE(image.length, 14)
  header.writeUInt32LE(header.length, 18)
  return Buffer.concat([header, image])
}
