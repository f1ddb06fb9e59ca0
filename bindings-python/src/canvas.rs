//! `Canvas`: a canvas shared with runs as `Arc<Mutex<reelgraph::Canvas>>`,
//! with its undo stack.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use reelgraph::{Op, PortRef, Quality, UndoStack};

use crate::applied::PyApplied;
use crate::catalog::{PyCatalog, or_builtin};

use crate::convert::{loads, serialize, str_arg, str_ref, to_json_text, wrong_type};
use crate::errors::core_err;
use crate::formats;
use crate::from_python::from_python;
use crate::op_dict;
use crate::py_str;

/// Applies of at most this many ops keep the GIL (see `apply`).
const FEW_OPS: usize = 8;

/// A canvas: nodes and edges, changed only by ops.
#[pyclass(module = "reelgraph._native", name = "Canvas", frozen)]
#[derive(Debug)]
pub struct PyCanvas {
    /// Shared with runs, which lock it only for one synchronous step.
    pub inner: Arc<Mutex<reelgraph::Canvas>>,
    /// Locked before `inner` whenever both are.
    history: Mutex<UndoStack>,
}

impl PyCanvas {
    pub fn wrap(canvas: reelgraph::Canvas) -> Self {
        PyCanvas {
            inner: Arc::new(Mutex::new(canvas)),
            history: Mutex::new(UndoStack::default()),
        }
    }

    /// The canvas, locked. A panic elsewhere cannot leave it half changed
    /// (`apply` changes nothing when it fails), so a poisoned lock is taken back.
    pub fn lock(&self) -> MutexGuard<'_, reelgraph::Canvas> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn load_text(py: Python<'_>, text: &str, catalog: reelgraph::Catalog) -> PyResult<Self> {
        py.detach(|| reelgraph::Canvas::from_json(catalog, text))
            .map(PyCanvas::wrap)
            .map_err(core_err)
    }

    /// The undo stack and the canvas, if neither is locked (or poisoned).
    fn try_lock_both(
        &self,
    ) -> Option<(MutexGuard<'_, UndoStack>, MutexGuard<'_, reelgraph::Canvas>)> {
        let history = self.history.try_lock().ok()?;
        let canvas = self.inner.try_lock().ok()?;
        Some((history, canvas))
    }

    fn history(&self) -> MutexGuard<'_, UndoStack> {
        self.history.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An undo or redo step, with the GIL released.
    fn step(
        &self,
        py: Python<'_>,
        step: fn(
            &mut UndoStack,
            &mut reelgraph::Canvas,
        ) -> reelgraph::Result<Option<reelgraph::Applied>>,
    ) -> PyResult<Option<PyApplied>> {
        let applied = py
            .detach(|| step(&mut self.history(), &mut self.lock()))
            .map_err(core_err)?;
        Ok(applied.map(PyApplied::from))
    }
}

#[pymethods]
impl PyCanvas {
    /// An empty canvas; `catalog` defaults to a fresh built-in catalogue.
    #[new]
    #[pyo3(signature = (id, name, catalog = None))]
    fn new(
        id: &Bound<'_, PyAny>,
        name: &Bound<'_, PyAny>,
        catalog: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let (id, name) = (str_arg(id, "id")?, str_arg(name, "name")?);
        reelgraph::Canvas::try_new(or_builtin(catalog)?, &id, &name)
            .map(PyCanvas::wrap)
            .map_err(core_err)
    }

    /// Reads a canvas from its JSON document text (older format versions
    /// are migrated; see `migrations_applied`).
    #[staticmethod]
    #[pyo3(signature = (text, catalog = None))]
    fn from_json(
        py: Python<'_>,
        text: &Bound<'_, PyAny>,
        catalog: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let text = str_ref(text, "text")?;
        Self::load_text(py, text, or_builtin(catalog)?)
    }

    /// Reads a canvas from its document as a dict.
    #[staticmethod]
    #[pyo3(signature = (doc, catalog = None))]
    fn from_dict(
        py: Python<'_>,
        doc: &Bound<'_, PyAny>,
        catalog: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        if !doc.is_instance_of::<PyDict>() {
            return Err(wrong_type("doc", "a canvas document dict", doc));
        }
        // Through the text reader: one place that checks and migrates documents.
        let text = to_json_text(doc, "doc")?;
        Self::load_text(py, &text, or_builtin(catalog)?)
    }

