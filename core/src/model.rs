//! The canvas document as it is written and read: plain serde types.
//!
//! [`crate::Canvas`] is the live, indexed form; these are its wire shapes.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::unique_keys::UniqueValue;

/// The `format` string of every canvas document.
pub const CANVAS_FORMAT: &str = "reelgraph.canvas";
/// The newest `format_version` this build reads and the one it writes.
/// Version 1 kept story settings as loose `metadata.structure` and
/// `metadata.page_count` keys; version 2 gives them the typed `story` section.
pub const FORMAT_VERSION: u32 = 2;
/// Longest id, in bytes.
pub const MAX_ID_BYTES: usize = 128;

/// A port data type (`image`, `lora`, `shot`, ...). An open set: user node types
/// may bring their own.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(transparent)]
pub struct DataType(pub Arc<str>);

impl DataType {
    /// The input type that accepts every output.
    pub const ANY: &'static str = "any";

    pub fn new(name: &str) -> Self {
        DataType(Arc::from(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A point on the canvas plane. Layout only: it never changes what a run computes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Position {
    pub x: f64,
    pub y: f64,
}

impl Position {
    pub fn new(x: f64, y: f64) -> Self {
        Position { x, y }
    }
}

/// The editor's view of the canvas.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Viewport {
    pub x: f64,
    pub y: f64,
    pub zoom: f64,
}

impl Default for Viewport {
    fn default() -> Self {
        Viewport {
            x: 0.0,
            y: 0.0,
            zoom: 1.0,
        }
    }
}

/// One end of an edge: a node and one of its ports, by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PortRef {
    pub node: String,
    pub port: String,
}

impl PortRef {
    pub fn new(node: impl Into<String>, port: impl Into<String>) -> Self {
        PortRef {
            node: node.into(),
            port: port.into(),
        }
    }
}

/// A node of a canvas document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Node {
    pub id: String,
    #[serde(rename = "type")]
    pub node_type: String,
    pub type_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default)]
    pub position: Position,
    #[serde(default, deserialize_with = "crate::unique_keys::map")]
    pub properties: Map<String, Value>,
    /// Opaque editor state; kept as given.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::unique_keys::option_value"
    )]
    pub ui: Option<Value>,
}

/// An edge of a canvas document: output port to input port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Edge {
    pub id: String,
    pub source: PortRef,
    pub target: PortRef,
}

/// A named set of nodes (a frame on the canvas).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Group {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default)]
    pub nodes: Vec<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::unique_keys::option_value"
    )]
    pub ui: Option<Value>,
}

/// The story-structure template whose checks validation runs (as warnings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum StoryStructure {
    /// Three acts near 25 / 50 / 25 % of the running time.
    ThreeAct,
    /// Seven plot points at set places in the story.
    SevenPoint,
    /// Save the Cat's fifteen beats on their pages.
    BeatSheet,
}

/// Story settings of a canvas.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Story {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub structure: Option<StoryStructure>,
    /// Script length in pages, for beat-sheet checks (110 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_count: Option<u32>,
}

impl Story {
    pub fn is_empty(&self) -> bool {
        self.structure.is_none() && self.page_count.is_none()
    }
}

/// A whole canvas document, `format: "reelgraph.canvas"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CanvasDocument {
    pub format: String,
    pub format_version: u32,
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub revision: u64,
    #[serde(default)]
    pub created_at: String,
    #[serde(default)]
    pub updated_at: String,
    #[serde(default)]
    pub nodes: Vec<Node>,
    #[serde(default)]
    pub edges: Vec<Edge>,
    #[serde(default)]
    pub groups: Vec<Group>,
    #[serde(default)]
    pub viewport: Viewport,
    #[serde(default, skip_serializing_if = "Story::is_empty")]
    pub story: Story,
    /// Free-form data of the application that owns the canvas.
    #[serde(default, deserialize_with = "crate::unique_keys::map")]
    pub metadata: Map<String, Value>,
}

/// A canvas document as it is written, with borrowed fields and the node,
/// edge and group lists in whatever form the writer has them (a canvas
/// streams them from its maps; the store writes the nodes apart). The same
/// bytes as a [`CanvasDocument`] with those lists.
#[derive(Serialize)]
pub(crate) struct DocumentOut<'a, N, E, G> {
    pub format: &'a str,
    pub format_version: u32,
    pub id: &'a str,
    pub name: &'a str,
    pub revision: u64,
    pub created_at: &'a str,
    pub updated_at: &'a str,
    pub nodes: N,
    pub edges: E,
    pub groups: G,
    pub viewport: &'a Viewport,
    #[serde(skip_serializing_if = "story_is_empty")]
    pub story: &'a Story,
    pub metadata: &'a Map<String, Value>,
}

fn story_is_empty(story: &&Story) -> bool {
    story.is_empty()
}

