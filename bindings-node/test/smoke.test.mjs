// A first canvas through the package: edit, validate, preview, and a refusal.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { Canvas, Catalog, ReelgraphError } from '../index.mjs'

test('a canvas is edited, validated and refuses a wrong wire with a code', () => {
  const canvas = new Canvas('teaser', 'Teaser', Catalog.builtin())
  const applied = canvas.apply([
    { op: 'add_node', id: 'shot_1', type: 'shot', properties: { prompt: 'Mara at the window' } },
    { op: 'add_node', id: 'frame_1', type: 'image_gen', properties: { seed: 42 } },
    { op: 'connect', source: { node: 'shot_1', port: 'shot' }, target: { node: 'frame_1', port: 'shot' } },
  ])
  assert.equal(applied.revision, 1)
  assert.equal(canvas.revision, 1)
  assert.equal(canvas.validate().valid, true)
  assert.equal(canvas.taskPreview('frame_1', 'draft').function, 'image.generate')

  assert.throws(
    () => canvas.apply([{ op: 'connect', source: { node: 'frame_1', port: 'image' }, target: { node: 'shot_1', port: 'shot' } }]),
    (err) => err instanceof ReelgraphError && err.code === 'unknown_port' && err.message.includes(err.hint),
  )
  assert.equal(canvas.revision, 1)
  assert.deepEqual(Canvas.fromJson(canvas.toJson()).toDocument(), canvas.toDocument())
})
