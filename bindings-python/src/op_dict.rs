//! Op dicts read field by field into `reelgraph::Op`: the ops scripts send
//! most (`add_node`, `connect`, `set_properties`, ...), without serde's
//! generic walk over Python objects (`from_python`), which read each key
//! and value through several layers of visitors.
//!
//! Only the plain, valid form of an op is read here. Anything else (another
//! op, a value of an unexpected type, an unknown, missing or repeated field,
//! a value JSON cannot hold, nesting too deep) is read again by
//! `from_python`, which accepts what it always accepted and raises the same
//! error. So this reader has no errors of its own; it must never accept
//! what `from_python` refuses, and must give the same `Op` for what both
//! accept.

use pyo3::Borrowed;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use reelgraph::{Op, PortRef, Position};
use serde_json::map::Entry;
use serde_json::{Map, Number, Value};

use crate::convert::MAX_DEPTH;
use crate::from_python::{from_python, read_at};
use crate::py_str;

/// `ops` given as one op dict.
pub fn one(dict: &Bound<'_, PyDict>) -> PyResult<Op> {
    match read(dict, MAX_DEPTH) {
        Some(op) => Ok(op),
        None => from_python(dict, "ops"),
    }
}

/// `ops` given as a list or tuple of op dicts.
pub fn many<'py>(items: impl ExactSizeIterator<Item = Bound<'py, PyAny>>) -> PyResult<Vec<Op>> {
    // The list's own level of nesting, as `from_python` counts it.
    let depth = MAX_DEPTH - 1;
    let mut ops = Vec::with_capacity(items.len());
    for (index, item) in items.enumerate() {
        let op = match item
            .cast::<PyDict>()
            .ok()
            .and_then(|dict| read(dict, depth))
        {
            Some(op) => op,
            None => read_at(&item, depth)
                .map_err(|bad| bad.at(format!("[{index}]")).into_py_err("ops"))?,
        };
        ops.push(op);
    }
    Ok(ops)
}

/// A value of an op's dict, borrowed from it.
type Item<'a, 'py> = Borrowed<'a, 'py, PyAny>;

/// The entries of `dict`, borrowed: pyo3's iterator counts a reference to
/// each key and value and checks the dict's size at each step, which took
/// 15% of the instructions of reading the bench's ops.
fn entries<'a, 'py>(
    dict: &'a Bound<'py, PyDict>,
) -> impl Iterator<Item = (Item<'a, 'py>, Item<'a, 'py>)> {
    let mut pos: ffi::Py_ssize_t = 0;
    std::iter::from_fn(move || {
        let (mut key, mut value) = (std::ptr::null_mut(), std::ptr::null_mut());
        // SAFETY: `dict` is a live dict and the Bound proves the GIL is held.
        if unsafe { ffi::PyDict_Next(dict.as_ptr(), &mut pos, &mut key, &mut value) } == 0 {
            return None;
        }
        // SAFETY: PyDict_Next gave non-null references that `dict` owns.
        // They stay valid while `dict` is borrowed because nothing changes
        // it: this reader runs no Python code (it checks types and reads
        // str, int and float values of exact or subclassed built-in types,
        // none of which calls back into Python) and keeps the GIL (an abi3
        // module never runs without one).
        Some(unsafe {
            (
                Borrowed::from_ptr(dict.py(), key),
                Borrowed::from_ptr(dict.py(), value),
            )
        })
    })
}

/// The fields an op read here may have, as found in its dict.
#[derive(Default)]
struct Fields<'a, 'py> {
    op: Option<Item<'a, 'py>>,
    id: Option<Item<'a, 'py>>,
    node_type: Option<Item<'a, 'py>>,
    type_version: Option<Item<'a, 'py>>,
    label: Option<Item<'a, 'py>>,
    position: Option<Item<'a, 'py>>,
    properties: Option<Item<'a, 'py>>,
    ui: Option<Item<'a, 'py>>,
    unset: Option<Item<'a, 'py>>,
    source: Option<Item<'a, 'py>>,
    target: Option<Item<'a, 'py>>,
}

