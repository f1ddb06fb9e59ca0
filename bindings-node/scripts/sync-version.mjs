// Keeps the npm package's version that of the Cargo workspace (one version
// for the crate, the Python and the Node packages).
//   node scripts/sync-version.mjs          write it into package.json and package-lock.json
//   node scripts/sync-version.mjs --check  fail when they differ
import { readFileSync, writeFileSync } from 'node:fs'

const root = new URL('../', import.meta.url)
const cargo = readFileSync(new URL('../Cargo.toml', root), 'utf8')
const section = cargo.split(/^\[workspace\.package\]$/m)[1]
const version = section && section.match(/^version\s*=\s*"([^"]+)"/m)?.[1]
if (!version) {
  console.error('no version under [workspace.package] in Cargo.toml')
  process.exit(1)
}

const files = {
  'package.json': (pkg) => [pkg],
  'package-lock.json': (lock) => [lock, lock.packages['']],
}
const check = process.argv.includes('--check')
let stale = false
for (const [file, places] of Object.entries(files)) {
  const url = new URL(file, root)
  const data = JSON.parse(readFileSync(url, 'utf8'))
  for (const place of places(data)) {
    if (place.version === version) continue
    if (check) {
      console.error(`bindings-node/${file} has version ${place.version}, Cargo.toml ${version}: run 'npm run version:sync'`)
      stale = true
    }
    place.version = version
  }
  if (!check) writeFileSync(url, `${JSON.stringify(data, null, 2)}\n`)
}
if (stale) process.exit(1)
if (check) console.log(`package.json and package-lock.json are at version ${version}, as Cargo.toml`)
