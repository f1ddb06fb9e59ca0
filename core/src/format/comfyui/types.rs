//! ComfyUI classes as reelgraph node types: type mapping, what a workflow
//! shows of each class, and merging that into the catalogue.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value;

use super::CATEGORY;
use super::workflow::MAX_SLOTS;
use crate::catalog::{
    Accepts, Catalog, InputSpec, Migration, NodeTypeSpec, OutputSpec, PropertyKind, PropertySpec,
};
use crate::model::DataType;

/// Longest text widget value kept as a property, in bytes.
pub(super) const MAX_TEXT_BYTES: usize = 4 << 20;
/// Most items of a list widget value kept as a property.
pub(super) const MAX_LIST_ITEMS: usize = 1 << 16;
/// Most properties (widgets) of an imported node type; other widget values
/// stay in the node's `ui`. No ComfyUI node has more than a few dozen, and a
/// canvas looks properties up by name one by one.
pub(super) const MAX_PROPERTIES: usize = 128;
/// Most types an input union lists; a wider one accepts anything.
const MAX_UNION: usize = 64;

/// The reelgraph data type of one ComfyUI type name.
pub(super) fn data_type(raw: &str) -> DataType {
    let t = raw.trim();
    let mapped = match t {
        "" | "*" => DataType::ANY,
        "IMAGE" => "image",
        "MASK" => "mask",
        "AUDIO" => "audio",
        "VIDEO" => "video",
        "STRING" => "text",
        "INT" => "integer",
        "FLOAT" => "float",
        "BOOLEAN" => "boolean",
        other => return DataType::new(&other.to_lowercase()),
    };
    DataType::new(mapped)
}

