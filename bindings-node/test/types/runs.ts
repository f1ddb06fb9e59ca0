// A TypeScript user of runs: compiled with `tsc --noEmit --strict` (make
// node-test), so the typings of lib/run.js describe what it does.
import { Canvas, Executor, LocalRunner, MemoryCache, SqliteCache } from '../../index.js'
import type { Explanation, RunEvent, RunReport, RunSnapshot, TaskContext, TaskFailure } from '../../index.js'

const runner = new LocalRunner()
runner.register('image.generate', async (params, ctx: TaskContext) => {
  ctx.progress(0.5, 'sampling')
  if (ctx.signal.aborted) {
    const err: TaskFailure = Object.assign(new Error('stopped'), { kind: 'cancelled' as const })
    throw err
  }
  return { image: `${ctx.node}-${String(params.seed)}.png` }
})
const names: string[] = runner.register('other', () => ({})).functions()

const executor = new Executor(runner, {
  cache: new MemoryCache({ maxBytes: 1 << 20 }),
  concurrency: 2,
  resilience: { timeout_ms: 30_000 },
})
const shared = new Executor(LocalRunner.demo('out'), { cache: new SqliteCache('results.sqlite') })

export async function main(canvas: Canvas): Promise<void> {
  const events: RunEvent[] = []
  const run = await executor.start(canvas, {
    quality: 'draft',
    targets: ['frame_1'],
    failurePolicy: 'fail_fast',
    force: { nodes: ['frame_1'] },
    onEvent: (event) => events.push(event),
  })
  for await (const event of run.events()) {
    if (event.type === 'node_progress') console.log(event.seq)
  }
  const snapshot: RunSnapshot = run.snapshot()
  const cancelled: boolean = run.cancelNode('frame_1')
  run.cancel()
  const report: RunReport = await run.wait()
  const explained: Explanation[] = await executor.explain(canvas, { quality: 'draft' })
  const plan = executor.plan(canvas, { targets: ['frame_1'] })
  plan.replan(canvas)
  const planned = await executor.startPlanned(canvas, plan, { runId: 'again' })
  const batch = await shared.batch([{ canvas }, { canvas, options: { quality: 'high' } }], { onEvent: () => {} })
  console.log(names, snapshot.state, cancelled, report.status, explained.length, planned.id, batch.length)
}
