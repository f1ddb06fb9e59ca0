//! ComfyUI classes as reelgraph node types: type mapping, what a workflow
//! shows of each class, and merging that into the catalogue.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::CATEGORY;
use crate::catalog::{
    Accepts, Catalog, InputSpec, Migration, NodeTypeSpec, OutputSpec, PropertyKind, PropertySpec,
};
use crate::model::DataType;

/// Longest text widget value kept as a property, in bytes.
pub(super) const MAX_TEXT_BYTES: usize = 4 << 20;
/// Most items of a list widget value kept as a property.
pub(super) const MAX_LIST_ITEMS: usize = 1 << 16;

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
        if t.as_str() == DataType::ANY {
            return vec![t];
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
    pub inputs: Vec<(String, Vec<DataType>)>,
    pub outputs: Vec<(String, DataType)>,
    /// Output names whose type differed between nodes.
    pub widened: Vec<String>,
    pub widgets: Vec<(String, Vec<Value>)>,
}

impl ClassInfo {
    pub fn add_input(&mut self, name: &str, types: Vec<DataType>) {
        match self.inputs.iter_mut().find(|(n, _)| n == name) {
            Some((_, accepts)) => union_into(accepts, &types),
            None => self.inputs.push((name.to_owned(), types)),
        }
    }

    pub fn add_output(&mut self, name: &str, ty: DataType) {
        match self.outputs.iter_mut().find(|(n, _)| n == name) {
            Some((_, existing)) if *existing != ty => {
                *existing = DataType::new(DataType::ANY);
                self.widened.push(name.to_owned());
            }
            Some(_) => {}
            None => self.outputs.push((name.to_owned(), ty)),
        }
    }

    pub fn add_widget(&mut self, name: &str, value: &Value) {
        match self.widgets.iter_mut().find(|(n, _)| n == name) {
            Some((_, values)) => values.push(value.clone()),
            None => self.widgets.push((name.to_owned(), vec![value.clone()])),
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
    for (name, types) in &info.inputs {
        match spec.inputs.iter_mut().find(|p| &*p.name == name) {
            Some(port) => {
                let before = port.accepts.0.len();
                let was_any = port.accepts.0.iter().any(|t| t.as_str() == DataType::ANY);
                union_into(&mut port.accepts.0, types);
                let is_any = port.accepts.0.iter().any(|t| t.as_str() == DataType::ANY);
                changed |= port.accepts.0.len() != before || was_any != is_any;
            }
            None => {
                spec.inputs.push(InputSpec {
                    name: Arc::from(name.as_str()),
                    accepts: Accepts(types.clone()),
                    required: false,
                    multiple: false,
                    description: String::new(),
                });
                changed = true;
            }
        }
    }
    for (name, ty) in &info.outputs {
        match spec.outputs.iter_mut().find(|p| &*p.name == name) {
            Some(port) if port.data_type != *ty && port.data_type.as_str() != DataType::ANY => {
                port.data_type = DataType::new(DataType::ANY);
                changed = true;
            }
            Some(_) => {}
            None => {
                spec.outputs.push(OutputSpec {
                    name: Arc::from(name.as_str()),
                    data_type: ty.clone(),
                    description: String::new(),
                });
                changed = true;
            }
        }
    }
    for (name, values) in &info.widgets {
        let kind = infer_kind(values.iter());
        match spec.properties.iter_mut().find(|p| &*p.name == name) {
            Some(prop) => {
                if prop.kind == PropertyKind::Integer
                    && kind.as_ref().is_some_and(|k| k.0 == PropertyKind::Float)
                {
                    prop.kind = PropertyKind::Float;
                    changed = true;
                }
            }
            None => {
                spec.properties.push(property(name, kind));
                changed = true;
            }
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

/// The kind of a property (and of its list items) that holds `values`: the
/// kind of the first value, widened from integer to float when a fraction
/// shows up. `None` when every value is null.
#[derive(Debug, Clone)]
struct Kind(PropertyKind, Option<Box<Kind>>);

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
        let Some(k) = kind_of(v) else { continue };
        match &mut kind {
            None => kind = Some(k),
            Some(current) => {
                if current.0 == PropertyKind::Integer && k.0 == PropertyKind::Float {
                    current.0 = PropertyKind::Float;
                }
            }
        }
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
    if super::widgets::is_control(name) {
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
