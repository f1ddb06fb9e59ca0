//! The demo short film, "The Last Lighthouse", built the way an editor or a
//! pipeline script would build it: a list of ops applied to a fresh canvas.
//!
//! ```text
//! cargo run -p reelgraph --example short_film            # previews at draft quality
//! cargo run -p reelgraph --example short_film -- high    # ... at another tier
//! cargo run -p reelgraph --example short_film -- --document > examples/short-film/canvas.json
//! ```
//!
//! It reads `examples/short-film/ops.json`, applies the ops to an empty canvas
//! in one atomic apply (the first op, `set_canvas`, names the canvas and turns
//! on the three-act structure checks), prints a summary, the validation report
//! and every task preview, and writes the canvas document, the previews and an
//! SVG picture of the canvas to `out/`.
//!
//! `--document` prints only the canvas document, with fixed timestamps so that
//! the committed `examples/short-film/canvas.json` is reproducible.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use reelgraph::render::{SvgOptions, to_svg};
use reelgraph::{Canvas, Catalog, Op, PortRef, Quality, Report, TaskPreview};
use serde_json::Value;

const OPS: &str = "examples/short-film/ops.json";
const OUT_DIR: &str = "out";
const CANVAS_ID: &str = "the-last-lighthouse";
/// Timestamps of the committed document, so regenerating it changes nothing.
const DOCUMENT_TIME: &str = "2026-01-01T00:00:00.000Z";
/// Longest parameter value shown on one line.
const MAX_LINE_CHARS: usize = 90;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

const USAGE: &str = "usage: short_film [draft|standard|high|ultra] [--document]

  QUALITY     tier of the task previews (default: draft)
  --document  print only the canvas document, with fixed timestamps";

/// What the command line asked for.
struct Args {
    quality: Quality,
    document_only: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        quality: Quality::Draft,
        document_only: false,
    };
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--document" => args.document_only = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            tier => {
                args.quality = tier
                    .parse()
                    .map_err(|e: reelgraph::Error| format!("error: {e}\n\n{USAGE}"))?;
            }
        }
    }
    Ok(args)
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let root = workspace_root();

    // 1. The ops, as an editor or a pipeline script would send them.
    let ops = Op::parse_list(&read(&root, OPS)?).map_err(|e| failure(OPS, &e))?;
    let op_count = ops.len();

    // 2. Build: one atomic apply, checked op by op (the first op names the canvas).
    let mut canvas = Canvas::new(Catalog::builtin(), CANVAS_ID, "Untitled");
    let applied = canvas.apply(ops).map_err(|e| failure(OPS, &e))?;

    if args.document_only {
        let mut doc = canvas.to_document();
        doc.created_at = DOCUMENT_TIME.into();
        doc.updated_at = DOCUMENT_TIME.into();
        let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
        println!("{text}");
        return Ok(());
    }

    // 3. Summary.
    let name = canvas.name().to_owned();
    println!("{name}");
    println!("{}", "=".repeat(name.chars().count()));
    println!(
        "Built from {OPS}: {op_count} ops applied in one atomic apply -> revision {}.",
        applied.revision
    );
    println!(
        "The apply returned {} inverse ops (its undo) and a `canvas_changed` event.",
        applied.inverse.len()
    );
    println!();
    println!(
        "  nodes   {:>3}   {}",
        canvas.node_count(),
        by_category(&canvas)
    );
    println!("  edges   {:>3}", canvas.edge_count());
    let groups: Vec<String> = canvas
        .groups()
        .map(|g| {
            format!(
                "{} ({} nodes)",
                g.label.as_deref().unwrap_or(&g.id),
                g.nodes.len()
            )
        })
        .collect();
    println!("  groups  {:>3}   {}", groups.len(), groups.join(", "));
    let structure = canvas.story().structure.map_or_else(
        || "none".to_owned(),
        |s| {
            serde_json::to_string(&s)
                .unwrap_or_default()
                .trim_matches('"')
                .to_owned()
        },
    );
    println!("  story   {structure} structure (its checks are warnings)");
    println!();

    // 4. Validation.
    let report = canvas.validate();
    print_report(&report);

    // 5. Connection rules, as an editor asks them while a wire hovers over a port.
    print_connection_checks(&canvas);

    // 6. Task previews, in topological order.
    let previews = canvas.task_previews(args.quality);
    print_previews(&previews, args.quality);

    // 7. Files.
    let out = root.join(OUT_DIR);
    fs::create_dir_all(&out).map_err(|e| format!("cannot create {OUT_DIR}/: {e}"))?;
    let canvas_file = format!("{OUT_DIR}/short-film.canvas.json");
    write(&root, &canvas_file, &canvas.to_json_pretty())?;
    let tasks_file = format!("{OUT_DIR}/short-film.tasks.{}.json", args.quality);
    let tasks_json = serde_json::to_string_pretty(&previews).map_err(|e| e.to_string())?;
    write(&root, &tasks_file, &tasks_json)?;
    let picture_file = format!("{OUT_DIR}/short-film.svg");
    write(
        &root,
        &picture_file,
        &to_svg(&canvas, &SvgOptions::default()),
    )?;
    println!("Wrote the canvas document to {canvas_file}");
    println!("Wrote the {} task previews to {tasks_file}", previews.len());
    println!("Wrote a picture of the canvas to {picture_file}");
    Ok(())
}

