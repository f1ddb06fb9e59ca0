// The JavaScript examples of docs/node.md and of the README's Node section
// run as they are written: each block is a module importing 'reelgraph'
// (the package resolves itself by name), and each `console.log(...) // out`
// must print `out`. The remote examples get a real server in
// REELGRAPH_SERVER and REELGRAPH_KEY.

import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

import { startServer } from './support/server.mjs'

const PACKAGE = fileURLToPath(new URL('..', import.meta.url))

/** The ```js blocks of `markdown`. */
function blocks(markdown) {
  return [...markdown.matchAll(/^```js\n([\s\S]*?)^```$/gm)].map((m) => m[1])
}

/** What the block's `console.log(...) // out` comments say it prints, in order. */
function promised(code) {
  return [...code.matchAll(/^\s*console\.log\(.*\) \/\/ (.+)$/gm)].map((m) => m[1])
}

function runAll(name, markdown, env = process.env) {
  const found = blocks(markdown)
  assert.ok(found.length > 0, `${name} has no js example`)
  // Inside the package, so that `import ... from 'reelgraph'` finds it.
  const dir = mkdtempSync(join(PACKAGE, '.doc-examples-'))
  try {
    found.forEach((code, i) => {
      const file = join(dir, `example-${i}.mjs`)
      writeFileSync(file, code)
      const out = execFileSync(process.execPath, [file], { cwd: PACKAGE, encoding: 'utf8', timeout: 60_000, env })
      let at = 0
      for (const line of promised(code)) {
        const index = out.indexOf(line, at)
        assert.ok(index >= 0, `${name} example ${i + 1} should print ${line}; it printed:\n${out}`)
        at = index + line.length
      }
    })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

test('the examples of docs/node.md run', async () => {
  const server = await startServer()
  try {
    const env = { ...process.env, REELGRAPH_SERVER: server.url, REELGRAPH_KEY: server.key }
    runAll('docs/node.md', readFileSync(new URL('../../docs/node.md', import.meta.url), 'utf8'), env)
  } finally {
    await server.stop()
  }
})

test("the README's Node example runs", () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  const section = readme.split(/^## /m).find((s) => s.startsWith('A first canvas in Node'))
  assert.ok(section, 'the README has no "A first canvas in Node" section')
  runAll('README.md', section)
})
