'use strict'
// Errors from the addon: a core error arrives as its wire body behind a
// marker (see src/errors.rs) and becomes a ReelgraphError; a wrong argument
// (napi's InvalidArg) becomes a TypeError.

const MARK = 'reelgraph-error:'

/** An error of the core, with the stable `code` of its error table. */
class ReelgraphError extends Error {
  constructor(body) {
    super(body.hint ? `${body.message}\nhint: ${body.hint}` : body.message)
    this.name = 'ReelgraphError'
    this.code = body.code
    this.category = body.category
    this.hint = body.hint
    this.details = body.details
    // The core's message, without the hint: what toJSON gives back.
    Object.defineProperty(this, 'coreMessage', { value: body.message })
  }

  /** The core's error body, `{code, message, hint, details}`, as HTTP sends it. */
  toJSON() {
    return { code: this.code, message: this.coreMessage, hint: this.hint, details: this.details }
  }
}

/** What an addon error means for a caller: a ReelgraphError, a TypeError or itself. */
function fromNative(err) {
  if (!(err instanceof Error) || err instanceof ReelgraphError) return err
  if (typeof err.message === 'string' && err.message.startsWith(MARK)) {
    return new ReelgraphError(JSON.parse(err.message.slice(MARK.length)))
  }
  if (err.code === 'InvalidArg') {
    const typeError = new TypeError(err.message)
    typeError.code = 'ERR_INVALID_ARG_TYPE'
    return typeError
  }
  return err
}

/** `fn` with addon errors mapped, for calls that return values or promises. */
function guard(fn) {
  return function guarded(...args) {
    let result
    try {
      result = fn.apply(this, args)
    } catch (err) {
      throw fromNative(err)
    }
    if (result instanceof Promise) {
      return result.then(undefined, (err) => {
        throw fromNative(err)
      })
    }
    return result
  }
}

/**
 * Maps addon errors of every method, getter and static function of a native
 * class; the returned class is the same class behind a Proxy (instanceof holds)
 * whose constructor maps errors too.
 */
function guardClass(cls) {
  for (const target of [cls, cls.prototype]) {
    for (const key of Object.getOwnPropertyNames(target)) {
      if (key === 'constructor' || key === 'prototype') continue
      const desc = Object.getOwnPropertyDescriptor(target, key)
      if (typeof desc.value === 'function') desc.value = guard(desc.value)
      else if (desc.get) desc.get = guard(desc.get)
      else continue
      if (!desc.configurable) {
        // napi-rs makes statics and factories fixed unless told otherwise.
        throw new Error(`${cls.name}.${key} is not configurable: give it #[napi(..., configurable = true)]`)
      }
      Object.defineProperty(target, key, desc)
    }
  }
  return new Proxy(cls, {
    construct(target, args, newTarget) {
      try {
        return Reflect.construct(target, args, newTarget)
      } catch (err) {
        throw fromNative(err)
      }
    },
  })
}

module.exports = { ReelgraphError, fromNative, guard, guardClass }
