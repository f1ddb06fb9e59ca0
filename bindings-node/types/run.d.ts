// Types of runs from JavaScript (lib/run.js): runners with JavaScript
// functions, caches, the executor and its runs. Reports, events, snapshots
// and explanations are the core's JSON, typed from its schemas.

import type { Canvas, FileStore, MemoryStore, SqliteStore } from '../native'
import type {
  AutosaveEvent,
  CacheStats,
  Explanation,
  FailurePolicy,
  Force,
  Quality,
  Resilience,
  RunEvent,
  RunReport,
  RunSnapshot,
  TaskErrorKind,
} from './schema'
import type { Runner } from './remote'

/** What a JavaScript function gets besides its params. */
export interface TaskContext {
  readonly node: string
  readonly runId: string
  readonly function: string
  readonly quality: Quality
  /** The same for every attempt at the same work. */
  readonly idempotencyKey: string
  /** The output ports the node declares: the outputs must name exactly these. */
  readonly outputs: string[]
  /** Reports progress, 0 to 1 (values outside are clamped). */
  progress(fraction: number, message?: string | null): void
  /** Aborted when the run or this node is cancelled. */
  readonly signal: AbortSignal
}

/** A node's outputs, by output port. */
export type Outputs = { [port: string]: unknown }

/**
 * A runner function: returns (or resolves to) the outputs. A thrown error's
 * `kind` chooses the task error kind; anything else fails as `permanent`.
 */
export type RunnerFunction = (
  params: { [name: string]: unknown },
  ctx: TaskContext,
) => Outputs | Promise<Outputs>

/** An error a runner function may throw to choose how its task fails. */
export interface TaskFailure extends Error {
  kind?: TaskErrorKind
  hint?: string
}

export declare class LocalRunner {
  constructor()
  /** A runner with the demo functions, writing under `outDir`. */
  static demo(outDir: string): LocalRunner
  /** Registers `fn` under `name` (at any time; replaces one of that name). */
  register(name: string, fn: RunnerFunction): this
  /** Names of the registered functions, sorted. */
  functions(): string[]
}

export declare class MemoryCache {
  constructor(options?: { maxBytes?: number })
  stats(): CacheStats
}

export declare class SqliteCache {
  constructor(path: string)
  stats(): CacheStats
}

export interface ExecutorOptions {
  cache?: MemoryCache | SqliteCache
  /** Tasks at once across every run of the executor (default 4). */
  concurrency?: number
  /** The core's resilience middleware: timeouts, retries, circuit breakers, quality fallback. */
  resilience?: Resilience
}

export interface StartOptions {
  targets?: string[]
  quality?: Quality
  force?: Force
  failurePolicy?: FailurePolicy
  concurrency?: number
  runId?: string
  /** Every event of the run, in `seq` order, before `wait()` resolves. */
  onEvent?: (event: RunEvent) => void
}

/** A plan the core keeps current (`executor.plan`). */
export interface Plan {
  /** Brings the plan up to date with the canvas after edits. */
  replan(canvas: Canvas): void
}

export declare class Run {
  readonly id: string
  /** The report, once the run ended. */
  wait(): Promise<RunReport>
  /** The run's events from `seq` (default 0), from the executor's run hub. */
  events(seq?: number): AsyncIterable<RunEvent>
  cancel(): void
  /** Cancels one node; false when the run does not execute it. */
  cancelNode(node: string): boolean
  snapshot(): RunSnapshot
}

export declare class Executor {
  /** `runner`: a LocalRunner, or an HttpRunner for a server's workers. */
  constructor(runner: Runner, options?: ExecutorOptions)
  start(canvas: Canvas, options?: StartOptions): Promise<Run>
  plan(canvas: Canvas, options?: Pick<StartOptions, 'targets' | 'quality'>): Plan
  startPlanned(canvas: Canvas, plan: Plan, options?: StartOptions): Promise<Run>
  explain(canvas: Canvas, options?: Omit<StartOptions, 'onEvent'>): Promise<Explanation[]>
  batch(
    jobs: { canvas: Canvas; options?: Omit<StartOptions, 'onEvent'> }[],
    options?: { onEvent?: (event: RunEvent) => void },
  ): Promise<Run[]>
}

/** Saves a canvas to a store after a quiet period, at least every so often, and on close. */
export declare class Autosaver {
  constructor(
    canvas: Canvas,
    store: MemoryStore | FileStore | SqliteStore,
    options?: {
      /** The revision the store holds (default: the canvas's). */
      storedRevision?: number
      quietPeriodMs?: number
      maxIntervalMs?: number
      onEvent?: (event: AutosaveEvent) => void
    },
  )
  /** The canvas changed: call after each successful apply. */
  touch(): void
  /** After a conflict: the canvas now builds on stored revision `revision`. */
  rebased(revision: number): void
  /** Saves what is pending and stops. */
  close(): Promise<void>
}
