//! The node-type spec: a node type is data, not code.
//!
//! Specs are parsed strictly: an unknown field anywhere is an error that names
//! the field, so a typo in a user's JSON never silently drops a constraint.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use regex::Regex;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::model::DataType;
use crate::quality::Quality;

/// One node type: its ports, properties, task mapping and migrations.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct NodeTypeSpec {
    /// The type name nodes refer to, e.g. `image_gen`.
    #[serde(rename = "type")]
    pub type_name: Arc<str>,
    /// Current version; nodes saved at an older version are migrated on load.
    #[serde(default = "one")]
    pub version: u32,
    /// Palette grouping: `story`, `assets`, `generation`, `post`, `output` or a user's own.
    pub category: String,
    /// Human title shown on the node.
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<InputSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<OutputSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<PropertySpec>,
    /// What this node hands to every node downstream of it, by channel name
    /// (e.g. a character provides `loras` and `trigger_words`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub provides: BTreeMap<String, Template>,
    /// How the node becomes a function-runner task; absent for pure data nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskSpec>,
    /// Steps that bring a node saved at `from_version` to `from_version + 1`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub migrations: Vec<Migration>,
}

fn one() -> u32 {
    1
}

/// An input port.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    pub name: Arc<str>,
    /// One type, or a union written as a list: `["image", "video"]`.
    #[serde(rename = "type")]
    pub accepts: Accepts,
    #[serde(default, skip_serializing_if = "is_false")]
    pub required: bool,
    /// Whether the input takes more than one edge.
    #[serde(default, skip_serializing_if = "is_false")]
    pub multiple: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// An output port.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    pub name: Arc<str>,
    #[serde(rename = "type")]
    pub data_type: DataType,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// The types an input accepts: one, or a union.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepts(pub Vec<DataType>);

impl Accepts {
    /// Whether the union lists `ty` itself (conversions are the catalogue's business).
    pub fn lists(&self, ty: &DataType) -> bool {
        self.0.iter().any(|t| t == ty)
    }
}

impl Serialize for Accepts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => one.serialize(s),
            many => many.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Accepts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(DataType),
            Many(Vec<DataType>),
        }
        Ok(match OneOrMany::deserialize(d)? {
            OneOrMany::One(t) => Accepts(vec![t]),
            OneOrMany::Many(ts) => Accepts(ts),
        })
    }
}

// Written as one type name or a list of them, as `Serialize` above writes it.
#[cfg(feature = "schema")]
impl schemars::JsonSchema for Accepts {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Accepts".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let one = generator.subschema_for::<DataType>();
        schemars::json_schema!({
            "description": "One type, or a union written as a list: `[\"image\", \"video\"]`.",
            "anyOf": [one, {"type": "array", "items": one, "minItems": 1}]
        })
    }
}

/// The kind of value a property holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PropertyKind {
    Text,
    Integer,
    Float,
    Boolean,
    Enum,
    /// A path or URI of an asset (image, LoRA file, audio clip).
    AssetRef,
    List,
    Object,
}

/// A property, or (inside `items` / `fields`) the shape of a nested value.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PropertySpec {
    /// Empty for `items` of a list.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub name: Arc<str>,
    #[serde(rename = "type")]
    pub kind: PropertyKind,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    /// Numbers: lowest allowed value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Numbers: highest allowed value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Text and asset refs: shortest allowed length in characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<usize>,
    /// Text and asset refs: longest allowed length in bytes (a default limit applies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<usize>,
    /// Lists: most items allowed (a default limit applies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_items: Option<usize>,
    /// Enums: the allowed values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// Text and asset refs: a regular expression the whole value must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// Must be set (and, for text, not empty) before the canvas validates.
    #[serde(default, skip_serializing_if = "is_false")]
    pub required: bool,
    /// Lists: the shape of each item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Box<PropertySpec>>,
    /// Objects: the allowed fields; absent means a free-form object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<PropertySpec>>,
    /// The property only matters when another property has one of these values
    /// (e.g. `radius` applies when `effect` is `blur`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applies_when: Option<AppliesWhen>,
    /// Whether the value changes what a run computes (false for notes, colours).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub affects_output: bool,
    #[serde(skip)]
    pub(crate) compiled_pattern: OnceLock<Regex>,
}

fn yes() -> bool {
    true
}
fn is_true(b: &bool) -> bool {
    *b
}
fn is_false(b: &bool) -> bool {
    !*b
}

