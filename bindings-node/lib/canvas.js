'use strict'
// Canvas: the object-taking methods over the addon's JSON-text ones.
// Results are parsed with JSON.parse: plain objects equal to the core's JSON.

const { jsonText } = require('./json.js')

/** An own, plain property in place of a lazy getter, once it was read. */
function settle(object, key, value) {
  Object.defineProperty(object, key, { value, writable: true, enumerable: true, configurable: true })
  return value
}

// Each apply's number: the canvas keeps its result under it (src/applied.rs).
let serials = 0

// Has a canvas forget an apply's result once its object is gone.
const kept = new FinalizationRegistry(({ canvas, serial }) => canvas.forgetApplied(serial))

/**
 * `{revision, inverse, event}` of the apply the canvas kept under
 * `serial`, a plain object whose `inverse` and `event` are converted when
 * first read; null when nothing was applied (`revision` is null).
 */
function applied(canvas, serial, revision) {
  if (revision === null) return null
  const object = {
    revision,
    get inverse() {
      return settle(this, 'inverse', JSON.parse(canvas.appliedInverseJson(serial)))
    },
    set inverse(value) {
      settle(this, 'inverse', value)
    },
    get event() {
      return settle(this, 'event', JSON.parse(canvas.appliedEventJson(serial)))
    },
    set event(value) {
      settle(this, 'event', value)
    },
  }
  kept.register(object, { canvas, serial })
  return object
}

function install(Canvas) {
  Object.assign(Canvas, {
    /** Loads a canvas document object (migrations run, limits hold). */
    fromDocument(doc, catalog) {
      return Canvas.fromJson(jsonText(doc, 'doc', 'object'), catalog)
    },
  })
  Object.assign(Canvas.prototype, {
    /** The canvas document as a plain object. */
    toDocument() {
      return JSON.parse(this.toJson())
    },
    /** The migrations loading ran: `[{node, from_version, to_version}]`. */
    migrations() {
      return JSON.parse(this.migrationsJson())
    },
    /** Applies ops atomically; returns `{revision, inverse, event}`. */
    apply(ops) {
      const serial = serials++
      return applied(this, serial, this.applyJson(jsonText(ops, 'ops', 'array'), serial))
    },
    /** Undoes the last apply made through this canvas object; null when there is none. */
    undo() {
      const serial = serials++
      return applied(this, serial, this.undoApplied(serial))
    },
    /** Applies again the last undone apply; null when there is none. */
    redo() {
      const serial = serials++
      return applied(this, serial, this.redoApplied(serial))
    },
    /** True when the edge would be accepted; throws the reason otherwise. */
    canConnect(source, target) {
      return this.canConnectJson(jsonText(source, 'source', 'object'), jsonText(target, 'target', 'object'))
    },
    /** The validation report: `{valid, errors, warnings, diagnostics}`. */
    validate() {
      return JSON.parse(this.validateJson())
    },
    /** The task of every node that has one, at a quality tier (default 'standard'). */
    taskPreviews(quality) {
      return JSON.parse(this.taskPreviewsJson(quality))
    },
    /** The task one node would send at a quality tier (default 'standard'). */
    taskPreview(node, quality) {
      return JSON.parse(this.taskPreviewJson(node, quality))
    },
  })
  return Canvas
}

module.exports = { install }
