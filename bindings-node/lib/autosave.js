'use strict'
// Autosaver: saves a canvas to a store after a quiet period, at least every
// so often while changes come, and on close; reports conflicts.

const { jsonText, typeError, kindOf } = require('./json.js')
const { fromNative } = require('./errors.js')

function install(native) {
  class Autosaver {
    /**
     * Saves `canvas` to `store`. Options: `storedRevision` (the revision the
     * store holds; default the canvas's), `quietPeriodMs` (default 2000),
     * `maxIntervalMs` (default 10000), `onEvent(event)` (each `saved`,
     * `conflict` or `failed` event).
     */
    constructor(canvas, store, options = {}) {
      if (options === null || typeof options !== 'object') {
        throw typeError(`The "options" argument must be an object, got ${kindOf(options)}`)
      }
      const { storedRevision, quietPeriodMs, maxIntervalMs, onEvent, ...rest } = options
      const unknown = Object.keys(rest)
      if (unknown.length) {
        throw typeError(
          `options.${unknown[0]} is not an autosaver option; use: storedRevision, quietPeriodMs, maxIntervalMs, onEvent`,
        )
      }
      if (onEvent !== undefined && typeof onEvent !== 'function') {
        throw typeError(`options.onEvent must be a function, got ${kindOf(onEvent)}`)
      }
      const core = {}
      if (quietPeriodMs !== undefined) core.quiet_period_ms = quietPeriodMs
      if (maxIntervalMs !== undefined) core.max_interval_ms = maxIntervalMs
      const sink = onEvent && ((text) => text !== null && JSON.parse(text).forEach((e) => onEvent(e)))
      try {
        this._native = new native.Autosaver(
          canvas,
          store,
          storedRevision ?? canvas.revision,
          jsonText(core, 'options', 'object'),
          sink,
        )
      } catch (err) {
        throw fromNative(err)
      }
    }

    /** The canvas changed: call after each successful apply. */
    touch() {
      this._native.touch()
    }

    /** After a conflict: the canvas now builds on stored revision `revision`. */
    rebased(revision) {
      try {
        this._native.rebased(revision)
      } catch (err) {
        throw fromNative(err)
      }
    }

    /** Saves what is pending and stops. */
    async close() {
      await this._native.close()
    }
  }

  return { Autosaver }
}

module.exports = { install }
