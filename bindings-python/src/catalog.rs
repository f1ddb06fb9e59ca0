//! `Catalog`: the node types a canvas may hold.

use pyo3::prelude::*;

use crate::convert::{json_text_arg, serialize, str_arg, wrong_type};
use crate::errors::core_err;

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
    /// A catalogue with no types and no conversions (`Catalog.builtin()`
    /// has the built-in ones).
    #[new]
    fn new() -> Self {
        PyCatalog {
            inner: reelgraph::Catalog::empty(),
        }
    }

    /// The built-in catalogue: story, assets, generation, post and output types.
    #[staticmethod]
    fn builtin() -> Self {
        PyCatalog {
            inner: reelgraph::Catalog::builtin(),
        }
    }

    /// Registers node types: a spec dict, a list of them, or their JSON
    /// text; all or none. Returns the names registered.
    fn register(&self, py: Python<'_>, spec: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
        let text = json_text_arg(spec, "spec", "a spec dict, a list of them or JSON text")?;
        self.register_text(py, &text)
    }

    /// Registers the node types of a JSON file (one spec or a list); `path`
    /// is a str or an `os.PathLike`.
    fn register_file(&self, py: Python<'_>, path: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
        let path: std::path::PathBuf = path
            .extract()
            .map_err(|_| wrong_type("path", "a str or os.PathLike", path))?;
        let text = std::fs::read_to_string(&path).map_err(|e| {
            core_err(reelgraph::Error::Io {
                action: "read",
                path: path.display().to_string(),
                message: e.to_string(),
            })
        })?;
        self.register_text(py, &text)
    }

    /// The names of every registered type, sorted.
    fn types(&self) -> Vec<String> {
        self.inner.type_names()
    }

    /// The spec of a type, as a dict; `unknown_node_type` when there is none.
    #[pyo3(signature = (type_name, /))]
    fn spec<'py>(
        &self,
        py: Python<'py>,
        type_name: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let type_name = &str_arg(type_name, "type_name")?;
        match self.inner.get(type_name) {
            Some(spec) => serialize(py, &*spec),
            None => Err(core_err(reelgraph::Error::UnknownNodeType {
                type_name: type_name.to_owned(),
                known: self.inner.type_names(),
            })),
        }
    }

    fn __contains__(&self, type_name: &str) -> bool {
        self.inner.get(type_name).is_some()
    }

    fn __len__(&self) -> usize {
        self.inner.type_names().len()
    }

    fn __repr__(&self) -> String {
        format!("<Catalog: {} node types>", self.__len__())
    }
}

impl PyCatalog {
    fn register_text(&self, py: Python<'_>, text: &str) -> PyResult<Vec<String>> {
        let specs = py
            .detach(|| self.inner.register_json(text))
            .map_err(core_err)?;
        Ok(specs
            .iter()
            .map(|spec| spec.type_name.to_string())
            .collect())
    }
}

/// The catalogue an optional `catalog=` argument names: a fresh built-in one
/// when it is `None`.
pub fn or_builtin(catalog: Option<&Bound<'_, PyAny>>) -> PyResult<reelgraph::Catalog> {
    match catalog {
        Some(obj) if !obj.is_none() => match obj.cast::<PyCatalog>() {
            Ok(catalog) => Ok(catalog.get().inner.clone()),
            Err(_) => Err(wrong_type("catalog", "a reelgraph.Catalog or None", obj)),
        },
        _ => Ok(reelgraph::Catalog::builtin()),
    }
}
