// The demo short film run from Node with the Rust demo functions: its
// storyboard frames and its EDL land in the output directory.

import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'

import { Canvas, Executor, LocalRunner } from '../index.js'

const CANVAS = new URL('../../examples/short-film/canvas.json', import.meta.url)

test('the demo canvas runs from Node, producing frames and an EDL', async () => {
  const out = mkdtempSync(join(tmpdir(), 'reelgraph-demo-'))
  try {
    const canvas = Canvas.fromJson(readFileSync(CANVAS, 'utf8'))
    const order = canvas.topologicalOrder()
    const doc = canvas.toDocument()
    assert.equal(order.length, doc.nodes.length)
    for (const edge of doc.edges) {
      assert.ok(order.indexOf(edge.source.node) < order.indexOf(edge.target.node), `${edge.id} points back`)
    }
    const executor = new Executor(LocalRunner.demo(out))
    const run = await executor.start(canvas, { quality: 'draft' })
    const report = await run.wait()
    assert.equal(report.status, 'completed', JSON.stringify(report.errors))
    const files = readdirSync(out, { recursive: true }).map(String)
    assert.ok(files.some((f) => f.endsWith('.png')), `no frames in ${files}`)
    const edls = files.filter((f) => f.endsWith('.edl'))
    assert.ok(edls.length > 0, `no EDL in ${files}`)
    assert.match(readFileSync(join(out, edls[0]), 'utf8'), /^TITLE:/m)

    // Nothing changed: the second run is all cache hits.
    const again = await (await executor.start(canvas, { quality: 'draft' })).wait()
    assert.equal(again.stats.executed, 0)
  } finally {
    rmSync(out, { recursive: true, force: true })
  }
})
