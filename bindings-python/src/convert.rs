//! Python objects <-> JSON, the one wire format.
//!
//! What a Python caller hands in that the core reads as JSON text
//! (documents, specs, imports) is written as JSON text by [`to_json_text`]
//! and read by the core's own readers; values and options are read straight
//! from the Python objects ([`to_value`], `from_python`), and op dicts by
//! `op_dict` first. Everything the core hands back is serialised by the
//! core's serde and read into plain dicts and lists by [`serialize`]. JSON
//! has no NaN, no infinity and (for reelgraph) no integer past 64 bits, so
//! those are refused here with `invalid_json`, naming the argument and where
//! in it: never turned into `null` or rounded.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde::Serialize;
use serde_json::Value;

use crate::errors::core_err;
use crate::py_str;

/// Deepest nesting read from Python: the limit of the core's JSON reader, so
/// an object that contains itself is refused rather than followed forever.
pub const MAX_DEPTH: usize = 128;
/// Path segments an error shows before it cuts the path short.
const MAX_SHOWN_SEGMENTS: usize = 12;

/// Writes a Python value as compact JSON text: `None`, `bool`, `int`
/// (within 64 bits), finite `float`, `str`, `list`/`tuple` and `dict` with
/// `str` keys. `arg` names the argument in errors (`ops[2].properties.seed`).
/// The core then reads the text as it reads text from anywhere else, so a
/// dict and its JSON text behave the same; measured on 100,000 ops, this is
/// faster than building a `serde_json::Value` and deserialising from it.
pub fn to_json_text(obj: &Bound<'_, PyAny>, arg: &str) -> PyResult<String> {
    let mut out = Vec::with_capacity(256);
    write_at(obj, &mut out, MAX_DEPTH).map_err(|bad| bad.into_py_err(arg))?;
    // Only serde_json wrote into it, from Rust strings.
    String::from_utf8(out).map_err(|e| {
        core_err(reelgraph::Error::InvalidJson {
            message: e.to_string(),
        })
    })
}

/// A Python value as a JSON value, by the rules of [`to_json_text`].
pub fn to_value(obj: &Bound<'_, PyAny>, arg: &str) -> PyResult<Value> {
    crate::from_python::from_python(obj, arg)
}

/// Anything the core serialises (a report, a document, an event) as plain
/// Python objects: the core's serde writes JSON text and Python's `json`
/// reads it. Measured against building a `serde_json::Value` and converting
/// it, this takes half the time on large documents (`json` shares the
/// strings of repeated keys and never builds the intermediate tree).
pub fn serialize<'py, T: Serialize + ?Sized>(
    py: Python<'py>,
    value: &T,
) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(value).map_err(|e| core_err(e.into()))?;
    loads(py, &text)
}

/// JSON text the core wrote, as plain Python objects.
///
/// Read by the C scanner of `json` that `json.loads` ends in: `loads` and
/// the decoder methods it goes through are Python code that matches a
/// whitespace regex before and after the value, which took three times as
/// long as the scan itself for the small texts of task params and events.
/// The core writes one compact value, so the scan reads the whole text.
pub fn loads<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    static SCAN: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let scan = SCAN.get_or_try_init(py, || {
        let decoder = py.import("json.decoder")?.getattr("JSONDecoder")?.call0()?;
        Ok::<_, PyErr>(decoder.getattr("scan_once")?.unbind())
    })?;
    // `(value, end)`; `end` is the text's length.
    let scanned = scan.bind(py).call1((text, 0))?.cast_into::<PyTuple>()?;
    scanned.get_item(0)
}

/// A `str` argument; any other type is a `TypeError` naming `arg` (pyo3's
/// own message would name it only in a note, and not before Python 3.11).
pub fn str_arg(obj: &Bound<'_, PyAny>, arg: &str) -> PyResult<String> {
    match obj.cast::<PyString>() {
        Ok(text) => Ok(py_str::text(text)?.to_owned()),
        Err(_) => Err(wrong_type(arg, "a str", obj)),
    }
}

