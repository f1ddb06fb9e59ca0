// The bad inputs that reach Catalog, Canvas and the stores: each is
// refused with an error that names the argument (or the path inside it).
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { Canvas, Catalog, MemoryStore, ReelgraphError } from '../index.mjs'

const typeError = (pattern) => (err) => {
  assert.ok(err instanceof TypeError, `a TypeError, got ${err}`)
  assert.equal(err.code, 'ERR_INVALID_ARG_TYPE')
  assert.match(err.message, pattern)
  return true
}
const rangeError = (pattern) => (err) => {
  assert.ok(err instanceof RangeError, `a RangeError, got ${err}`)
  assert.equal(err.code, 'ERR_OUT_OF_RANGE')
  assert.match(err.message, pattern)
  return true
}

test('wrong argument types are TypeErrors naming the argument', () => {
  assert.throws(() => new Canvas(42, 'C'), typeError(/"id" argument must be a string, got a number/))
  assert.throws(() => new Canvas('c', {}), typeError(/"name" argument must be a string, got an object/))
  assert.throws(() => new Canvas('c', 'C', 'builtin'), typeError(/"catalog" argument must be a Catalog, got a string/))
  assert.throws(() => new Canvas('c', 'C', {}), typeError(/"catalog" argument must be a Catalog, got another object/))
  assert.throws(() => Canvas.fromJson({ nodes: [] }), typeError(/"text" argument must be a string/))
  const canvas = new Canvas('c', 'C')
  assert.throws(() => canvas.apply({ op: 'add_node' }), typeError(/"ops" argument must be an array, got an object/))
  assert.throws(() => canvas.apply('[]'), typeError(/"ops" argument must be an array, got a string/))
  assert.throws(() => canvas.apply([() => 1]), typeError(/ops\[0\] is a function, which JSON cannot carry/))
  assert.throws(() => canvas.apply([new Map()]), typeError(/ops\[0\] is a Map; give a plain object/))
  assert.throws(() => canvas.taskPreview(1), typeError(/"node" argument must be a string, got a number/))
  assert.throws(() => canvas.taskPreview('n', 3), typeError(/"quality" argument must be a string, got a number/))
  assert.throws(() => canvas.canConnect('a.b', { node: 'a', port: 'b' }), typeError(/"source" argument must be an object/))
  assert.throws(() => Catalog.builtin().register(7), typeError(/"spec" argument must be an array or an object, got a number/))
  assert.throws(() => Catalog.builtin().spec(null), typeError(/"typeName" argument must be a string, got null/))
})

test('undefined and null where a value is required are refused by name', () => {
  assert.throws(() => new Canvas(undefined, 'C'), typeError(/"id" argument must be a string, got undefined/))
  assert.throws(() => new Canvas('c'), typeError(/"name" argument must be a string, got undefined/))
  const canvas = new Canvas('c', 'C')
  assert.throws(() => canvas.apply(), typeError(/"ops" argument must be an array, got undefined/))
  assert.throws(() => canvas.apply(null), typeError(/"ops" argument must be an array, got null/))
  assert.throws(() => canvas.apply([undefined]), typeError(/ops\[0\] is undefined/))
  assert.throws(() => Canvas.fromDocument(null), typeError(/"doc" argument must be an object, got null/))
  // Absent optional arguments are fine: the built-in catalogue, quality standard.
  assert.equal(new Canvas('c', 'C', undefined).revision, 0)
  assert.equal(new Canvas('c', 'C', null).revision, 0)
  // Inside a value, a property set to undefined is absent (as JSON.stringify does).
  canvas.apply([{ op: 'add_node', id: 'a', type: 'shot', label: undefined }])
  // A JSON null is a value: the core says what it means for the field.
  assert.throws(() => canvas.apply([{ op: 'add_node', id: null, type: 'shot' }]), { code: 'invalid_json' })
})

test('NaN and Infinity are refused with the path to them', () => {
  const canvas = new Canvas('c', 'C')
  canvas.apply([{ op: 'add_node', id: 'f', type: 'image_gen' }])
  const before = canvas.toJson()
  assert.throws(
    () => canvas.apply([{ op: 'set_properties', id: 'f', properties: { cfg_scale: NaN } }]),
    rangeError(/ops\[0\]\.properties\.cfg_scale is NaN: JSON has no NaN or Infinity/),
  )
  assert.throws(
    () => canvas.apply([{ op: 'move_node', id: 'f', position: { x: Infinity, y: 0 } }]),
    rangeError(/ops\[0\]\.position\.x is Infinity/),
  )
  assert.throws(() => canvas.apply([{ op: 'move_node', id: 'f', position: { x: -Infinity, y: 0 } }]), rangeError(/-Infinity/))
  assert.equal(canvas.toJson(), before)
})

test('integers beyond 2^53: a number is refused, a BigInt is taken exactly', () => {
  const canvas = new Canvas('c', 'C')
  assert.throws(
    () => canvas.apply([{ op: 'add_node', id: 'f', type: 'image_gen', properties: { seed: 2 ** 53 + 2 } }]),
    rangeError(/ops\[0\]\.properties\.seed is 9007199254740994, beyond 2\^53.*pass a BigInt/),
  )
  // Up to 2^53 - 1 a number is exact; a BigInt reaches the core as the exact
  // integer (here in `ui`, which the canvas keeps as it is given).
  canvas.apply([{ op: 'add_node', id: 'f', type: 'image_gen', ui: { a: Number.MAX_SAFE_INTEGER, b: 2n ** 60n + 1n } }])
  assert.match(canvas.toJson(), /"ui":\{"a":9007199254740991,"b":1152921504606846977\}/)
})

test('a circular value is refused, not a stack overflow', () => {
  const op = { op: 'add_node', id: 'a', type: 'shot', ui: {} }
  op.ui.self = op
  assert.throws(() => new Canvas('c', 'C').apply([op]), rangeError(/nested too deeply \(or circular\)/))
})

test('revisions must be non-negative integers within 2^53, or BigInts', async () => {
  const store = new MemoryStore()
  const canvas = new Canvas('c', 'C')
  await store.create(canvas)
  canvas.apply([{ op: 'add_node', id: 'a', type: 'shot' }])
  for (const bad of [-1, 0.5, NaN, Infinity, 2 ** 53, '0', null]) {
    assert.throws(() => store.save(canvas, bad), typeError(/"expectedRevision" argument must be a non-negative integer/))
  }
  assert.throws(() => store.save({}, 0), typeError(/"canvas" argument must be a Canvas, got another object/))
  assert.throws(() => store.get(7), typeError(/"id" argument must be a string/))
  assert.equal((await store.save(canvas, 0n)).revision, 1)
})

test('the hint of a core error is part of its message', () => {
  try {
    new Canvas('c', 'C').apply([{ op: 'add_node', id: 'a', type: 'no_such_type' }])
    assert.fail('the apply should be refused')
  } catch (err) {
    assert.ok(err instanceof ReelgraphError)
    assert.equal(err.code, 'unknown_node_type')
    assert.ok(err.message.includes(`\nhint: ${err.hint}`))
  }
})
