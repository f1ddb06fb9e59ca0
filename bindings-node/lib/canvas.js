'use strict'
// Canvas: the object-taking methods over the addon's JSON-text ones.
// Results are parsed with JSON.parse: plain objects equal to the core's JSON.

const { jsonText } = require('./json.js')

/** An own, plain property in place of a lazy getter, once it was read. */
function settle(object, key, value) {
  Object.defineProperty(object, key, { value, writable: true, enumerable: true, configurable: true })
  return value
}

/**
 * `{revision, inverse, event}`, a plain object whose `inverse` and `event`
 * are converted when first read (src/applied.rs): the addon gives a small
 * apply as `{revision, text}` and a big one as a native handle.
 */
function applied(native) {
  if (native === null) return null
  let inverse
  let event
  if (typeof native.text === 'string') {
    let parsed
    const parse = () => (parsed ??= JSON.parse(native.text))
    inverse = () => parse().inverse
    event = () => parse().event
  } else {
    inverse = () => JSON.parse(native.inverseJson())
    event = () => JSON.parse(native.eventJson())
  }
  return {
    revision: native.revision,
    get inverse() {
      return settle(this, 'inverse', inverse())
    },
    set inverse(value) {
      settle(this, 'inverse', value)
    },
    get event() {
      return settle(this, 'event', event())
    },
    set event(value) {
      settle(this, 'event', value)
    },
  }
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
      return applied(this.applyJson(jsonText(ops, 'ops', 'array')))
    },
    /** Undoes the last apply made through this canvas object; null when there is none. */
    undo() {
      return applied(this.undoApplied())
    },
    /** Applies again the last undone apply; null when there is none. */
    redo() {
      return applied(this.redoApplied())
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
