// Catalog and Canvas through the package: the same results as the core's JSON.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { Canvas, Catalog, ReelgraphError, errorTable } from '../index.mjs'

const SHOT = [
  { op: 'add_node', id: 'shot_1', type: 'shot', properties: { prompt: 'rain' } },
  { op: 'add_node', id: 'frame_1', type: 'image_gen', properties: { seed: 7 } },
  { op: 'connect', source: { node: 'shot_1', port: 'shot' }, target: { node: 'frame_1', port: 'shot' } },
]

const LUT = {
  type: 'lut',
  category: 'post',
  title: 'LUT',
  inputs: [{ name: 'image', type: 'image', required: true }],
  outputs: [{ name: 'image', type: 'image' }],
}

test('a canvas has its id, name and revision, and an empty document', () => {
  const canvas = new Canvas('teaser', 'Teaser')
  assert.deepEqual([canvas.id, canvas.name, canvas.revision], ['teaser', 'Teaser', 0])
  const doc = canvas.toDocument()
  assert.equal(doc.format, 'reelgraph.canvas')
  assert.deepEqual([doc.nodes, doc.edges], [[], []])
  assert.deepEqual(JSON.parse(canvas.toJson()), doc)
})

test('apply returns the revision, the inverse ops and the change event', () => {
  const canvas = new Canvas('c', 'C')
  const applied = canvas.apply(SHOT)
  assert.equal(applied.revision, 1)
  assert.equal(applied.event.type, 'canvas_changed')
  assert.equal(applied.event.canvas_id, 'c')
  assert.equal(applied.event.ops.length, 3)
  assert.deepEqual(
    applied.inverse.map((op) => op.op),
    ['disconnect', 'remove_node', 'remove_node'],
  )
  // The inverse is ops like any other.
  canvas.apply(applied.inverse)
  assert.deepEqual(canvas.toDocument().nodes, [])
})

test('a small and a big apply give the same plain object, converted when read', () => {
  // Every apply's result stays native until read (src/applied.rs).
  for (const count of [3, 65, 200]) {
    const canvas = new Canvas('c', 'C')
    const ops = Array.from({ length: count }, (_, i) => ({ op: 'add_node', id: `s${i}`, type: 'shot' }))
    const applied = canvas.apply(ops)
    assert.deepEqual(Object.keys(applied), ['revision', 'inverse', 'event'])
    const copy = JSON.parse(JSON.stringify(applied))
    assert.deepEqual({ ...applied }, copy)
    assert.equal(copy.revision, 1)
    assert.equal(copy.event.ops.length, count)
    assert.deepEqual(copy.inverse.at(-1), { op: 'remove_node', id: 's0' })
    // Read once, then a plain property like any other.
    assert.equal(applied.inverse, applied.inverse)
    applied.event = 'replaced'
    assert.equal(applied.event, 'replaced')

    const undone = canvas.undo()
    assert.deepEqual(undone.event.ops, copy.inverse)
    assert.equal(undone.inverse.length, count)
    assert.equal(canvas.redo().revision, 3)
    assert.equal(canvas.toDocument().nodes.length, count)
  }
})

test('an apply result read after later applies, undo and redo is still its own', () => {
  const canvas = new Canvas('c', 'C')
  const first = canvas.apply([{ op: 'add_node', id: 's1', type: 'shot' }])
  const second = canvas.apply([{ op: 'set_label', id: 's1', label: 'Opening' }])
  const undone = canvas.undo()
  const redone = canvas.redo()
  for (let i = 2; i < 50; i++) canvas.apply([{ op: 'add_node', id: `s${i}`, type: 'shot' }])
  assert.deepEqual(first.inverse, [{ op: 'remove_node', id: 's1' }])
  assert.deepEqual([first.event.seq, first.event.ops[0].id], [1, 's1'])
  assert.deepEqual(second.event.ops, [{ op: 'set_label', id: 's1', label: 'Opening' }])
  assert.deepEqual(undone.event.ops, second.inverse)
  assert.deepEqual([undone.revision, redone.revision, redone.event.seq], [3, 4, 4])
  assert.deepEqual(redone.inverse, second.inverse)
})

test('undo and redo walk through the applies made on the canvas', () => {
  const canvas = new Canvas('c', 'C')
  assert.equal(canvas.undo(), null)
  canvas.apply(SHOT)
  canvas.apply([{ op: 'set_label', id: 'shot_1', label: 'Opening' }])
  assert.equal(canvas.canUndo, true)
  assert.equal(canvas.canRedo, false)

  assert.equal(canvas.undo().revision, 3)
  assert.equal(canvas.toDocument().nodes[0].label, undefined)
  canvas.undo()
  assert.equal(canvas.toDocument().nodes.length, 0)
  assert.equal(canvas.undo(), null)
  assert.equal(canvas.canRedo, true)

  canvas.redo()
  assert.equal(canvas.toDocument().nodes.length, 2)
  canvas.apply([{ op: 'move_node', id: 'shot_1', position: { x: 5, y: 5 } }])
  assert.equal(canvas.redo(), null, 'a new edit drops what was undone')
})

