// Runs from JavaScript: JS functions as runner functions (progress, errors,
// wrong shapes, AbortSignal, timeouts), run handles, events, caches, batches.

import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'

import { Canvas, Catalog, Executor, LocalRunner, MemoryCache, ReelgraphError, SqliteCache } from '../index.js'

// A task node whose function gets `n` and the upstream outputs.
const STEP = {
  type: 'step',
  category: 'post',
  title: 'Step',
  inputs: [{ name: 'in', type: 'text', multiple: true }],
  outputs: [{ name: 'out', type: 'text' }],
  properties: [{ name: 'n', type: 'integer' }],
  task: { function: 'step', params: { n: { property: 'n' }, in: { input: 'in' } } },
}

/** A canvas of step nodes `ids`, each reading the one before when `chain`. */
function steps(ids, { chain = false } = {}) {
  const catalog = Catalog.builtin()
  catalog.register(STEP)
  const canvas = new Canvas('c', 'Steps', catalog)
  const ops = []
  ids.forEach((id, i) => {
    ops.push({ op: 'add_node', id, type: 'step', properties: { n: i } })
    if (chain && i > 0) {
      ops.push({ op: 'connect', source: { node: ids[i - 1], port: 'out' }, target: { node: id, port: 'in' } })
    }
  })
  canvas.apply(ops)
  return canvas
}

/** Runs `canvas` with `fn` as the step function; the report and the events. */
async function runWith(fn, canvas = steps(['a']), executorOptions = {}, runOptions = {}) {
  const runner = new LocalRunner()
  runner.register('step', fn)
  const executor = new Executor(runner, executorOptions)
  const events = []
  const run = await executor.start(canvas, { ...runOptions, onEvent: (e) => events.push(e) })
  return { report: await run.wait(), events, run }
}

/** Resolves when `predicate(event)` holds for an event of the run's stream. */
function eventOf(events, predicate) {
  return (async () => {
    for await (const event of events) if (predicate(event)) return event
    throw new Error('the run ended without the event')
  })()
}

test('a JS function runs with its params and reports progress', async () => {
  const seen = []
  const { report, events } = await runWith(async (params, ctx) => {
    seen.push({ params, node: ctx.node, quality: ctx.quality, key: typeof ctx.idempotencyKey })
    ctx.progress(0.25, 'a quarter')
    ctx.progress(0.75)
    return { out: `step ${params.n}` }
  })
  assert.equal(report.status, 'completed')
  assert.deepEqual(report.outputs, { a: { out: 'step 0' } })
  assert.deepEqual(seen, [{ params: { n: 0 }, node: 'a', quality: 'standard', key: 'string' }])
  const progress = events.filter((e) => e.type === 'node_progress')
  assert.deepEqual(
    progress.map((e) => [e.progress, e.message]),
    [
      [0.25, 'a quarter'],
      [0.75, undefined],
    ],
  )
})

test('a plain function returning a value works, and outputs flow downstream', async () => {
  const { report } = await runWith(
    (params) => ({ out: `${params.n}<${(params.in ?? []).join('+')}` }),
    steps(['a', 'b', 'c'], { chain: true }),
  )
  assert.equal(report.outputs.c.out, '2<1<0<')
})

test('err.kind chooses the task error kind; the hint comes along', async () => {
  const { report, events } = await runWith(() => {
    throw Object.assign(new Error('the worker is busy'), { kind: 'transient', hint: 'try later' })
  })
  assert.equal(report.status, 'failed')
  assert.deepEqual(report.errors.a, { kind: 'transient', message: 'the worker is busy', hint: 'try later' })
  const failed = events.find((e) => e.type === 'node_failed')
  assert.equal(failed.error.kind, 'transient')
})

test('an error without a kind is permanent, with its name and stack in the details', async () => {
  const { report } = await runWith(function brokenStep() {
    null.boom()
  })
  const error = report.errors.a
  assert.equal(error.kind, 'permanent')
  assert.match(error.message, /null/)
  assert.equal(error.details.name, 'TypeError')
  assert.match(error.details.stack, /brokenStep/)
  assert.match(error.hint, /kind/)
})

test('a rejection and a thrown non-error fail the task too', async () => {
  const rejected = await runWith(() => Promise.reject(new RangeError('no such frame')))
  assert.equal(rejected.report.errors.a.kind, 'permanent')
  assert.equal(rejected.report.errors.a.message, 'no such frame')
  const unknownKind = await runWith(async () => {
    throw Object.assign(new Error('odd'), { kind: 'sometimes' })
  })
  assert.equal(unknownKind.report.errors.a.kind, 'permanent')
  assert.equal(unknownKind.report.errors.a.details.kind, 'sometimes')
  const thrownString = await runWith(() => {
    throw 'just a string'
  })
  assert.equal(thrownString.report.errors.a.kind, 'permanent')
  assert.match(thrownString.report.errors.a.message, /just a string/)
})

