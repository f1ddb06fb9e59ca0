//! Operations: the only way a canvas changes.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::model::{Edge, Node, PortRef, Position, Story, Viewport};

mod read;
mod shared;

pub use shared::SharedOps;

// The variant list is written once, below; the macro gives `Op` and the
// externally tagged twin that `read` deserialises the fields into.
read::op_enum! {
/// One change to a canvas. Serialised with an `op` tag:
/// `{"op": "move_node", "id": "shot_1", "position": {"x": 0, "y": 0}}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Op {
    /// Adds a node; missing properties take their defaults.
    AddNode {
        id: String,
        #[serde(rename = "type")]
        node_type: String,
        /// The type version the properties are written for; older versions are
        /// migrated, absent means the catalogue's current version.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        type_version: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Option<String>,
        #[serde(default)]
        position: Position,
        #[serde(default, deserialize_with = "crate::unique_keys::map")]
        properties: Map<String, Value>,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "crate::unique_keys::option_value"
        )]
        ui: Option<Value>,
    },
    /// Removes a node together with its edges and its group memberships.
    RemoveNode {
        id: String,
    },
    /// Sets properties; `null` resets one to its default (or unsets it when
    /// it has none). `unset` removes values outright, defaults or not.
    /// `json!(f64::NAN)` is `null` too: build computed numbers with
    /// [`crate::limits::number`], which refuses NaN and infinity.
    SetProperties {
        id: String,
        #[serde(default, deserialize_with = "crate::unique_keys::map")]
        properties: Map<String, Value>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        unset: Vec<String>,
    },
    MoveNode {
        id: String,
        position: Position,
    },
    SetLabel {
        id: String,
        #[serde(default)]
        label: Option<String>,
    },
    /// Replaces a node's opaque editor state.
    SetUi {
        id: String,
        #[serde(default, deserialize_with = "crate::unique_keys::option_value")]
        ui: Option<Value>,
    },
    /// Connects an output port to an input port. Without an id, one is made
    /// from the ends (`source.port->target.port`).
    Connect {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        source: PortRef,
        target: PortRef,
    },
    Disconnect {
        id: String,
    },
    /// Puts a removed node back exactly as it was, at `index` in the canvas
    /// order (undo uses it). Its values are not re-checked: they were accepted
    /// once, and validation reports anything that no longer fits.
    RestoreNode {
        node: Node,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        index: Option<usize>,
    },
    /// Puts a removed edge back at `index` in the edge order (undo uses it).
    /// It becomes live when its ends exist and it closes no cycle; otherwise it
    /// is kept aside, as when loading, and validation reports it.
    RestoreEdge {
        edge: Edge,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        index: Option<usize>,
    },
    AddGroup {
        id: String,
        /// Position in the group order; absent means last.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        index: Option<usize>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Option<String>,
        #[serde(default)]
        nodes: Vec<String>,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "crate::unique_keys::option_value"
        )]
        ui: Option<Value>,
    },
    /// Replaces a group's label, members and editor state.
    SetGroup {
        id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Option<String>,
        #[serde(default)]
        nodes: Vec<String>,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "crate::unique_keys::option_value"
        )]
        ui: Option<Value>,
    },
    RemoveGroup {
        id: String,
    },
    /// Changes canvas-level settings; absent fields stay as they are.
    SetCanvas {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        viewport: Option<Viewport>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        story: Option<Story>,
        /// Replaces the whole metadata object.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "crate::unique_keys::option_map"
        )]
        metadata: Option<Map<String, Value>>,
    },
}
}

impl Op {
    /// The op's tag, as written in JSON.
    pub fn name(&self) -> &'static str {
        match self {
            Op::AddNode { .. } => "add_node",
            Op::RemoveNode { .. } => "remove_node",
            Op::SetProperties { .. } => "set_properties",
            Op::MoveNode { .. } => "move_node",
            Op::SetLabel { .. } => "set_label",
            Op::SetUi { .. } => "set_ui",
            Op::Connect { .. } => "connect",
            Op::Disconnect { .. } => "disconnect",
            Op::RestoreNode { .. } => "restore_node",
            Op::RestoreEdge { .. } => "restore_edge",
            Op::AddGroup { .. } => "add_group",
            Op::SetGroup { .. } => "set_group",
            Op::RemoveGroup { .. } => "remove_group",
            Op::SetCanvas { .. } => "set_canvas",
        }
    }

    /// Parses one op or a JSON array of ops, straight from the text.
    pub fn parse_list(text: &str) -> crate::Result<Vec<Op>> {
        if text.trim_start().starts_with('[') {
            Ok(serde_json::from_str(text)?)
        } else {
            Ok(vec![serde_json::from_str(text)?])
        }
    }

    /// Shorthand for a connect op with a generated edge id.
    pub fn connect(source: (&str, &str), target: (&str, &str)) -> Op {
        Op::Connect {
            id: None,
            source: PortRef::new(source.0, source.1),
            target: PortRef::new(target.0, target.1),
        }
    }

    /// Shorthand for an add_node op at the origin with the given properties.
    pub fn add_node(id: &str, node_type: &str, properties: Value) -> Op {
        Op::AddNode {
            id: id.into(),
            node_type: node_type.into(),
            type_version: None,
            label: None,
            position: Position::default(),
            properties: match properties {
                Value::Object(map) => map,
                _ => Map::new(),
            },
            ui: None,
        }
    }

    /// Shorthand for a set_properties op that sets the given properties.
    pub fn set_properties(id: &str, properties: Value) -> Op {
        Op::SetProperties {
            id: id.into(),
            properties: match properties {
                Value::Object(map) => map,
                _ => Map::new(),
            },
            unset: Vec::new(),
        }
    }
}