impl<'a, 'py> Fields<'a, 'py> {
    /// The fields of `dict`; None for a key that is not a str, not one of
    /// the fields, or given twice (a str subclass can make two equal keys).
    fn of(dict: &'a Bound<'py, PyDict>) -> Option<Self> {
        let mut fields = Fields::default();
        for (key, value) in entries(dict) {
            let slot = match text(&key)? {
                "op" => &mut fields.op,
                "id" => &mut fields.id,
                "type" => &mut fields.node_type,
                "type_version" => &mut fields.type_version,
                "label" => &mut fields.label,
                "position" => &mut fields.position,
                "properties" => &mut fields.properties,
                "ui" => &mut fields.ui,
                "unset" => &mut fields.unset,
                "source" => &mut fields.source,
                "target" => &mut fields.target,
                _ => return None,
            };
            if slot.replace(value).is_some() {
                return None;
            }
        }
        Some(fields)
    }

    /// Whether every field was taken by the op's reader: any left is one
    /// that op does not have. Destructured rather than listed, so that a
    /// field added to `Fields` cannot be left out of the check.
    fn all_taken(&self) -> bool {
        let Fields {
            op,
            id,
            node_type,
            type_version,
            label,
            position,
            properties,
            ui,
            unset,
            source,
            target,
        } = self;
        [
            op,
            id,
            node_type,
            type_version,
            label,
            position,
            properties,
            ui,
            unset,
            source,
            target,
        ]
        .iter()
        .all(|field| field.is_none())
    }
}

/// The op in `dict`, `depth` levels of nesting left; None when it is not a
/// plain op of a kind read here.
fn read(dict: &Bound<'_, PyDict>, depth: usize) -> Option<Op> {
    let depth = depth.checked_sub(1)?;
    let mut f = Fields::of(dict)?;
    let tag = f.op.take()?;
    let op = match text(&tag)? {
        "add_node" => Op::AddNode {
            id: string(&*f.id.take()?)?,
            node_type: string(&*f.node_type.take()?)?,
            type_version: optional(f.type_version.take(), u32_of)?,
            label: optional(f.label.take(), string)?,
            position: match f.position.take() {
                Some(position) => position_of(&position, depth)?,
                None => Position::default(),
            },
            properties: match f.properties.take() {
                Some(properties) => object(&properties, depth)?,
                None => Map::new(),
            },
            ui: optional(f.ui.take(), |ui| value(ui, depth))?,
        },
        "connect" => Op::Connect {
            id: optional(f.id.take(), string)?,
            source: port(&*f.source.take()?, depth)?,
            target: port(&*f.target.take()?, depth)?,
        },
        "set_properties" => Op::SetProperties {
            id: string(&*f.id.take()?)?,
            properties: match f.properties.take() {
                Some(properties) => object(&properties, depth)?,
                None => Map::new(),
            },
            unset: match f.unset.take() {
                Some(unset) => strings(&unset, depth)?,
                None => Vec::new(),
            },
        },
        "move_node" => Op::MoveNode {
            id: string(&*f.id.take()?)?,
            position: position_of(&*f.position.take()?, depth)?,
        },
        "set_label" => Op::SetLabel {
            id: string(&*f.id.take()?)?,
            label: optional(f.label.take(), string)?,
        },
        "remove_node" => Op::RemoveNode {
            id: string(&*f.id.take()?)?,
        },
        "disconnect" => Op::Disconnect {
            id: string(&*f.id.take()?)?,
        },
        _ => return None,
    };
    f.all_taken().then_some(op)
}

