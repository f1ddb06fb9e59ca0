// A TypeScript user of the package: compiled with `tsc --noEmit --strict`
// (make node-test), so the typings must describe what the package does.
import {
  Canvas,
  Catalog,
  FileStore,
  MemoryStore,
  ReelgraphError,
  SqliteStore,
  detectFormat,
  importAny,
  importComfyui,
} from '../../index.js'
import type {
  Applied,
  ApiPrompt,
  CanvasDocument,
  ErrorCode,
  Format,
  Import,
  Imported,
  Op,
  Page,
  ReactFlow,
  Report,
  TaskPreview,
  VersionInfo,
} from '../../index.js'

const catalog: Catalog = Catalog.builtin()
const names: string[] = catalog.register({
  type: 'lut',
  category: 'post',
  title: 'LUT',
  inputs: [{ name: 'image', type: 'image', required: true }],
  outputs: [{ name: 'image', type: 'image' }],
})
const canvas = new Canvas('teaser', 'Teaser', catalog)

const ops: Op[] = [
  { op: 'add_node', id: 'shot_1', type: 'shot', properties: { prompt: 'rain' } },
  { op: 'add_node', id: 'frame_1', type: 'image_gen' },
  { op: 'connect', source: { node: 'shot_1', port: 'shot' }, target: { node: 'frame_1', port: 'shot' } },
]
const applied: Applied = canvas.apply(ops)
const revision: number = applied.revision + canvas.revision
const undo: Op[] = applied.inverse

const report: Report = canvas.validate()
const valid: boolean = report.valid
const preview: TaskPreview = canvas.taskPreview('frame_1', 'draft')
const all: TaskPreview[] = canvas.taskPreviews()
const ok: true = canvas.canConnect({ node: 'shot_1', port: 'shot' }, { node: 'frame_1', port: 'shot' })

const doc: CanvasDocument = canvas.toDocument()
const copy: Canvas = Canvas.fromDocument(doc, catalog)
const again: Canvas = Canvas.fromJson(copy.toJson())

try {
  canvas.apply([{ op: 'remove_node', id: 'nope' }])
} catch (err) {
  if (err instanceof ReelgraphError) {
    const code: ErrorCode = err.code
    const hint: string = err.hint
    console.log(code, hint, err.details, err.category, err.toJSON().message)
  }
}

const undone: Applied | null = canvas.undo()
const redone: Applied | null = canvas.redo()
const canUndo: boolean = canvas.canUndo

async function persist(): Promise<void> {
  const stores = [new MemoryStore(), new FileStore('/tmp/canvases'), new SqliteStore(':memory:')]
  for (const store of stores) {
    const created: VersionInfo = await store.create(canvas)
    const saved: VersionInfo = await store.save(canvas, created.revision)
    const loaded: Canvas = await store.get(canvas.id, catalog)
    const old: Canvas = await store.getVersion(canvas.id, 0)
    const page: Page = await store.list({ limit: 10, name_prefix: 'T' })
    const history: VersionInfo[] = await store.versions(canvas.id)
    const removed: number = await store.prune(canvas.id, { keep_last: 5 })
    await store.delete(canvas.id, saved.revision)
    console.log(loaded.revision, old.revision, page.next_cursor, history.length, removed)
  }
}

const flow: ReactFlow = canvas.toReactFlow()
const fromFlow: Canvas = Canvas.fromReactFlow(flow, catalog)
const prompt: ApiPrompt = canvas.toComfyuiPrompt()
const imported: Imported = importAny(JSON.stringify(flow), { catalog, format: 'react_flow' })
const comfy: Import = importComfyui({ nodes: [], links: [] }, { catalog, objectInfo: {} })
const format: Format = detectFormat(flow)
const pictures: string[] = [canvas.toDot(), canvas.toMermaid(), canvas.toSvg({ legend: false })]
console.log(fromFlow.id, prompt.left_out, imported.format, comfy.stats.nodes, format, pictures)

console.log(undone, redone, canUndo, persist)
console.log(names, revision, undo, valid, preview.function, all.length, ok, again.id, again.name)
