// ESM entry: the CommonJS package's exports, as named exports.
import reelgraph from './index.js'

export const {
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
  detectFormat,
  errorTable,
  importAny,
  importComfyui,
} = reelgraph
export default reelgraph
