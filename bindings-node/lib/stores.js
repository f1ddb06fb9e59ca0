'use strict'
// Stores: the object-taking methods over the addon's JSON-text ones.

const { jsonText } = require('./json.js')

function install(Store) {
  Object.assign(Store.prototype, {
    /** A page of canvases ordered by id: `{items, next_cursor}`. */
    list(query = {}) {
      return this.listJson(jsonText(query, 'query', 'object'))
    },
    /** Removes old versions (`{keep_last: n}` or `{older_than_ms: ms}`); resolves to how many went. */
    prune(id, policy) {
      return this.pruneJson(id, jsonText(policy, 'policy', 'object'))
    },
  })
  return Store
}

module.exports = { install }
