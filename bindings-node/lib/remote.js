'use strict'
// Remote work: an HttpRunner sends a run's tasks to a server's task service;
// a Worker serves a runner's functions to one. Options by their JavaScript
// names become the core's HttpRunnerConfig and WorkerConfig (JSON text),
// which check them.

const { jsonText, typeError, kindOf } = require('./json.js')
const { fromNative } = require('./errors.js')

// Each option: its name in the core's config, and the type it must have.
const HTTP_RUNNER_OPTIONS = {
  server: ['server', 'string'],
  key: ['key', 'string'],
  priority: ['priority', 'number'],
  requestTimeoutMs: ['request_timeout_ms', 'number'],
  giveUpAfterMs: ['give_up_after_ms', 'number'],
}

const WORKER_OPTIONS = {
  server: ['server', 'string'],
  key: ['key', 'string'],
  name: ['name', 'string'],
  functions: ['functions', 'string[]'],
  concurrency: ['concurrency', 'number'],
  claimWaitMs: ['claim_wait_ms', 'number'],
  graceMs: ['grace_ms', 'number'],
  requestTimeoutMs: ['request_timeout_ms', 'number'],
}

/** Tasks a worker runs at once when not told (as Python's Worker). */
const WORKER_CONCURRENCY = 4

function mapped(fn) {
  try {
    return fn()
  } catch (err) {
    throw fromNative(err)
  }
}

function hasType(value, type) {
  if (type === 'string[]') return Array.isArray(value) && value.every((item) => typeof item === 'string')
  return typeof value === type
}

/**
 * The core config's JSON text of `options` (without its `skip` keys):
 * `server` and `key` required, every option of its type; the values
 * themselves are the core's to check.
 */
function configText(options, known, skip = []) {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw typeError(`The "options" argument must be an object, got ${kindOf(options)}`)
  }
  const core = {}
  for (const [key, value] of Object.entries(options)) {
    if (skip.includes(key) || value === undefined) continue
    if (known[key] === undefined) {
      throw typeError(`options.${key} is not an option; use: ${[...Object.keys(known), ...skip].join(', ')}`)
    }
    const [coreKey, type] = known[key]
    if (!hasType(value, type)) throw typeError(`options.${key} must be a ${type}, got ${kindOf(value)}`)
    core[coreKey] = value
  }
  for (const key of ['server', 'key']) {
    if (options[key] === undefined) throw typeError(`options.${key} must be a string, got undefined`)
  }
  return jsonText(core, 'options', 'object')
}

function install(native, nativeRunner) {
  /** Sends each task of a run to a server's task service, where its workers do it. */
  class HttpRunner {
    /** `options`: server (base URL), key (API key with the `run` scope), priority, requestTimeoutMs, giveUpAfterMs. */
    constructor(options) {
      const text = configText(options, HTTP_RUNNER_OPTIONS)
      this._native = mapped(() => new native.HttpRunner(text))
    }

    /** The server's base URL. */
    get server() {
      return this._native.server
    }
  }

  /** Claims a server's tasks of a runner's functions and runs them with it. */
  class Worker {
    /**
     * `options`: server, key, runner (a LocalRunner or an HttpRunner),
     * concurrency (default 4), name, functions (default: the runner's),
     * claimWaitMs, graceMs, requestTimeoutMs.
     */
    constructor(options) {
      const text = configText({ concurrency: WORKER_CONCURRENCY, ...options }, WORKER_OPTIONS, ['runner'])
      const runner = nativeRunner(options.runner, 'options.runner')
      this._native = mapped(() => new native.Worker(text, runner))
    }

    /**
     * Serves tasks until `stop()` (or `signal` aborts); resolves to the
     * stats once running tasks are done or handed back. Rejects with a
     * ReelgraphError when the server cannot be reached or refuses the key.
     */
    run(options = {}) {
      if (options === null || typeof options !== 'object') {
        throw typeError(`The "options" argument must be an object, got ${kindOf(options)}`)
      }
      const { signal } = options
      if (signal !== undefined && !(signal instanceof AbortSignal)) {
        throw typeError(`options.signal must be an AbortSignal, got ${kindOf(signal)}`)
      }
      const running = mapped(() => this._native.run())
      const stop = () => this.stop()
      if (signal?.aborted) stop()
      else signal?.addEventListener('abort', stop, { once: true })
      // Holds the process open while the worker serves: the functions'
      // handles do not keep a process alive by themselves.
      const timer = setInterval(() => {}, 2 ** 30)
      return running
        .then(
          (text) => JSON.parse(text),
          (err) => {
            throw fromNative(err)
          },
        )
        .finally(() => {
          clearInterval(timer)
          signal?.removeEventListener('abort', stop)
        })
    }

    /** No more claims; running tasks get the grace period to finish. A stopped worker stays stopped. */
    stop() {
      this._native.stop()
    }

    /** What the last run did: `{claimed, completed, failed, lost, returned}`. */
    get stats() {
      return JSON.parse(this._native.statsJson())
    }
  }

  return { HttpRunner, Worker }
}

module.exports = { install }
