//! Writes the JSON examples that the docs pages include, so the examples are
//! always what the code produces:
//!
//! ```text
//! cargo run -p reelgraph --example docs_examples -- docs/snippets
//! ```
//!
//! `make generate` rewrites them; `make test` fails when they are out of date.
//! Timestamps are fixed so that the files only change when behaviour does.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use reelgraph::{Canvas, Catalog, Op, Quality};
use serde_json::{Value, json};

/// Stands in for every timestamp in the examples.
const TIME: &str = "2026-01-01T12:00:00.000Z";
/// A JSON value that fits on a line of this width is written on one line.
const LINE: usize = 88;

fn main() -> ExitCode {
    let dir = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from("docs/snippets"), PathBuf::from);
    match write_all(&dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("docs_examples: {e}");
            ExitCode::FAILURE
        }
    }
}

fn write_all(dir: &Path) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let out = |name: &str, value: Json| -> Result<(), String> {
        let path = dir.join(name);
        fs::write(&path, format!("{}\n", pretty(&value, 0)))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    };

    // The canvas of the README example.
    let mut canvas = Canvas::new(Catalog::builtin(), "teaser", "Teaser");
    canvas
        .apply(vec![
            Op::add_node(
                "mara",
                "character",
                json!({"name": "Mara", "lora": "loras/mara_v2.safetensors", "trigger_word": "mara_v2"}),
            ),
            Op::add_node(
                "shot_1",
                "shot",
                json!({"prompt": "Mara at the window, rain"}),
            ),
            Op::add_node("frame_1", "image_gen", json!({"seed": 42})),
            Op::connect(("mara", "character"), ("shot_1", "characters")),
            Op::connect(("shot_1", "shot"), ("frame_1", "shot")),
        ])
        .map_err(|e| e.to_string())?;

    // task-preview.md: the image node's task at draft quality.
    let preview = canvas
        .task_preview("frame_1", Quality::Draft)
        .map_err(|e| e.to_string())?;
    out("task-preview.json", to_value(&preview)?)?;

    // concepts.md: a second apply, its event and its inverse.
    let applied = canvas
        .apply(vec![
            op(json!({"op": "move_node", "id": "frame_1", "position": {"x": 420.0, "y": 0.0}}))?,
            op(json!({"op": "set_properties", "id": "frame_1", "properties": {"steps_override": 30}}))?,
            op(json!({"op": "set_canvas", "story": {"structure": "three_act"}}))?,
        ])
        .map_err(|e| e.to_string())?;
    let mut event = to_value(&applied.event)?;
    if let Some(ts) = event.get_mut("ts") {
        *ts = Json::Scalar(json!(TIME));
    }
    out("apply-event.json", event)?;
    out("apply-inverse.json", to_value(&applied.inverse)?)?;

    // concepts.md: the document after both applies.
    let mut doc = canvas.to_document();
    doc.created_at = TIME.into();
    doc.updated_at = TIME.into();
    out("canvas-document.json", to_value(&doc)?)?;

    // concepts.md: a rejected op, as the wire form of the error.
    let err = canvas
        .apply(vec![Op::connect(
            ("mara", "character"),
            ("frame_1", "reference"),
        )])
        .err()
        .ok_or("the wrong wire was accepted")?;
    out("error-body.json", to_value(&err.to_body())?)?;

    // concepts.md: a report with errors and a warning.
    let mut broken = Canvas::new(Catalog::builtin(), "draft", "Draft");
    broken
        .apply(vec![
            Op::add_node("hero", "character", json!({})),
            Op::add_node(
                "fx",
                "effect",
                json!({"effect": "blur", "temperature": 10.0}),
            ),
        ])
        .map_err(|e| e.to_string())?;
    out("validation-report.json", to_value(&broken.validate())?)?;
    Ok(())
}

/// An op from its JSON form, as editors and scripts send it.
fn op(value: Value) -> Result<Op, String> {
    serde_json::from_value(value).map_err(|e| e.to_string())
}

/// The value as the core serialises it, in its own field order.
fn to_value(value: &impl serde::Serialize) -> Result<Json, String> {
    let text = serde_json::to_string(value).map_err(|e| e.to_string())?;
    serde_json::from_str(&text).map_err(|e| e.to_string())
}

/// A JSON value that keeps the order of object fields (serde_json's `Value`
/// sorts them), so the examples show fields in the order the core writes them.
#[derive(Debug)]
enum Json {
    Scalar(Value),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    fn get_mut(&mut self, key: &str) -> Option<&mut Json> {
        match self {
            Json::Object(fields) => fields.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

impl<'de> serde::Deserialize<'de> for Json {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Json;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_unit<E>(self) -> Result<Json, E> {
                Ok(Json::Scalar(Value::Null))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
                Ok(Json::Scalar(Value::Bool(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
                Ok(Json::Scalar(Value::from(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
                Ok(Json::Scalar(Value::from(v)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
                Ok(Json::Scalar(Value::from(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Json, E> {
                Ok(Json::Scalar(Value::from(v)))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Json::Array(items))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
                let mut fields = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    fields.push(entry);
                }
                Ok(Json::Object(fields))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// JSON with small values kept on one line, like a person would write it.
fn pretty(value: &Json, indent: usize) -> String {
    let flat = spaced(value);
    let pad = "  ".repeat(indent + 1);
    let end = "  ".repeat(indent);
    match value {
        Json::Object(fields) if !fields.is_empty() && indent * 2 + flat.len() > LINE => {
            let items: Vec<String> = fields
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{pad}{}: {}",
                        Value::from(k.as_str()),
                        pretty(v, indent + 1)
                    )
                })
                .collect();
            format!("{{\n{}\n{end}}}", items.join(",\n"))
        }
        Json::Array(list) if !list.is_empty() && indent * 2 + flat.len() > LINE => {
            let items: Vec<String> = list
                .iter()
                .map(|v| format!("{pad}{}", pretty(v, indent + 1)))
                .collect();
            format!("[\n{}\n{end}]", items.join(",\n"))
        }
        _ => flat,
    }
}

/// One-line JSON with a space after `:` and `,`.
fn spaced(value: &Json) -> String {
    match value {
        Json::Object(fields) => {
            let items: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{}: {}", Value::from(k.as_str()), spaced(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        Json::Array(list) => {
            let items: Vec<String> = list.iter().map(spaced).collect();
            format!("[{}]", items.join(", "))
        }
        Json::Scalar(v) => v.to_string(),
    }
}