/// A `str` argument borrowed from the object: a document's text is read
/// where Python keeps it, without a copy (a 5 MB canvas is 1,200 pages to
/// allocate and write). The object cannot change: a `str` is immutable and
/// the caller's reference keeps it alive, also while the GIL is released.
pub fn str_ref<'a>(obj: &'a Bound<'_, PyAny>, arg: &str) -> PyResult<&'a str> {
    match obj.cast::<PyString>() {
        Ok(text) => py_str::text(text),
        Err(_) => Err(wrong_type(arg, "a str", obj)),
    }
}

/// `TypeError: `arg` must be <what>, not <type>`.
pub fn wrong_type(arg: &str, what: &str, obj: &Bound<'_, PyAny>) -> PyErr {
    PyTypeError::new_err(format!("`{arg}` must be {what}, not {}", type_name(obj)))
}

/// The JSON text of an argument the core reads as text: a `str` as it is, a
/// dict, list or tuple written by [`to_json_text`]; anything else is a
/// `TypeError` saying `arg` must be `what`.
pub fn json_text_arg(obj: &Bound<'_, PyAny>, arg: &str, what: &str) -> PyResult<String> {
    if let Ok(text) = obj.cast::<PyString>() {
        return Ok(py_str::text(text)?.to_owned());
    }
    if obj.is_instance_of::<PyDict>()
        || obj.is_instance_of::<PyList>()
        || obj.is_instance_of::<PyTuple>()
    {
        return to_json_text(obj, arg);
    }
    Err(wrong_type(arg, what, obj))
}

/// Why a value could not be converted, and where: the path is collected on
/// the way out, so a value that converts pays nothing for it.
#[derive(Debug)]
pub struct Bad {
    kind: BadKind,
    /// Path segments from the innermost outwards.
    path: Vec<String>,
}

#[derive(Debug)]
pub enum BadKind {
    /// A Python type JSON has no place for (a `TypeError`).
    Type(String),
    /// A dict key that is not a `str` (a `TypeError`).
    Key(String),
    /// A value JSON cannot hold (`invalid_json`).
    Value(String),
    /// A Python error raised while reading (a failing `__str__`, ...).
    Raised(PyErr),
    /// A value of the wrong shape for what is read (`invalid_json`): an
    /// unknown op or field, a missing field, a str where a number belongs.
    Serde(String),
}

impl Bad {
    pub fn new(kind: BadKind) -> Self {
        Bad {
            kind,
            path: Vec::new(),
        }
    }

    pub fn at(mut self, segment: String) -> Self {
        self.path.push(segment);
        self
    }

    pub fn into_py_err(self, arg: &str) -> PyErr {
        let mut place = arg.to_owned();
        for segment in self.path.iter().rev().take(MAX_SHOWN_SEGMENTS) {
            place.push_str(segment);
        }
        if self.path.len() > MAX_SHOWN_SEGMENTS {
            place.push_str("...");
        }
        match self.kind {
            BadKind::Type(type_name) => PyTypeError::new_err(format!(
                "`{place}` is {} {type_name}, which is not JSON: pass None, bool, int, float, str, list, tuple or dict",
                article(&type_name)
            )),
            BadKind::Key(type_name) => PyTypeError::new_err(format!(
                "`{place}` has a key of type {type_name}: JSON object keys are str"
            )),
            BadKind::Value(what) => core_err(reelgraph::Error::InvalidJson {
                message: format!("`{place}` {what}"),
            }),
            BadKind::Raised(err) => err,
            BadKind::Serde(what) => core_err(reelgraph::Error::InvalidJson {
                message: format!("`{place}`: {what}"),
            }),
        }
    }
}

impl std::fmt::Display for Bad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            BadKind::Type(name) | BadKind::Key(name) => write!(f, "not JSON: {name}"),
            BadKind::Value(what) | BadKind::Serde(what) => f.write_str(what),
            BadKind::Raised(err) => write!(f, "{err}"),
        }
    }
}

impl std::error::Error for Bad {}

