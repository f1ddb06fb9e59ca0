'use strict'
// JS values to the JSON text the addon reads. Checked first, so a value JSON
// cannot carry is refused with the path to it instead of silently changed
// (JSON.stringify turns NaN into null); then stringified, which is far faster
// than handing objects to native code one property at a time.

// Deeper than any limit of the core; also ends a circular structure.
const MAX_DEPTH = 512

function typeError(message) {
  const err = new TypeError(message)
  err.code = 'ERR_INVALID_ARG_TYPE'
  return err
}

function rangeError(message) {
  const err = new RangeError(message)
  err.code = 'ERR_OUT_OF_RANGE'
  return err
}

function kindOf(value) {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object') {
    const name = value.constructor && value.constructor.name
    return name && name !== 'Object' ? `a ${name}` : 'an object'
  }
  return typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`
}

/**
 * Checks a JSON value; returns true when it holds a BigInt (then only
 * `stringifyExact` can write it). `path` names the place for messages.
 */
function check(value, path, depth) {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return false
    case 'number':
      if (!Number.isFinite(value)) {
        throw rangeError(`${path} is ${value}: JSON has no NaN or Infinity; give a finite number`)
      }
      if (Number.isInteger(value) && !Number.isSafeInteger(value)) {
        throw rangeError(
          `${path} is ${value}, beyond 2^53: a JavaScript number loses integer digits there; ` +
            'pass a BigInt for an exact integer',
        )
      }
      return false
    case 'bigint':
      return true
    case 'object': {
      if (value === null) return false
      if (depth > MAX_DEPTH) throw rangeError(`${path} is nested too deeply (or circular)`)
      let big = false
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const item = value[i]
          if (item === undefined) throw typeError(`${path}[${i}] is undefined; give a JSON value or null`)
          if (check(item, `${path}[${i}]`, depth + 1)) big = true
        }
        return big
      }
      const proto = Object.getPrototypeOf(value)
      if (proto !== Object.prototype && proto !== null) {
        throw typeError(`${path} is ${kindOf(value)}; give a plain object, an array or a JSON value`)
      }
      for (const key in value) {
        const item = value[key]
        // Like JSON.stringify: a property set to undefined is absent.
        if (item !== undefined && check(item, `${path}.${key}`, depth + 1)) big = true
      }
      return big
    }
    default:
      throw typeError(`${path} is ${kindOf(value)}, which JSON cannot carry`)
  }
}

// What `scan` finds.
const PLAIN = 0
const BIG = 1
const REFUSED = 2

/**
 * `check` without the paths: the common case, a value JSON carries, costs
 * no string per property. On REFUSED, `check` runs again to say where.
 */
function scan(value, depth) {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return PLAIN
    case 'number':
      // Finite, and an integer only within 2^53 (every double beyond is an integer).
      return value <= Number.MAX_SAFE_INTEGER && value >= -Number.MAX_SAFE_INTEGER ? PLAIN : REFUSED
    case 'bigint':
      return BIG
    case 'object': {
      if (value === null) return PLAIN
      if (depth > MAX_DEPTH) return REFUSED
      let found = PLAIN
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const item = value[i]
          const kind = item === undefined ? REFUSED : scan(item, depth + 1)
          if (kind === REFUSED) return REFUSED
          found |= kind
        }
        return found
      }
      const proto = Object.getPrototypeOf(value)
      if (proto !== Object.prototype && proto !== null) return REFUSED
      for (const key in value) {
        const item = value[key]
        if (item === undefined) continue
        const kind = scan(item, depth + 1)
        if (kind === REFUSED) return REFUSED
        found |= kind
      }
      return found
    }
    default:
      return REFUSED
  }
}

/** JSON text with BigInts written as exact integers (the slow path). */
function stringifyExact(value) {
  if (typeof value === 'bigint') return value.toString()
  if (value === null || typeof value !== 'object') return JSON.stringify(value)
  if (Array.isArray(value)) return `[${value.map(stringifyExact).join(',')}]`
  const parts = []
  for (const key in value) {
    if (value[key] !== undefined) parts.push(`${JSON.stringify(key)}:${stringifyExact(value[key])}`)
  }
  return `{${parts.join(',')}}`
}

const EXPECTED = {
  array: ['an array', (v) => Array.isArray(v)],
  object: ['an object', (v) => v !== null && typeof v === 'object' && !Array.isArray(v)],
  objectOrArray: ['an array or an object', (v) => v !== null && typeof v === 'object'],
}

/**
 * The JSON text of argument `name`, which must be `expected` ('array',
 * 'object' or 'objectOrArray'); throws a TypeError or RangeError naming it.
 */
function jsonText(value, name, expected) {
  const [what, test] = EXPECTED[expected]
  if (!test(value)) {
    throw typeError(`The "${name}" argument must be ${what}, got ${kindOf(value)}`)
  }
  const found = scan(value, 0)
  if (found === REFUSED) check(value, name, 0)
  return found === BIG ? stringifyExact(value) : JSON.stringify(value)
}

module.exports = { jsonText, typeError, kindOf }
