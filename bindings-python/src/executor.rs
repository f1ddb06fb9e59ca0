//! `Executor`: starts runs and batches of canvases with a runner and a
//! result cache, and explains what a run would do.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};
use reelgraph::exec::{Executor, RunHub, RunOptions};
use reelgraph::runner::Resilience;
use serde_json::{Map, Value};

use crate::batch::PyBatch;
use crate::cache::PyResultCache;
use crate::canvas::PyCanvas;
use crate::errors::core_err;
use crate::plan::{PyPlan, plan_of};
use crate::run::PyRun;
use crate::{convert, runner_arg, waiting};

/// Runs canvases with `runner` (a `LocalRunner`, or an `HttpRunner` for a
/// server's workers). `cache` keeps results between runs (a
/// `MemoryCache` of 256 MiB by default; a `SqliteCache` keeps them between
/// processes); `concurrency` caps the tasks at once across every run of this
/// executor (default 4); `resilience` wraps the runner in the core's
/// middleware, e.g. `{"timeout_ms": 60000, "retry": {"max_attempts": 3}}`.
#[pyclass(name = "Executor", module = "reelgraph", frozen)]
#[derive(Debug)]
pub struct PyExecutor {
    inner: Executor,
    /// Every run of this executor, for snapshots.
    hub: RunHub,
}

#[pymethods]
impl PyExecutor {
    #[new]
    #[pyo3(signature = (runner, cache=None, concurrency=None, resilience=None))]
    fn new(
        runner: &Bound<'_, PyAny>,
        cache: Option<&PyResultCache>,
        concurrency: Option<usize>,
        resilience: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let runner = runner_arg::runner(runner)?;
        let mut inner = match resilience {
            None => Executor::new(runner),
            Some(resilience) => {
                let resilience: Resilience =
                    reelgraph::from_value(convert::to_value(resilience, "resilience")?)
                        .map_err(core_err)?;
                Executor::new(resilience.wrap(runner))
            }
        };
        if let Some(cache) = cache {
            inner = inner.with_cache(cache.inner.clone());
        }
        if let Some(tasks) = concurrency {
            if tasks == 0 {
                return Err(PyValueError::new_err(
                    "argument 'concurrency': at least 1 task, or None for the default (4)",
                ));
            }
            inner = inner.with_concurrency(tasks);
        }
        let hub = RunHub::default();
        Ok(PyExecutor {
            inner: inner.with_hub(hub.clone()),
            hub,
        })
    }

