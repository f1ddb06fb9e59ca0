//! The native module `reelgraph._native` of the Python package `reelgraph`.
//!
//! Thin by design (../shared/DESIGN.md): each file converts one area of the
//! core's API, its values (through the core's serde) and its errors; the
//! logic stays in the core.

mod canvas;
mod catalog;
mod convert;
mod errors;
mod formats;
pub mod runtime;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<catalog::PyCatalog>()?;
    m.add_class::<canvas::PyCanvas>()?;
    m.add_class::<formats::PyImported>()?;
    m.add_function(wrap_pyfunction!(formats::import_any, m)?)?;
    m.add_function(wrap_pyfunction!(formats::import_comfyui, m)?)?;
    m.add_function(wrap_pyfunction!(formats::import_react_flow, m)?)?;
    m.add_function(wrap_pyfunction!(formats::detect_format, m)?)?;
    m.add_function(wrap_pyfunction!(errors::error_table, m)?)?;
    m.add_function(wrap_pyfunction!(errors::error_categories, m)?)?;
    Ok(())
}
