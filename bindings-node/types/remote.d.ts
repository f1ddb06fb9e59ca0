// Typings of lib/remote.js: remote work through a server's task service.

import type { WorkerStats } from './schema'
import type { LocalRunner } from './run'

export interface HttpRunnerOptions {
  /** The server's base URL, such as `http://farm.local:8080` (without `/v1`). */
  server: string
  /** An API key with the `run` scope. */
  key: string
  /** The priority of every task submitted, -1000 to 1000 (higher first). */
  priority?: number
  /** How long one request may take (default 30 s). */
  requestTimeoutMs?: number
  /** How long a task keeps trying a server it cannot reach before it fails as `transient` (default 60 s). */
  giveUpAfterMs?: number
}

/** Sends each task of a run to a server's task service, where its workers do it. */
export declare class HttpRunner {
  constructor(options: HttpRunnerOptions)
  /** The server's base URL. */
  readonly server: string
}

/** What `Executor` and `Worker` take as their runner. */
export type Runner = LocalRunner | HttpRunner

export interface WorkerOptions {
  server: string
  /** An API key with the `run` scope. */
  key: string
  /** Runs the tasks the worker claims. */
  runner: Runner
  /** Most tasks at once, 1 to 64 (default 4). */
  concurrency?: number
  /** Shown in each attempt the worker makes (default `HOST-PID`). */
  name?: string
  /** The functions to claim tasks of (default: every function the runner lists). */
  functions?: string[]
  /** How long one claim waits on the server for a task (default 20 s). */
  claimWaitMs?: number
  /** After `stop()`: how long running tasks may take before they are cancelled and handed back (default 10 s). */
  graceMs?: number
  /** How long one request may take (default 30 s). */
  requestTimeoutMs?: number
}

/** Claims a server's tasks of a runner's functions and runs them with it. */
export declare class Worker {
  constructor(options: WorkerOptions)
  /**
   * Serves tasks until `stop()` or until `signal` aborts; resolves to the
   * stats once running tasks are done or handed back.
   */
  run(options?: { signal?: AbortSignal }): Promise<WorkerStats>
  /** No more claims; running tasks get the grace period. A stopped worker stays stopped. */
  stop(): void
  /** What the last run did. */
  readonly stats: WorkerStats
}
