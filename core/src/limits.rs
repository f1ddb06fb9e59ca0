//! The limits every way into a canvas enforces: ops, loading a document
//! (`Canvas::from_json`, `Canvas::from_document`, and so every import), and
//! every store's save. One set, so that nothing is accepted that a reader
//! would refuse later, and no input can make a canvas exhaust the machine.
//!
//! - Numbers are finite. JSON has no NaN or infinity (serde_json writes them
//!   as `null`), so a non-finite position or viewport would come back changed.
//! - Values (properties, `ui`, `metadata`, group `ui`) nest at most
//!   [`MAX_VALUE_DEPTH`] levels. The JSON reader stops at 128 levels of the
//!   whole document; 32 leaves room for the document's own structure.
//! - Labels, names and timestamps are at most [`MAX_LABEL_BYTES`], port names
//!   at most [`MAX_PORT_BYTES`]; a document at most [`MAX_DOCUMENT_BYTES`].
//! - Text, asset references and lists are at most [`DEFAULT_MAX_TEXT_BYTES`],
//!   [`DEFAULT_MAX_ASSET_REF_BYTES`] and [`DEFAULT_MAX_ITEMS`] long, unless
//!   their property spec says otherwise.

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::model::{CanvasDocument, Edge, Group, Node, Position, Viewport, check_id};

/// Deepest nesting of lists and objects in a property value, a `ui` value or
/// `metadata` (counted from the value itself: `[[1]]` is two levels).
pub const MAX_VALUE_DEPTH: usize = 32;
/// Longest label, canvas name or timestamp, in bytes.
pub const MAX_LABEL_BYTES: usize = 1_024;
/// Longest port name in an edge, in bytes (ports are named like ids).
pub const MAX_PORT_BYTES: usize = crate::model::MAX_ID_BYTES;
/// Largest document, in bytes of JSON, that is read or written.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024 * 1024;
/// Longest text value, in bytes, unless the spec sets `max_length`.
pub const DEFAULT_MAX_TEXT_BYTES: usize = 65_536;
/// Longest asset reference, in bytes, unless the spec sets `max_length`.
pub const DEFAULT_MAX_ASSET_REF_BYTES: usize = 4_096;
/// Most list items, unless the spec sets `max_items`.
pub const DEFAULT_MAX_ITEMS: usize = 1_024;

/// Whether `value` nests lists and objects deeper than `limit` levels.
/// Walks no deeper than `limit + 1`, so a value nested a million levels deep
/// costs no more than one nested `limit + 1`.
pub(crate) fn too_deep(value: &Value, limit: usize) -> bool {
    match value {
        Value::Array(items) => limit == 0 || items.iter().any(|v| too_deep(v, limit - 1)),
        Value::Object(map) => limit == 0 || map.values().any(|v| too_deep(v, limit - 1)),
        _ => false,
    }
}

/// Labels, names and timestamps: at most [`MAX_LABEL_BYTES`].
pub(crate) fn check_text(field: &'static str, text: &str) -> Result<()> {
    if text.len() > MAX_LABEL_BYTES {
        return Err(Error::InvalidField {
            field,
            message: format!(
                "the {field} is {} bytes long, more than {MAX_LABEL_BYTES}",
                text.len()
            ),
        });
    }
    Ok(())
}

pub(crate) fn check_position(p: Position) -> Result<()> {
    if p.x.is_finite() && p.y.is_finite() {
        Ok(())
    } else {
        Err(Error::InvalidField {
            field: "position",
            message: "position coordinates must be finite numbers".into(),
        })
    }
}

pub(crate) fn check_viewport(v: &Viewport) -> Result<()> {
    if v.x.is_finite() && v.y.is_finite() && v.zoom.is_finite() && v.zoom > 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidField {
            field: "viewport",
            message: "viewport x and y must be finite and zoom a finite number above 0".into(),
        })
    }
}

/// Opaque editor state (`ui` of a node or group).
pub(crate) fn check_ui(ui: Option<&Value>) -> Result<()> {
    match ui {
        Some(v) if too_deep(v, MAX_VALUE_DEPTH) => Err(Error::InvalidField {
            field: "ui",
            message: format!("ui is nested deeper than {MAX_VALUE_DEPTH} levels"),
        }),
        _ => Ok(()),
    }
}