    /// Starts a run of `canvas` (of `targets` and what they need; all when
    /// None) and returns its `Run` at once: the run goes on in the
    /// background. Refused before anything runs when the canvas has
    /// validation errors in what the run needs, or a function is unknown.
    #[pyo3(signature = (canvas, targets=None, quality="standard", failure_policy="continue_independent",
                        force=None, concurrency=None, run_id=None))]
    #[allow(clippy::too_many_arguments)]
    fn start(
        &self,
        py: Python<'_>,
        canvas: &PyCanvas,
        targets: Option<Vec<String>>,
        quality: &str,
        failure_policy: &str,
        force: Option<&Bound<'_, PyAny>>,
        concurrency: Option<usize>,
        run_id: Option<String>,
    ) -> PyResult<PyRun> {
        let options = RunArgs {
            targets,
            quality,
            failure_policy: Some(failure_policy),
            force,
            concurrency,
            run_id,
        }
        .options()?;
        let mut starting = Box::pin(self.inner.start(&canvas.inner, options));
        let run = waiting::block_on(py, &mut starting)?.map_err(core_err)?;
        PyRun::new(py, run, self.hub.clone())
    }

    /// `start` for asyncio: planning and checking happen off the caller's
    /// loop; awaiting gives the `Run`.
    #[pyo3(signature = (canvas, targets=None, quality="standard", failure_policy="continue_independent",
                        force=None, concurrency=None, run_id=None))]
    #[allow(clippy::too_many_arguments)]
    fn start_async<'py>(
        &self,
        py: Python<'py>,
        canvas: &PyCanvas,
        targets: Option<Vec<String>>,
        quality: &str,
        failure_policy: &str,
        force: Option<&Bound<'_, PyAny>>,
        concurrency: Option<usize>,
        run_id: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options = RunArgs {
            targets,
            quality,
            failure_policy: Some(failure_policy),
            force,
            concurrency,
            run_id,
        }
        .options()?;
        let hub = self.hub.clone();
        let starting = self.inner.start(&canvas.inner, options);
        waiting::awaitable(py, starting, move |py, started| {
            let run = PyRun::new(py, started.map_err(core_err)?, hub)?;
            Ok(Py::new(py, run)?.into_any())
        })
    }

    /// The plan a run of `targets` (all nodes when None) at `quality` would
    /// follow, for `start_planned`; refused as `start` would refuse an
    /// unknown target or node type.
    #[pyo3(signature = (canvas, targets=None, quality="standard"))]
    fn plan(
        &self,
        py: Python<'_>,
        canvas: &PyCanvas,
        targets: Option<Vec<String>>,
        quality: &str,
    ) -> PyResult<PyPlan> {
        let options = RunArgs {
            targets,
            quality,
            failure_policy: None,
            force: None,
            concurrency: None,
            run_id: None,
        }
        .options()?;
        Ok(PyPlan {
            planner: plan_of(py, canvas, &options)?,
        })
    }

    /// Like `start`, following `plan` (its targets and quality are the
    /// run's). A plan behind the canvas is refused with `stale_plan`:
    /// `plan.replan(canvas)` and start again.
    #[pyo3(signature = (canvas, plan, failure_policy="continue_independent", force=None,
                        concurrency=None, run_id=None))]
    #[allow(clippy::too_many_arguments)]
    fn start_planned(
        &self,
        py: Python<'_>,
        canvas: &PyCanvas,
        plan: &PyPlan,
        failure_policy: &str,
        force: Option<&Bound<'_, PyAny>>,
        concurrency: Option<usize>,
        run_id: Option<String>,
    ) -> PyResult<PyRun> {
        let options = planned_options(failure_policy, force, concurrency, run_id)?;
        let mut starting = Box::pin(self.inner.start_planned(
            &canvas.inner,
            &plan.planner,
            options,
        ));
        let run = waiting::block_on(py, &mut starting)?.map_err(core_err)?;
        PyRun::new(py, run, self.hub.clone())
    }

    /// `start_planned` for asyncio, as `start_async` is for `start`.
    #[pyo3(signature = (canvas, plan, failure_policy="continue_independent", force=None,
                        concurrency=None, run_id=None))]
    #[allow(clippy::too_many_arguments)]
    fn start_planned_async<'py>(
        &self,
        py: Python<'py>,
        canvas: &PyCanvas,
        plan: &PyPlan,
        failure_policy: &str,
        force: Option<&Bound<'_, PyAny>>,
        concurrency: Option<usize>,
        run_id: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options = planned_options(failure_policy, force, concurrency, run_id)?;
        let hub = self.hub.clone();
        let starting = self
            .inner
            .start_planned(&canvas.inner, &plan.planner, options);
        waiting::awaitable(py, starting, move |py, started| {
            let run = PyRun::new(py, started.map_err(core_err)?, hub)?;
            Ok(Py::new(py, run)?.into_any())
        })
    }

    /// Starts runs of several canvases (or variants of one) sharing this
    /// executor's cap and one event stream. Each job is a `Canvas`, or a
    /// tuple `(canvas, options)` with options as in `start` (a dict: keys
    /// `targets`, `quality`, `failure_policy`, `force`, `concurrency`,
    /// `run_id`). Any refusal refuses the whole batch.
    fn batch(&self, py: Python<'_>, jobs: &Bound<'_, PyAny>) -> PyResult<PyBatch> {
        let mut owned = Vec::new();
        for job in jobs.try_iter()? {
            owned.push(job_of(&job?)?);
        }
        let jobs = owned
            .iter()
            .map(|(canvas, options)| (canvas, options.clone()));
        let mut starting = Box::pin(self.inner.batch(jobs));
        let batch = waiting::block_on(py, &mut starting)?.map_err(core_err)?;
        PyBatch::new(py, batch, self.hub.clone())
    }

    /// Why each node of the plan for these options would run, hit the
    /// cache, or is not needed: a list of dicts `{node, function, key,
    /// reason}`, what a run with this executor's cache would do.
    #[pyo3(signature = (canvas, targets=None, quality="standard", force=None))]
    fn explain(
        &self,
        py: Python<'_>,
        canvas: &PyCanvas,
        targets: Option<Vec<String>>,
        quality: &str,
        force: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let options = RunArgs {
            targets,
            quality,
            failure_policy: None,
            force,
            concurrency: None,
            run_id: None,
        }
        .options()?;
        let planner = plan_of(py, canvas, &options)?;
        let mut explaining = Box::pin(self.inner.explain(planner.plan(), &options.force));
        let explained = waiting::block_on(py, &mut explaining)?.map_err(core_err)?;
        convert::serialize(py, &explained).map(Bound::unbind)
    }

    /// Ids of the runs of this executor still kept (finished ones for 15
    /// minutes).
    fn run_ids(&self) -> Vec<String> {
        self.hub.run_ids()
    }

    fn __repr__(&self) -> String {
        format!("Executor(runs={})", self.hub.run_ids().len())
    }
}