impl From<PyErr> for Bad {
    fn from(err: PyErr) -> Self {
        Bad::new(BadKind::Raised(err))
    }
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// Writes `obj` as compact JSON text into `out`.
fn write_at(obj: &Bound<'_, PyAny>, out: &mut Vec<u8>, depth: usize) -> Result<(), Bad> {
    // Exact types first: they are what callers pass almost always.
    if let Ok(s) = obj.cast::<PyString>() {
        return write_json(out, py_str::text(s)?);
    }
    if obj.is_none() {
        out.extend_from_slice(b"null");
        return Ok(());
    }
    // bool before int: in Python, True is an int.
    if let Ok(b) = obj.cast::<PyBool>() {
        out.extend_from_slice(if b.is_true() { b"true" } else { b"false" });
        return Ok(());
    }
    if obj.is_instance_of::<PyInt>() {
        return write_int(obj, out);
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        let x = f.value();
        if !x.is_finite() {
            return Err(Bad::new(BadKind::Value(not_finite(x))));
        }
        // serde_json's float format: shortest round-trip digits, `4.0` for 4.
        return write_json(out, &x);
    }
    if let Ok(dict) = obj.cast::<PyDict>() {
        let depth = deeper(depth)?;
        out.push(b'{');
        for (n, (key, item)) in dict.iter().enumerate() {
            let Ok(key) = key.cast::<PyString>() else {
                return Err(Bad::new(BadKind::Key(type_name(&key))));
            };
            let key = py_str::text(key)?;
            if n > 0 {
                out.push(b',');
            }
            write_json(out, key)?;
            out.push(b':');
            write_at(&item, out, depth).map_err(|bad| bad.at(format!(".{key}")))?;
        }
        out.push(b'}');
        return Ok(());
    }
    if let Ok(list) = obj.cast::<PyList>() {
        return write_items(list.iter(), out, depth);
    }
    if let Ok(tuple) = obj.cast::<PyTuple>() {
        return write_items(tuple.iter(), out, depth);
    }
    Err(Bad::new(BadKind::Type(type_name(obj))))
}

fn write_items<'py>(
    items: impl Iterator<Item = Bound<'py, PyAny>>,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<(), Bad> {
    let depth = deeper(depth)?;
    out.push(b'[');
    for (index, item) in items.enumerate() {
        if index > 0 {
            out.push(b',');
        }
        write_at(&item, out, depth).map_err(|bad| bad.at(format!("[{index}]")))?;
    }
    out.push(b']');
    Ok(())
}

/// A scalar in serde_json's own spelling (escapes, float digits).
fn write_json<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result<(), Bad> {
    serde_json::to_writer(out, value)
        .map_err(|e| Bad::new(BadKind::Value(format!("cannot be written as JSON: {e}"))))
}

fn write_int(obj: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> Result<(), Bad> {
    if let Ok(i) = obj.extract::<i64>() {
        return write_json(out, &i);
    }
    if let Ok(u) = obj.extract::<u64>() {
        return write_json(out, &u);
    }
    Err(Bad::new(BadKind::Value(BEYOND_64_BITS.to_owned())))
}

pub const BEYOND_64_BITS: &str = "is an integer beyond 64 bits: reelgraph reads integers \
    from -2^63 to 2^64-1; pass a smaller one, or a float or str if that is what you mean";

pub fn not_finite(x: f64) -> String {
    format!(
        "is {}: JSON has no NaN or infinity; pass a finite number",
        if x.is_nan() { "NaN" } else { "infinite" }
    )
}

fn deeper(depth: usize) -> Result<usize, Bad> {
    depth.checked_sub(1).ok_or_else(too_deep)
}

pub fn too_deep() -> Bad {
    Bad::new(BadKind::Value(format!(
        "nests lists and dicts more than {MAX_DEPTH} levels deep (or contains itself)"
    )))
}

pub fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .and_then(|name| Ok(name.to_cow()?.into_owned()))
        .unwrap_or_else(|_| "object".to_owned())
}
