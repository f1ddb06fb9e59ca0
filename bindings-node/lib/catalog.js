'use strict'
// Catalog: the object-taking methods over the addon's JSON-text ones.

const { jsonText } = require('./json.js')

function install(Catalog) {
  Object.assign(Catalog.prototype, {
    /** Registers a spec or an array of specs (objects or JSON text); returns the type names. */
    register(spec) {
      return this.registerJson(typeof spec === 'string' ? spec : jsonText(spec, 'spec', 'objectOrArray'))
    },
    /** The spec of a node type, or null when it is not registered. */
    spec(typeName) {
      const text = this.specJson(typeName)
      return text === null ? null : JSON.parse(text)
    },
  })
  return Catalog
}

module.exports = { install }
