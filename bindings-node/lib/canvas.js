'use strict'
// Canvas: the object-taking methods over the addon's JSON-text ones.
// Results are parsed with JSON.parse: plain objects equal to the core's JSON.

const { jsonText } = require('./json.js')

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
      return JSON.parse(this.applyJson(jsonText(ops, 'ops', 'array')))
    },
    /** Undoes the last apply made through this canvas object; null when there is none. */
    undo() {
      const text = this.undoJson()
      return text === null ? null : JSON.parse(text)
    },
    /** Applies again the last undone apply; null when there is none. */
    redo() {
      const text = this.redoJson()
      return text === null ? null : JSON.parse(text)
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
