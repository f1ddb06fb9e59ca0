//! `Executor`: runs canvases through a runner, with a result cache, a cap
//! of tasks at once and, when asked, the core's resilience middleware
//! (timeouts, retries, circuit breakers, quality fallback). Every run is
//! registered in the executor's run hub, which serves `run.events()` and
//! `run.snapshot()`.

use napi::Env;
use napi::bindgen_prelude::{Either, PromiseRaw, Unknown};
use napi_derive::napi;
use reelgraph::exec::{Executor as CoreExecutor, PlanOptions, Planner, RunHub, RunOptions};
use reelgraph::runner::Resilience;

use crate::cache::ResultCache;
use crate::canvas::Canvas;
use crate::convert::{string_arg, to_text};
use crate::errors::{js, type_error};
use crate::events::event_callback;
use crate::http_runner::HttpRunner;
use crate::run::Run;
use crate::runner::LocalRunner;
use crate::runner_arg::runner_of;

/// A JS number that must be a whole number of at least `min`, as a `usize`.
pub(crate) fn whole(n: f64, arg: &str, min: f64) -> napi::Result<usize> {
    // Integers beyond 2^53 are not exact in a JS number: refused, not rounded.
    const MAX_SAFE: f64 = 9_007_199_254_740_991.0;
    if n.is_finite() && n.fract() == 0.0 && n >= min && n <= MAX_SAFE {
        return Ok(n as usize);
    }
    Err(type_error(
        arg,
        &format!("a whole number from {min} to 2^53 - 1"),
        &n.to_string(),
    ))
}

#[napi]
#[derive(Debug)]
pub struct Executor {
    pub(crate) inner: CoreExecutor,
    pub(crate) hub: RunHub,
}

#[napi]
impl Executor {
    /// An executor over `runner` (a `LocalRunner`, or an `HttpRunner` for a
    /// server's workers); `resilienceJson` is the core's `Resilience`
    /// (`{"timeout_ms": 30000, "retry": {...}, ...}`).
    #[napi(constructor)]
    pub fn new(
        runner: Either<&LocalRunner, &HttpRunner>,
        cache: Option<&ResultCache>,
        concurrency: Option<f64>,
        resilience_json: Option<String>,
    ) -> napi::Result<Self> {
        let runner = runner_of(runner);
        let mut inner = match resilience_json {
            Some(text) => {
                let resilience: Resilience = js(reelgraph::from_json(&text))?;
                CoreExecutor::new(resilience.wrap(runner))
            }
            None => CoreExecutor::new(runner),
        };
        if let Some(cache) = cache {
            inner = inner.with_cache(cache.inner.clone());
        }
        if let Some(n) = concurrency {
            inner = inner.with_concurrency(whole(n, "concurrency", 1.0)?);
        }
        let hub = RunHub::default();
        Ok(Executor {
            inner: inner.with_hub(hub.clone()),
            hub,
        })
    }

    /// Starts a run of `canvas` with the core's `RunOptions` (JSON text);
    /// resolves to the `Run` once it is planned and checked, or rejects with
    /// the refusal (`invalid_canvas`, `unknown_function`, ...).
    #[napi(ts_return_type = "Promise<Run>")]
    pub fn start<'env>(
        &self,
        env: &'env Env,
        canvas: &Canvas,
        options_json: Unknown<'_>,
        on_event: Option<Unknown<'_>>,
        hold: Option<Unknown<'_>>,
    ) -> napi::Result<PromiseRaw<'env, Run>> {
        let options = run_options(options_json)?;
        let on_event = event_callback(on_event)?;
        let hold = event_callback(hold)?;
        let started = self.inner.start(&canvas.inner, options);
        let hub = self.hub.clone();
        env.spawn_future(async move { Ok(Run::spawn(js(started.await)?, hub, on_event, hold)) })
    }

    /// Like `start`, with the plan `plan` keeps (its targets and quality are
    /// the run's); a plan behind the canvas is refused with `stale_plan`.
    #[napi(ts_return_type = "Promise<Run>")]
    pub fn start_planned<'env>(
        &self,
        env: &'env Env,
        canvas: &Canvas,
        plan: &Plan,
        options_json: Unknown<'_>,
        on_event: Option<Unknown<'_>>,
        hold: Option<Unknown<'_>>,
    ) -> napi::Result<PromiseRaw<'env, Run>> {
        let options = run_options(options_json)?;
        let on_event = event_callback(on_event)?;
        let hold = event_callback(hold)?;
        let started = self
            .inner
            .start_planned(&canvas.inner, &plan.planner, options);
        let hub = self.hub.clone();
        env.spawn_future(async move { Ok(Run::spawn(js(started.await)?, hub, on_event, hold)) })
    }

    /// Plans `canvas` for the targets and quality of `optionsJson`.
    #[napi]
    pub fn plan(&self, canvas: &Canvas, options_json: Unknown<'_>) -> napi::Result<Plan> {
        let options = run_options(options_json)?;
        Ok(Plan {
            planner: plan_of(canvas, &options)?,
        })
    }

    /// Why each node a run with these options needs would run, or hit the
    /// cache (JSON text of `[Explanation]`).
    #[napi(ts_return_type = "Promise<string>")]
    pub fn explain<'env>(
        &self,
        env: &'env Env,
        canvas: &Canvas,
        options_json: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, String>> {
        let options = run_options(options_json)?;
        let planner = plan_of(canvas, &options)?;
        let executor = self.inner.clone();
        env.spawn_future(async move {
            let explained = js(executor.explain(planner.plan(), &options.force).await)?;
            to_text(&explained)
        })
    }
}

/// The core's `RunOptions` from the JSON text `lib/run.js` wrote.
pub(crate) fn run_options(text: Unknown<'_>) -> napi::Result<RunOptions> {
    js(reelgraph::from_json(&string_arg(text, "options")?))
}

fn plan_of(canvas: &Canvas, options: &RunOptions) -> napi::Result<Planner> {
    let canvas = canvas.inner.lock().unwrap_or_else(|e| e.into_inner());
    js(Planner::new(
        &canvas,
        PlanOptions {
            targets: options.targets.clone(),
            quality: options.quality,
        },
    ))
}

/// A plan kept current by the core's planner: `replan` after edits updates
/// only what changed.
#[napi]
#[derive(Debug)]
pub struct Plan {
    planner: Planner,
}

#[napi]
impl Plan {
    /// Brings the plan up to date with `canvas`.
    #[napi]
    pub fn replan(&mut self, canvas: &Canvas) -> napi::Result<()> {
        let canvas = canvas.inner.lock().unwrap_or_else(|e| e.into_inner());
        js(self.planner.replan(&canvas).map(|_| ()))
    }
}