/// The types an input of ComfyUI type `raw` accepts (`IMAGE,MASK` is a union).
pub(super) fn input_types(raw: &str) -> Vec<DataType> {
    let mut out: Vec<DataType> = Vec::new();
    for part in raw.split(',') {
        let t = data_type(part);
        if t.as_str() == DataType::ANY || out.len() > MAX_UNION {
            return vec![DataType::new(DataType::ANY)];
        }
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

/// The type of an output of ComfyUI type `raw`: a union (an output whose type
/// depends on its inputs) is `any`.
pub(super) fn output_type(raw: &str) -> DataType {
    if raw.contains(',') {
        DataType::new(DataType::ANY)
    } else {
        data_type(raw)
    }
}

/// What the workflow shows of one class, in first-seen order.
#[derive(Debug, Default)]
pub(super) struct ClassInfo {
    pub inputs: IndexMap<String, Vec<DataType>>,
    pub outputs: IndexMap<String, DataType>,
    /// The kind of each widget's values so far (`None` while all are null).
    pub widgets: IndexMap<String, Option<Kind>>,
}

impl ClassInfo {
    pub fn add_input(&mut self, name: &str, types: Vec<DataType>) {
        let full = self.inputs.len() >= MAX_SLOTS;
        match self.inputs.get_mut(name) {
            Some(accepts) => union_into(accepts, &types),
            None if !full => {
                self.inputs.insert(name.to_owned(), types);
            }
            None => {}
        }
    }

    pub fn add_output(&mut self, name: &str, ty: DataType) {
        let full = self.outputs.len() >= MAX_SLOTS;
        match self.outputs.get_mut(name) {
            Some(existing) if *existing != ty => *existing = DataType::new(DataType::ANY),
            Some(_) => {}
            None if !full => {
                self.outputs.insert(name.to_owned(), ty);
            }
            None => {}
        }
    }

    pub fn add_widget(&mut self, name: &str, value: &Value) {
        let full = self.widgets.len() >= MAX_PROPERTIES;
        match self.widgets.get_mut(name) {
            Some(kind) => widen(kind, value),
            None if !full => {
                let mut kind = None;
                widen(&mut kind, value);
                self.widgets.insert(name.to_owned(), kind);
            }
            None => {}
        }
    }
}

fn union_into(accepts: &mut Vec<DataType>, more: &[DataType]) {
    if accepts.iter().any(|t| t.as_str() == DataType::ANY) {
        return;
    }
    if more.iter().any(|t| t.as_str() == DataType::ANY) {
        *accepts = vec![DataType::new(DataType::ANY)];
        return;
    }
    for t in more {
        if !accepts.contains(t) {
            accepts.push(t.clone());
        }
    }
    if accepts.len() > MAX_UNION {
        *accepts = vec![DataType::new(DataType::ANY)];
    }
}

/// The spec that covers both `existing` (if any) and what `info` shows, or
/// `None` when `existing` already covers it. A changed spec gets the next
/// version and a migration step that changes nothing: every port and
/// property of the old version is still there, so old nodes load as they are.
pub(super) fn merged_spec(
    type_name: &str,
    class: &str,
    existing: Option<&NodeTypeSpec>,
    info: &ClassInfo,
) -> Option<NodeTypeSpec> {
    let mut spec = match existing {
        Some(e) => e.clone(),
        None => NodeTypeSpec {
            type_name: Arc::from(type_name),
            version: 1,
            category: CATEGORY.into(),
            title: class.to_owned(),
            description: format!(
                "ComfyUI node class `{class}`, registered by the workflow importer from the ports and widgets its workflows use"
            ),
            inputs: Vec::new(),
            outputs: Vec::new(),
            properties: Vec::new(),
            provides: BTreeMap::new(),
            task: None,
            migrations: Vec::new(),
        },
    };
    let mut changed = existing.is_none();
    let mut at = positions(spec.inputs.iter().map(|p| &p.name));
    for (name, types) in &info.inputs {
        let full = spec.inputs.len() >= MAX_SLOTS;
        match at.get(name.as_str()).map(|&i| &mut spec.inputs[i]) {
            Some(port) => {
                let before = port.accepts.0.len();
                let was_any = port.accepts.0.iter().any(|t| t.as_str() == DataType::ANY);
                union_into(&mut port.accepts.0, types);
                let is_any = port.accepts.0.iter().any(|t| t.as_str() == DataType::ANY);
                changed |= port.accepts.0.len() != before || was_any != is_any;
            }
            None if !full => {
                at.insert(Arc::from(name.as_str()), spec.inputs.len());
                spec.inputs.push(InputSpec {
                    name: Arc::from(name.as_str()),
                    accepts: Accepts(types.clone()),
                    required: false,
                    multiple: false,
                    description: String::new(),
                });
                changed = true;
            }
            None => {}
        }
    }
    let mut at = positions(spec.outputs.iter().map(|p| &p.name));
    for (name, ty) in &info.outputs {
        let full = spec.outputs.len() >= MAX_SLOTS;
        match at.get(name.as_str()).map(|&i| &mut spec.outputs[i]) {
            Some(port) if port.data_type != *ty && port.data_type.as_str() != DataType::ANY => {
                port.data_type = DataType::new(DataType::ANY);
                changed = true;
            }
            Some(_) => {}
            None if !full => {
                at.insert(Arc::from(name.as_str()), spec.outputs.len());
                spec.outputs.push(OutputSpec {
                    name: Arc::from(name.as_str()),
                    data_type: ty.clone(),
                    description: String::new(),
                });
                changed = true;
            }
            None => {}
        }
    }
    let mut at = positions(spec.properties.iter().map(|p| &p.name));
    for (name, kind) in &info.widgets {
        let kind = kind.clone();
        let full = spec.properties.len() >= MAX_PROPERTIES;
        match at.get(name.as_str()).map(|&i| &mut spec.properties[i]) {
            Some(prop)
                if prop.kind == PropertyKind::Integer
                    && kind.as_ref().is_some_and(|k| k.0 == PropertyKind::Float) =>
            {
                prop.kind = PropertyKind::Float;
                changed = true;
            }
            Some(_) => {}
            None if !full => {
                at.insert(Arc::from(name.as_str()), spec.properties.len());
                spec.properties.push(property(name, kind));
                changed = true;
            }
            None => {}
        }
    }
    if !changed {
        return None;
    }
    if let Some(e) = existing {
        spec.version = e.version + 1;
        spec.migrations.push(Migration {
            from_version: e.version,
            rename: BTreeMap::new(),
            remove: Vec::new(),
            set_defaults: serde_json::Map::new(),
        });
    }
    Some(spec)
}

/// Where each name is, by name.
fn positions<'s>(names: impl Iterator<Item = &'s Arc<str>>) -> HashMap<Arc<str>, usize> {
    names.enumerate().map(|(i, n)| (n.clone(), i)).collect()
}

/// The kind of a property (and of its list items) that holds `values`: the
/// kind of the first value, widened from integer to float when a fraction
/// shows up. `None` when every value is null.
#[derive(Debug, Clone)]
pub(super) struct Kind(PropertyKind, Option<Box<Kind>>);

/// Folds one more value into the kind of a widget's values.
fn widen(kind: &mut Option<Kind>, value: &Value) {
    let Some(k) = kind_of(value) else { return };
    match kind {
        None => *kind = Some(k),
        Some(current) => {
            if current.0 == PropertyKind::Integer && k.0 == PropertyKind::Float {
                current.0 = PropertyKind::Float;
            }
        }
    }
}

fn kind_of(value: &Value) -> Option<Kind> {
    Some(match value {
        Value::Null => return None,
        Value::Bool(_) => Kind(PropertyKind::Boolean, None),
        Value::Number(n) if n.is_i64() => Kind(PropertyKind::Integer, None),
        Value::Number(_) => Kind(PropertyKind::Float, None),
        Value::String(_) => Kind(PropertyKind::Text, None),
        Value::Object(_) => Kind(PropertyKind::Object, None),
        Value::Array(items) => Kind(
            PropertyKind::List,
            Some(Box::new(
                infer_kind(items.iter()).unwrap_or(Kind(PropertyKind::Text, None)),
            )),
        ),
    })
}

fn infer_kind<'a>(values: impl Iterator<Item = &'a Value>) -> Option<Kind> {
    let mut kind: Option<Kind> = None;
    for v in values {
        widen(&mut kind, v);
    }
    kind
}

