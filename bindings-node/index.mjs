// ESM entry: the CommonJS package's exports, as named exports.
import reelgraph from './index.js'

export const {
  Canvas,
  Catalog,
  FileStore,
  MemoryStore,
  ReelgraphError,
  SqliteStore,
  detectFormat,
  errorTable,
  importAny,
  importComfyui,
} = reelgraph
export default reelgraph
