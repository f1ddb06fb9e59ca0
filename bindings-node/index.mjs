// ESM entry: the CommonJS package's exports, as named exports.
import reelgraph from './index.js'

export const { Canvas, Catalog, Executor, LocalRunner, MemoryCache, ReelgraphError, Run, SqliteCache, errorTable } =
  reelgraph
export default reelgraph
