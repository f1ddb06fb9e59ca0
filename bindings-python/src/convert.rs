//! Python objects <-> JSON values (`serde_json::Value`), the one wire format.
//!
//! Everything a Python caller hands in that the core reads as JSON (op
//! dicts, documents, specs, options) goes through [`to_value`]; everything
//! the core hands back is serialised by the core's serde and turned into
//! plain dicts and lists by [`to_py`] / [`serialize`]. JSON has no NaN, no
//! infinity and (for reelgraph) no integer past 64 bits, so those are
//! refused here with `invalid_json`, naming the argument and where in it:
//! never turned into `null` or rounded.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde::Serialize;
use serde_json::{Map, Number, Value};

use crate::errors::core_err;

/// Deepest nesting read from Python: the limit of the core's JSON reader, so
/// an object that contains itself is refused rather than followed forever.
const MAX_DEPTH: usize = 128;
/// Path segments an error shows before it cuts the path short.
const MAX_SHOWN_SEGMENTS: usize = 12;

/// Converts a Python value to JSON: `None`, `bool`, `int` (within 64 bits),
/// finite `float`, `str`, `list`/`tuple` and `dict` with `str` keys.
/// `arg` names the argument in errors (`ops[2].properties.seed`).
pub fn to_value(obj: &Bound<'_, PyAny>, arg: &str) -> PyResult<Value> {
    value_at(obj, MAX_DEPTH).map_err(|bad| bad.into_py_err(arg))
}

/// A JSON value as plain Python objects (dicts, lists, str, int, float,
/// bool, None).
pub fn to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => number_to_py(py, n)?,
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (key, item) in map {
                dict.set_item(key, to_py(py, item)?)?;
            }
            dict.into_any()
        }
    })
}

/// Anything the core serialises (a report, a document, an event) as plain
/// Python objects, through the core's own serde.
pub fn serialize<'py, T: Serialize + ?Sized>(
    py: Python<'py>,
    value: &T,
) -> PyResult<Bound<'py, PyAny>> {
    let value = serde_json::to_value(value).map_err(|e| core_err(e.into()))?;
    to_py(py, &value)
}

/// A `str` argument; any other type is a `TypeError` naming `arg` (pyo3's
/// own message would name it only in a note, and not before Python 3.11).
pub fn str_arg(obj: &Bound<'_, PyAny>, arg: &str) -> PyResult<String> {
    match obj.cast::<PyString>() {
        Ok(text) => Ok(text.to_cow()?.into_owned()),
        Err(_) => Err(wrong_type(arg, "a str", obj)),
    }
}

/// `TypeError: `arg` must be <what>, not <type>`.
pub fn wrong_type(arg: &str, what: &str, obj: &Bound<'_, PyAny>) -> PyErr {
    PyTypeError::new_err(format!("`{arg}` must be {what}, not {}", type_name(obj)))
}

/// An argument the core takes as JSON text or as its parsed value: a `str`
/// is the text as it is, anything else is converted with [`to_value`].
pub enum JsonArg {
    Text(String),
    Value(Value),
}

impl JsonArg {
    pub fn extract(obj: &Bound<'_, PyAny>, arg: &str) -> PyResult<JsonArg> {
        match obj.cast::<PyString>() {
            Ok(text) => Ok(JsonArg::Text(text.to_cow()?.into_owned())),
            Err(_) => to_value(obj, arg).map(JsonArg::Value),
        }
    }
}

fn number_to_py<'py>(py: Python<'py>, n: &Number) -> PyResult<Bound<'py, PyAny>> {
    if let Some(i) = n.as_i64() {
        Ok(i.into_pyobject(py)?.into_any())
    } else if let Some(u) = n.as_u64() {
        Ok(u.into_pyobject(py)?.into_any())
    } else {
        // serde_json holds only finite floats.
        Ok(PyFloat::new(py, n.as_f64().unwrap_or_default()).into_any())
    }
}

