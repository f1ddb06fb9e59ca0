// ESM entry: the CommonJS package's exports, as named exports.
import reelgraph from './index.js'

export const { Canvas, Catalog, ReelgraphError, errorTable } = reelgraph
export default reelgraph
