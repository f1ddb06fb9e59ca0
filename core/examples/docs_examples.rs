//! Writes the JSON examples that the docs pages include, so the examples are
//! always what the code produces:
//!
//! ```text
//! cargo run -p reelgraph --example docs_examples -- docs/snippets
//! ```
//!
//! `make generate` rewrites them; `make test` fails when they are out of date.
//! Timestamps and durations are fixed so that the files only change when
//! behaviour does.
//!
//! The Rust example of `docs/execution.md` is the module `run_example` below:
//! this program compiles and runs it, and writes its source (between the two
//! marker comments) to `run-canvas.rs`, the part `docs/getting-started.md`
//! shows to `run-canvas-short.rs`, and what it produced to `run-events.json`
//! and `run-explain.json`.

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

/// The error table of concepts.md, made from `reelgraph::error_codes`.
fn error_table() -> String {
    let mut text = String::from("| Code | Category | HTTP | Returned when |\n|---|---|---|---|\n");
    for row in reelgraph::error_codes::ERROR_CODES {
        text.push_str(&format!(
            "| `{}` | `{}` | {} | {} |\n",
            row.code,
            row.category.as_str(),
            row.http_status,
            row.when
        ));
    }
    text
}

fn write_all(dir: &Path) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let out = |name: &str, value: Json| -> Result<(), String> {
        let path = dir.join(name);
        fs::write(&path, format!("{}\n", pretty(&value, 0)))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    };

    // concepts.md: the error table.
    let table = dir.join("error-codes.md");
    fs::write(&table, error_table())
        .map_err(|e| format!("cannot write {}: {e}", table.display()))?;

    // The canvas of the README example.
    let mut canvas = Canvas::new(Catalog::builtin(), "teaser", "Teaser");
    canvas.apply(readme_ops()).map_err(|e| e.to_string())?;

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

    execution(dir)
}