test('a refused apply throws a ReelgraphError and changes nothing', () => {
  const canvas = new Canvas('c', 'C')
  canvas.apply(SHOT)
  const before = canvas.toJson()
  assert.throws(
    () => canvas.apply([{ op: 'add_node', id: 'x', type: 'shot' }, { op: 'remove_node', id: 'nope' }]),
    (err) => {
      assert.ok(err instanceof ReelgraphError)
      assert.ok(err instanceof Error)
      assert.equal(err.name, 'ReelgraphError')
      assert.equal(err.code, 'unknown_node')
      assert.equal(err.category, 'not_found')
      assert.equal(err.details.op_index, 1)
      assert.ok(err.hint.length > 0)
      assert.ok(err.message.endsWith(`hint: ${err.hint}`))
      assert.deepEqual(Object.keys(err.toJSON()), ['code', 'message', 'hint', 'details'])
      assert.ok(!err.toJSON().message.includes('hint:'))
      return true
    },
  )
  assert.equal(canvas.toJson(), before)
  assert.equal(canvas.revision, 1)
})

test('canConnect answers true or throws the reason, and changes nothing', () => {
  const canvas = new Canvas('c', 'C')
  canvas.apply(SHOT.slice(0, 2))
  const before = canvas.toJson()
  assert.equal(canvas.canConnect({ node: 'shot_1', port: 'shot' }, { node: 'frame_1', port: 'shot' }), true)
  assert.throws(
    () => canvas.canConnect({ node: 'frame_1', port: 'image' }, { node: 'shot_1', port: 'characters' }),
    { name: 'ReelgraphError', code: 'type_mismatch' },
  )
  assert.equal(canvas.toJson(), before)
})

test('validate reports what keeps a canvas from running', () => {
  const canvas = new Canvas('c', 'C')
  canvas.apply([{ op: 'add_node', id: 'up', type: 'upscale' }])
  const report = canvas.validate()
  assert.equal(report.valid, false)
  assert.ok(report.diagnostics.some((d) => d.code === 'required_input_missing' && d.node === 'up'))
})

test('task previews at a quality tier, standard by default', () => {
  const canvas = new Canvas('c', 'C')
  canvas.apply(SHOT)
  const draft = canvas.taskPreview('frame_1', 'draft')
  assert.equal(draft.function, 'image.generate')
  assert.equal(draft.quality, 'draft')
  assert.equal(canvas.taskPreview('frame_1').quality, 'standard')
  assert.deepEqual(
    canvas.taskPreviews('high').map((t) => t.node),
    ['frame_1'],
  )
  assert.throws(() => canvas.taskPreview('frame_1', 'best'), { code: 'invalid_field' })
  assert.throws(() => canvas.taskPreview('shot_1'), { code: 'no_task' })
})

test('fromJson and fromDocument load what toJson and toDocument wrote', () => {
  const canvas = new Canvas('c', 'C')
  canvas.apply(SHOT)
  assert.equal(Canvas.fromJson(canvas.toJson()).toJson(), canvas.toJson())
  // Through JS objects a float such as 4.0 comes back as 4: equal by value.
  assert.deepEqual(Canvas.fromDocument(canvas.toDocument()).toDocument(), canvas.toDocument())
  assert.throws(() => Canvas.fromJson('{"format": "reelgraph.canvas"'), { code: 'invalid_json' })
})

test('a catalog registers specs as objects, arrays or JSON text, and canvases see them', () => {
  const catalog = Catalog.builtin()
  assert.deepEqual(catalog.register(LUT), ['lut'])
  assert.deepEqual(catalog.register(JSON.stringify([{ ...LUT, type: 'lut_2' }])), ['lut_2'])
  assert.ok(catalog.types().includes('lut'))
  assert.equal(catalog.spec('lut').title, 'LUT')
  assert.equal(catalog.spec('nope'), null)
  assert.throws(() => catalog.register(LUT), { code: 'duplicate_node_type' })

  const canvas = new Canvas('c', 'C', catalog)
  canvas.apply([{ op: 'add_node', id: 'l', type: 'lut' }])
  assert.throws(() => new Canvas('c', 'C').apply([{ op: 'add_node', id: 'l', type: 'lut' }]), {
    code: 'unknown_node_type',
  })
  // Clones share one registry: a type registered later is seen too.
  catalog.register({ ...LUT, type: 'late' })
  canvas.apply([{ op: 'add_node', id: 'late_1', type: 'late' }])
})

test('the error table is the core one', () => {
  const table = errorTable()
  assert.ok(table.length > 20)
  assert.ok(table.every((row) => row.code && row.category && row.http_status >= 400))
  assert.ok(table.some((row) => row.code === 'conflict' && row.http_status === 409))
})

test('registerFile reads specs from a JSON file; a missing file is an io error', async () => {
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs')
  const { join } = await import('node:path')
  const { tmpdir } = await import('node:os')
  const dir = mkdtempSync(join(tmpdir(), 'reelgraph-specs-'))
  try {
    writeFileSync(join(dir, 'lut.json'), JSON.stringify([LUT]))
    const catalog = Catalog.builtin()
    assert.deepEqual(catalog.registerFile(join(dir, 'lut.json')), ['lut'])
    assert.throws(() => catalog.registerFile(join(dir, 'nope.json')), { name: 'ReelgraphError', code: 'io' })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