test('a wrong return shape is a clear task error', async () => {
  for (const [value, said] of [
    [42, 'returned 42'],
    [undefined, 'returned undefined'],
    [[1, 2], 'returned an array'],
    ['text', 'returned "text"'],
    [null, 'returned null'],
  ]) {
    const { report } = await runWith(async () => value)
    const error = report.errors.a
    assert.equal(error.kind, 'permanent', `${value}`)
    assert.ok(error.message.includes(said), `${error.message} should say ${said}`)
    assert.match(error.hint, /object with one entry per output port/)
  }
  // An object naming other ports than the node's is refused by the core.
  const { report } = await runWith(() => ({ wrong: 1 }))
  assert.equal(report.errors.a.kind, 'permanent')
  assert.match(report.errors.a.message, /out/)
})

test('ready tasks reach their function together, each with its own ctx and answer', async () => {
  // With room for all of them, the 40 tasks are ready at once: they cross
  // to JavaScript in batches (src/task_calls.rs), answered one by one.
  const ids = Array.from({ length: 40 }, (_, i) => `n${i}`)
  const seen = new Set()
  const { report } = await runWith(
    (params, ctx) => {
      seen.add(ctx.node)
      switch (params.n % 5) {
        case 0:
          return { out: `sync ${params.n}` }
        case 1:
          return Promise.resolve({ out: `async ${params.n}` })
        case 2:
          throw Object.assign(new Error(`no ${params.n}`), { kind: 'invalid_input' })
        case 3:
          // A value whose `then` cannot be read fails like a throw.
          return {
            get then() {
              throw new Error(`unreadable ${params.n}`)
            },
          }
        default:
          return params.n
      }
    },
    steps(ids),
    { concurrency: 40 },
  )
  assert.equal(seen.size, 40)
  ids.forEach((id, n) => {
    const error = report.errors[id]
    switch (n % 5) {
      case 0:
        return assert.equal(report.outputs[id].out, `sync ${n}`)
      case 1:
        return assert.equal(report.outputs[id].out, `async ${n}`)
      case 2:
        return assert.deepEqual([error.kind, error.message], ['invalid_input', `no ${n}`])
      case 3:
        return assert.deepEqual([error.kind, error.message], ['permanent', `unreadable ${n}`])
      default:
        return assert.ok(error.message.includes(`returned ${n}`), error.message)
    }
  })
})

test("a task's ctx.signal read after the task is over is aborted", async () => {
  let kept
  const { report } = await runWith((params, ctx) => {
    kept = ctx
    return { out: 'done' }
  })
  assert.equal(report.status, 'completed')
  assert.equal(kept.signal.aborted, true)
  // Progress after the end changes nothing and does not throw.
  kept.progress(1, 'late')
})

test('run.cancel() aborts ctx.signal, and the run ends cancelled', async () => {
  let calls = 0
  let aborted
  const sawAbort = new Promise((resolve) => {
    aborted = resolve
  })
  const runner = new LocalRunner()
  runner.register('step', (params, ctx) => {
    calls += 1
    return new Promise((resolve, reject) => {
      ctx.signal.addEventListener('abort', () => {
        aborted(ctx.signal.reason)
        reject(Object.assign(new Error('stopped'), { kind: 'cancelled' }))
      })
    })
  })
  const run = await new Executor(runner).start(steps(['a', 'b', 'c'], { chain: true }))
  await eventOf(run.events(), (e) => e.type === 'node_started')
  run.cancel()
  const report = await run.wait()
  assert.equal(report.status, 'cancelled')
  assert.equal(report.errors.a.kind, 'cancelled')
  assert.equal((await sawAbort).name, 'AbortError')
  // Nothing downstream of the cancelled task started.
  assert.equal(calls, 1)
  assert.equal(run.snapshot().state, 'cancelled')
})

test('run.cancelNode() cancels one node; the others complete', async () => {
  const runner = new LocalRunner()
  runner.register('step', (params, ctx) => {
    if (ctx.node === 'stuck') return new Promise(() => {})
    return { out: ctx.node }
  })
  const run = await new Executor(runner).start(steps(['stuck', 'fine']))
  await eventOf(run.events(), (e) => e.type === 'node_started' && e.node === 'stuck')
  assert.equal(run.cancelNode('stuck'), true)
  assert.equal(run.cancelNode('nowhere'), false)
  const report = await run.wait()
  assert.equal(report.errors.stuck.kind, 'cancelled')
  assert.deepEqual(report.outputs.fine, { out: 'fine' })
})

