//! Formats other than the native document: React Flow both ways, ComfyUI
//! workflows and API prompts in, API prompts out, any of them sniffed; the
//! DOT, Mermaid and SVG pictures are methods of `Canvas`.

use pyo3::prelude::*;
use pyo3::types::PyDict;
use reelgraph::format::comfyui::{self, ImportOptions, ObjectInfo};
use reelgraph::format::{self, Format, react_flow};
use reelgraph::render::SvgOptions;
use serde_json::Value;

use crate::canvas::PyCanvas;
use crate::catalog::or_builtin;
use crate::convert::{json_text_arg, serialize, str_arg, to_value, wrong_type};
use crate::errors::core_err;

/// What an import made: the canvas, and what the import had to say.
#[pyclass(module = "reelgraph._native", name = "Imported", frozen)]
#[derive(Debug)]
pub struct PyImported {
    canvas: Py<PyCanvas>,
    /// The core's result as JSON: `{format?, canvas, diagnostics, registered_types?, stats?}`.
    result: Value,
}

#[pymethods]
impl PyImported {
    /// The imported canvas, loaded with the catalogue the import was given.
    #[getter]
    fn canvas(&self, py: Python<'_>) -> Py<PyCanvas> {
        self.canvas.clone_ref(py)
    }

    /// The format read (`native`, `react_flow`, `comfyui_workflow`, `comfyui_api`).
    #[getter]
    fn format(&self) -> Option<&str> {
        self.result.get("format").and_then(Value::as_str)
    }

    /// What the import skipped or could not fit: diagnostics as dicts.
    #[getter]
    fn diagnostics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, "diagnostics")
    }

    /// Node types the import registered in the catalogue (ComfyUI classes).
    #[getter]
    fn registered_types<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, "registered_types")
    }

    /// The core's import result as a dict, the document under `canvas`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serialize(py, &self.result)
    }

    fn __repr__(&self) -> String {
        let count = |key: &str| {
            self.result
                .get(key)
                .and_then(Value::as_array)
                .map_or(0, Vec::len)
        };
        format!(
            "<Imported {}: {} diagnostics, {} registered types>",
            self.format().unwrap_or("canvas"),
            count("diagnostics"),
            count("registered_types")
        )
    }
}

impl PyImported {
    fn field<'py>(&self, py: Python<'py>, key: &str) -> PyResult<Bound<'py, PyAny>> {
        serialize(
            py,
            self.result.get(key).unwrap_or(&Value::Array(Vec::new())),
        )
    }

    /// Loads the imported document with `catalog`, keeping the core's result.
    fn load(
        py: Python<'_>,
        catalog: reelgraph::Catalog,
        result: &impl serde::Serialize,
        doc: reelgraph::CanvasDocument,
    ) -> PyResult<Self> {
        let result = serde_json::to_value(result).map_err(|e| core_err(e.into()))?;
        let canvas = py
            .detach(|| reelgraph::Canvas::from_document(catalog, doc))
            .map_err(core_err)?;
        Ok(PyImported {
            canvas: Py::new(py, PyCanvas::wrap(canvas))?,
            result,
        })
    }
}

/// Reads ComfyUI: an editor workflow (0.4 or 1.x) or an API prompt, as a
/// dict or JSON text. Its node classes are registered in `catalog` (a fresh
/// built-in one by default); `object_info` (the dict or text of a ComfyUI
/// server's `/object_info`) names widgets the workflow leaves unnamed.
#[pyfunction]
#[pyo3(signature = (data, catalog = None, object_info = None))]
pub fn import_comfyui(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    catalog: Option<&Bound<'_, PyAny>>,
    object_info: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyImported> {
    let text = json_text(data, "data")?;
    let mut options = ImportOptions::default();
    if let Some(info) = object_info {
        let info = json_text(info, "object_info")?;
        options = options.object_info(ObjectInfo::from_json(&info).map_err(core_err)?);
    }
    let catalog = or_builtin(catalog)?;
    let import = py
        .detach(|| comfyui::import_with(&catalog, &text, &options))
        .map_err(core_err)?;
    let doc = import.canvas.clone();
    PyImported::load(py, catalog, &import, doc)
}

/// Reads a React Flow / Svelte Flow object (dict or JSON text), keeping
/// what the import had to say (`Canvas.from_react_flow` keeps the canvas only).
#[pyfunction]
#[pyo3(signature = (data, catalog = None))]
pub fn import_react_flow(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    catalog: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyImported> {
    let catalog = or_builtin(catalog)?;
    let flow = read_react_flow(py, data, &catalog)?;
    let doc = flow.canvas.clone();
    PyImported::load(py, catalog, &flow, doc)
}

/// Reads a canvas in any format (native, React Flow, ComfyUI workflow or API
/// prompt), told from the content, or read as `format` when given.
#[pyfunction]
#[pyo3(signature = (data, catalog = None, format = None))]
pub fn import_any(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    catalog: Option<&Bound<'_, PyAny>>,
    format: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyImported> {
    let text = json_text(data, "data")?;
    let format = match format {
        Some(name) if !name.is_none() => Some(
            reelgraph::from_value::<Format>(Value::String(str_arg(name, "format")?))
                .map_err(core_err)?,
        ),
        _ => None,
    };
    let catalog = or_builtin(catalog)?;
    let imported = py
        .detach(|| format::import_any(&catalog, &text, format))
        .map_err(core_err)?;
    let doc = imported.canvas.clone();
    PyImported::load(py, catalog, &imported, doc)
}

/// The format of a dict or JSON text, told from its content.
#[pyfunction]
pub fn detect_format(data: &Bound<'_, PyAny>) -> PyResult<&'static str> {
    let text = json_text(data, "data")?;
    format::detect(&text).map(Format::as_str).map_err(core_err)
}

pub fn to_react_flow<'py>(
    py: Python<'py>,
    canvas: &reelgraph::Canvas,
) -> PyResult<Bound<'py, PyAny>> {
    serialize(py, &react_flow::export_canvas(canvas))
}

pub fn read_react_flow(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    catalog: &reelgraph::Catalog,
) -> PyResult<react_flow::FlowImport> {
    let text = json_text(data, "data")?;
    py.detach(|| react_flow::import_json(catalog, &text))
        .map_err(core_err)
}

pub fn to_comfyui_prompt<'py>(
    py: Python<'py>,
    canvas: &reelgraph::Canvas,
) -> PyResult<Bound<'py, PyAny>> {
    serialize(py, &comfyui::export_api_prompt(canvas))
}

/// The core's `SvgOptions` from a dict (None: the defaults).
pub fn svg_options(options: Option<&Bound<'_, PyAny>>) -> PyResult<SvgOptions> {
    match options {
        None => Ok(SvgOptions::default()),
        Some(options) if options.is_none() => Ok(SvgOptions::default()),
        Some(options) if options.is_instance_of::<PyDict>() => {
            reelgraph::from_value(to_value(options, "options")?).map_err(core_err)
        }
        Some(options) => Err(wrong_type("options", "a dict of SVG options", options)),
    }
}

/// The JSON text of a document given as a dict or as text (importers read text).
fn json_text(obj: &Bound<'_, PyAny>, arg: &str) -> PyResult<String> {
    json_text_arg(obj, arg, "a dict or JSON text")
}