impl CanvasDocument {
    /// Parses a document, checking `format` and `format_version` before the
    /// rest so that a newer document is refused with a clear error, never
    /// half-read. Older versions are migrated step by step. Unknown fields are
    /// refused (with the field named): applications keep their own data in
    /// `metadata`, node `ui` or group `ui`, never in new top-level fields.
    pub fn from_json(text: &str) -> Result<Self> {
        // Fast path: a current document parses once.
        let parsed = serde_json::from_str::<CanvasDocument>(text);
        if let Ok(doc) = &parsed
            && doc.format == CANVAS_FORMAT
            && doc.format_version == FORMAT_VERSION
        {
            return parsed.map_err(Error::from);
        }
        // Otherwise read just the header, to say precisely what is wrong or to migrate.
        if let Some(found) = not_an_object(text)
            && serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
        {
            return Err(Error::NotAnObject {
                expected: "a canvas document (a JSON object with \"format\": \"reelgraph.canvas\")",
                found,
            });
        }
        #[derive(Deserialize)]
        struct Header {
            format: Option<Value>,
            format_version: Option<Value>,
        }
        let header: Header = serde_json::from_str(text)?;
        match header.format {
            Some(Value::String(f)) if f == CANVAS_FORMAT => {}
            other => {
                let found = match other {
                    None => "missing".to_owned(),
                    Some(Value::String(s)) => s,
                    Some(v) => v.to_string(),
                };
                return Err(Error::WrongFormat { found });
            }
        }
        match header.format_version.as_ref().and_then(Value::as_u64) {
            Some(v) if v > u64::from(FORMAT_VERSION) => Err(Error::UnsupportedFormatVersion {
                found: u32::try_from(v).unwrap_or(u32::MAX),
                supported: FORMAT_VERSION,
            }),
            Some(0) => Err(Error::InvalidField {
                field: "format_version",
                message: "format_version starts at 1".into(),
            }),
            Some(v) if v < u64::from(FORMAT_VERSION) => {
                let UniqueValue(value) = serde_json::from_str(text)?;
                Ok(serde_json::from_value(migrate_document(value, v))?)
            }
            _ => parsed.map_err(Error::from),
        }
    }
}

impl CanvasDocument {
    /// Brings an older document built in code (not parsed from text) to
    /// [`FORMAT_VERSION`]; a current one is returned as it is.
    pub fn migrated(self) -> Result<Self> {
        if self.format_version >= FORMAT_VERSION || self.format_version == 0 {
            return Ok(self);
        }
        let from = u64::from(self.format_version);
        let value = serde_json::to_value(self)?;
        Ok(serde_json::from_value(migrate_document(value, from))?)
    }
}

/// What a JSON text holds when it is not an object, as a message says it
/// (`None` for an object, or for text too broken to say).
pub(crate) fn not_an_object(text: &str) -> Option<&'static str> {
    match text.trim_start().bytes().next() {
        Some(b'{') => None,
        Some(b'[') => Some("a JSON array"),
        Some(b'"') => Some("a JSON string"),
        Some(b'0'..=b'9' | b'-') => Some("a JSON number"),
        Some(b't' | b'f') => Some("a JSON boolean"),
        Some(b'n') => Some("JSON null"),
        None => Some("an empty text"),
        Some(_) => None,
    }
}

/// Brings a parsed document from `format_version` `from` to [`FORMAT_VERSION`],
/// one step at a time.
fn migrate_document(mut doc: Value, from: u64) -> Value {
    if from < 2 {
        v1_to_v2(&mut doc);
    }
    doc
}

/// Version 2 moved `metadata.structure` and `metadata.page_count` into the
/// typed `story` section. Values version 2 cannot express stay in metadata.
fn v1_to_v2(doc: &mut Value) {
    let Some(obj) = doc.as_object_mut() else {
        return;
    };
    let mut story = Map::new();
    if let Some(Value::Object(metadata)) = obj.get_mut("metadata") {
        let known = ["three_act", "seven_point", "beat_sheet"];
        if metadata
            .get("structure")
            .and_then(Value::as_str)
            .is_some_and(|s| known.contains(&s))
        {
            story.insert(
                "structure".into(),
                metadata.remove("structure").unwrap_or_default(),
            );
        }
        if let Some(pages) = metadata
            .get("page_count")
            .and_then(Value::as_f64)
            .filter(|p| *p >= 1.0 && p.fract() == 0.0 && *p <= f64::from(u32::MAX))
        {
            metadata.remove("page_count");
            story.insert("page_count".into(), Value::from(pages as u32));
        }
    }
    if !story.is_empty() {
        obj.insert("story".into(), Value::Object(story));
    }
    obj.insert("format_version".into(), Value::from(2));
}

/// Checks an id given by a user: non-empty, at most [`MAX_ID_BYTES`], no control
/// characters, no surrounding white space.
pub fn check_id(id: &str) -> Result<()> {
    let problem = if id.is_empty() {
        Some("it is empty")
    } else if id.len() > MAX_ID_BYTES {
        Some("it is longer than 128 bytes")
    } else if has_control(id) {
        Some("it contains a control character")
    } else if id.starts_with(char::is_whitespace) || id.ends_with(char::is_whitespace) {
        Some("it has leading or trailing white space")
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(message) => Err(Error::InvalidId {
            id: id.chars().take(40).collect(),
            message: message.into(),
        }),
    }
}

/// Whether `id` holds a control character; ids are checked on every load and
/// save, so the common ASCII case is one scan without early exits, which the
/// compiler turns into vector code (a load's 30,000 ids took 9.3M
/// instructions with a check per byte).
fn has_control(id: &str) -> bool {
    let (mut high, mut control) = (0u8, false);
    for b in id.bytes() {
        high |= b;
        control |= b < 0x20 || b == 0x7f;
    }
    if high < 0x80 {
        control
    } else {
        id.chars().any(char::is_control)
    }
}

/// JSON equality with numbers compared by value, so `0` equals `0.0`: a
/// document written by JavaScript says `0` where Rust wrote `0.0`.
pub fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_value(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_value(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_found_in_ascii_and_other_ids() {
        for id in ["s\u{1}1", "s1\u{7f}", "\u{1f}s1", "sé\n", "s\u{85}1"] {
            assert!(has_control(id), "{id:?}");
        }
        for id in [
            "s1",
            "shot_233.image->composite_36.background",
            "sé1",
            "場面~",
        ] {
            assert!(!has_control(id), "{id:?}");
        }
    }
}
