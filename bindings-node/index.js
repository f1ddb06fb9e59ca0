'use strict'
// The package `reelgraph`: the addon's classes with errors mapped to
// ReelgraphError / TypeError, and the object-taking methods of lib/.

const native = require('./reelgraph.node')
const { ReelgraphError, guardClass } = require('./lib/errors.js')

const Catalog = require('./lib/catalog.js').install(guardClass(native.Catalog))
const Canvas = require('./lib/canvas.js').install(guardClass(native.Canvas))

/** The core's error table: `[{code, category, http_status, when}]`, in the order of the docs. */
function errorTable() {
  return JSON.parse(native.errorTableJson())
}

module.exports = { Canvas, Catalog, ReelgraphError, errorTable }