test('a function that never settles hits the timeout middleware', async () => {
  const { report } = await runWith(
    () => new Promise(() => {}),
    steps(['a']),
    { resilience: { timeout_ms: 50, timeout_grace_ms: 10 } },
  )
  assert.equal(report.status, 'failed')
  assert.equal(report.errors.a.kind, 'timeout')
})

test('onEvent and for await see the same events, in seq order', async () => {
  const runner = new LocalRunner()
  runner.register('step', async (params, ctx) => {
    ctx.progress(0.5)
    return { out: 'x' }
  })
  const fromCallback = []
  const run = await new Executor(runner).start(steps(['a', 'b', 'c'], { chain: true }), {
    onEvent: (e) => fromCallback.push(e),
  })
  const fromIterator = []
  for await (const event of run.events()) fromIterator.push(event)
  await run.wait()
  assert.deepEqual(fromIterator, fromCallback)
  assert.deepEqual(
    fromCallback.map((e) => e.seq),
    fromCallback.map((_, i) => i),
  )
  assert.equal(fromCallback.at(-1).type, 'run_completed')
  // Read again after the end: replayed from the start, or from a later seq.
  const again = []
  for await (const event of run.events(3)) again.push(event.seq)
  assert.deepEqual(again, fromCallback.slice(3).map((e) => e.seq))
})

test('a second run hits the cache; a SQLite cache outlives its executor', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'reelgraph-cache-'))
  try {
    const path = join(dir, 'results.sqlite')
    let calls = 0
    const runner = new LocalRunner()
    runner.register('step', () => {
      calls += 1
      return { out: 'x' }
    })
    const canvas = steps(['a', 'b'])
    const first = await (await new Executor(runner, { cache: new SqliteCache(path) }).start(canvas)).wait()
    assert.equal(first.stats.executed, 2)
    const cache = new SqliteCache(path)
    const second = await (await new Executor(runner, { cache }).start(canvas)).wait()
    assert.deepEqual([second.stats.executed, second.stats.cache_hits], [0, 2])
    assert.equal(calls, 2)
    assert.equal(cache.stats().hits, 2)

    const memory = new MemoryCache({ maxBytes: 1 << 20 })
    const executor = new Executor(runner, { cache: memory })
    await (await executor.start(canvas)).wait()
    const explained = await executor.explain(canvas)
    assert.deepEqual(
      explained.map((e) => [e.node, e.reason]),
      [
        ['a', 'cached'],
        ['b', 'cached'],
      ],
    )
    const forced = await (await executor.start(canvas, { force: { nodes: ['a'] } })).wait()
    assert.equal(forced.stats.executed, 1)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a batch runs several canvases under one cap, each a Run', async () => {
  const runner = new LocalRunner()
  runner.register('step', (params, ctx) => ({ out: `${ctx.runId}/${ctx.node}` }))
  const executor = new Executor(runner, { concurrency: 2 })
  const events = []
  const runs = await executor.batch(
    [
      { canvas: steps(['a']), options: { runId: 'one' } },
      { canvas: steps(['a', 'b']), options: { runId: 'two', quality: 'draft' } },
    ],
    { onEvent: (e) => events.push(e) },
  )
  const reports = await Promise.all(runs.map((run) => run.wait()))
  assert.deepEqual(
    reports.map((r) => [r.run_id, r.status, Object.keys(r.outputs).length]),
    [
      ['one', 'completed', 1],
      ['two', 'completed', 2],
    ],
  )
  assert.equal(reports[1].outputs.b.out, 'two/b')
  assert.deepEqual(new Set(events.map((e) => e.run_id)), new Set(['one', 'two']))
})

test('a plan kept by the planner runs, and a stale one is refused', async () => {
  const runner = new LocalRunner()
  runner.register('step', () => ({ out: 'x' }))
  const executor = new Executor(runner)
  const canvas = steps(['a', 'b'])
  const plan = executor.plan(canvas, { targets: ['b'] })
  const report = await (await executor.startPlanned(canvas, plan, { runId: 'planned' })).wait()
  assert.deepEqual(Object.keys(report.outputs), ['b'])
  canvas.apply([{ op: 'set_properties', id: 'b', properties: { n: 7 } }])
  await assert.rejects(executor.startPlanned(canvas, plan), (err) => err instanceof ReelgraphError && err.code === 'stale_plan')
  plan.replan(canvas)
  assert.equal((await (await executor.startPlanned(canvas, plan)).wait()).stats.executed, 1)
})

