// A canvas belongs to the thread that made it: posted to a worker it arrives
// as a plain copy without its native state, and a Canvas method called on it
// throws a TypeError (never a crash). The package itself works in a worker,
// and a document sent as JSON text loads there.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { test } from 'node:test'

import { Canvas } from '../index.mjs'

const entry = fileURLToPath(new URL('../index.js', import.meta.url))

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads')
const { Canvas } = require(workerData.entry)
parentPort.once('message', ({ posted, text }) => {
  const answer = { isCanvas: posted instanceof Canvas }
  try {
    Canvas.prototype.apply.call(posted, [{ op: 'add_node', id: 'w', type: 'shot' }])
  } catch (err) {
    answer.error = { name: err.name, message: err.message }
  }
  const copy = Canvas.fromJson(text)
  copy.apply([{ op: 'add_node', id: 'from_worker', type: 'shot' }])
  answer.nodes = copy.toDocument().nodes.map((n) => n.id)
  parentPort.postMessage(answer)
})
`

test('a canvas used from a worker thread is refused; its JSON loads there', async () => {
  const canvas = new Canvas('c', 'C')
  canvas.apply([{ op: 'add_node', id: 'main', type: 'shot' }])
  const worker = new Worker(WORKER, { eval: true, workerData: { entry } })
  try {
    worker.postMessage({ posted: canvas, text: canvas.toJson() })
    const [answer] = await once(worker, 'message')
    assert.equal(answer.isCanvas, false)
    assert.equal(answer.error?.name, 'TypeError')
    assert.deepEqual(answer.nodes, ['main', 'from_worker'])
  } finally {
    await worker.terminate()
  }
  // The worker's edits went to its own copy.
  assert.deepEqual(canvas.toDocument().nodes.map((n) => n.id), ['main'])
})