/// The canvas's metadata object counts as the first of its levels.
pub(crate) fn check_metadata(metadata: &Map<String, Value>) -> Result<()> {
    if metadata.values().any(|v| too_deep(v, MAX_VALUE_DEPTH - 1)) {
        return Err(Error::InvalidField {
            field: "metadata",
            message: format!("metadata is nested deeper than {MAX_VALUE_DEPTH} levels"),
        });
    }
    Ok(())
}

/// A property value's depth; its kind, range and the rest are the
/// catalogue's business (`validate`), which loading leaves to the report.
pub(crate) fn check_property_depth(node: &str, name: &str, value: &Value) -> Result<()> {
    if too_deep(value, MAX_VALUE_DEPTH) {
        return Err(Error::property(
            node,
            name,
            format!("the value is nested deeper than {MAX_VALUE_DEPTH} levels"),
            "flatten the value; lists and objects may nest at most 32 levels",
        ));
    }
    Ok(())
}

/// Everything a document node must satisfy to be written and read back:
/// its id, label, position, `ui` and the depth of its property values.
/// Says which node when one does not.
pub(crate) fn check_node(node: &Node) -> Result<()> {
    check_id(&node.id)?;
    let in_node = |e: Error| in_node(&node.id, e);
    if let Some(label) = &node.label {
        check_text("label", label).map_err(in_node)?;
    }
    check_position(node.position).map_err(in_node)?;
    check_ui(node.ui.as_ref()).map_err(in_node)?;
    for (name, value) in &node.properties {
        check_property_depth(&node.id, name, value)?;
    }
    Ok(())
}

pub(crate) fn check_edge(edge: &Edge) -> Result<()> {
    check_id(&edge.id)?;
    for end in [&edge.source, &edge.target] {
        if end.port.len() > MAX_PORT_BYTES {
            return Err(Error::InvalidField {
                field: "port",
                message: format!(
                    "edge `{}` names a port of {} bytes, more than {MAX_PORT_BYTES}",
                    edge.id,
                    end.port.len()
                ),
            });
        }
    }
    Ok(())
}

pub(crate) fn check_group(group: &Group) -> Result<()> {
    check_id(&group.id)?;
    let in_group = |e: Error| match e {
        Error::InvalidField { field, message } => Error::InvalidField {
            field,
            message: format!("group `{}`: {message}", group.id),
        },
        other => other,
    };
    if let Some(label) = &group.label {
        check_text("label", label).map_err(in_group)?;
    }
    check_ui(group.ui.as_ref()).map_err(in_group)
}

/// The canvas-level fields of a document: id, name, timestamps, viewport,
/// story and metadata (nodes, edges and groups are checked one by one).
pub(crate) fn check_canvas_fields(doc: &CanvasDocument) -> Result<()> {
    check_id(&doc.id)?;
    check_text("name", &doc.name)?;
    check_text("created_at", &doc.created_at)?;
    check_text("updated_at", &doc.updated_at)?;
    check_viewport(&doc.viewport)?;
    if doc.story.page_count == Some(0) {
        return Err(Error::InvalidField {
            field: "story",
            message: "page_count must be at least 1".into(),
        });
    }
    check_metadata(&doc.metadata)
}

fn in_node(node: &str, e: Error) -> Error {
    match e {
        Error::InvalidField { field, message } => Error::InvalidField {
            field,
            message: format!("node `{node}`: {message}"),
        },
        other => other,
    }
}

/// A JSON number for `x`, or an `invalid_field` error when `x` is NaN or
/// infinite. `serde_json::json!(f64::NAN)` is `null`, which `set_properties`
/// reads as "reset to the default"; computed numbers go through this instead.
///
/// ```
/// use reelgraph::{Op, limits};
/// let ratio = 16.0 / 9.0;
/// let op = Op::set_properties("frame", serde_json::json!({ "cfg_scale": limits::number(ratio)? }));
/// assert_eq!(limits::number(0.0 / 0.0).unwrap_err().code(), "invalid_field");
/// # Ok::<(), reelgraph::Error>(())
/// ```
pub fn number(x: f64) -> Result<Value> {
    serde_json::Number::from_f64(x)
        .map(Value::Number)
        .ok_or_else(|| Error::InvalidField {
            field: "number",
            message: format!("{x} is not a finite number; JSON has no NaN or infinity"),
        })
}