    #[getter]
    fn id(&self) -> String {
        self.lock().id().to_owned()
    }

    #[getter]
    fn name(&self) -> String {
        self.lock().name().to_owned()
    }

    #[getter]
    fn revision(&self) -> u64 {
        self.lock().revision()
    }

    /// The catalogue of the canvas (shared: types registered in it are seen here).
    #[getter]
    fn catalog(&self) -> PyCatalog {
        PyCatalog {
            inner: self.lock().catalog().clone(),
        }
    }

    /// The type-version migrations made when the canvas was loaded.
    #[getter]
    fn migrations_applied<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serialize(py, self.lock().migrations_applied())
    }

    /// The canvas document as JSON text (`pretty=True`: indented).
    #[pyo3(signature = (*, pretty = false))]
    fn to_json(&self, py: Python<'_>, pretty: bool) -> String {
        py.detach(|| {
            let canvas = self.lock();
            if pretty {
                canvas.to_json_pretty()
            } else {
                canvas.to_json()
            }
        })
    }

    /// The canvas document as a dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let text = py.detach(|| self.lock().to_json());
        loads(py, &text)
    }

    /// A node as a dict, or None.
    fn node<'py>(
        &self,
        py: Python<'py>,
        id: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let node = self.lock().node(&str_arg(id, "id")?);
        node.map(|node| serialize(py, &node)).transpose()
    }

    /// An edge as a dict, or None.
    fn edge<'py>(
        &self,
        py: Python<'py>,
        id: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let edge = self.lock().edge(&str_arg(id, "id")?);
        edge.map(|edge| serialize(py, &edge)).transpose()
    }

    /// Node ids in an order where every edge goes forward.
    fn topological_order(&self, py: Python<'_>) -> Vec<String> {
        py.detach(|| self.lock().topological_order())
    }

    /// Applies ops atomically (a list of op dicts, one op dict, or JSON text)
    /// and returns the core's `Applied` (`revision`, `inverse`, `event`).
    /// The apply can be undone with `undo()`.
    fn apply(&self, py: Python<'_>, ops: &Bound<'_, PyAny>) -> PyResult<PyApplied> {
        let ops = parse_ops(ops)?;
        // Releasing the GIL costs more than applying a few ops: they are
        // applied holding it, unless the canvas is busy elsewhere (never
        // wait for a lock while holding the GIL).
        let free = if ops.len() <= FEW_OPS {
            self.try_lock_both()
        } else {
            None
        };
        let applied = match free {
            Some((mut history, mut canvas)) => history.apply(&mut canvas, ops),
            None => py.detach(|| self.history().apply(&mut self.lock(), ops)),
        };
        applied.map(PyApplied::from).map_err(core_err)
    }

    /// Undoes the newest apply not undone yet (an apply itself: the revision
    /// goes up); its `Applied`, or None when there is nothing to undo.
    fn undo(&self, py: Python<'_>) -> PyResult<Option<PyApplied>> {
        self.step(py, UndoStack::undo)
    }

    /// Applies again the newest undone apply; None when there is none.
    fn redo(&self, py: Python<'_>) -> PyResult<Option<PyApplied>> {
        self.step(py, UndoStack::redo)
    }

    #[getter]
    fn can_undo(&self) -> bool {
        self.history().can_undo()
    }

    #[getter]
    fn can_redo(&self) -> bool {
        self.history().can_redo()
    }

    /// Whether `connect` from `source` to `target` would succeed: None, or
    /// the error it would raise. Ports are `(node, port)` tuples or
    /// `{"node", "port"}` dicts.
    fn can_connect(&self, source: &Bound<'_, PyAny>, target: &Bound<'_, PyAny>) -> PyResult<()> {
        let source = port_ref(source, "source")?;
        let target = port_ref(target, "target")?;
        self.lock().can_connect(&source, &target).map_err(core_err)
    }

    /// The validation report: `{valid, errors, warnings, diagnostics}`.
    fn validate<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let report = py.detach(|| self.lock().validate());
        serialize(py, &report)
    }

    /// What every node with a task would send to a function runner, in
    /// topological order.
    #[pyo3(signature = (quality = None))]
    fn task_previews<'py>(
        &self,
        py: Python<'py>,
        quality: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let quality = parse_quality(quality)?;
        let previews = py.detach(|| self.lock().task_previews(quality));
        serialize(py, &previews)
    }

    /// What one node would send to a function runner.
    #[pyo3(signature = (node, quality = None))]
    fn task_preview<'py>(
        &self,
        py: Python<'py>,
        node: &Bound<'py, PyAny>,
        quality: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let node = str_arg(node, "node")?;
        let quality = parse_quality(quality)?;
        let preview = self.lock().task_preview(&node, quality).map_err(core_err)?;
        serialize(py, &preview)
    }

    /// The canvas as a React Flow / Svelte Flow object `{nodes, edges, viewport}`.
    fn to_react_flow<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        formats::to_react_flow(py, &self.lock())
    }

    /// The canvas read from a React Flow object (dict or JSON text).
    #[staticmethod]
    #[pyo3(signature = (data, catalog = None))]
    fn from_react_flow(
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        catalog: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let catalog = or_builtin(catalog)?;
        let flow = formats::read_react_flow(py, data, &catalog)?;
        py.detach(|| reelgraph::Canvas::from_document(catalog, flow.canvas))
            .map(PyCanvas::wrap)
            .map_err(core_err)
    }

    /// The ComfyUI API prompt of the canvas: `{prompt, left_out, diagnostics}`.
    fn to_comfyui_prompt<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        formats::to_comfyui_prompt(py, &self.lock())
    }

    /// The canvas in Graphviz DOT.
    fn to_dot(&self, py: Python<'_>) -> String {
        py.detach(|| reelgraph::render::to_dot(&self.lock()))
    }

    /// The canvas as a Mermaid flowchart.
    fn to_mermaid(&self, py: Python<'_>) -> String {
        py.detach(|| reelgraph::render::to_mermaid(&self.lock()))
    }

    /// The canvas as a standalone SVG picture; `options` is the core's
    /// `SvgOptions` (`{layout, properties, title, legend, margin}`).
    #[pyo3(signature = (options = None))]
    fn to_svg(&self, py: Python<'_>, options: Option<&Bound<'_, PyAny>>) -> PyResult<String> {
        let options = formats::svg_options(options)?;
        Ok(py.detach(|| reelgraph::render::to_svg(&self.lock(), &options)))
    }

    /// Jupyter shows a canvas as its SVG picture.
    fn _repr_svg_(&self, py: Python<'_>) -> PyResult<String> {
        self.to_svg(py, None)
    }

    fn __repr__(&self) -> String {
        let canvas = self.lock();
        format!(
            "<Canvas {:?} {:?}: {} nodes, {} edges, revision {}>",
            canvas.id(),
            canvas.name(),
            canvas.node_count(),
            canvas.edge_count(),
            canvas.revision()
        )
    }
}