fn property(name: &str, kind: Option<Kind>) -> PropertySpec {
    let Kind(kind, items) = kind.unwrap_or(Kind(PropertyKind::Text, None));
    let mut p = PropertySpec::new(name, kind);
    match kind {
        PropertyKind::Text => p.max_length = Some(MAX_TEXT_BYTES),
        PropertyKind::List => {
            p.max_items = Some(MAX_LIST_ITEMS);
            p.items = Some(Box::new(item_spec(items.map(|b| *b))));
        }
        _ => {}
    }
    if super::class_widgets::is_editor_only(name) {
        p.affects_output = false;
    }
    p
}

fn item_spec(kind: Option<Kind>) -> PropertySpec {
    let Kind(kind, items) = kind.unwrap_or(Kind(PropertyKind::Text, None));
    let mut p = PropertySpec::new("", kind);
    match kind {
        PropertyKind::Text => p.max_length = Some(MAX_TEXT_BYTES),
        PropertyKind::List => {
            p.max_items = Some(MAX_LIST_ITEMS);
            p.items = Some(Box::new(item_spec(items.map(|b| *b))));
        }
        _ => {}
    }
    p
}

/// Declares that an untyped (`any`) output may feed inputs of every type the
/// spec's inputs accept, as LiteGraph lets a `*` output feed any input.
pub(super) fn declare_any_conversions(catalog: &Catalog, spec: &NodeTypeSpec) {
    for input in &spec.inputs {
        for t in &input.accepts.0 {
            if t.as_str() != DataType::ANY {
                catalog.add_conversion(DataType::new(DataType::ANY), t.clone());
            }
        }
    }
}
