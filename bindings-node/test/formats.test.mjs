// Formats through the package: React Flow both ways, ComfyUI in and out,
// any format sniffed, and the renderings.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { Canvas, Catalog, detectFormat, importAny, importComfyui } from '../index.mjs'

function shotCanvas() {
  const canvas = new Canvas('c', 'C')
  canvas.apply([
    { op: 'add_node', id: 'shot_1', type: 'shot', properties: { prompt: 'rain' }, position: { x: 10, y: 20 } },
    { op: 'add_node', id: 'frame_1', type: 'image_gen', position: { x: 300, y: 20 } },
    { op: 'connect', source: { node: 'shot_1', port: 'shot' }, target: { node: 'frame_1', port: 'shot' } },
  ])
  return canvas
}

const WORKFLOW = {
  nodes: [{ id: 1, type: 'Blur', widgets_values: [3] }],
  links: [],
}
const OBJECT_INFO = { Blur: { input: { required: { image: ['IMAGE'], radius: ['INT', {}] } } } }

test('React Flow: a canvas goes out and comes back the same', () => {
  const canvas = shotCanvas()
  const flow = canvas.toReactFlow()
  assert.deepEqual(flow.nodes.map((n) => n.id), ['shot_1', 'frame_1'])
  assert.deepEqual(flow.nodes[0].position, { x: 10, y: 20 })
  assert.equal(flow.edges.length, 1)
  assert.equal(detectFormat(flow), 'react_flow')

  const back = Canvas.fromReactFlow(flow)
  assert.deepEqual(back.toDocument().nodes, canvas.toDocument().nodes)
  assert.deepEqual(back.toDocument().edges, canvas.toDocument().edges)
  assert.deepEqual(Canvas.fromReactFlow(JSON.stringify(flow)).toDocument().nodes, canvas.toDocument().nodes)
  assert.throws(() => Canvas.fromReactFlow({ nodes: 3 }), { name: 'ReelgraphError', code: 'invalid_json' })
})

test('ComfyUI: a workflow imports with objectInfo naming its widgets, into the given catalogue', () => {
  const catalog = Catalog.builtin()
  const imported = importComfyui(WORKFLOW, { catalog, objectInfo: OBJECT_INFO })
  assert.equal(imported.canvas.nodes[0].properties.radius, 3)
  assert.ok(imported.registered_types.every((t) => catalog.types().includes(t)))
  assert.equal(imported.stats.nodes, 1)
  assert.ok(Canvas.fromDocument(imported.canvas, catalog))
  // Without objectInfo the widget gets a positional name.
  const guessed = importComfyui(JSON.stringify(WORKFLOW), { catalog: Catalog.builtin() })
  assert.equal(guessed.canvas.nodes[0].properties.radius, undefined)
})

test('ComfyUI: an API prompt imports, and a canvas exports one', () => {
  const prompt = { 3: { class_type: 'KSampler', inputs: { seed: 5, steps: 20 } } }
  assert.equal(detectFormat(prompt), 'comfyui_api')
  const imported = importComfyui(prompt, { catalog: Catalog.builtin() })
  assert.equal(imported.canvas.nodes.length, 1)

  const out = shotCanvas().toComfyuiPrompt()
  assert.deepEqual(Object.keys(out).sort(), ['diagnostics', 'left_out', 'prompt'])
})

test('importAny sniffs the format or reads the one it is told', () => {
  const doc = shotCanvas().toDocument()
  const native = importAny(doc)
  assert.equal(native.format, 'native')
  assert.deepEqual(native.canvas.nodes, doc.nodes)
  assert.equal(importAny(JSON.stringify(WORKFLOW), { catalog: Catalog.builtin() }).format, 'comfyui_workflow')
  assert.equal(importAny(doc, { format: 'native' }).format, 'native')
  assert.throws(() => importAny({ nodes: [] }, { format: 'native' }), { code: 'wrong_format' })
  assert.throws(() => importAny([1, 2]), { code: 'unknown_format' })
  assert.throws(() => importAny('{'), { code: 'invalid_json' })
  assert.throws(() => importAny(doc, { format: 'png' }), { code: 'invalid_json' })
  assert.throws(() => importAny(doc, 'native'), TypeError)
})

test('DOT, Mermaid and SVG render the canvas', () => {
  const canvas = shotCanvas()
  assert.match(canvas.toDot(), /^digraph/)
  assert.match(canvas.toDot(), /shot_1/)
  assert.match(canvas.toMermaid(), /^flowchart LR$/m)
  const svg = canvas.toSvg()
  assert.match(svg, /^<svg/)
  assert.ok(canvas.toSvg({ title: false, legend: false }).length < svg.length)
  assert.throws(() => canvas.toSvg({ titel: false }), { code: 'invalid_json' })
  assert.throws(() => canvas.toSvg('big'), TypeError)
})
