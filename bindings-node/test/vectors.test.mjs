// The shared vectors (core/tests/vectors/) through the public JS API, with
// the README's comparison rules and extra checks: every area but `exec` and
// `events` (test/vectors_exec.test.mjs runs those).
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { Canvas, Catalog, ReelgraphError, detectFormat, errorTable, importAny } from '../index.mjs'
import {
  Mismatch,
  canvasFrom,
  catalogFrom,
  compactJson,
  diff,
  maskDocument,
  runArea,
  same,
} from './support/vectors.mjs'

function setUp(input) {
  const catalog = catalogFrom(input)
  return { catalog, canvas: canvasFrom(input, catalog) }
}

/** The error of a call as a vector pins it: `{code, details, op_index?}` plus the message. */
function caught(call, { opIndex = false } = {}) {
  try {
    return { value: call() }
  } catch (err) {
    if (!(err instanceof ReelgraphError)) throw err
    const error = { code: err.code, details: err.details, message: err.toJSON().message }
    if (opIndex && Object.hasOwn(err.details, 'op_index')) error.op_index = err.details.op_index
    return { error, body: err.toJSON() }
  }
}

const doc = (canvas) => maskDocument(canvas.toDocument())

function check(ok, message) {
  if (!ok) throw new Mismatch(message)
}

const AREAS = {
  ops(input) {
    const { catalog, canvas } = setUp(input)
    const before = canvas.toJson()
    const outcome = caught(() => canvas.apply(input.ops), { opIndex: true })
    if (outcome.error) {
      check(canvas.toJson() === before, 'the rejected apply changed the canvas')
      return outcome
    }
    const applied = outcome.value
    const { event } = applied
    check(
      event.type === 'canvas_changed' &&
        event.canvas_id === canvas.id &&
        event.revision === applied.revision &&
        event.seq === applied.revision &&
        canvas.revision === applied.revision,
      `the change event does not match the canvas: ${JSON.stringify(event)}`,
    )
    const replica = Canvas.fromJson(before, catalog)
    replica.apply(event.ops)
    check(same(doc(canvas), doc(replica)), `replaying the event ops gives another canvas:\n${diff(doc(canvas), doc(replica)).join('\n')}`)
    if (input.then_apply_inverse) {
      // canvas.undo() applies the inverse this apply returned.
      const undone = canvas.undo()
      check(same(undone.event.ops, applied.inverse), 'undo did not apply the returned inverse')
      const strip = ({ revision, updated_at, ...rest }) => rest
      const [original, restored] = [strip(maskDocument(JSON.parse(before))), strip(doc(canvas))]
      check(same(original, restored), `the inverse did not restore the document:\n${diff(original, restored).join('\n')}`)
    }
    return { value: { revision: applied.revision, inverse: applied.inverse, event_ops: event.ops, canvas: doc(canvas) } }
  },

  connect(input) {
    const { catalog, canvas } = setUp(input)
    const before = canvas.toJson()
    const answer = caught(() => canvas.canConnect(input.source, input.target))
    check(canvas.toJson() === before, 'canConnect changed the canvas')
    const replica = Canvas.fromJson(before, catalog)
    const applied = caught(() => replica.apply([{ op: 'connect', source: input.source, target: input.target }]))
    const short = (o) => (o.error ? o.error.code : 'ok')
    check(short(answer) === short(applied), `canConnect says ${short(answer)} but connect says ${short(applied)}`)
    return answer.error ? answer : { value: { ok: answer.value } }
  },

  validate(input) {
    return { value: setUp(input).canvas.validate() }
  },

  migrate: load,
  format: load,

  preview(input) {
    const { canvas } = setUp(input)
    return caught(() => canvas.taskPreview(input.node, input.quality))
  },

  spec(input) {
    const catalog = catalogFrom(input)
    const specs = Array.isArray(input.spec) ? input.spec : [input.spec]
    const versions = () => specs.map((s) => catalog.spec(String(s?.type))?.version ?? null)
    const before = versions()
    const outcome = caught(() => catalog.register(compactJson(input.spec)))
    if (outcome.error) {
      check(same(versions(), before), 'a refused registration changed the catalogue')
      return outcome
    }
    const types = outcome.value
    for (const name of types) check(catalog.spec(name) !== null, `${name} is not in the catalogue`)
    return { value: Array.isArray(input.spec) ? { types } : { type: types[0] } }
  },

  import(input) {
    const text = input.data !== undefined ? compactJson(input.data) : input.data_text
    const catalog = catalogFrom(input)
    const outcome = caught(() => importAny(text, { catalog, format: input.format }))
    if (outcome.error) return outcome
    const imported = outcome.value
    if (input.format === undefined) {
      const told = detectFormat(text)
      check(told === imported.format, `detectFormat says ${told}, importAny read ${imported.format}`)
    }
    for (const name of imported.registered_types) check(catalog.spec(name) !== null, `${name} is not in the catalogue`)
    Canvas.fromDocument(imported.canvas, catalog)
    maskDocument(imported.canvas)
    return { value: imported }
  },

  errors(input) {
    const { call, ...rest } = input
    if (call === 'error_table') {
      return { value: errorTable().map(({ code, category, http_status }) => ({ code, category, http_status })) }
    }
    const outcome = AREAS[call](rest)
    check(outcome.error, `the ${call} call did not fail`)
    // The whole body, as ReelgraphError#toJSON gives it.
    return { value: outcome.body }
  },
}

function load(input) {
  const catalog = catalogFrom(input)
  const text = input.canvas !== undefined ? compactJson(input.canvas) : input.document_text
  const outcome = caught(() => Canvas.fromJson(text, catalog))
  if (outcome.error) return outcome
  const canvas = outcome.value
  const written = canvas.toJson()
  check(Canvas.fromJson(written, catalog).toJson() === written, 'reloading the written document changes it')
  return { value: { migrations: canvas.migrations(), canvas: doc(canvas), report: canvas.validate() } }
}

// errors/ vectors of calls node-run runs (exec) are theirs.
const NOT_HERE = new Set(['exec', 'events'])

for (const area of Object.keys(AREAS)) {
  test(`shared vectors: ${area}`, () => {
    const { ran, failures } = runArea(area, AREAS[area], {
      skip: (vector) => area === 'errors' && NOT_HERE.has(vector.input.call),
    })
    assert.ok(ran > 0, `no ${area} vectors ran`)
    assert.deepEqual(failures, [], `${failures.length} of ${ran} ${area} vectors fail:\n${failures.join('\n')}`)
  })
}
