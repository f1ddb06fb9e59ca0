// A TypeScript user of remote work: compiled with `tsc --noEmit --strict`
// (make node-test), so the typings of lib/remote.js describe what it does.
import { Canvas, Executor, HttpRunner, LocalRunner, Worker } from '../../index.js'
import type { RunReport, WorkerStats } from '../../index.js'

const runner = new LocalRunner()
runner.register('image.generate', async (params, ctx) => {
  ctx.progress(0.5, 'sampling')
  return { image: `${ctx.node}.png` }
})

export async function serve(server: string, key: string, signal: AbortSignal): Promise<WorkerStats> {
  const worker = new Worker({ server, key, runner, concurrency: 2, name: 'gpu-1', functions: ['image.generate'] })
  const stats: WorkerStats = await worker.run({ signal })
  const last: number = worker.stats.completed
  worker.stop()
  return { ...stats, completed: Math.max(stats.completed, last) }
}

export async function remoteRun(canvas: Canvas, server: string, key: string): Promise<RunReport> {
  const remote = new HttpRunner({ server, key, priority: 10, giveUpAfterMs: 60_000 })
  const url: string = remote.server
  console.log(url)
  const run = await new Executor(remote, { concurrency: 8 }).start(canvas, { quality: 'draft' })
  return run.wait()
}
