'use strict'
// Runs from JavaScript: runners with JS functions, caches, the executor and
// its runs. The addon's classes take and give JSON text written by the
// core's serde; these wrappers take plain objects and give plain objects
// equal to the core's JSON.

const { jsonText, typeError, kindOf } = require('./json.js')
const { fromNative } = require('./errors.js')

/** `fn()` with addon errors mapped to ReelgraphError / TypeError. */
function mapped(fn) {
  try {
    return fn()
  } catch (err) {
    throw fromNative(err)
  }
}

/** `promise` with addon errors mapped. */
async function settled(promise) {
  try {
    return await promise
  } catch (err) {
    throw fromNative(err)
  }
}

// Run options by their JavaScript names, with the core's names.
const RUN_OPTIONS = {
  targets: 'targets',
  quality: 'quality',
  force: 'force',
  failurePolicy: 'failure_policy',
  concurrency: 'concurrency',
  runId: 'run_id',
}

/** The core's `RunOptions` JSON text of `options`, and its `onEvent`. */
function runOptions(options, name = 'options') {
  if (options === undefined || options === null) return ['{}', undefined]
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw typeError(`The "${name}" argument must be an object, got ${kindOf(options)}`)
  }
  const core = {}
  for (const [key, value] of Object.entries(options)) {
    if (key === 'onEvent' || value === undefined) continue
    const coreKey = RUN_OPTIONS[key]
    if (coreKey === undefined) {
      throw typeError(
        `${name}.${key} is not a run option; use: ${Object.keys(RUN_OPTIONS).join(', ')}, onEvent`,
      )
    }
    core[coreKey] = value
  }
  const onEvent = options.onEvent
  if (onEvent !== undefined && onEvent !== null && typeof onEvent !== 'function') {
    throw typeError(`${name}.onEvent must be a function, got ${kindOf(onEvent)}`)
  }
  return [jsonText(core, name, 'object'), onEvent ?? undefined]
}

// Handed to every start: the addon holds it, strongly, until the run's
// report, so the process lives while a run goes (the handles that reach
// registered functions do not keep a process alive by themselves).
const HOLD = () => {}

/** What the addon calls with each batch of events (JSON text; null: a flush marker). */
function eventSink(onEvent) {
  if (!onEvent) return undefined
  return (text) => {
    if (text === null) return
    for (const event of JSON.parse(text)) {
      try {
        onEvent(event)
      } catch (err) {
        // As an EventEmitter listener's error: it surfaces, the run goes on.
        process.nextTick(() => {
          throw err
        })
      }
    }
  }
}

/** A thrown value as the addon's `rejectTask` reads it (see src/runner.rs). */
function thrown(err) {
  if (err instanceof Error || (err !== null && typeof err === 'object')) {
    return JSON.stringify({
      kind: typeof err.kind === 'string' ? err.kind : undefined,
      message: err.message === undefined ? String(err) : String(err.message),
      hint: typeof err.hint === 'string' ? err.hint : undefined,
      name: typeof err.name === 'string' ? err.name : undefined,
      stack: typeof err.stack === 'string' ? err.stack : undefined,
    })
  }
  return JSON.stringify({ message: `the function threw ${String(err)}` })
}

/** The JSON text of a function's result; undefined when JSON cannot write it. */
function outputsText(value) {
  try {
    return JSON.stringify(value)
  } catch (err) {
    return JSON.stringify(String(err && err.message))
  }
}

/** `ctx` of one task: progress, cancellation and what the task is. */
class TaskContext {
  #runner
  #id
  #signal

  constructor(task, runner, id) {
    this.node = task.node
    this.runId = task.run_id
    this.function = task.function
    this.quality = task.quality
    this.idempotencyKey = task.idempotency_key
    this.outputs = task.outputs
    this.#runner = runner
    this.#id = id
  }

  /** Reports progress, 0 to 1, with an optional message. */
  progress(fraction, message) {
    if (typeof fraction !== 'number') {
      throw typeError(`The "fraction" argument must be a number, got ${kindOf(fraction)}`)
    }
    if (message !== undefined && message !== null && typeof message !== 'string') {
      throw typeError(`The "message" argument must be a string, got ${kindOf(message)}`)
    }
    this.#runner.taskProgress(this.#id, fraction, message ?? undefined)
  }

