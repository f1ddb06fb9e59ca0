// The reference server under test: the real `reelgraph serve` binary on
// 127.0.0.1 with a free port and a temporary data directory.
//
// The binary comes from the environment variable REELGRAPH_BIN (`make
// node-test` builds it and sets it). `startServer` waits for the line
// `reelgraph serving on http://...` and reads the admin key printed before
// it, as the server's own tests do (server-example/tests/support/).

import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { accessSync, constants, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

/** How long a start may take before the test fails. */
const START_TIMEOUT_MS = 60_000

const FINAL = new Set(['task_completed', 'task_failed', 'task_cancelled', 'task_dead'])

/** The server binary named by REELGRAPH_BIN; a missing one fails the test. */
function binary() {
  const path = process.env.REELGRAPH_BIN
  assert.ok(
    path,
    'REELGRAPH_BIN is not set: build the server (cargo build -p reelgraph-server) and set ' +
      'REELGRAPH_BIN to target/debug/reelgraph, or run `make node-test`',
  )
  try {
    accessSync(path, constants.X_OK)
  } catch {
    assert.fail(`REELGRAPH_BIN=${path} is not an executable file: build it with \`cargo build -p reelgraph-server\``)
  }
  return path
}

/** Starts a server on a new data directory; `await server.stop()` when done. */
export async function startServer(...args) {
  const root = mkdtempSync(join(tmpdir(), 'reelgraph-node-test-'))
  const log = join(root, 'server.log')
  const env = { ...process.env }
  delete env.REELGRAPH_ADDR
  delete env.REELGRAPH_DATA_DIR
  const child = spawn(binary(), ['serve', '--addr', '127.0.0.1:0', '--data-dir', join(root, 'data'), ...args], {
    stdio: ['ignore', 'pipe', openSync(log, 'a')],
    env,
  })
  const lines = createInterface({ input: child.stdout })
  let key
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`the server did not print its URL in ${START_TIMEOUT_MS} ms; its log:\n${readFileSync(log, 'utf8')}`))
    }, START_TIMEOUT_MS)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`the server exited (${code}) before it served; its log:\n${readFileSync(log, 'utf8')}`))
    })
    lines.on('line', (line) => {
      if (line.startsWith('admin key: ')) key = line.slice('admin key: '.length)
      else if (line.startsWith('reelgraph serving on ')) {
        clearTimeout(timer)
        resolve(line.slice('reelgraph serving on '.length))
      }
    })
  })
  assert.ok(key, 'the first start prints the admin key')
  return new Server(child, url, key, root)
}

class Server {
  constructor(child, url, key, root) {
    this.child = child
    this.url = url
    this.key = key
    this.root = root
  }

  /** Sends `body` as JSON with the admin key (or `key`); `{status, body}`. */
  async request(method, path, body, key = this.key) {
    const response = await fetch(this.url + path, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await response.text()
    return { status: response.status, body: text ? JSON.parse(text) : null }
  }

  /** `POST /v1/tasks`; the new task's id. */
  async submit(fn, params, fields = {}) {
    const { status, body } = await this.request('POST', '/v1/tasks', { function: fn, params, ...fields })
    assert.ok(status === 200 || status === 201, JSON.stringify(body))
    return body.id
  }

  async task(id) {
    const { status, body } = await this.request('GET', `/v1/tasks/${id}`)
    assert.equal(status, 200, JSON.stringify(body))
    return body
  }

  /** The task's record once it is final; fails after `ms`. */
  async waitTask(id, ms = 30_000) {
    const deadline = Date.now() + ms
    for (;;) {
      const record = await this.task(id)
      if (record.state !== 'queued' && record.state !== 'leased') return record
      assert.ok(Date.now() < deadline, `the task did not end in time: ${JSON.stringify(record)}`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  /** The task's events (SSE, `GET /v1/tasks/{id}/events`) up to its final one. */
  async taskEvents(id) {
    const response = await fetch(`${this.url}/v1/tasks/${id}/events`, {
      headers: { authorization: `Bearer ${this.key}` },
    })
    assert.equal(response.status, 200)
    const events = []
    let buffered = ''
    const decoder = new TextDecoder()
    for await (const chunk of response.body) {
      buffered += decoder.decode(chunk, { stream: true })
      let end
      while ((end = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, end).replace(/\r$/, '')
        buffered = buffered.slice(end + 1)
        if (!line.startsWith('data:')) continue
        const event = JSON.parse(line.slice('data:'.length))
        events.push(event)
        // Leaving the loop cancels the stream.
        if (FINAL.has(event.type)) return events
      }
    }
    return events
  }

  async stop() {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve))
      this.child.kill('SIGKILL')
      await exited
    }
    rmSync(this.root, { recursive: true, force: true })
  }
}
