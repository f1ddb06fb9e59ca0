//! Canvas stores: `MemoryStore`, `FileStore(path)` and `SqliteStore(path)`,
//! all `CanvasStore`s with the same methods, blocking and `_async`.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyList;
use reelgraph::store::{CanvasStore, FileStore, ListQuery, MemoryStore, SqliteStore};
use reelgraph::{Canvas, CanvasDocument, Catalog};
use serde::Serialize;

use crate::canvas::PyCanvas;
use crate::catalog::or_builtin;
use crate::errors::core_err;
use crate::run::json_to_py;
use crate::waiting;

/// Where canvases are kept, with their revisions and history. A save names
/// the revision it replaces; a stale one raises `Conflict` (never a silent
/// overwrite). Each method has an awaitable twin ending in `_async`.
#[pyclass(name = "CanvasStore", module = "reelgraph", subclass, frozen)]
pub struct PyCanvasStore {
    pub inner: Arc<dyn CanvasStore>,
}

impl std::fmt::Debug for PyCanvasStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CanvasStore")
    }
}

type Outcome<T> = reelgraph::Result<T>;

impl PyCanvasStore {
    /// Runs a store call blocking (GIL released, Ctrl-C heard) or as an
    /// awaitable of the caller's loop, turning its result into Python.
    fn call<'py, T, F>(
        py: Python<'py>,
        asynchronous: bool,
        call: F,
        convert: fn(Python<'_>, T) -> PyResult<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>>
    where
        F: Future<Output = Outcome<T>> + Send + 'static,
        T: Send + 'static,
    {
        if asynchronous {
            return waiting::awaitable(py, call, move |py, outcome: Outcome<T>| {
                convert(py, outcome.map_err(core_err)?)
            });
        }
        let mut call = Box::pin(call);
        let outcome = waiting::block_on(py, &mut call)?.map_err(core_err)?;
        Ok(convert(py, outcome)?.into_bound(py))
    }

    fn create_call(
        &self,
        canvas: &PyCanvas,
    ) -> impl Future<Output = Outcome<reelgraph::store::VersionInfo>> + use<> {
        let (store, doc) = (self.inner.clone(), document(canvas));
        async move { store.create(&doc).await }
    }

    /// Reads a stored version and makes it a canvas of `catalog` (the
    /// built-in one when None), both off the GIL.
    fn get_call(
        &self,
        id: String,
        revision: Option<u64>,
        catalog: Catalog,
    ) -> impl Future<Output = Outcome<Canvas>> + use<> {
        let store = self.inner.clone();
        async move {
            let doc = match revision {
                Some(revision) => store.get_revision(&id, revision).await?,
                None => store.get(&id).await?,
            };
            Canvas::from_document(catalog, doc)
        }
    }

    fn list_call(
        &self,
        query: ListQuery,
    ) -> impl Future<Output = Outcome<reelgraph::store::Page>> + use<> {
        let store = self.inner.clone();
        async move { store.list(&query).await }
    }

    fn save_call(
        &self,
        canvas: &PyCanvas,
        expected: u64,
    ) -> impl Future<Output = Outcome<reelgraph::store::VersionInfo>> + use<> {
        let (store, doc) = (self.inner.clone(), document(canvas));
        async move { store.save(&doc, expected).await }
    }

    fn delete_call(
        &self,
        id: String,
        expected: Option<u64>,
    ) -> impl Future<Output = Outcome<()>> + use<> {
        let store = self.inner.clone();
        async move { store.delete(&id, expected).await }
    }

    fn versions_call(
        &self,
        id: String,
    ) -> impl Future<Output = Outcome<Vec<reelgraph::store::VersionInfo>>> + use<> {
        let store = self.inner.clone();
        async move { store.history(&id).await }
    }
}

#[pymethods]
impl PyCanvasStore {
    /// Stores a new canvas; returns its version info (a dict).
    fn create<'py>(&self, py: Python<'py>, canvas: &PyCanvas) -> PyResult<Bound<'py, PyAny>> {
        Self::call(py, false, self.create_call(canvas), to_py)
    }

    fn create_async<'py>(&self, py: Python<'py>, canvas: &PyCanvas) -> PyResult<Bound<'py, PyAny>> {
        Self::call(py, true, self.create_call(canvas), to_py)
    }

    /// The latest stored version of canvas `id`, as a `Canvas` of
    /// `catalog` (the built-in catalogue when None).
    #[pyo3(signature = (id, catalog=None))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        id: String,
        catalog: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        Self::call(
            py,
            false,
            self.get_call(id, None, or_builtin(catalog)?),
            canvas_to_py,
        )
    }

    #[pyo3(signature = (id, catalog=None))]
    fn get_async<'py>(
        &self,
        py: Python<'py>,
        id: String,
        catalog: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        Self::call(
            py,
            true,
            self.get_call(id, None, or_builtin(catalog)?),
            canvas_to_py,
        )
    }

    /// Canvas `id` as it was at `revision`.
    #[pyo3(signature = (id, revision, catalog=None))]
    fn get_version<'py>(
        &self,
        py: Python<'py>,
        id: String,
        revision: u64,
        catalog: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        Self::call(
            py,
            false,
            self.get_call(id, Some(revision), or_builtin(catalog)?),
            canvas_to_py,
        )
    }

    #[pyo3(signature = (id, revision, catalog=None))]
    fn get_version_async<'py>(
        &self,
        py: Python<'py>,
        id: String,
        revision: u64,
        catalog: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        Self::call(
            py,
            true,
            self.get_call(id, Some(revision), or_builtin(catalog)?),
            canvas_to_py,
        )
    }

    /// A page of canvas summaries (`{"items": [...], "next_cursor": ...}`),
    /// by id; pass `next_cursor` back as `cursor` for the next page.
    #[pyo3(signature = (cursor=None, limit=0, name_prefix=None))]
    fn list<'py>(
        &self,
        py: Python<'py>,
        cursor: Option<String>,
        limit: usize,
        name_prefix: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let query = ListQuery {
            cursor,
            limit,
            name_prefix,
        };
        Self::call(py, false, self.list_call(query), to_py)
    }

    #[pyo3(signature = (cursor=None, limit=0, name_prefix=None))]
    fn list_async<'py>(
        &self,
        py: Python<'py>,
        cursor: Option<String>,
        limit: usize,
        name_prefix: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let query = ListQuery {
            cursor,
            limit,
            name_prefix,
        };
        Self::call(py, true, self.list_call(query), to_py)
    }

    /// Saves `canvas` over stored revision `expected_revision`; a store
    /// that holds another revision raises `Conflict` with the current one.
    fn save<'py>(
        &self,
        py: Python<'py>,
        canvas: &PyCanvas,
        expected_revision: u64,
    ) -> PyResult<Bound<'py, PyAny>> {
        Self::call(py, false, self.save_call(canvas, expected_revision), to_py)
    }

    fn save_async<'py>(
        &self,
        py: Python<'py>,
        canvas: &PyCanvas,
        expected_revision: u64,
    ) -> PyResult<Bound<'py, PyAny>> {
        Self::call(py, true, self.save_call(canvas, expected_revision), to_py)
    }

    /// Deletes canvas `id` and its history (only at `expected_revision`
    /// when given).
    #[pyo3(signature = (id, expected_revision=None))]
    fn delete<'py>(
        &self,
        py: Python<'py>,
        id: String,
        expected_revision: Option<u64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        Self::call(py, false, self.delete_call(id, expected_revision), none)
    }

    #[pyo3(signature = (id, expected_revision=None))]
    fn delete_async<'py>(
        &self,
        py: Python<'py>,
        id: String,
        expected_revision: Option<u64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        Self::call(py, true, self.delete_call(id, expected_revision), none)
    }

    /// The stored versions of canvas `id`, newest first (dicts with
    /// `revision`, `saved_at`, `size_bytes`, `summary`).
    fn versions<'py>(&self, py: Python<'py>, id: String) -> PyResult<Bound<'py, PyAny>> {
        Self::call(py, false, self.versions_call(id), versions_to_py)
    }

    fn versions_async<'py>(&self, py: Python<'py>, id: String) -> PyResult<Bound<'py, PyAny>> {
        Self::call(py, true, self.versions_call(id), versions_to_py)
    }
}

