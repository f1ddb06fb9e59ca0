// Node benchmarks of reelgraph: the package against the JavaScript a user
// would write instead (baseline.mjs), and against the same work in Rust.
//
//   node benches/node/bench.mjs [DATA_DIR] [RUNS]     (or: make bench-node)
//
// DATA_DIR (default target/bench-canvas) holds what `export_canvas` writes
// (ops.json, canvas.json, ops-100k.json, steps.json, step-type.json,
// meta.json). The Rust side of the binding cost rows is measured by running
// `rust_reference` (built by `make bench-node`; RUST_REFERENCE names another
// build) right before those rows, so both sides share the machine's load;
// its run of no-op tasks is on an executor with a run hub, as the package's.
// REELGRAPH_PACKAGE names another copy of the package (default
// bindings-node/), e.g. one built before a change, for before and after
// figures of one sitting.
// Prints medians of RUNS runs (default 5) and their ratios, with the goals
// of the issue.

import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { BaselineCanvas, loadSpecs } from './baseline.mjs'
import { median, ms, row } from './timing.mjs'

const root = fileURLToPath(new URL('../../', import.meta.url))
const packageDir = process.env.REELGRAPH_PACKAGE ?? join(root, 'bindings-node')
const require = createRequire(import.meta.url)
const { Canvas, Catalog, Executor, LocalRunner } = require(packageDir)

const dir = process.argv[2] ?? join(root, 'target/bench-canvas')
const runs = Number(process.argv[3] ?? 5)
const read = (name) => readFileSync(join(dir, name), 'utf8')
const meta = JSON.parse(read('meta.json'))
const ops = JSON.parse(read('ops.json'))
const document = read('canvas.json')
const bigOps = JSON.parse(read('ops-100k.json'))
const rustReference = process.env.RUST_REFERENCE ?? join(root, 'target/release/rust_reference')
const specs = loadSpecs(join(root, 'core/catalog'))

function checkReelgraph(canvas) {
  const report = canvas.validate()
  if (!report.valid || report.diagnostics.length) throw new Error(JSON.stringify(report.diagnostics.slice(0, 3)))
  if (canvas.topologicalOrder().length !== meta.nodes) throw new Error('the order misses nodes')
}

function checkBaseline(canvas) {
  const report = canvas.validate()
  if (!report.valid) throw new Error(JSON.stringify(report.diagnostics.slice(0, 3)))
  if (canvas.topologicalOrder().length !== meta.nodes) throw new Error('the order misses nodes')
}

const reelgraphOpByOp = () => {
  const canvas = new Canvas('bench', 'Benchmark canvas')
  for (const op of ops) canvas.apply([op])
  checkReelgraph(canvas)
}

const reelgraphOneApply = () => {
  const canvas = new Canvas('bench', 'Benchmark canvas')
  canvas.apply(ops)
  checkReelgraph(canvas)
}

const reelgraphLoad = () => {
  const report = Canvas.fromJson(document).validate()
  if (!report.valid) throw new Error('the document does not validate')
}

// The baseline has no batches: one apply per op is how it builds either way.
const baselineOpByOp = () => {
  const canvas = new BaselineCanvas(specs)
  for (const op of ops) canvas.apply([op])
  checkBaseline(canvas)
}

const baselineOneApply = () => {
  const canvas = new BaselineCanvas(specs)
  canvas.apply(ops)
  checkBaseline(canvas)
}

const baselineLoad = () => {
  const canvas = BaselineCanvas.fromJson(document, specs)
  if (!canvas.validate().valid) throw new Error('the document does not validate')
}

/** A run of the 10,000 no-op `step` tasks with a JS function, start to report. */
async function stepsRun() {
  const catalog = Catalog.builtin()
  catalog.register(read('step-type.json'))
  const canvas = Canvas.fromJson(read('steps.json'), catalog)
  const runner = new LocalRunner()
  runner.register('step', () => ({ out: true }))
  return median(runs, async (executor) => {
    const report = await (await executor.start(canvas)).wait()
    if (report.status !== 'completed') throw new Error(report.status)
  }, () => new Executor(runner))
}

/** What calling the no-op function itself costs for every task, in plain JS. */
function functionItself(tasks) {
  const step = () => ({ out: true })
  const params = { n: 0, in: [true, true] }
  return median(runs, () => {
    for (let i = 0; i < tasks; i++) step(params, null)
  })
}

/** `require('reelgraph')` in a fresh process. */
function requireTime() {
  const code = `const t = performance.now(); require(${JSON.stringify(packageDir)}); console.log(performance.now() - t)`
  return Number(execFileSync(process.execPath, ['-e', code], { encoding: 'utf8' }))
}

console.log(`canvas: ${meta.nodes} nodes, ${meta.edges} edges; medians of ${runs} runs; Node ${process.version}`)
row('op by op (one apply per op) + validate + order', await median(runs, reelgraphOpByOp), await median(runs, baselineOpByOp), 5)
row('one apply + validate + order', await median(runs, reelgraphOneApply), await median(runs, baselineOneApply), 12)
row('load + validate from JSON', await median(runs, reelgraphLoad), await median(runs, baselineLoad), 12)

const rust = JSON.parse(execFileSync(rustReference, [dir], { encoding: 'utf8' }))
const big = await median(runs, (canvas) => canvas.apply(bigOps), () => new Canvas('bench', 'Benchmark canvas'))
const rustBig = rust.apply_100k * 1e3
console.log(
  `${'100,000 ops in one apply'.padEnd(44)} reelgraph ${ms(big).padStart(10)}   Rust     ${ms(rustBig).padStart(10)}   ` +
    `${(big / rustBig).toFixed(2)}x of Rust (goal <= 1.5x)`,
)

const tasks = meta.steps
const run = await stepsRun()
const own = await functionItself(tasks)
const rustRun = rust.run_steps * 1e3
console.log(
  `${`${tasks} no-op JS runner tasks`.padEnd(44)} reelgraph ${ms(run).padStart(10)}   Rust     ${ms(rustRun).padStart(10)}   ` +
    `${(((run - own) / tasks) * 1e3).toFixed(1)} us/task in all, ` +
    `${(((run - own - rustRun) / tasks) * 1e3).toFixed(1)} us/task beyond Rust (goal <= 15 us)`,
)
console.log(
  `${''.padEnd(44)} ${''.padStart(20)}   Rust     ${ms(rust.run_steps_without_hub * 1e3).padStart(10)}   the Rust run without a run hub`,
)

const required = [...Array(Math.max(runs, 5))].map(requireTime).sort((a, b) => a - b)
console.log(`${"require('reelgraph')".padEnd(44)} ${ms(required[required.length >> 1]).padStart(20)}   (goal <= 30 ms)`)
