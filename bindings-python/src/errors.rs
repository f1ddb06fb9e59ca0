//! Core errors as Python exceptions.
//!
//! The classes live in `reelgraph/_errors.py`, made there from the error
//! table this module exposes ([`error_table`], [`error_categories`]), so a
//! code added to the core gets its class without a change here. A core error
//! becomes an instance of the class of its code, carrying the core's own
//! error body: `code`, `message`, `hint`, `details`.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use reelgraph::error_codes::{Category, ERROR_CODES};

use crate::convert::serialize;

/// The Python exception for a core error.
// By value, so that it reads `.map_err(core_err)`.
#[allow(clippy::needless_pass_by_value)]
pub fn core_err(err: reelgraph::Error) -> PyErr {
    Python::attach(|py| match exception(py, &err) {
        Ok(exc) => PyErr::from_value(exc),
        // The package is broken (e.g. `_errors` failed to import): say so.
        Err(failure) => failure,
    })
}

fn exception<'py>(py: Python<'py>, err: &reelgraph::Error) -> PyResult<Bound<'py, PyAny>> {
    static FROM_BODY: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let from_body = FROM_BODY.get_or_try_init(py, || {
        Ok::<_, PyErr>(
            py.import("reelgraph._errors")?
                .getattr("_from_body")?
                .unbind(),
        )
    })?;
    let body = err.to_body();
    let details = serialize(py, &body.details)?;
    from_body
        .call1(py, (body.code, body.message, body.hint, details))
        .map(|exc| exc.into_bound(py))
}

/// The core's error table: `[{code, category, http_status, when}]` in the
/// order of the docs.
#[pyfunction]
pub fn error_table(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    serialize(py, &ERROR_CODES)
}

/// Every error category, in the order of the docs (a category may have no
/// code yet; it still gets its class).
#[pyfunction]
pub fn error_categories() -> Vec<&'static str> {
    Category::ALL.iter().map(|c| c.as_str()).collect()
}