/// Ops from JSON text (the core's reader), or a list of op dicts or one op
/// dict, read in place. A list first: the common case, and each type check
/// is a call into the interpreter under the stable ABI.
fn parse_ops(ops: &Bound<'_, PyAny>) -> PyResult<Vec<Op>> {
    if let Ok(list) = ops.cast::<PyList>() {
        return op_dict::many(list.iter());
    }
    if let Ok(text) = ops.cast::<PyString>() {
        return Op::parse_list(py_str::text(text)?).map_err(core_err);
    }
    if let Ok(dict) = ops.cast::<PyDict>() {
        return Ok(vec![op_dict::one(dict)?]);
    }
    if let Ok(tuple) = ops.cast::<PyTuple>() {
        return op_dict::many(tuple.iter());
    }
    Err(wrong_type(
        "ops",
        "a list of op dicts, one op dict or JSON text",
        ops,
    ))
}

/// A port: a `(node, port)` tuple or a `{"node", "port"}` dict.
fn port_ref(obj: &Bound<'_, PyAny>, arg: &str) -> PyResult<PortRef> {
    if let Ok((node, port)) = obj.extract::<(String, String)>() {
        return Ok(PortRef::new(node, port));
    }
    if obj.is_instance_of::<PyDict>() {
        return from_python(obj, arg);
    }
    Err(wrong_type(
        arg,
        "a (node, port) tuple of two str, or a {\"node\", \"port\"} dict",
        obj,
    ))
}

/// A quality tier by name (`draft`, `standard`, `high`, `ultra`); None: draft.
fn parse_quality(quality: Option<&Bound<'_, PyAny>>) -> PyResult<Quality> {
    match quality {
        Some(quality) if !quality.is_none() => {
            str_arg(quality, "quality")?.parse().map_err(core_err)
        }
        _ => Ok(Quality::Draft),
    }
}
