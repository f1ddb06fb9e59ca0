//! The asyncio loop `async def` runner functions run on: one per process,
//! owned by the binding, on a daemon thread made on first use.
//!
//! Coroutines never run on the caller's loop, even when a run is started
//! or awaited from asyncio: a blocking `run.wait()` would starve that loop,
//! and functions must not depend on who waits for the run. A child made by
//! `fork()` has no copy of the thread, so it makes its own loop.

use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::sync::MutexExt;

/// The loop, and the process it was made in.
static LOOP: Mutex<Option<(u32, Py<PyAny>)>> = Mutex::new(None);

/// The function loop, started when first needed (again after a fork).
pub fn get(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    let mut slot = LOOP.lock_py_attached(py).unwrap_or_else(|e| e.into_inner());
    let pid = std::process::id();
    if let Some((made_in, event_loop)) = &*slot
        && *made_in == pid
    {
        return Ok(event_loop.bind(py).clone());
    }
    let event_loop = py.import("asyncio")?.call_method0("new_event_loop")?;
    let kwargs = pyo3::types::PyDict::new(py);
    kwargs.set_item("target", event_loop.getattr("run_forever")?)?;
    kwargs.set_item("name", "reelgraph-functions")?;
    kwargs.set_item("daemon", true)?;
    py.import("threading")?
        .call_method("Thread", (), Some(&kwargs))?
        .call_method0("start")?;
    *slot = Some((pid, event_loop.clone().unbind()));
    Ok(event_loop)
}
