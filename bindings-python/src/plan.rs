//! `Plan`: a plan kept current by the core's planner, for runs started with
//! `Executor.start_planned`; `replan` after edits updates only what changed.

use pyo3::prelude::*;
use reelgraph::exec::{PlanOptions, Planner, RunOptions};

use crate::canvas::PyCanvas;
use crate::errors::core_err;

/// What `Executor.plan` made: the nodes a run of its targets needs, at its
/// quality, as of the canvas's revision then. A run started from it after
/// the canvas changed is refused with `stale_plan`: call `replan` first.
#[pyclass(name = "Plan", module = "reelgraph")]
#[derive(Debug)]
pub struct PyPlan {
    pub(crate) planner: Planner,
}

#[pymethods]
impl PyPlan {
    /// Brings the plan up to date with `canvas` (the canvas it was made
    /// from), rehashing only the nodes that changed.
    fn replan(&mut self, py: Python<'_>, canvas: &PyCanvas) -> PyResult<()> {
        let planner = &mut self.planner;
        py.detach(|| {
            let canvas = canvas.inner.lock().unwrap_or_else(|e| e.into_inner());
            planner.replan(&canvas).map(|_| ())
        })
        .map_err(core_err)
    }

    fn __repr__(&self) -> String {
        let plan = self.planner.plan();
        format!(
            "Plan(canvas={:?}, revision={}, steps={})",
            plan.canvas_id,
            plan.revision,
            plan.steps.len()
        )
    }
}

/// The planner for the targets and quality of `options`, made without the GIL.
pub(crate) fn plan_of(
    py: Python<'_>,
    canvas: &PyCanvas,
    options: &RunOptions,
) -> PyResult<Planner> {
    py.detach(|| {
        let canvas = canvas.inner.lock().unwrap_or_else(|e| e.into_inner());
        Planner::new(
            &canvas,
            PlanOptions {
                targets: options.targets.clone(),
                quality: options.quality,
            },
        )
    })
    .map_err(core_err)
}
