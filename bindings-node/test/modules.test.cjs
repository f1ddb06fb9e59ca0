// CommonJS and ESM load the same package: the same classes, not two copies.
const assert = require('node:assert/strict')
const { test } = require('node:test')

const cjs = require('../index.js')

test('require and import give the same exports', async () => {
  const esm = await import('../index.mjs')
  const names = Object.keys(cjs).sort()
  assert.ok(names.includes('Canvas') && names.includes('ReelgraphError'))
  for (const name of names) assert.equal(esm[name], cjs[name], name)
  assert.equal(esm.default, cjs)
  assert.ok(new esm.Canvas('c', 'C') instanceof cjs.Canvas)
})
