'use strict'
// The package `reelgraph`: the addon's classes with errors mapped to
// ReelgraphError / TypeError, and the object-taking methods of lib/.

const native = require('./reelgraph.node')
const { ReelgraphError, guard, guardClass } = require('./lib/errors.js')

const Catalog = require('./lib/catalog.js').install(guardClass(native.Catalog))
const Canvas = require('./lib/canvas.js').install(guardClass(native.Canvas))
const formats = require('./lib/formats.js').install(
  {
    importAnyJson: guard(native.importAnyJson),
    importComfyuiJson: guard(native.importComfyuiJson),
    detectFormat: guard(native.detectFormat),
  },
  Canvas,
)
const stores = require('./lib/stores.js')
const MemoryStore = stores.install(guardClass(native.MemoryStore))
const FileStore = stores.install(guardClass(native.FileStore))
const SqliteStore = stores.install(guardClass(native.SqliteStore))

/** The core's error table: `[{code, category, http_status, when}]`, in the order of the docs. */
function errorTable() {
  return JSON.parse(native.errorTableJson())
}

const { LocalRunner, MemoryCache, SqliteCache, Executor, Run, nativeRunner } = require('./lib/run.js').install(native)
const { HttpRunner, Worker } = require('./lib/remote.js').install(native, nativeRunner)
const { Autosaver } = require('./lib/autosave.js').install(native)

module.exports = {
  Autosaver,
  Canvas,
  Catalog,
  Executor,
  FileStore,
  HttpRunner,
  LocalRunner,
  MemoryCache,
  MemoryStore,
  ReelgraphError,
  Run,
  SqliteCache,
  SqliteStore,
  Worker,
  errorTable,
  ...formats,
}