/// An optional field: absent or None is `None`.
fn optional<T>(
    field: Option<Item<'_, '_>>,
    read: impl FnOnce(&Bound<'_, PyAny>) -> Option<T>,
) -> Option<Option<T>> {
    match field {
        Some(obj) if !obj.is_none() => read(&obj).map(Some),
        _ => Some(None),
    }
}

/// The text of a str (a key, a tag or a value).
fn text<'a>(obj: &'a Bound<'_, PyAny>) -> Option<&'a str> {
    py_str::text(obj.cast::<PyString>().ok()?).ok()
}

fn string(obj: &Bound<'_, PyAny>) -> Option<String> {
    text(obj).map(str::to_owned)
}

/// A `u32` as serde reads one: an int (not a bool) in range.
fn u32_of(obj: &Bound<'_, PyAny>) -> Option<u32> {
    if obj.is_instance_of::<PyBool>() || !obj.is_instance_of::<PyInt>() {
        return None;
    }
    u32::try_from(obj.extract::<i64>().ok()?).ok()
}

/// An `f64` as serde reads one: a finite float, or an int (not a bool)
/// within 64 bits.
fn number(obj: &Bound<'_, PyAny>) -> Option<f64> {
    if let Ok(f) = obj.cast::<PyFloat>() {
        let x = f.value();
        return x.is_finite().then_some(x);
    }
    if obj.is_instance_of::<PyBool>() || !obj.is_instance_of::<PyInt>() {
        return None;
    }
    if let Ok(i) = obj.extract::<i64>() {
        return Some(i as f64);
    }
    obj.extract::<u64>().ok().map(|u| u as f64)
}

/// `{"x": .., "y": ..}`.
fn position_of(obj: &Bound<'_, PyAny>, depth: usize) -> Option<Position> {
    let (x, y) = two_fields(obj, depth, ["x", "y"], number)?;
    Some(Position::new(x, y))
}

/// `{"node": .., "port": ..}`.
fn port(obj: &Bound<'_, PyAny>, depth: usize) -> Option<PortRef> {
    let (node, port) = two_fields(obj, depth, ["node", "port"], string)?;
    Some(PortRef::new(node, port))
}

/// A dict of exactly the fields `names`, each once, each read by `read`.
fn two_fields<T>(
    obj: &Bound<'_, PyAny>,
    depth: usize,
    names: [&str; 2],
    read: impl Fn(&Bound<'_, PyAny>) -> Option<T>,
) -> Option<(T, T)> {
    let dict = obj.cast::<PyDict>().ok()?;
    depth.checked_sub(1)?;
    let (mut first, mut second) = (None, None);
    for (key, value) in entries(dict) {
        let key = text(&key)?;
        let slot = if key == names[0] {
            &mut first
        } else if key == names[1] {
            &mut second
        } else {
            return None;
        };
        if slot.replace(read(&value)?).is_some() {
            return None;
        }
    }
    Some((first?, second?))
}

/// A list or tuple of str.
fn strings(obj: &Bound<'_, PyAny>, depth: usize) -> Option<Vec<String>> {
    depth.checked_sub(1)?;
    if let Ok(list) = obj.cast::<PyList>() {
        return list.iter().map(|item| string(&item)).collect();
    }
    obj.cast::<PyTuple>()
        .ok()?
        .iter()
        .map(|item| string(&item))
        .collect()
}

/// A dict as a JSON object.
fn object(obj: &Bound<'_, PyAny>, depth: usize) -> Option<Map<String, Value>> {
    let depth = depth.checked_sub(1)?;
    let mut map = Map::new();
    for (key, item) in entries(obj.cast::<PyDict>().ok()?) {
        let key = text(&key)?;
        let Entry::Vacant(slot) = map.entry(key) else {
            return None;
        };
        slot.insert(value(&item, depth)?);
    }
    Some(map)
}

/// Any JSON value, by the rules of `from_python`: the same types in the
/// same order (a bool before an int), the same limits.
fn value(obj: &Bound<'_, PyAny>, depth: usize) -> Option<Value> {
    if let Ok(s) = obj.cast::<PyString>() {
        return Some(Value::String(py_str::text(s).ok()?.to_owned()));
    }
    if obj.is_none() {
        return Some(Value::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Some(Value::Bool(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(i) = obj.extract::<i64>() {
            return Some(Value::from(i));
        }
        return obj.extract::<u64>().ok().map(Value::from);
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Number::from_f64(f.value()).map(Value::Number);
    }
    if obj.is_instance_of::<PyDict>() {
        return object(obj, depth).map(Value::Object);
    }
    let depth = depth.checked_sub(1)?;
    if let Ok(list) = obj.cast::<PyList>() {
        return list
            .iter()
            .map(|item| value(&item, depth))
            .collect::<Option<_>>()
            .map(Value::Array);
    }
    if let Ok(tuple) = obj.cast::<PyTuple>() {
        return tuple
            .iter()
            .map(|item| value(&item, depth))
            .collect::<Option<_>>()
            .map(Value::Array);
    }
    None
}
