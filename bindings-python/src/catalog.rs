//! `Catalog`: the node types a canvas may hold.

use pyo3::prelude::*;

/// A catalogue of node types. Clones share one registry, so a type
/// registered here is seen by every canvas made with this catalogue.
#[pyclass(
    module = "reelgraph._native",
    name = "Catalog",
    frozen,
    skip_from_py_object
)]
#[derive(Debug, Clone)]
pub struct PyCatalog {
    pub inner: reelgraph::Catalog,
}

#[pymethods]
impl PyCatalog {
    /// The built-in catalogue: story, assets, generation, post and output types.
    #[staticmethod]
    fn builtin() -> Self {
        PyCatalog {
            inner: reelgraph::Catalog::builtin(),
        }
    }

    /// The names of every registered type, sorted.
    fn types(&self) -> Vec<String> {
        self.inner.type_names()
    }
}

/// The catalogue an optional `catalog=` argument names: a fresh built-in one
/// when it is `None`.
pub fn or_builtin(catalog: Option<&PyCatalog>) -> reelgraph::Catalog {
    catalog.map_or_else(reelgraph::Catalog::builtin, |c| c.inner.clone())
}