/// Why a value could not be converted, and where: the path is collected on
/// the way out, so a value that converts pays nothing for it.
struct Bad {
    kind: BadKind,
    /// Path segments from the innermost outwards.
    path: Vec<String>,
}

enum BadKind {
    /// A Python type JSON has no place for (a `TypeError`).
    Type(String),
    /// A dict key that is not a `str` (a `TypeError`).
    Key(String),
    /// A value JSON cannot hold (`invalid_json`).
    Value(String),
    /// A Python error raised while reading (a failing `__str__`, ...).
    Raised(PyErr),
}

impl Bad {
    fn new(kind: BadKind) -> Self {
        Bad {
            kind,
            path: Vec::new(),
        }
    }

    fn at(mut self, segment: String) -> Self {
        self.path.push(segment);
        self
    }

    fn into_py_err(self, arg: &str) -> PyErr {
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
        }
    }
}

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

fn value_at(obj: &Bound<'_, PyAny>, depth: usize) -> Result<Value, Bad> {
    // Exact types first: they are what callers pass almost always.
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(s.to_cow()?.into_owned()));
    }
    if obj.is_none() {
        return Ok(Value::Null);
    }
    // bool before int: in Python, True is an int.
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        return int_value(obj);
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        let x = f.value();
        return match Number::from_f64(x) {
            Some(n) => Ok(Value::Number(n)),
            None => Err(Bad::new(BadKind::Value(format!(
                "is {}: JSON has no NaN or infinity; pass a finite number",
                if x.is_nan() { "NaN" } else { "infinite" }
            )))),
        };
    }
    if let Ok(dict) = obj.cast::<PyDict>() {
        let depth = deeper(depth)?;
        let mut map = Map::new();
        for (key, item) in dict.iter() {
            let Ok(key) = key.cast::<PyString>() else {
                return Err(Bad::new(BadKind::Key(type_name(&key))));
            };
            let key = key.to_cow()?.into_owned();
            match value_at(&item, depth) {
                Ok(value) => {
                    map.insert(key, value);
                }
                Err(bad) => return Err(bad.at(format!(".{key}"))),
            }
        }
        return Ok(Value::Object(map));
    }
    if let Ok(list) = obj.cast::<PyList>() {
        let depth = deeper(depth)?;
        let mut items = Vec::with_capacity(list.len());
        for (index, item) in list.iter().enumerate() {
            items.push(value_at(&item, depth).map_err(|bad| bad.at(format!("[{index}]")))?);
        }
        return Ok(Value::Array(items));
    }
    if let Ok(tuple) = obj.cast::<PyTuple>() {
        let depth = deeper(depth)?;
        let mut items = Vec::with_capacity(tuple.len());
        for (index, item) in tuple.iter().enumerate() {
            items.push(value_at(&item, depth).map_err(|bad| bad.at(format!("[{index}]")))?);
        }
        return Ok(Value::Array(items));
    }
    Err(Bad::new(BadKind::Type(type_name(obj))))
}

fn int_value(obj: &Bound<'_, PyAny>) -> Result<Value, Bad> {
    if let Ok(i) = obj.extract::<i64>() {
        return Ok(Value::from(i));
    }
    if let Ok(u) = obj.extract::<u64>() {
        return Ok(Value::from(u));
    }
    Err(Bad::new(BadKind::Value(
        "is an integer beyond 64 bits: reelgraph reads integers from -2^63 to 2^64-1; \
         pass a smaller one, or a float or str if that is what you mean"
            .to_owned(),
    )))
}

fn deeper(depth: usize) -> Result<usize, Bad> {
    depth.checked_sub(1).ok_or_else(|| {
        Bad::new(BadKind::Value(format!(
            "nests lists and dicts more than {MAX_DEPTH} levels deep (or contains itself)"
        )))
    })
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .and_then(|name| Ok(name.to_cow()?.into_owned()))
        .unwrap_or_else(|_| "object".to_owned())
}