test('functions registered after the executor was made are found', async () => {
  const runner = new LocalRunner()
  const executor = new Executor(runner)
  await assert.rejects(executor.start(steps(['a'])), (err) => err.code === 'unknown_function')
  runner.register('step', () => ({ out: 'late' }))
  assert.deepEqual(runner.functions(), ['step'])
  const report = await (await executor.start(steps(['a']))).wait()
  assert.equal(report.outputs.a.out, 'late')
})

test('bad arguments are refused with errors that name them', async () => {
  const runner = new LocalRunner()
  assert.throws(() => runner.register('step', 42), { name: 'TypeError', message: /"fn"/ })
  assert.throws(() => runner.register(undefined, () => ({})), { name: 'TypeError', message: /"name"/ })
  assert.throws(() => new Executor(null), { name: 'TypeError', message: /"runner"/ })
  assert.throws(() => new Executor(runner, { threads: 2 }), { name: 'TypeError', message: /threads/ })
  assert.throws(() => new Executor(runner, { cache: {} }), { name: 'TypeError', message: /cache/ })
  for (const concurrency of [NaN, Infinity, 0, 1.5, 2 ** 60]) {
    assert.throws(() => new Executor(runner, { concurrency }), { name: 'TypeError', message: /concurrency/ })
  }
  assert.throws(() => new Executor(runner, { concurrency: '2' }), { name: 'TypeError', message: /concurrency/ })
  assert.throws(() => new MemoryCache({ maxBytes: -1 }), { name: 'TypeError', message: /maxBytes/ })
  assert.throws(() => new SqliteCache(null), { name: 'TypeError', message: /"path"/ })
  assert.throws(() => new Executor(runner, { resilience: { timeout_ms: NaN } }), { name: 'RangeError' })
  assert.throws(() => new Executor(runner, { resilience: { timeouts: 1 } }), (err) => err.code === 'invalid_field' || err.code === 'invalid_json')

  runner.register('step', () => ({ out: 'x' }))
  const executor = new Executor(runner)
  const canvas = steps(['a'])
  await assert.rejects(executor.start(canvas, { fast: true }), { name: 'TypeError', message: /options\.fast/ })
  await assert.rejects(executor.start(canvas, { onEvent: 'log' }), { name: 'TypeError', message: /onEvent/ })
  await assert.rejects(executor.start(canvas, 'draft'), { name: 'TypeError', message: /"options"/ })
  await assert.rejects(executor.start(canvas, { concurrency: NaN }), { name: 'RangeError' })
  await assert.rejects(executor.start(canvas, { quality: 'best' }), (err) => err instanceof ReelgraphError)
  await assert.rejects(executor.start(canvas, { targets: ['nowhere'] }), (err) => err.code === 'unknown_node')
  await assert.rejects(executor.start({}), { name: 'TypeError' })
  await (await executor.start(canvas, { runId: 'once' })).wait()
  await assert.rejects(executor.start(canvas, { runId: 'once' }), (err) => err.code === 'duplicate_id')
  const run = await executor.start(canvas)
  assert.throws(() => run.cancelNode(3), { name: 'TypeError', message: /"node"/ })
  assert.throws(() => run.events(-1), { name: 'TypeError', message: /seq/ })
  await run.wait()
})

test('a worker thread runs canvases with its own functions', async () => {
  const code = `
    const { parentPort } = require('node:worker_threads')
    const { Canvas, Catalog, Executor, LocalRunner } = require(${JSON.stringify(new URL('../index.js', import.meta.url).pathname)})
    const catalog = Catalog.builtin()
    catalog.register(${JSON.stringify(JSON.stringify(STEP))})
    const canvas = new Canvas('w', 'Worker', catalog)
    canvas.apply([{ op: 'add_node', id: 'a', type: 'step', properties: { n: 1 } }])
    const runner = new LocalRunner()
    runner.register('step', async (params) => ({ out: 'from the worker ' + params.n }))
    new Executor(runner).start(canvas).then((run) => run.wait()).then((report) => parentPort.postMessage(report))
  `
  const { Worker } = await import('node:worker_threads')
  const report = await new Promise((resolve, reject) => {
    const worker = new Worker(code, { eval: true })
    worker.once('message', resolve)
    worker.once('error', reject)
  })
  assert.equal(report.outputs.a.out, 'from the worker 1')
})