impl PropertySpec {
    /// The compiled `pattern`; compiled once at registration.
    pub(crate) fn regex(&self) -> Option<&Regex> {
        self.compiled_pattern.get()
    }
}

/// A condition on a sibling property.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AppliesWhen {
    pub property: String,
    #[serde(rename = "in")]
    pub one_of: Vec<Value>,
}

/// How a node becomes a task for a function runner.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TaskSpec {
    /// The runner function, e.g. `image.generate`.
    pub function: String,
    /// Task parameters by name; a parameter that resolves to `null` is left out.
    #[serde(default)]
    pub params: BTreeMap<String, Template>,
    /// Preset values per quality tier, read by `{"quality": "name"}` templates.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub quality: BTreeMap<Quality, serde_json::Map<String, Value>>,
    /// Whether a `resource` error may retry the task one tier lower.
    #[serde(default, skip_serializing_if = "is_false")]
    pub quality_fallback: bool,
}

/// A value computed from a node's properties, inputs, upstream context and
/// quality tier. Written as a one-key object naming the source.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Template {
    /// A literal value.
    Value(Value),
    /// The node's own property (null when unset or when it does not apply).
    Property(String),
    /// A preset of the run's quality tier, from `task.quality`.
    Quality(String),
    /// Everything upstream nodes provide on a channel, in upstream order, without duplicates.
    Context(String),
    /// References to what arrives on an input port (one per edge).
    Input(String),
    /// Text with `{property.NAME}`, `{context.CHANNEL}`, `{quality.NAME}`,
    /// `{quality}` and `{node.id}` / `{node.label}` placeholders; lists join with ", ".
    Template(String),
    /// An object whose fields are templates; null fields are left out.
    Object(BTreeMap<String, Template>),
    /// A list of templates; null items are left out and nested lists flatten.
    List(Vec<Template>),
    /// `then` when the named property is set (and applies), otherwise null.
    IfSet(Box<IfSet>),
}

/// The body of an `if_set` template.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct IfSet {
    pub property: String,
    pub then: Template,
}

/// One migration step of a node type.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Migration {
    /// The version this step upgrades from (to `from_version + 1`).
    pub from_version: u32,
    /// Property renames, old name to new name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rename: BTreeMap<String, String>,
    /// Properties this step removes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
    /// Values set when the node does not have them yet.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub set_defaults: serde_json::Map<String, Value>,
}

impl NodeTypeSpec {
    /// The input port named `name`.
    pub fn input(&self, name: &str) -> Option<&InputSpec> {
        find_named(&self.inputs, name, |p| &p.name)
    }

    /// The output port named `name`.
    pub fn output(&self, name: &str) -> Option<&OutputSpec> {
        find_named(&self.outputs, name, |p| &p.name)
    }

    /// The property named `name`.
    pub fn property(&self, name: &str) -> Option<&PropertySpec> {
        find_named(&self.properties, name, |p| &p.name)
    }

    /// The place of property `name` in `properties`.
    pub(crate) fn property_position(&self, name: &str) -> Option<usize> {
        position_named(&self.properties, name, |p| &p.name)
    }

    /// The place of input `name` in `inputs`.
    pub(crate) fn input_position(&self, name: &str) -> Option<usize> {
        position_named(&self.inputs, name, |p| &p.name)
    }

    /// The place of output `name` in `outputs`.
    pub(crate) fn output_position(&self, name: &str) -> Option<usize> {
        position_named(&self.outputs, name, |p| &p.name)
    }
}

fn find_named<'a, T>(items: &'a [T], name: &str, key: impl Fn(&T) -> &Arc<str>) -> Option<&'a T> {
    position_named(items, name, key).map(|at| &items[at])
}

/// Finds by name: first by allocation (one pointer test each), then by text.
fn position_named<T>(items: &[T], name: &str, key: impl Fn(&T) -> &Arc<str>) -> Option<usize> {
    items
        .iter()
        .position(|item| {
            std::ptr::eq(key(item).as_ptr(), name.as_ptr()) && key(item).len() == name.len()
        })
        .or_else(|| items.iter().position(|item| **key(item) == *name))
}

/// Name equality with a fast path: canvases keep the spec's own name
/// allocations for ports and properties, so most comparisons are one pointer test.
pub(crate) fn same_name(spec_name: &Arc<str>, name: &str) -> bool {
    std::ptr::eq(spec_name.as_ptr(), name.as_ptr()) && spec_name.len() == name.len()
        || **spec_name == *name
}
