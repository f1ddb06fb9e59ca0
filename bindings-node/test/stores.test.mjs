// The three stores behave alike: Promises, revisions, conflicts, history.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'

import { Canvas, Catalog, FileStore, MemoryStore, ReelgraphError, SqliteStore } from '../index.mjs'

const dir = mkdtempSync(join(tmpdir(), 'reelgraph-stores-'))
after(() => rmSync(dir, { recursive: true, force: true }))

const stores = {
  memory: () => new MemoryStore(),
  files: () => new FileStore(join(dir, `files-${Math.random()}`)),
  sqlite: () => new SqliteStore(join(dir, `db-${Math.random()}.sqlite`)),
  'sqlite :memory:': () => new SqliteStore(':memory:'),
}

for (const [kind, open] of Object.entries(stores)) {
  test(`${kind}: create, save over the expected revision, get, versions, list, delete`, async () => {
    const store = open()
    const canvas = new Canvas('teaser', 'Teaser')
    const created = await store.create(canvas)
    assert.equal(created.revision, 0)

    canvas.apply([{ op: 'add_node', id: 's1', type: 'shot', properties: { number: 1 } }])
    const saved = await store.save(canvas, 0)
    assert.equal(saved.revision, 1)
    assert.match(saved.summary, /node/)

    const loaded = await store.get('teaser')
    assert.ok(loaded instanceof Canvas)
    assert.deepEqual(loaded.toDocument(), canvas.toDocument())
    assert.equal((await store.getVersion('teaser', 0)).toDocument().nodes.length, 0)
    assert.deepEqual((await store.versions('teaser')).map((v) => v.revision), [1, 0])

    const page = await store.list({ limit: 10 })
    assert.deepEqual(page.items.map((s) => s.id), ['teaser'])
    assert.equal(page.next_cursor ?? null, null)
    assert.deepEqual((await store.list()).items.length, 1)
    assert.deepEqual((await store.list({ name_prefix: 'X' })).items, [])

    assert.equal(await store.prune('teaser', { keep_last: 1 }), 1)
    assert.deepEqual((await store.versions('teaser')).map((v) => v.revision), [1])

    await store.delete('teaser', 1)
    await assert.rejects(store.get('teaser'), { name: 'ReelgraphError', code: 'not_found' })
  })

  test(`${kind}: a stale revision is a conflict, never an overwrite`, async () => {
    const store = open()
    const canvas = new Canvas('c', 'C')
    await store.create(canvas)
    await assert.rejects(store.create(canvas), { code: 'duplicate_id' })
    canvas.apply([{ op: 'add_node', id: 'a', type: 'shot' }])
    await store.save(canvas, 0)

    canvas.apply([{ op: 'add_node', id: 'b', type: 'shot' }])
    await assert.rejects(store.save(canvas, 0), (err) => {
      assert.ok(err instanceof ReelgraphError)
      assert.equal(err.code, 'conflict')
      assert.equal(err.category, 'conflict')
      assert.deepEqual([err.details.expected, err.details.current], [0, 1])
      return true
    })
    assert.equal((await store.get('c')).toDocument().nodes.length, 1)
    await assert.rejects(store.delete('c', 0), { code: 'conflict' })
  })
}

test('a store loads a canvas with the catalogue it is given', async () => {
  const catalog = Catalog.builtin()
  catalog.register({ type: 'lut', category: 'post', title: 'LUT', outputs: [{ name: 'image', type: 'image' }] })
  const canvas = new Canvas('c', 'C', catalog)
  canvas.apply([{ op: 'add_node', id: 'l', type: 'lut' }])
  const store = new MemoryStore()
  await store.create(canvas)
  assert.equal((await store.get('c', catalog)).validate().valid, true)
  assert.equal((await store.get('c')).validate().valid, false)
})

test('a file store in a path that is a file is refused at open', () => {
  assert.throws(() => new FileStore(join(import.meta.dirname ?? '.', 'stores.test.mjs')), ReelgraphError)
})