/// execution.md: the source of `run_example`, the events of its run and the
/// explanations after its edit.
fn execution(dir: &Path) -> Result<(), String> {
    let write = |name: &str, text: String| -> Result<(), String> {
        let path = dir.join(name);
        fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    let (example, excerpt) = example_source()?;
    write("run-canvas.rs", example)?;
    write("run-canvas-short.rs", excerpt)?;

    // The README canvas with a second shot and frame.
    let mut canvas = Canvas::new(Catalog::builtin(), "teaser", "Teaser");
    let mut ops = readme_ops();
    ops.extend([
        Op::add_node(
            "shot_2",
            "shot",
            json!({"prompt": "Mara on the cliff, dawn"}),
        ),
        Op::add_node("frame_2", "image_gen", json!({"seed": 7})),
        Op::connect(("mara", "character"), ("shot_2", "characters")),
        Op::connect(("shot_2", "shot"), ("frame_2", "shot")),
    ]);
    canvas.apply(ops).map_err(|e| e.to_string())?;

    let files = tempfile::tempdir().map_err(|e| format!("cannot make a folder: {e}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    let canvas = std::sync::Arc::new(std::sync::Mutex::new(canvas));
    let (events, explained) = runtime
        .block_on(run_example::run_canvas(&canvas, files.path()))
        .map_err(|e| e.to_string())?;

    let mut lines = String::new();
    for event in &events {
        let mut event = to_value(event)?;
        for (field, value) in [("ts", json!(TIME)), ("duration_ms", json!(0))] {
            if let Some(v) = event.get_mut(field) {
                *v = Json::Scalar(value);
            }
        }
        if let Some(stats) = event.get_mut("stats")
            && let Some(v) = stats.get_mut("duration_ms")
        {
            *v = Json::Scalar(json!(0));
        }
        lines.push_str(&spaced(&event));
        lines.push('\n');
    }
    write("run-events.json", lines)?;
    write(
        "run-explain.json",
        format!("{}\n", pretty(&to_value(&explained)?, 0)),
    )
}

/// The lines of `run_example` between its marker comments, and the excerpt
/// between the inner markers, each without its common indent.
fn example_source() -> Result<(String, String), String> {
    const SOURCE: &str = include_str!("docs_examples.rs");
    const MARKS: [&str; 4] = [
        "// execution.md example: begin",
        "// execution.md example: end",
        "// getting-started.md excerpt: begin",
        "// getting-started.md excerpt: end",
    ];
    let lines: Vec<&str> = SOURCE.lines().collect();
    let at = |mark: &str| {
        lines
            .iter()
            .position(|l| l.trim() == mark)
            .ok_or_else(|| format!("no `{mark}` line in docs_examples.rs"))
    };
    let unindented = |from: usize, to: usize| {
        let kept: Vec<&str> = lines[from + 1..to]
            .iter()
            .copied()
            .filter(|l| !MARKS.contains(&l.trim()))
            .collect();
        let indent = kept
            .iter()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.len() - l.trim_start().len())
            .min()
            .unwrap_or(0);
        let mut text = String::new();
        for line in kept {
            text.push_str(line.get(indent..).unwrap_or(""));
            text.push('\n');
        }
        text
    };
    let example = unindented(at(MARKS[0])?, at(MARKS[1])?);
    let excerpt = unindented(at(MARKS[2])?, at(MARKS[3])?);
    Ok((example, excerpt))
}

/// The Rust example of docs/execution.md, compiled and run by this program.
mod run_example {
    // execution.md example: begin
    use std::path::Path;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use reelgraph::exec::{
        Executor, Explanation, Force, PlanOptions, Planner, Reason, RunEvent, RunOptions, RunStatus,
    };
    use reelgraph::runner::{CircuitConfig, Resilience, RetryPolicy};
    use reelgraph::{Canvas, Op, Quality};
    use serde_json::json;

    /// Runs `frame_1` of the canvas with the demo functions (files go under
    /// `out`), runs it again, then edits its shot and asks what would run.
    pub async fn run_canvas(
        canvas: &Arc<Mutex<Canvas>>,
        out: &Path,
    ) -> Result<(Vec<RunEvent>, Vec<Explanation>), reelgraph::Error> {
        // getting-started.md excerpt: begin
        // The demo functions behind retries, a limit per attempt, a circuit
        // breaker per function and quality fallback.
        let runner = Resilience::new()
            .retry(RetryPolicy::default())
            .timeout(Duration::from_secs(300))
            .circuit_breaker(CircuitConfig::default())
            .quality_fallback(true)
            .wrap(reelgraph_demo::runner(out));
        // At most 4 tasks at once over all its runs; results in memory.
        let executor = Executor::new(runner).with_concurrency(4);

        // A partial run: `frame_1` and what it needs. Starting checks the
        // canvas and the functions and looks the results up in the cache.
        let options = RunOptions::new()
            .quality(Quality::Draft)
            .targets(["frame_1"])
            .run_id("run-1");
        let mut run = executor.start(canvas, options.clone()).await?;
        let mut events = run.events().expect("the events are taken once");
        // Drive the run and read its events as they come; the stream ends
        // after the run's last event.
        let (report, seen) = tokio::join!(run.finish(), async {
            let mut seen = Vec::new();
            while let Some(event) = events.next().await {
                seen.push(event);
            }
            seen
        });
        assert_eq!(report.status, RunStatus::Completed);
        // Outputs by node and port: here the descriptor of a demo PNG.
        let frame = &report.outputs["frame_1"]["image"];
        assert_eq!(frame["media_type"], "image/png");
        // getting-started.md excerpt: end

        // Nothing changed: the second run takes the result from the cache.
        let again = executor.start(canvas, options.run_id("run-2")).await?;
        let again = again.finish().await;
        assert_eq!((again.stats.executed, again.stats.cache_hits), (0, 1));

        // Plan the whole canvas, edit the first shot, re-plan, and explain.
        // The canvas is shared: lock it only to read or edit it.
        let mut planner = Planner::new(
            &canvas.lock().expect("the canvas lock"),
            PlanOptions::all(Quality::Draft),
        )?;
        let before = executor.explain(planner.plan(), &Force::None).await?;
        assert_eq!(before[0].reason, Reason::Cached);
        canvas
            .lock()
            .expect("the canvas lock")
            .apply(vec![Op::set_properties(
                "shot_1",
                json!({"prompt": "Mara at the window, storm"}),
            )])?;
        planner.replan(&canvas.lock().expect("the canvas lock"))?;
        let after = executor.explain(planner.plan(), &Force::None).await?;
        Ok((seen, after))
    }
    // execution.md example: end
}

/// An op from its JSON form, as editors and scripts send it.
/// The canvas of the README example: a character, a shot and its frame.
fn readme_ops() -> Vec<Op> {
    vec![
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
    ]
}

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
