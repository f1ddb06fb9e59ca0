//! Result caches: `MemoryCache` and `SqliteCache`, both `ResultCache`s an
//! `Executor` takes.

use std::path::PathBuf;
use std::sync::Arc;

use pyo3::prelude::*;
use reelgraph::cache::{MemoryCache, ResultCache, SqliteCache};
use reelgraph::exec::DEFAULT_CACHE_BYTES;

use crate::errors::core_err;
use crate::run::json_to_py;

/// Where an executor keeps node results by content key.
#[pyclass(name = "ResultCache", module = "reelgraph", subclass, frozen)]
#[derive(Debug)]
pub struct PyResultCache {
    pub inner: Arc<dyn ResultCache>,
}

#[pymethods]
impl PyResultCache {
    /// Counts: `entries`, `bytes`, `hits`, `misses`, `evictions`.
    fn stats(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        json_to_py(py, &self.inner.stats())
    }
}

/// Results in memory, the least recently used dropped beyond `max_bytes`
/// (default 256 MiB).
#[pyclass(name = "MemoryCache", module = "reelgraph", extends = PyResultCache, frozen)]
#[derive(Debug)]
pub struct PyMemoryCache;

#[pymethods]
impl PyMemoryCache {
    #[new]
    #[pyo3(signature = (max_bytes=DEFAULT_CACHE_BYTES))]
    fn new(max_bytes: usize) -> PyClassInitializer<Self> {
        let inner = Arc::new(MemoryCache::new(max_bytes));
        PyClassInitializer::from(PyResultCache { inner }).add_subclass(PyMemoryCache)
    }
}

/// Results in a SQLite file that several processes may share. Open it again
/// in a child process after `fork()`.
#[pyclass(name = "SqliteCache", module = "reelgraph", extends = PyResultCache, frozen)]
#[derive(Debug)]
pub struct PySqliteCache;

#[pymethods]
impl PySqliteCache {
    #[new]
    #[pyo3(signature = (path, max_bytes=None))]
    fn new(
        py: Python<'_>,
        path: PathBuf,
        max_bytes: Option<usize>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let cache = py
            .detach(move || SqliteCache::open(path))
            .map_err(core_err)?;
        let cache = match max_bytes {
            Some(max) => cache.with_max_bytes(max),
            None => cache,
        };
        Ok(PyClassInitializer::from(PyResultCache {
            inner: Arc::new(cache),
        })
        .add_subclass(PySqliteCache))
    }
}