  /** An AbortSignal aborted when the run or this node is cancelled. */
  get signal() {
    if (this.#signal === undefined) {
      const controller = new AbortController()
      const abort = () => controller.abort(new DOMException('the task was cancelled', 'AbortError'))
      if (this.#runner.taskCancelled(this.#id)) abort()
      else this.#runner.onTaskCancel(this.#id, abort)
      this.#signal = controller.signal
    }
    return this.#signal
  }
}

/** A value `await` would wait for. */
function isThenable(value) {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof value.then === 'function'
}

/**
 * Calls `fn` for task `id` and answers the runner: at once for a plain
 * value or a throw, when it settles for a promise (no promise of our own
 * per task: the answer of a sync function needs no extra turn).
 */
function callTask(runner, fn, id, task) {
  let value
  let thenable
  try {
    value = fn(task.params, new TaskContext(task, runner, id))
    thenable = isThenable(value)
  } catch (err) {
    runner.rejectTask(id, thrown(err))
    return
  }
  if (!thenable) {
    runner.resolveTask(id, outputsText(value))
    return
  }
  Promise.resolve(value).then(
    (outputs) => runner.resolveTask(id, outputsText(outputs)),
    (err) => runner.rejectTask(id, thrown(err)),
  )
}

function install(native) {
  /** In-process functions; `register(name, async (params, ctx) => outputs)` at any time. */
  class LocalRunner {
    constructor() {
      this._native = mapped(() => new native.LocalRunner())
    }

    /** A runner with the demo functions, writing frames, WAVs and EDLs under `outDir`. */
    static demo(outDir) {
      const runner = Object.create(LocalRunner.prototype)
      runner._native = mapped(() => native.LocalRunner.demo(outDir))
      return runner
    }

    /**
     * Registers `fn(params, ctx)` (sync or async) under `name`, replacing one
     * of that name for the tasks that start afterwards.
     */
    register(name, fn) {
      if (typeof fn !== 'function') {
        throw typeError(`The "fn" argument must be a function, got ${kindOf(fn)}`)
      }
      const runner = this._native
      // The ready tasks of `fn`, as `[[number, task], ...]` (src/task_calls.rs).
      const wrapper = (batch) => {
        for (const [id, task] of JSON.parse(batch)) callTask(runner, fn, id, task)
      }
      mapped(() => this._native.register(name, wrapper))
      return this
    }

    /** Names of the registered functions, sorted. */
    functions() {
      return this._native.functions()
    }
  }

  /** Results in memory, at most `maxBytes` (default 256 MiB). */
  class MemoryCache {
    constructor(options = {}) {
      this._native = mapped(() => native.ResultCache.memory(options.maxBytes))
    }

    /** `{entries, bytes, hits, misses, evictions}` */
    stats() {
      return JSON.parse(this._native.statsJson())
    }
  }

  /** Results in a SQLite file that several processes may share. */
  class SqliteCache {
    constructor(path) {
      this._native = mapped(() => native.ResultCache.sqlite(path))
    }

    stats() {
      return JSON.parse(this._native.statsJson())
    }
  }

  /** A run under way: await its report, read its events, cancel it. */
  class Run {
    constructor(run) {
      this._native = run
      // One wait for the report, which also holds the process open until
      // it comes: a queued abort or event reaches JavaScript even when
      // nothing else is pending.
      const timer = setInterval(() => {}, 2 ** 30)
      this._report = settled(run.wait()).finally(() => clearInterval(timer))
      this._report.catch(() => {})
    }

    get id() {
      return this._native.id
    }

    /** The report, once the run ended: `{run_id, canvas_id, status, stats, outputs, errors}`. */
    async wait() {
      return JSON.parse(await this._report)
    }

    /**
     * The run's events from `seq` (default 0), as an async iterable:
     * `for await (const event of run.events())`.
     */
    events(seq) {
      const stream = mapped(() => this._native.events(seq))
      return {
        async *[Symbol.asyncIterator]() {
          for (;;) {
            let text
            try {
              text = await stream.nextBatch()
            } catch (err) {
              throw fromNative(err)
            }
            if (text === null) return
            yield* JSON.parse(text)
          }
        },
      }
    }

    /** Cancels the run; running tasks see `ctx.signal` abort. */
    cancel() {
      this._native.cancel()
    }

    /** Cancels one node; false when the run does not execute it. */
    cancelNode(node) {
      if (typeof node !== 'string') {
        throw typeError(`The "node" argument must be a string, got ${kindOf(node)}`)
      }
      return mapped(() => this._native.cancelNode(node))
    }

    /** Where the run stands: counts, each node's state, overall progress. */
    snapshot() {
      return JSON.parse(mapped(() => this._native.snapshotJson()))
    }
  }

  /** The addon's runner behind `runner`: a LocalRunner's or an HttpRunner's. */
  function nativeRunner(runner, name = 'runner') {
    const inner = runner !== null && typeof runner === 'object' ? runner._native : undefined
    if (inner instanceof native.LocalRunner || inner instanceof native.HttpRunner) return inner
    throw typeError(`The "${name}" argument must be a LocalRunner or an HttpRunner, got ${kindOf(runner)}`)
  }

  function nativeCache(cache) {
    if (cache === undefined || cache === null) return undefined
    if (cache instanceof MemoryCache || cache instanceof SqliteCache) return cache._native
    throw typeError(`options.cache must be a MemoryCache or a SqliteCache, got ${kindOf(cache)}`)
  }

  /**
   * Runs canvases through a runner (a LocalRunner, or an HttpRunner for a
   * server's workers), with a result cache and a cap of tasks at once.
   */
  class Executor {
    /**
     * `options`: `cache` (a MemoryCache or SqliteCache), `concurrency` (tasks
     * at once, default 4), `resilience` (the core's Resilience object, e.g.
     * `{timeout_ms: 30000, retry: {max_attempts: 3}}`).
     */
    constructor(runner, options = {}) {
      const inner = nativeRunner(runner)
      if (options === null || typeof options !== 'object') {
        throw typeError(`The "options" argument must be an object, got ${kindOf(options)}`)
      }
      for (const key of Object.keys(options)) {
        if (!['cache', 'concurrency', 'resilience'].includes(key)) {
          throw typeError(`options.${key} is not an executor option; use: cache, concurrency, resilience`)
        }
      }
      const { cache, concurrency, resilience } = options
      if (concurrency !== undefined && typeof concurrency !== 'number') {
        throw typeError(`options.concurrency must be a number, got ${kindOf(concurrency)}`)
      }
      const resilienceText =
        resilience === undefined ? undefined : jsonText(resilience, 'options.resilience', 'object')
      this._native = mapped(
        () => new native.Executor(inner, nativeCache(cache), concurrency, resilienceText),
      )
    }

    /**
     * Starts a run of `canvas`; resolves to a Run once it is planned and
     * checked. `options`: targets, quality, force, failurePolicy,
     * concurrency, runId, onEvent(event).
     */
    async start(canvas, options) {
      const [text, onEvent] = runOptions(options)
      return new Run(await settled(mapped(() => this._native.start(canvas, text, eventSink(onEvent), HOLD))))
    }

    /** The plan a run with `options` (targets, quality) would follow. */
    plan(canvas, options) {
      const text = runOptions(options)[0]
      return mapped(() => this._native.plan(canvas, text))
    }

    /** Like `start`, following `plan` (its targets and quality). */
    async startPlanned(canvas, plan, options) {
      const [text, onEvent] = runOptions(options)
      const started = mapped(() => this._native.startPlanned(canvas, plan, text, eventSink(onEvent), HOLD))
      return new Run(await settled(started))
    }

    /** Per node: why it would run, or that its result is cached. */
    async explain(canvas, options) {
      const text = runOptions(options)[0]
      return JSON.parse(await settled(mapped(() => this._native.explain(canvas, text))))
    }

    /**
     * Runs many canvases (or variants of one) under this executor's cap:
     * `jobs` is an array of `{canvas, options}` (run options without
     * onEvent); `onEvent` sees the events of every run, told apart by
     * `run_id`. Resolves to one Run per job; any refusal refuses them all.
     */
    async batch(jobs, { onEvent } = {}) {
      if (!Array.isArray(jobs)) {
        throw typeError(`The "jobs" argument must be an array, got ${kindOf(jobs)}`)
      }
      const canvases = []
      const texts = []
      jobs.forEach((job, i) => {
        if (job === null || typeof job !== 'object') {
          throw typeError(`jobs[${i}] must be {canvas, options}, got ${kindOf(job)}`)
        }
        const [text, own] = runOptions(job.options, `jobs[${i}].options`)
        if (own !== undefined) {
          throw typeError(`jobs[${i}].options.onEvent: give one onEvent for the batch`)
        }
        canvases.push(job.canvas)
        texts.push(text)
      })
      if (onEvent !== undefined && typeof onEvent !== 'function') {
        throw typeError(`onEvent must be a function, got ${kindOf(onEvent)}`)
      }
      const runs = await settled(mapped(() => this._native.batch(canvases, texts, eventSink(onEvent), HOLD)))
      return runs.map((run) => new Run(run))
    }
  }

  return { LocalRunner, MemoryCache, SqliteCache, Executor, Run, nativeRunner }
}

module.exports = { install }
