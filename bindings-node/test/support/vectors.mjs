// Reading the shared vectors and comparing with the README's rules.

import { readFileSync, readdirSync } from 'node:fs'

import { Canvas, Catalog } from '../../index.js'

const ROOT = new URL('../../../core/tests/vectors/', import.meta.url)

/** Every vector of `area`, `{name, vector}`, in file order. */
export function vectors(area) {
  return readdirSync(new URL(`${area}/`, ROOT))
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ name: f.slice(0, -5), vector: JSON.parse(readFileSync(new URL(`${area}/${f}`, ROOT), 'utf8')) }))
}

/** Compact JSON with object keys sorted by code point, as the README says. */
export function compactJson(value) {
  if (value === null || typeof value !== 'object') return JSON.stringify(value)
  if (Array.isArray(value)) return `[${value.map(compactJson).join(',')}]`
  const keys = Object.keys(value).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  return `{${keys.map((k) => `${JSON.stringify(k)}:${compactJson(value[k])}`).join(',')}}`
}

/** The built-in catalogue plus `input.catalog`, each registered as JSON text. */
export function catalogFrom(input) {
  const catalog = Catalog.builtin()
  for (const spec of input.catalog ?? []) catalog.register(compactJson(spec))
  return catalog
}

/** `input.canvas` loaded from its JSON text (or the empty `vec` canvas), with `setup` applied. */
export function canvasFrom(input, catalog) {
  const canvas = input.canvas ? Canvas.fromJson(compactJson(input.canvas), catalog) : new Canvas('vec', 'Vector', catalog)
  if (input.setup) canvas.apply(input.setup)
  return canvas
}

/** `ts`, when a non-empty string, becomes "<ts>". */
export function maskEvent(event) {
  if (typeof event.ts === 'string' && event.ts !== '') event.ts = '<ts>'
  return event
}

/** The paths where `actual` and `expected` differ, by the README's rules. */
export function differences(actual, expected, path = '$', out = []) {
  const kind = (v) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v)
  if (kind(actual) !== kind(expected)) {
    out.push(`${path}: ${JSON.stringify(actual)} != ${JSON.stringify(expected)}`)
  } else if (Array.isArray(actual)) {
    if (actual.length !== expected.length) out.push(`${path}: ${actual.length} items != ${expected.length}`)
    else actual.forEach((v, i) => differences(v, expected[i], `${path}[${i}]`, out))
  } else if (kind(actual) === 'object') {
    for (const key of new Set([...Object.keys(actual), ...Object.keys(expected)])) {
      if (!(key in actual)) out.push(`${path}.${key}: missing`)
      else if (!(key in expected)) out.push(`${path}.${key}: not expected (${JSON.stringify(actual[key])})`)
      else differences(actual[key], expected[key], `${path}.${key}`, out)
    }
  } else if (actual !== expected) {
    out.push(`${path}: ${JSON.stringify(actual)} != ${JSON.stringify(expected)}`)
  }
  return out
}
