// Reading and judging the shared vectors (core/tests/vectors/, see its
// README): the comparison rules, masking and reporting every Node runner uses.
import { readFileSync, readdirSync } from 'node:fs'

import { Canvas, Catalog } from '../../index.js'

export const VECTORS = new URL('../../../core/tests/vectors/', import.meta.url)
const TS = '<ts>'
const MS = '<ms>'

/** Every vector of `area`: `{name, file, vector}`, in file order. */
export function vectorsOf(area) {
  const dir = new URL(`${area}/`, VECTORS)
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => {
      const vector = JSON.parse(readFileSync(new URL(file, dir), 'utf8'))
      const name = file.slice(0, -'.json'.length)
      if (vector.name !== name) throw new Error(`${area}/${file}: name is ${vector.name}`)
      return { name, file: `${area}/${file}`, vector }
    })
}

/** Every vector of `area` (`vectorsOf`, by its other name). */
export const vectors = vectorsOf

/** The built-in catalogue plus `input.catalog`, each spec registered as JSON text. */
export function catalogFrom(input) {
  const catalog = Catalog.builtin()
  for (const spec of input.catalog ?? []) catalog.register(compactJson(spec))
  return catalog
}

/** `input.canvas` loaded from its JSON text (or the empty `vec` canvas), with `input.setup` applied. */
export function canvasFrom(input, catalog) {
  const canvas =
    input.canvas === undefined
      ? new Canvas('vec', 'Vector', catalog)
      : Canvas.fromJson(compactJson(input.canvas), catalog)
  if (input.setup !== undefined) canvas.apply(input.setup)
  return canvas
}

/** Compact JSON with object keys sorted by code point: how a runner passes JSON as text. */
export function compactJson(value) {
  return JSON.stringify(sortKeys(value))
}

function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (value === null || typeof value !== 'object') return value
  const out = {}
  for (const key of Object.keys(value).sort(byCodePoint)) out[key] = sortKeys(value[key])
  return out
}

function byCodePoint(a, b) {
  const [x, y] = [Array.from(a), Array.from(b)]
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i].codePointAt(0) - y[i].codePointAt(0)
    if (d !== 0) return d
  }
  return x.length - y.length
}

/** Canonical equality: numbers by value, objects by key set, arrays in order. */
export function same(a, b) {
  if (typeof a === 'number' && typeof b === 'number') return a === b
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => same(x, b[i]))
  }
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a)
    return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && same(a[k], b[k]))
  }
  return a === b
}

function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

/** The paths where `actual` and `expected` differ (`diff` with the sides the other way round). */
export function differences(actual, expected) {
  return diff(expected, actual)
}

/** The paths where `want` and `got` differ, for a failure message. */
export function diff(want, got, path = '', out = []) {
  if (out.length >= 25) return out
  if (isObject(want) && isObject(got)) {
    for (const k of new Set([...Object.keys(want), ...Object.keys(got)])) {
      const p = `${path}.${k}`
      if (!Object.hasOwn(got, k)) out.push(`${p}: missing (want ${JSON.stringify(want[k])})`)
      else if (!Object.hasOwn(want, k)) out.push(`${p}: unexpected ${JSON.stringify(got[k])}`)
      else diff(want[k], got[k], p, out)
    }
  } else if (Array.isArray(want) && Array.isArray(got) && want.length === got.length) {
    want.forEach((w, i) => diff(w, got[i], `${path}[${i}]`, out))
  } else if (!same(want, got)) {
    out.push(`${path || '(root)'}: want ${cut(want)}, got ${cut(got)}`)
  }
  return out
}

function cut(value) {
  const text = JSON.stringify(value)
  return text && text.length > 300 ? `${text.slice(0, 300)}...` : text
}

/** A document with non-empty `created_at` / `updated_at` as "<ts>". */
export function maskDocument(doc) {
  if (isObject(doc)) {
    for (const key of ['created_at', 'updated_at']) {
      if (typeof doc[key] === 'string' && doc[key] !== '') doc[key] = TS
    }
  }
  return doc
}

/** An event with a non-empty `ts` as "<ts>" (durations: `maskDurations`). */
export function maskEvent(event) {
  if (typeof event.ts === 'string' && event.ts !== '') event.ts = TS
  return event
}

/** A `duration_ms` number of `value` as "<ms>" (an event's own, a report's or events' stats). */
export function maskDurations(value) {
  if (isObject(value) && typeof value.duration_ms === 'number') value.duration_ms = MS
  return value
}

/** A vector's runner found it malformed, or the extra checks failed. */
export class Mismatch extends Error {}

/**
 * Runs every vector of `area` through `run(input)`, which returns
 * `{value}` or `{error: {code, details, op_index?, message}}` (or, in
 * errors/, the whole body as `value`), and judges it. Returns the failures,
 * one message per failing file; known bugs that fail are not failures, and
 * known bugs that pass are.
 */
export function runArea(area, run, { skip = () => null } = {}) {
  const failures = []
  let ran = 0
  for (const { file, vector } of vectorsOf(area)) {
    if (skip(vector)) continue
    ran++
    let problem
    try {
      problem = judge(vector, run(vector.input))
    } catch (err) {
      problem = err instanceof Mismatch ? err.message : `threw ${err && err.stack}`
    }
    if (vector.known_bug) {
      if (!problem) failures.push(`${file}: marked known_bug but passes: remove known_bug`)
    } else if (problem) {
      failures.push(`${file}:\n  ${problem.split('\n').join('\n  ')}`)
    }
  }
  return { ran, failures }
}

function judge(vector, outcome) {
  const { expected, expected_error: expectedError } = vector
  if (expected !== undefined) {
    if (outcome.error) return `expected a result, got error ${outcome.error.code}: ${outcome.error.message}`
    return same(expected, outcome.value) ? null : `expected and actual differ:\n${diff(expected, outcome.value).join('\n')}`
  }
  if (!outcome.error) return `expected error ${expectedError.code}, got a result: ${cut(outcome.value)}`
  const { message_contains: part, ...pinned } = expectedError
  const { message, ...got } = outcome.error
  if (!same(pinned, got)) return `expected_error and actual error differ:\n${diff(pinned, got).join('\n')}\n(message: ${message})`
  if (part !== undefined && !message.includes(part)) return `the error message does not contain ${JSON.stringify(part)}: ${message}`
  return null
}
