// The shared vectors of areas `exec` and `events` (core/tests/vectors/)
// through the public JavaScript API: every file gives the same canonical
// JSON as Rust, with the README's comparison rules. Functions of `exec/` are
// JavaScript functions made from the vector's behaviours.

import assert from 'node:assert/strict'
import { test } from 'node:test'

import { Executor, LocalRunner, ReelgraphError } from '../index.js'
import { canvasFrom, catalogFrom, differences, maskEvent, vectors } from './support/vectors.mjs'

const MS = '<ms>'

/** `duration_ms` of a value and of its `stats` become "<ms>". */
function maskDurations(value) {
  if (typeof value.duration_ms === 'number') value.duration_ms = MS
  if (value.stats && typeof value.stats.duration_ms === 'number') value.stats.duration_ms = MS
  return value
}

/** A vector's behaviour as a JavaScript function (see the README's `exec/`). */
function behave({ progress = [], fails, fails_for: failsFor, outputs, echo }) {
  return (params, ctx) => {
    for (const p of progress) ctx.progress(p)
    if (fails && (!failsFor || failsFor.includes(ctx.node))) {
      throw Object.assign(new Error(fails.message), { kind: fails.kind, hint: fails.hint })
    }
    if (echo) return Object.fromEntries(ctx.outputs.map((port) => [port, params]))
    return outputs ?? {}
  }
}

/** The core's run options in JS names; a vector gives them in the core's. */
function jsOptions(options = {}) {
  const names = { failure_policy: 'failurePolicy', run_id: 'runId' }
  return Object.fromEntries(Object.entries(options).map(([k, v]) => [names[k] ?? k, v]))
}

/** Runs to the end: `{report, events}`, masked, after the README's checks. */
async function runResult(run) {
  const events = []
  for await (const event of run.events()) events.push(event)
  const report = await run.wait()
  events.forEach((event, i) => {
    assert.equal(event.seq, i, `event ${i} has seq ${event.seq}`)
    assert.equal(event.run_id, report.run_id)
  })
  assert.deepEqual(events.at(-1).stats, report.stats, 'the last event ends the run with its stats')
  return { report: maskDurations(report), events: events.map((e) => maskDurations(maskEvent(e))) }
}

async function runExec(input) {
  const catalog = catalogFrom(input)
  const canvas = canvasFrom(input, catalog)
  const runner = new LocalRunner()
  for (const [name, behaviour] of Object.entries(input.functions)) runner.register(name, behave(behaviour))
  const executor = new Executor(runner, { concurrency: 1 })
  let plan
  const steps = []
  for (const step of input.steps) {
    const [[kind, arg]] = Object.entries(step)
    switch (kind) {
      case 'run':
        steps.push(await runResult(await executor.start(canvas, jsOptions(arg))))
        break
      case 'explain':
        steps.push(await executor.explain(canvas, jsOptions(arg)))
        break
      case 'plan':
        plan = executor.plan(canvas, jsOptions(arg))
        steps.push(null)
        break
      case 'run_planned':
        steps.push(await runResult(await executor.startPlanned(canvas, plan, jsOptions(arg))))
        break
      case 'apply':
        canvas.apply(arg)
        steps.push(null)
        break
      default:
        throw new Error(`unknown step ${kind}`)
    }
  }
  return { steps }
}

function runEvents(input) {
  const canvas = canvasFrom(input, catalogFrom(input))
  const events = input.applies.map((ops) => {
    const before = canvas.toJson()
    try {
      return maskEvent(canvas.apply(ops).event)
    } catch (err) {
      if (!(err instanceof ReelgraphError)) throw err
      assert.equal(canvas.toJson(), before, 'a rejected apply leaves the canvas as it was')
      return null
    }
  })
  return { events }
}

/** The outcome of a vector: `{value}` or `{error: {code, details}}`. */
async function outcome(area, input) {
  try {
    return { value: area === 'exec' ? await runExec(input) : runEvents(input) }
  } catch (err) {
    if (!(err instanceof ReelgraphError)) throw err
    return { error: { code: err.code, details: err.details, message: err.message } }
  }
}

for (const area of ['exec', 'events']) {
  test(`the shared ${area} vectors give the same JSON as Rust`, async () => {
    const failures = []
    const files = vectors(area)
    assert.ok(files.length >= 8, `only ${files.length} ${area} vectors`)
    for (const { name, vector } of files) {
      const got = await outcome(area, vector.input)
      let problems
      if (vector.expected_error) {
        const want = vector.expected_error
        problems = got.error
          ? differences({ code: got.error.code, details: got.error.details }, { code: want.code, details: want.details })
          : [`succeeded; expected the error ${want.code}`]
        if (got.error && want.message_contains && !got.error.message.includes(want.message_contains)) {
          problems.push(`the message does not contain ${JSON.stringify(want.message_contains)}`)
        }
      } else {
        problems = got.error ? [`failed with ${got.error.code}: ${got.error.message}`] : differences(got.value, vector.expected)
      }
      if (problems.length) failures.push(`${area}/${name}:\n  ${problems.slice(0, 5).join('\n  ')}`)
    }
    assert.deepEqual(failures, [])
  })
}
