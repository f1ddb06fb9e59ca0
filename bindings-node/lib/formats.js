'use strict'
// Formats: the object-taking functions and methods over the addon's
// JSON-text ones. Data may be given as an object or as JSON text (as read
// from a file, passed on as it is).

const { jsonText, typeError, kindOf } = require('./json.js')

/** JSON text of `data`: a string is taken as it is, an object is checked and stringified. */
function dataText(data, name) {
  return typeof data === 'string' ? data : jsonText(data, name, 'objectOrArray')
}

/** The options object of a call, or a TypeError naming it. */
function options(value, name) {
  if (value === undefined || value === null) return {}
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw typeError(`The "${name}" argument must be an object, got ${kindOf(value)}`)
  }
  return value
}

function install(native, Canvas) {
  Object.assign(Canvas, {
    /** A canvas from a React Flow / Svelte Flow object (or its JSON text). */
    fromReactFlow(data, catalog) {
      return Canvas.fromReactFlowJson(dataText(data, 'data'), catalog)
    },
  })
  Object.assign(Canvas.prototype, {
    /** The canvas as a React Flow / Svelte Flow object: `{nodes, edges, viewport}`. */
    toReactFlow() {
      return JSON.parse(this.toReactFlowJson())
    },
    /** The ComfyUI API prompt of the canvas: `{prompt, left_out, diagnostics}`. */
    toComfyuiPrompt() {
      return JSON.parse(this.toComfyuiPromptJson())
    },
    /** The canvas as an SVG picture (`{layout, properties, title, legend, margin}`, all optional). */
    toSvg(svgOptions) {
      const given = options(svgOptions, 'options')
      return this.toSvgJson(svgOptions == null ? null : jsonText(given, 'options', 'object'))
    },
  })

  return {
    /** Reads a canvas in any format (sniffed, or `format`); `{format, canvas, diagnostics, registered_types}`. */
    importAny(data, opts) {
      const { catalog, format } = options(opts, 'options')
      return JSON.parse(native.importAnyJson(dataText(data, 'data'), catalog, format))
    },
    /** Reads a ComfyUI workflow or API prompt; `{canvas, diagnostics, registered_types, stats}`. */
    importComfyui(data, opts) {
      const { catalog, objectInfo } = options(opts, 'options')
      const info = objectInfo == null ? null : dataText(objectInfo, 'objectInfo')
      return JSON.parse(native.importComfyuiJson(dataText(data, 'data'), catalog, info))
    },
    /** The format of a document: 'native', 'react_flow', 'comfyui_workflow' or 'comfyui_api'. */
    detectFormat(data) {
      return native.detectFormat(dataText(data, 'data'))
    },
  }
}

module.exports = { install }
