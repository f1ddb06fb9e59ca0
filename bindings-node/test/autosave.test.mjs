// The autosaver on the stores: saves after a quiet period and on close,
// reports each save, and a conflict instead of overwriting.

import assert from 'node:assert/strict'
import { test } from 'node:test'

import { Autosaver, Canvas, MemoryStore } from '../index.js'

test('the autosaver saves a changed canvas on close, and reports it', async () => {
  const store = new MemoryStore()
  const canvas = new Canvas('reel', 'Reel')
  await store.create(canvas)
  const events = []
  const saver = new Autosaver(canvas, store, { quietPeriodMs: 10_000, onEvent: (e) => events.push(e) })
  canvas.apply([{ op: 'add_node', id: 's1', type: 'shot', properties: { number: 1 } }])
  saver.touch()
  await saver.close()
  assert.equal((await store.get('reel')).revision, 1)
  assert.deepEqual(
    events.map((e) => [e.type, e.revision, e.seq]),
    [['saved', 1, 0]],
  )
})

test('a canvas someone else saved first is a conflict, not an overwrite', async () => {
  const store = new MemoryStore()
  const canvas = new Canvas('reel', 'Reel')
  await store.create(canvas)
  const other = await store.get('reel')
  other.apply([{ op: 'add_node', id: 'theirs', type: 'shot', properties: {} }])
  await store.save(other, 0)
  const events = []
  const saver = new Autosaver(canvas, store, { onEvent: (e) => events.push(e) })
  canvas.apply([{ op: 'add_node', id: 'mine', type: 'shot', properties: {} }])
  saver.touch()
  await saver.close()
  assert.equal(events[0].type, 'conflict')
  assert.deepEqual((await store.get('reel')).toDocument().nodes.map((n) => n.id), ['theirs'])
})

test('bad autosaver arguments are refused', () => {
  const canvas = new Canvas('reel', 'Reel')
  assert.throws(() => new Autosaver(canvas, {}), { name: 'TypeError' })
  assert.throws(() => new Autosaver(canvas, new MemoryStore(), { every: 5 }), { name: 'TypeError', message: /every/ })
  assert.throws(() => new Autosaver(canvas, new MemoryStore(), { storedRevision: -1 }), { name: 'TypeError', message: /storedRevision/ })
  assert.throws(() => new Autosaver(canvas, new MemoryStore(), { quietPeriodMs: NaN }), { name: 'RangeError' })
})
