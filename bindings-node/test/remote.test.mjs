// Remote work against a real server: a Worker serving JS functions to the
// server's task service, and an HttpRunner sending a run's tasks there.

import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'

import { Canvas, Catalog, Executor, HttpRunner, LocalRunner, ReelgraphError, Worker } from '../index.js'
import { startServer } from './support/server.mjs'

let server
before(async () => {
  server = await startServer()
})
after(async () => {
  await server?.stop()
})

/** `worker.run()` for the length of `body`, then stopped; its stats. */
async function working(worker, body) {
  const running = worker.run()
  try {
    await body()
  } finally {
    worker.stop()
  }
  return running
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Node `a` feeding node `b`, both calling `js.upper` with their text. */
function upperCanvas() {
  const catalog = Catalog.builtin()
  catalog.register({
    type: 'upper',
    category: 'post',
    title: 'Upper',
    inputs: [{ name: 'text', type: 'text' }],
    outputs: [{ name: 'text', type: 'text' }],
    properties: [{ name: 'text', type: 'text', default: '' }],
    task: { function: 'js.upper', params: { text: { property: 'text' }, upstream: { input: 'text' } } },
  })
  const canvas = new Canvas('c', 'C', catalog)
  canvas.apply([
    { op: 'add_node', id: 'a', type: 'upper', properties: { text: 'a' } },
    { op: 'add_node', id: 'b', type: 'upper', properties: { text: 'b' } },
    { op: 'connect', source: { node: 'a', port: 'text' }, target: { node: 'b', port: 'text' } },
  ])
  return canvas
}

test('a submitted task is done by a JS function, with its progress', async () => {
  const runner = new LocalRunner()
  runner.register('js.shout', async (params, ctx) => {
    ctx.progress(0.5, 'halfway')
    return { text: `${params.text.toUpperCase()}!` }
  })
  const worker = new Worker({ server: server.url, key: server.key, runner, name: 'js-worker-1' })
  let record, events
  const stats = await working(worker, async () => {
    const id = await server.submit('js.shout', { text: 'rain' })
    events = await server.taskEvents(id)
    record = await server.waitTask(id)
  })
  assert.equal(record.state, 'completed', JSON.stringify(record))
  assert.deepEqual(record.outputs, { text: 'RAIN!' })
  assert.equal(record.attempts[0].worker, 'js-worker-1')
  const progress = events.filter((e) => e.type === 'task_progress').map((e) => [e.progress, e.message])
  assert.deepEqual(progress, [[0.5, 'halfway']])
  assert.equal(events.at(-1).type, 'task_completed')
  assert.ok(stats.completed >= 1, JSON.stringify(stats))
})

test("a thrown err.kind = 'transient' fails the attempt and the task is retried", async () => {
  const runner = new LocalRunner()
  let calls = 0
  runner.register('js.flaky', () => {
    calls += 1
    if (calls === 1) throw Object.assign(new Error('the GPU is busy'), { kind: 'transient' })
    return { text: 'second time' }
  })
  let record
  await working(new Worker({ server: server.url, key: server.key, runner }), async () => {
    const id = await server.submit('js.flaky', {}, { max_attempts: 3 })
    record = await server.waitTask(id)
  })
  assert.equal(record.state, 'completed', JSON.stringify(record))
  assert.deepEqual(record.outputs, { text: 'second time' })
  const [first, second] = record.attempts
  assert.equal(first.outcome, 'failed')
  assert.deepEqual([first.error.kind, first.error.message], ['transient', 'the GPU is busy'])
  assert.equal(second.outcome, 'completed')
})

test('a cancelled task aborts the function’s AbortSignal', async () => {
  const runner = new LocalRunner()
  let started, sawAbort
  const running = new Promise((resolve) => {
    started = resolve
  })
  const aborted = new Promise((resolve) => {
    sawAbort = resolve
  })
  runner.register('js.long', async (params, ctx) => {
    started()
    for (let i = 0; i < 1500 && !ctx.signal.aborted; i++) {
      ctx.progress(0.1, 'working')
      await sleep(20)
    }
    if (ctx.signal.aborted) sawAbort()
    throw Object.assign(new Error('stopped'), { kind: 'cancelled' })
  })
  let record
  await working(new Worker({ server: server.url, key: server.key, runner }), async () => {
    const id = await server.submit('js.long', {})
    await running
    const { status, body } = await server.request('POST', `/v1/tasks/${id}/cancel`)
    assert.equal(status, 200, JSON.stringify(body))
    // The test times out when the signal never aborts.
    await aborted
    record = await server.waitTask(id)
  })
  assert.equal(record.state, 'cancelled', JSON.stringify(record))
})

test('a run with an HttpRunner is done by a JS worker', async () => {
  const canvas = upperCanvas()
  const runner = new LocalRunner()
  const seen = []
  runner.register('js.upper', (params, ctx) => {
    seen.push([ctx.runId, ctx.node])
    return { text: params.text.toUpperCase() }
  })
  let report
  await working(new Worker({ server: server.url, key: server.key, runner, concurrency: 2 }), async () => {
    const executor = new Executor(new HttpRunner({ server: server.url, key: server.key }))
    report = await (await executor.start(canvas, { runId: 'remote_js' })).wait()
  })
  assert.equal(report.status, 'completed', JSON.stringify(report))
  assert.deepEqual(report.outputs, { a: { text: 'A' }, b: { text: 'B' } })
  // The worker's function knows the run and node each task is for.
  assert.deepEqual(seen.sort(), [['remote_js', 'a'], ['remote_js', 'b']])
})

test('an AbortSignal given to run() stops the worker', async () => {
  const runner = new LocalRunner()
  runner.register('js.upper', (params) => ({ text: params.text.toUpperCase() }))
  const controller = new AbortController()
  const worker = new Worker({ server: server.url, key: server.key, runner })
  const running = worker.run({ signal: controller.signal })
  const id = await server.submit('js.upper', { text: 'x' })
  assert.deepEqual((await server.waitTask(id)).outputs, { text: 'X' })
  controller.abort()
  const stats = await running
  assert.ok(stats.completed >= 1, JSON.stringify(stats))
})

test('wrong argument types are TypeErrors', () => {
  const runner = new LocalRunner()
  runner.register('js.upper', () => ({}))
  const ok = { server: server.url, key: server.key, runner }
  assert.throws(() => new Worker(), TypeError)
  assert.throws(() => new Worker({ ...ok, runner: 'not a runner' }), TypeError)
  assert.throws(() => new Worker({ ...ok, server: 8080 }), TypeError)
  assert.throws(() => new Worker({ ...ok, functions: 'js.upper' }), TypeError)
  assert.throws(() => new Worker({ ...ok, concurrency: '2' }), TypeError)
  assert.throws(() => new Worker({ ...ok, lease: 5 }), TypeError)
  assert.throws(() => new HttpRunner({ server: server.url, key: null }), TypeError)
  assert.throws(() => new Executor({}), TypeError)
  const worker = new Worker(ok)
  assert.throws(() => worker.run({ signal: 'soon' }), TypeError)
})

test('a worker with nothing to serve, or a concurrency out of range, is refused', () => {
  assert.throws(
    () => new Worker({ server: server.url, key: server.key, runner: new LocalRunner() }),
    (err) => err instanceof ReelgraphError && /functions/.test(err.message),
  )
  const runner = new LocalRunner()
  runner.register('js.upper', () => ({}))
  assert.throws(
    () => new Worker({ server: server.url, key: server.key, runner, concurrency: 65 }),
    (err) => err instanceof ReelgraphError && /concurrency/.test(err.message),
  )
})

test('a server URL that is not an http:// URL is refused', () => {
  const runner = new LocalRunner()
  runner.register('js.upper', () => ({}))
  for (const url of ['not a url', 'https://farm.example']) {
    const refused = (err) => err instanceof ReelgraphError && /http:\/\//.test(err.message)
    assert.throws(() => new Worker({ server: url, key: 'k', runner }), refused)
    assert.throws(() => new HttpRunner({ server: url, key: 'k' }), refused)
  }
})

test('a run against an unreachable server fails its tasks as transient', async () => {
  const remote = new HttpRunner({ server: 'http://127.0.0.1:9', key: 'k', giveUpAfterMs: 200 })
  const report = await (await new Executor(remote).start(upperCanvas())).wait()
  assert.equal(report.status, 'failed')
  assert.equal(report.errors.a.kind, 'transient')
  assert.match(report.errors.a.message, /unreachable/)
})

test('a worker keeps trying an unreachable server until stopped', async () => {
  const runner = new LocalRunner()
  runner.register('js.upper', () => ({}))
  const worker = new Worker({ server: 'http://127.0.0.1:9', key: 'k', runner, requestTimeoutMs: 200 })
  const stats = await working(worker, () => sleep(300))
  assert.equal(stats.claimed, 0)
})

test('a bad key ends the worker and fails a remote run', async () => {
  const runner = new LocalRunner()
  runner.register('js.upper', () => ({}))
  const worker = new Worker({ server: server.url, key: 'rg_not_a_key', runner })
  await assert.rejects(worker.run(), (err) => err instanceof ReelgraphError && /refused/.test(err.message))
  const remote = new HttpRunner({ server: server.url, key: 'rg_not_a_key' })
  const report = await (await new Executor(remote).start(upperCanvas())).wait()
  assert.equal(report.errors.a.kind, 'permanent')
  assert.match(report.errors.a.message, /refused the key/)
})
