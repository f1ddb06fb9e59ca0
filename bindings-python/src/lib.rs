//! The native module `reelgraph._native` of the Python package `reelgraph`.
//!
//! Thin by design (../shared/DESIGN.md): each file converts one area of the
//! core's API, its values (through the core's serde) and its errors; the
//! logic stays in the core.

mod applied;
mod autosave;
mod batch;
mod cache;
mod call_queue;
mod canvas;
mod catalog;
mod convert;
mod errors;
mod events;
mod executor;
mod formats;
mod from_python;
mod function_call;
mod function_loop;
mod http_runner;
mod op_dict;
mod plan;
mod py_str;
mod run;
mod run_end;
mod runner;
mod runner_arg;
pub mod runtime;
mod stores;
mod task_context;
mod waiting;
mod worker;

use pyo3::prelude::*;

/// The allocator of everything Rust allocates in the module: ops, canvases
/// and runs make and drop many small blocks, which glibc's malloc sorts into
/// free lists at a cost the measured applies and drops spent a fifth of
/// their time in (`make bench-python`). Python's objects keep Python's own.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<catalog::PyCatalog>()?;
    m.add_class::<canvas::PyCanvas>()?;
    m.add_class::<runner::PyLocalRunner>()?;
    m.add_class::<http_runner::PyHttpRunner>()?;
    m.add_class::<worker::PyWorker>()?;
    m.add_class::<task_context::PyTaskContext>()?;
    m.add_class::<executor::PyExecutor>()?;
    m.add_class::<plan::PyPlan>()?;
    m.add_class::<run::PyRun>()?;
    m.add_class::<batch::PyBatch>()?;
    m.add_class::<events::PyEvent>()?;
    m.add_class::<events::PyRunEvents>()?;
    m.add_class::<cache::PyResultCache>()?;
    m.add_class::<cache::PyMemoryCache>()?;
    m.add_class::<cache::PySqliteCache>()?;
    m.add_class::<stores::PyCanvasStore>()?;
    m.add_class::<stores::PyMemoryStore>()?;
    m.add_class::<stores::PyFileStore>()?;
    m.add_class::<stores::PySqliteStore>()?;
    m.add_class::<autosave::PyAutosaver>()?;
    m.add_class::<applied::PyApplied>()?;
    m.add_class::<formats::PyImported>()?;
    m.add_function(wrap_pyfunction!(formats::import_any, m)?)?;
    m.add_function(wrap_pyfunction!(formats::import_comfyui, m)?)?;
    m.add_function(wrap_pyfunction!(formats::import_react_flow, m)?)?;
    m.add_function(wrap_pyfunction!(formats::detect_format, m)?)?;
    m.add_function(wrap_pyfunction!(errors::error_table, m)?)?;
    m.add_function(wrap_pyfunction!(errors::error_categories, m)?)?;
    Ok(())
}