/// "story 20, assets 7, ..." in the order categories first appear.
fn by_category(canvas: &Canvas) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for node in canvas.nodes() {
        let category = canvas
            .catalog()
            .get(&node.node_type)
            .map_or_else(|| "unknown".to_owned(), |spec| spec.category.clone());
        match counts.iter_mut().find(|(c, _)| *c == category) {
            Some((_, n)) => *n += 1,
            None => counts.push((category, 1)),
        }
    }
    let parts: Vec<String> = counts.iter().map(|(c, n)| format!("{c} {n}")).collect();
    parts.join(", ")
}

fn print_report(report: &Report) {
    let verdict = if report.valid {
        "valid: nothing keeps it from running"
    } else {
        "NOT valid: fix the errors below before running"
    };
    println!(
        "Validation: {verdict} ({}, {})",
        count(report.errors, "error"),
        count(report.warnings, "warning")
    );
    for d in &report.diagnostics {
        let severity = d.severity.as_str();
        let mut place = Vec::new();
        for (what, value) in [
            ("node", &d.node),
            ("edge", &d.edge),
            ("port", &d.port),
            ("property", &d.property),
        ] {
            if let Some(v) = value {
                place.push(format!("{what} {v}"));
            }
        }
        let place = if place.is_empty() {
            String::new()
        } else {
            format!("  [{}]", place.join(", "))
        };
        println!("  {severity:<7}  {}{place}", d.code);
        println!("           {}", d.message);
        println!("           hint: {}", d.hint);
    }
    println!();
}

fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn print_connection_checks(canvas: &Canvas) {
    println!("Connection checks (`can_connect`, nothing changes):");
    let wires = [
        (("nora", "character"), ("shot_5b", "characters")),
        (("elias", "character"), ("img_1a", "reference")),
        (("scene_1", "scene"), ("shot_2a", "scene")),
        (("comp_6a", "image"), ("img_6a", "reference")),
        (("shot_1a", "camera"), ("img_1a", "shot")),
    ];
    for ((src, src_port), (tgt, tgt_port)) in wires {
        let wire = format!("{src}.{src_port} -> {tgt}.{tgt_port}");
        match canvas.can_connect(&PortRef::new(src, src_port), &PortRef::new(tgt, tgt_port)) {
            Ok(()) => println!("  {wire:<42}  ok"),
            Err(e) => {
                println!("  {wire:<42}  refused [{}]", e.code());
                println!("  {:<42}  {e}", "");
                println!("  {:<42}  hint: {}", "", e.hint());
            }
        }
    }
    println!();
}

fn print_previews(previews: &[TaskPreview], quality: Quality) {
    println!(
        "Task previews at quality `{quality}`: {} tasks, in topological order (each after the nodes it depends on)",
        previews.len()
    );
    println!("(what each node would send to the function runner; nothing runs)");
    for task in previews {
        println!();
        println!("  {}  ({} -> {})", task.node, task.node_type, task.function);
        // Rows of (label, lines): where the inputs come from, then the params.
        let mut rows: Vec<(String, Vec<String>)> = Vec::new();
        for (port, refs) in &task.inputs {
            let from: Vec<String> = refs
                .iter()
                .map(|r| format!("{}.{}", r.node, r.port))
                .collect();
            rows.push((format!("{port} <-"), wrap(&from.join(", "))));
        }
        let params: BTreeMap<&String, &Value> = task.params.iter().collect();
        for (name, value) in params {
            rows.push((format!("{name} ="), value_lines(value)));
        }
        let width = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
        for (label, lines) in rows {
            for (i, text) in lines.into_iter().enumerate() {
                let label = if i == 0 { label.as_str() } else { "" };
                println!("    {label:>width$} {text}");
            }
        }
    }
    println!();
}

/// A parameter value in lines of at most [`MAX_LINE_CHARS`]: text is wrapped
/// at spaces, a long list gets one item per line, and any other long value
/// is cut (the files in `out/` hold every value whole).
fn value_lines(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => wrap(s),
        Value::Array(items) if compact(value).chars().count() > MAX_LINE_CHARS => {
            items.iter().map(|item| cut(&compact(item))).collect()
        }
        other => vec![cut(&compact(other))],
    }
}

fn compact(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn wrap(text: &str) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let current = lines.last_mut().map_or(0, |l| l.chars().count());
        if current > 0 && current + 1 + word.chars().count() > MAX_LINE_CHARS {
            lines.push(String::new());
        }
        if let Some(line) = lines.last_mut() {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}

fn cut(text: &str) -> String {
    if text.chars().count() <= MAX_LINE_CHARS {
        return text.to_owned();
    }
    let kept: String = text.chars().take(MAX_LINE_CHARS - 3).collect();
    format!("{kept}...")
}

/// The repository root: this example lives in `core/examples/`.
fn workspace_root() -> PathBuf {
    let core = Path::new(env!("CARGO_MANIFEST_DIR"));
    core.parent()
        .map_or_else(|| core.to_path_buf(), Path::to_path_buf)
}

fn read(root: &Path, file: &str) -> Result<String, String> {
    fs::read_to_string(root.join(file)).map_err(|e| format!("cannot read {file}: {e}"))
}

fn write(root: &Path, file: &str, text: &str) -> Result<(), String> {
    fs::write(root.join(file), format!("{text}\n")).map_err(|e| format!("cannot write {file}: {e}"))
}

/// A core error as a person reads it: where, what (with its stable code), and what to do.
fn failure(context: impl Display, e: &reelgraph::Error) -> String {
    format!(
        "{context}: error [{}]: {e}\n  hint: {}\n  details: {}",
        e.code(),
        e.hint(),
        e.details()
    )
}
