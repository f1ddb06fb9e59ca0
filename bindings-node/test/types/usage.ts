// A TypeScript user of the package: compiled with `tsc --noEmit --strict`
// (make node-test), so the typings must describe what the package does.
import { Canvas, Catalog, ReelgraphError } from '../../index.js'
import type { Applied, CanvasDocument, ErrorCode, Op, Report, TaskPreview } from '../../index.js'

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

console.log(names, revision, undo, valid, preview.function, all.length, ok, again.id, again.name)