/// The options of `start`, `explain` and a batch job, read by the core.
struct RunArgs<'a, 'py> {
    targets: Option<Vec<String>>,
    quality: &'a str,
    failure_policy: Option<&'a str>,
    force: Option<&'a Bound<'py, PyAny>>,
    concurrency: Option<usize>,
    run_id: Option<String>,
}

impl RunArgs<'_, '_> {
    fn options(self) -> PyResult<RunOptions> {
        let mut json = Map::new();
        json.insert("quality".into(), self.quality.into());
        if let Some(targets) = self.targets {
            json.insert("targets".into(), targets.into());
        }
        if let Some(policy) = self.failure_policy {
            json.insert("failure_policy".into(), policy.into());
        }
        if let Some(force) = self.force {
            json.insert("force".into(), force_json(force)?);
        }
        if let Some(tasks) = self.concurrency {
            json.insert("concurrency".into(), tasks.into());
        }
        if let Some(id) = self.run_id {
            json.insert("run_id".into(), id.into());
        }
        reelgraph::from_value(Value::Object(json)).map_err(core_err)
    }
}

/// The options of a planned run: targets and quality are the plan's.
fn planned_options(
    failure_policy: &str,
    force: Option<&Bound<'_, PyAny>>,
    concurrency: Option<usize>,
    run_id: Option<String>,
) -> PyResult<RunOptions> {
    RunArgs {
        targets: None,
        quality: "standard",
        failure_policy: Some(failure_policy),
        force,
        concurrency,
        run_id,
    }
    .options()
}

/// `force`: True or "all", False or "none", or a list of node ids.
fn force_json(force: &Bound<'_, PyAny>) -> PyResult<Value> {
    if let Ok(all) = force.extract::<bool>() {
        return Ok(if all { "all" } else { "none" }.into());
    }
    if force.is_instance_of::<PyString>() {
        return Ok(force.extract::<String>()?.into());
    }
    match force.extract::<Vec<String>>() {
        Ok(nodes) => Ok(serde_json::json!({ "nodes": nodes })),
        Err(_) => Err(PyTypeError::new_err(
            "argument 'force': expected True, \"all\", \"none\" or a list of node ids",
        )),
    }
}

type SharedCanvas = std::sync::Arc<std::sync::Mutex<reelgraph::Canvas>>;

/// A batch job: a canvas, or `(canvas, options dict)`.
fn job_of(job: &Bound<'_, PyAny>) -> PyResult<(SharedCanvas, RunOptions)> {
    if let Ok(canvas) = job.cast::<PyCanvas>() {
        return Ok((canvas.borrow().inner.clone(), RunOptions::new()));
    }
    let pair = job.cast::<PyTuple>().ok().filter(|t| t.len() == 2);
    let Some(pair) = pair else {
        return Err(PyTypeError::new_err(
            "argument 'jobs': each job is a Canvas or a tuple (canvas, options dict)",
        ));
    };
    let canvas = pair.get_item(0)?.cast_into::<PyCanvas>().map_err(|_| {
        PyTypeError::new_err("argument 'jobs': a job's first item must be a Canvas")
    })?;
    let options = pair.get_item(1)?;
    let options = options
        .cast::<PyDict>()
        .map_err(|_| PyTypeError::new_err("argument 'jobs': a job's options must be a dict"))?;
    let mut json = convert::to_value(options.as_any(), "jobs")?;
    if let Some(force) = options.get_item("force")? {
        json["force"] = force_json(&force)?;
    }
    let options = reelgraph::from_value(json).map_err(core_err)?;
    Ok((canvas.borrow().inner.clone(), options))
}