/// Canvases in memory, gone with the process.
#[pyclass(name = "MemoryStore", module = "reelgraph", extends = PyCanvasStore, frozen)]
#[derive(Debug)]
pub struct PyMemoryStore;

#[pymethods]
impl PyMemoryStore {
    #[new]
    fn new() -> PyClassInitializer<Self> {
        let inner = Arc::new(MemoryStore::new());
        PyClassInitializer::from(PyCanvasStore { inner }).add_subclass(PyMemoryStore)
    }
}

/// Canvases as JSON files under the directory `path` (made when missing),
/// one per canvas plus its versions; each write is atomic.
#[pyclass(name = "FileStore", module = "reelgraph", extends = PyCanvasStore, frozen)]
#[derive(Debug)]
pub struct PyFileStore;

#[pymethods]
impl PyFileStore {
    #[new]
    fn new(py: Python<'_>, path: PathBuf) -> PyResult<PyClassInitializer<Self>> {
        let store = py.detach(move || FileStore::open(path)).map_err(core_err)?;
        let inner = Arc::new(store);
        Ok(PyClassInitializer::from(PyCanvasStore { inner }).add_subclass(PyFileStore))
    }
}

/// Canvases in a SQLite file at `path` (made when missing). Open it again
/// in a child process after `fork()`.
#[pyclass(name = "SqliteStore", module = "reelgraph", extends = PyCanvasStore, frozen)]
#[derive(Debug)]
pub struct PySqliteStore;

#[pymethods]
impl PySqliteStore {
    #[new]
    fn new(py: Python<'_>, path: PathBuf) -> PyResult<PyClassInitializer<Self>> {
        let store = py
            .detach(move || SqliteStore::open(path))
            .map_err(core_err)?;
        let inner = Arc::new(store);
        Ok(PyClassInitializer::from(PyCanvasStore { inner }).add_subclass(PySqliteStore))
    }
}

fn document(canvas: &PyCanvas) -> CanvasDocument {
    canvas
        .inner
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .to_document()
}

fn to_py<T: Serialize>(py: Python<'_>, value: T) -> PyResult<Py<PyAny>> {
    json_to_py(py, &value)
}

fn versions_to_py(
    py: Python<'_>,
    versions: Vec<reelgraph::store::VersionInfo>,
) -> PyResult<Py<PyAny>> {
    let items = versions
        .into_iter()
        .map(|v| json_to_py(py, &v))
        .collect::<PyResult<Vec<_>>>()?;
    Ok(PyList::new(py, items)?.into_any().unbind())
}

fn none(py: Python<'_>, (): ()) -> PyResult<Py<PyAny>> {
    Ok(py.None())
}

fn canvas_to_py(py: Python<'_>, canvas: Canvas) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, PyCanvas::wrap(canvas))?.into_any())
}
