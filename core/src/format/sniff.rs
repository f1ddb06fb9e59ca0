//! Telling a canvas file's format from its content, and importing it
//! whatever it is: what a command line, a server's upload endpoint or a
//! binding's `load(path)` all need, so it lives here once.

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::{comfyui, react_flow};
use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::model::{CanvasDocument, not_an_object};
use crate::report::Diagnostic;

/// The formats a canvas is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Format {
    /// The reelgraph canvas document (`"format": "reelgraph.canvas"`).
    Native,
    /// A React Flow / Svelte Flow object (`nodes`, `edges`, `viewport`).
    ReactFlow,
    /// A ComfyUI editor workflow (LiteGraph JSON, 0.4 or 1.x).
    ComfyuiWorkflow,
    /// A ComfyUI API prompt (`{"id": {"class_type", "inputs"}}`).
    ComfyuiApi,
}

impl Format {
    /// The snake_case name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Native => "native",
            Format::ReactFlow => "react_flow",
            Format::ComfyuiWorkflow => "comfyui_workflow",
            Format::ComfyuiApi => "comfyui_api",
        }
    }
}

impl Format {
    /// What a file of this format holds, as a message names it.
    fn object_name(self) -> &'static str {
        match self {
            Format::Native => {
                "a canvas document (a JSON object with \"format\": \"reelgraph.canvas\")"
            }
            Format::ReactFlow => "a React Flow object (a JSON object with `nodes` and `edges`)",
            Format::ComfyuiWorkflow => {
                "a ComfyUI workflow (a JSON object with `nodes` and `links`)"
            }
            Format::ComfyuiApi => "a ComfyUI API prompt (a JSON object of nodes with `class_type`)",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A document read in any format, and what the import had to say.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Imported {
    pub format: Format,
    /// The canvas document (load it with [`crate::Canvas::from_document`]
    /// and the catalogue given to [`import_any`]).
    pub canvas: CanvasDocument,
    /// What an import skipped or could not fit (empty for native documents).
    pub diagnostics: Vec<Diagnostic>,
    /// Node types a ComfyUI import registered in the catalogue.
    pub registered_types: Vec<String>,
}

/// Tells the format of a JSON text from its top-level keys: `format` makes
/// it native (a wrong `format` value is the native reader's to refuse),
/// `nodes` with `links` a ComfyUI workflow, `nodes` with `edges` or
/// `viewport` React Flow, and an object whose every value has a string
/// `class_type` a ComfyUI API prompt. Anything else is `unknown_format`;
/// text that is not JSON is `invalid_json`.
///
/// ```
/// use reelgraph::format::{Format, detect};
/// assert_eq!(detect(r#"{"nodes": [], "edges": []}"#)?, Format::ReactFlow);
/// assert_eq!(detect(r#"{"3": {"class_type": "KSampler", "inputs": {}}}"#)?, Format::ComfyuiApi);
/// assert_eq!(detect("[1, 2]").unwrap_err().code(), "unknown_format");
/// # Ok::<(), reelgraph::Error>(())
/// ```
pub fn detect(text: &str) -> Result<Format> {
    let top: TopLevel = serde_json::from_str(text).map_err(|e| {
        let is_json = || serde_json::from_str::<IgnoredAny>(text).is_ok();
        if e.classify() == serde_json::error::Category::Data && is_json() {
            // Valid JSON, but not an object.
            Error::UnknownFormat {
                found: not_an_object(text)
                    .unwrap_or("JSON that is not an object")
                    .to_owned(),
            }
        } else {
            // Broken JSON: the parser of the whole text says where.
            serde_json::from_str::<IgnoredAny>(text)
                .err()
                .map_or(Error::from(e), Error::from)
        }
    })?;
    let has = |key: &str| top.keys.iter().any(|k| k == key);
    if has("format") {
        Ok(Format::Native)
    } else if has("nodes") && has("links") {
        Ok(Format::ComfyuiWorkflow)
    } else if has("nodes") && (has("edges") || has("viewport")) {
        Ok(Format::ReactFlow)
    } else if !top.keys.is_empty() && top.all_class_typed {
        Ok(Format::ComfyuiApi)
    } else {
        Err(Error::UnknownFormat {
            found: match top.keys.len() {
                0 => "an empty JSON object".to_owned(),
                _ => format!(
                    "a JSON object with the keys {}",
                    top.keys
                        .iter()
                        .take(8)
                        .map(|k| format!("`{}`", k.chars().take(40).collect::<String>()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            },
        })
    }
}

/// Reads a canvas in whatever format `text` is in (see [`detect`]), or in
/// `format` when the caller knows it. ComfyUI workflows and API prompts
/// register their node classes in `catalog`; a native document that carries
/// imported ComfyUI node types registers them too
/// ([`comfyui::restore_types`]).
///
/// ```
/// use reelgraph::format::{Format, import_any};
/// use reelgraph::{Canvas, Catalog};
///
/// let catalog = Catalog::builtin();
/// let text = r#"{"nodes": [], "edges": [], "viewport": {"x": 0, "y": 0, "zoom": 1}}"#;
/// let imported = import_any(&catalog, text, None)?;
/// assert_eq!(imported.format, Format::ReactFlow);
/// let canvas = Canvas::from_document(catalog, imported.canvas)?;
/// # Ok::<(), reelgraph::Error>(())
/// ```
pub fn import_any(catalog: &Catalog, text: &str, format: Option<Format>) -> Result<Imported> {
    let format = match format {
        Some(format) => {
            if let Some(found) = not_an_object(text)
                && serde_json::from_str::<IgnoredAny>(text).is_ok()
            {
                return Err(Error::NotAnObject {
                    expected: format.object_name(),
                    found,
                });
            }
            format
        }
        None => detect(text)?,
    };
    let imported = |canvas, diagnostics, registered_types| Imported {
        format,
        canvas,
        diagnostics,
        registered_types,
    };
    match format {
        Format::Native => {
            // A canvas imported from ComfyUI carries its node types.
            let canvas = CanvasDocument::from_json(text)?;
            let registered = comfyui::restore_types(catalog, &canvas)?;
            Ok(imported(canvas, Vec::new(), registered))
        }
        Format::ReactFlow => {
            let flow = react_flow::import_json(catalog, text)?;
            Ok(imported(flow.canvas, flow.diagnostics, Vec::new()))
        }
        // One importer reads both; an API prompt comes with a `no_layout` note.
        Format::ComfyuiWorkflow | Format::ComfyuiApi => {
            let workflow = comfyui::import(catalog, text)?;
            Ok(imported(
                workflow.canvas,
                workflow.diagnostics,
                workflow.registered_types,
            ))
        }
    }
}

/// The top-level keys of a JSON object, and whether every value is an
/// object with a string `class_type`; values are skipped, not built.
struct TopLevel {
    keys: Vec<String>,
    all_class_typed: bool,
}

impl<'de> Deserialize<'de> for TopLevel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_map(TopLevelVisitor)
    }
}

struct TopLevelVisitor;

impl<'de> Visitor<'de> for TopLevelVisitor {
    type Value = TopLevel;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<TopLevel, A::Error> {
        let mut top = TopLevel {
            keys: Vec::new(),
            all_class_typed: true,
        };
        while let Some(key) = map.next_key::<String>()? {
            if top.keys.len() < 64 {
                top.keys.push(key);
            }
            let ClassTyped(typed) = map.next_value()?;
            top.all_class_typed &= typed;
        }
        Ok(top)
    }
}

/// Whether a value is an object with a string `class_type`.
struct ClassTyped(bool);

impl<'de> Deserialize<'de> for ClassTyped {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ClassTyped;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<ClassTyped, A::Error> {
                let mut typed = false;
                while let Some(key) = map.next_key::<String>()? {
                    if key == "class_type" {
                        typed = map.next_value::<ClassName>()?.0;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(ClassTyped(typed))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<ClassTyped, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(ClassTyped(false))
            }
            fn visit_bool<E>(self, _: bool) -> std::result::Result<ClassTyped, E> {
                Ok(ClassTyped(false))
            }
            fn visit_i64<E>(self, _: i64) -> std::result::Result<ClassTyped, E> {
                Ok(ClassTyped(false))
            }
            fn visit_u64<E>(self, _: u64) -> std::result::Result<ClassTyped, E> {
                Ok(ClassTyped(false))
            }
            fn visit_f64<E>(self, _: f64) -> std::result::Result<ClassTyped, E> {
                Ok(ClassTyped(false))
            }
            fn visit_str<E>(self, _: &str) -> std::result::Result<ClassTyped, E> {
                Ok(ClassTyped(false))
            }
            fn visit_unit<E>(self) -> std::result::Result<ClassTyped, E> {
                Ok(ClassTyped(false))
            }
        }
        d.deserialize_any(V)
    }
}

/// Whether a `class_type` value is a string.
struct ClassName(bool);

impl<'de> Deserialize<'de> for ClassName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        Ok(ClassName(value.is_string()))
    }
}
