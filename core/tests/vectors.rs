//! Runs the shared vectors, `tests/vectors/<area>/<case>.json`: the
//! cross-language contract of reelgraph (the schema is in
//! `tests/vectors/README.md`).
//!
//! Each vector drives the public API only (register specs, load a document,
//! apply ops, validate, can_connect, task_preview, import_any, error bodies
//! and the error table) and compares the canonical
//! JSON of what happened with the file. Every vector runs; the test fails once
//! at the end, naming each failing file with a diff.
//!
//! `REELGRAPH_REGENERATE_VECTORS=1 cargo test -p reelgraph --test vectors`
//! rewrites `expected` / `expected_error` from the actual output. Read every
//! rewritten file before you keep it: a regenerated wrong answer is a defect.

use std::fmt::Write as _;
use std::fs;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use reelgraph::error_codes::ERROR_CODES;
use reelgraph::exec::{Executor, PlanOptions, Planner, Run as ExecRun, RunOptions};
use reelgraph::format::{Format, detect, import_any};
use reelgraph::runner::{LocalRunner, Outputs, Task, TaskContext, TaskError};
use reelgraph::{Canvas, Catalog, Error, ErrorBody, Op, PortRef, Quality};
use serde::Serialize;
use serde_json::{Map, Value, json};

/// Fewer vectors than this means a path mistake, not a small suite.
const MIN_VECTORS: usize = 250;
const AREAS: [&str; 11] = [
    "connect", "errors", "events", "exec", "format", "import", "migrate", "ops", "preview", "spec",
    "validate",
];
/// The areas an `errors/` vector may call (`input.call`), besides `error_table`.
const ERROR_CALLS: [&str; 9] = [
    "connect", "exec", "format", "import", "migrate", "ops", "preview", "spec", "validate",
];
/// Codes of the error table that no vector can reach through the public API
/// of a binding, each with the reason. Every other code has an `errors/`
/// vector pinning its body.
const UNREACHABLE_CODES: [(&str, &str); 10] = [
    ("not_found", "stores only, and stores are not a vector area"),
    ("conflict", "stores only (a save with a stale revision)"),
    (
        "storage",
        "a failing disk or database, which a vector cannot set up",
    ),
    (
        "corrupt_document",
        "a damaged stored document or database file",
    ),
    (
        "too_large",
        "a document over 64 MiB does not belong in a vector file",
    ),
    (
        "io",
        "a file a caller names by path; vectors carry their data inline",
    ),
    (
        "runtime",
        "a process that cannot start a runtime or threads",
    ),
    ("internal", "a bug"),
    (
        "empty_prompt",
        "the ComfyUI API-prompt export, which is not a vector area",
    ),
    (
        "seq_dropped",
        "the run hub's replay window, which needs a run hub rather than one call",
    ),
];
const REGENERATE_VAR: &str = "REELGRAPH_REGENERATE_VECTORS";
/// What volatile timestamps are replaced with before comparing.
const TS: &str = "<ts>";
/// What durations of runs are replaced with before comparing.
const MS: &str = "<ms>";
/// The canvas a vector starts from when its input has no `canvas`.
const DEFAULT_CANVAS: (&str, &str) = ("vec", "Vector");
/// Differences listed per failing vector before the rest are summarised.
const MAX_DIFFERENCES: usize = 25;
/// Longest rendering of one value in a diff.
const MAX_RENDERED: usize = 1_500;

#[test]
fn shared_vectors() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let regenerate = std::env::var(REGENERATE_VAR).is_ok_and(|v| v == "1");
    let files = match vector_files(&root) {
        Ok(files) => files,
        Err(problems) => panic!("the vector directory is not in order:\n{problems}"),
    };
    assert!(
        files.len() >= MIN_VECTORS,
        "found {} vectors under {}, expected at least {MIN_VECTORS}: is the path right?",
        files.len(),
        root.display()
    );

    let mut failures = Vec::new();
    let mut known_bugs = Vec::new();
    for (path, verdict) in files.iter().zip(check_all(&files, regenerate)) {
        let label = label_of(&root, path);
        match verdict {
            Verdict::Pass => {}
            Verdict::Fail(message) => failures.push(format!("✗ {label}\n{message}")),
            Verdict::KnownBug(bug) => known_bugs.push(format!("  {label}: {bug}")),
        }
    }

    let counts: Vec<String> = AREAS
        .iter()
        .map(|area| {
            let n = files
                .iter()
                .filter(|p| p.parent().and_then(Path::file_name) == Some(area.as_ref()))
                .count();
            format!("{area} {n}")
        })
        .collect();
    println!("{} vectors: {}", files.len(), counts.join(", "));
    if !known_bugs.is_empty() {
        println!(
            "{} vectors pin known core bugs (they fail as expected):\n{}",
            known_bugs.len(),
            known_bugs.join("\n")
        );
    }
    let coverage = error_coverage(&files)
        .err()
        .map(|problems| format!("\n\nthe error table is not covered:\n{problems}"))
        .unwrap_or_default();
    assert!(
        failures.is_empty() && coverage.is_empty(),
        "{} of {} vectors failed:\n\n{}{coverage}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}

/// Checks every file, on all cores (each vector builds its own catalogue,
/// which dominates the run time); verdicts come back in file order.
fn check_all(files: &[PathBuf], regenerate: bool) -> Vec<Verdict> {
    let next = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let mut verdicts: Vec<(usize, Verdict)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(path) = files.get(i) else {
                            return done;
                        };
                        done.push((i, check_file_catching_panics(path, regenerate)));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                // check_file_catching_panics does not let a panic through.
                h.join().unwrap_or_default()
            })
            .collect()
    });
    verdicts.sort_by_key(|(i, _)| *i);
    verdicts.into_iter().map(|(_, v)| v).collect()
}

/// Every code of the error table has an `errors/` vector pinning its body,
/// or is in [`UNREACHABLE_CODES`] (and then has none).
fn error_coverage(files: &[PathBuf]) -> Result<(), String> {
    let mut pinned = Vec::new();
    for path in files {
        if path.parent().and_then(Path::file_name) != Some("errors".as_ref()) {
            continue;
        }
        let file: Value = fs::read_to_string(path)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        if let Some(code) = file["expected"]["code"].as_str() {
            pinned.push(code.to_owned());
        }
    }
    let mut problems = String::new();
    for (code, _) in UNREACHABLE_CODES {
        if ERROR_CODES.iter().all(|row| row.code != code) {
            let _ = writeln!(
                problems,
                "  `{code}` is listed as unreachable but is not in the table"
            );
        }
    }
    for row in ERROR_CODES {
        let unreachable = UNREACHABLE_CODES.iter().any(|(code, _)| *code == row.code);
        match (pinned.iter().any(|c| c == row.code), unreachable) {
            (false, false) => {
                let _ = writeln!(problems, "  `{}` has no errors/ vector", row.code);
            }
            (true, true) => {
                let _ = writeln!(
                    problems,
                    "  `{}` has an errors/ vector but is listed as unreachable: take it off the list",
                    row.code
                );
            }
            _ => {}
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

// ---------------------------------------------------------------------------
// Finding and reading vector files
// ---------------------------------------------------------------------------

/// Every `<area>/<case>.json` under `root`, sorted; anything else there
/// (other than the README) is reported.
fn vector_files(root: &Path) -> Result<Vec<PathBuf>, String> {
    let mut problems = String::new();
    let mut files = Vec::new();
    let entries = sorted_dir(root).map_err(|e| format!("cannot read {}: {e}", root.display()))?;
    for entry in entries {
        let name = file_name(&entry);
        if entry.is_file() && name == "README.md" {
            continue;
        }
        if !entry.is_dir() || !AREAS.contains(&name.as_str()) {
            let _ = writeln!(problems, "  unexpected entry {}", entry.display());
            continue;
        }
        let cases =
            sorted_dir(&entry).map_err(|e| format!("cannot read {}: {e}", entry.display()))?;
        if cases.is_empty() {
            let _ = writeln!(problems, "  area {name} has no vectors");
        }
        for case in cases {
            if case.is_file() && case.extension().is_some_and(|x| x == "json") {
                files.push(case);
            } else {
                let _ = writeln!(problems, "  unexpected entry {}", case.display());
            }
        }
    }
    for area in AREAS {
        if !root.join(area).is_dir() {
            let _ = writeln!(problems, "  area directory {area}/ is missing");
        }
    }
    if problems.is_empty() {
        Ok(files)
    } else {
        Err(problems)
    }
}

fn sorted_dir(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut entries = fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<Vec<_>>>()?;
    entries.sort();
    Ok(entries)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `area/case.json`, for messages.
fn label_of(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// A parsed vector file.
struct Vector {
    path: PathBuf,
    area: String,
    /// The whole file, kept for regeneration.
    file: Map<String, Value>,
    input: Map<String, Value>,
    expected: Option<Expected>,
    known_bug: Option<String>,
}

enum Expected {
    Value(Value),
    Error(Map<String, Value>),
}

const TOP_LEVEL_KEYS: [&str; 6] = [
    "name",
    "description",
    "input",
    "expected",
    "expected_error",
    "known_bug",
];

fn read_vector(path: &Path, regenerate: bool) -> Result<Vector, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("cannot read the file: {e}"))?;
    let value: Value =
        serde_json::from_str(&text).map_err(|e| format!("the file is not valid JSON: {e}"))?;
    let Value::Object(file) = value else {
        return Err("the file is not a JSON object".into());
    };
    if let Some(key) = file.keys().find(|k| !TOP_LEVEL_KEYS.contains(&k.as_str())) {
        return Err(format!(
            "unknown top-level field `{key}` (allowed: {})",
            TOP_LEVEL_KEYS.join(", ")
        ));
    }
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    match file.get("name").and_then(Value::as_str) {
        Some(name) if name == stem => {}
        Some(name) => return Err(format!("`name` is {name:?} but the file is {stem:?}")),
        None => return Err("`name` is missing or not a string".into()),
    }
    if file.get("description").is_some_and(|d| !d.is_string()) {
        return Err("`description` must be a string".into());
    }
    let input = match file.get("input") {
        Some(Value::Object(m)) => m.clone(),
        _ => return Err("`input` is missing or not an object".into()),
    };
    let expected = match (file.get("expected"), file.get("expected_error")) {
        (Some(_), Some(_)) => {
            return Err("has both `expected` and `expected_error`".into());
        }
        (Some(v), None) => Some(Expected::Value(v.clone())),
        (None, Some(Value::Object(e))) => {
            if !e.get("code").is_some_and(Value::is_string) {
                return Err("`expected_error.code` is missing or not a string".into());
            }
            if e.get("message_contains").is_some_and(|m| !m.is_string()) {
                return Err("`expected_error.message_contains` must be a string".into());
            }
            Some(Expected::Error(e.clone()))
        }
        (None, Some(_)) => return Err("`expected_error` is not an object".into()),
        (None, None) if regenerate => None,
        (None, None) => return Err("has neither `expected` nor `expected_error`".into()),
    };
    let known_bug = match file.get("known_bug") {
        None => None,
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        Some(_) => return Err("`known_bug` must be a non-empty string".into()),
    };
    let area = path
        .parent()
        .map(file_name)
        .ok_or("the file is not inside an area directory")?;
    Ok(Vector {
        path: path.to_owned(),
        area,
        file,
        input,
        expected,
        known_bug,
    })
}

// ---------------------------------------------------------------------------
// Running one file
// ---------------------------------------------------------------------------

enum Verdict {
    Pass,
    Fail(String),
    /// A vector marked `known_bug` that fails (with a behavioural mismatch) as it should.
    KnownBug(String),
}

/// Why a vector did not pass.
enum Failure {
    /// The vector itself is wrong: bad input shape, a setup op refused. Always a failure.
    Broken(String),
    /// The core behaved differently from what the vector pins.
    Mismatch(String),
}

type Run<T> = Result<T, Failure>;

fn broken(message: impl Into<String>) -> Failure {
    Failure::Broken(message.into())
}

fn mismatch(message: impl Into<String>) -> Failure {
    Failure::Mismatch(message.into())
}

/// What the call under test produced.
enum Outcome {
    Value(Value),
    Error(ActualError),
}

struct ActualError {
    /// `{code, details}` plus `op_index` for op rejections: what `expected_error` pins.
    body: Map<String, Value>,
    message: String,
    /// The whole [`ErrorBody`] `{code, message, hint, details}`: what `errors/` pins.
    full: Value,
}

/// A panic inside the core fails that one vector, by name, and the others still run.
fn check_file_catching_panics(path: &Path, regenerate: bool) -> Verdict {
    std::panic::catch_unwind(AssertUnwindSafe(|| check_file(path, regenerate))).unwrap_or_else(
        |payload| {
            let what = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            Verdict::Fail(format!("  panicked: {what}"))
        },
    )
}

fn check_file(path: &Path, regenerate: bool) -> Verdict {
    let vector = match read_vector(path, regenerate) {
        Ok(v) => v,
        Err(message) => return Verdict::Fail(format!("  invalid vector file: {message}")),
    };
    // Known-bug vectors hold hand-written right answers: never rewritten.
    let regenerate = regenerate && vector.known_bug.is_none();
    let result = run_area(&vector.area, &vector.input).and_then(|outcome| {
        if regenerate {
            rewrite(&vector, &outcome).map_err(broken)?;
            // The file now holds the outcome; only a kept `message_contains` can disagree.
            match (&vector.expected, &outcome) {
                (Some(Expected::Error(want)), Outcome::Error(got)) => check_message(want, got),
                _ => Ok(()),
            }
        } else {
            judge(vector.expected.as_ref(), &outcome)
        }
    });
    match (result, &vector.known_bug) {
        (Ok(()), None) => Verdict::Pass,
        (Ok(()), Some(_)) => Verdict::Fail(
            "  marked `known_bug` but now passes: the bug is fixed, remove `known_bug`".into(),
        ),
        (Err(Failure::Mismatch(_)), Some(bug)) => Verdict::KnownBug(bug.clone()),
        (Err(Failure::Mismatch(m) | Failure::Broken(m)), _) => Verdict::Fail(indent(&m, "  ")),
    }
}

fn run_area(area: &str, input: &Map<String, Value>) -> Run<Outcome> {
    match area {
        "ops" => run_ops(input),
        "connect" => run_connect(input),
        "validate" => run_validate(input),
        "migrate" | "format" => run_load(area, input),
        "preview" => run_preview(input),
        "spec" => run_spec(input),
        "import" => run_import(input),
        "errors" => run_errors(input),
        "exec" => run_exec(input),
        "events" => run_events(input),
        other => Err(broken(format!("unknown area `{other}`"))),
    }
}

/// Compares the outcome with what the vector expects.
fn judge(expected: Option<&Expected>, outcome: &Outcome) -> Run<()> {
    match (expected, outcome) {
        (None, _) => Err(broken("nothing expected")),
        (Some(Expected::Value(want)), Outcome::Value(got)) => {
            if same(want, got) {
                Ok(())
            } else {
                Err(mismatch(format!(
                    "expected (-) and actual (+) differ:\n{}",
                    diff(want, got)
                )))
            }
        }
        (Some(Expected::Error(want)), Outcome::Error(got)) => {
            let mut pinned = want.clone();
            pinned.remove("message_contains");
            let (pinned, got_body) = (Value::Object(pinned), Value::Object(got.body.clone()));
            if !same(&pinned, &got_body) {
                return Err(mismatch(format!(
                    "expected_error (-) and actual error (+) differ:\n{}\n(message: {})",
                    diff(&pinned, &got_body),
                    got.message
                )));
            }
            check_message(want, got)
        }
        (Some(Expected::Value(_)), Outcome::Error(got)) => Err(mismatch(format!(
            "expected a result, got error {}:\n{}",
            got.body.get("code").unwrap_or(&Value::Null),
            got.message
        ))),
        (Some(Expected::Error(want)), Outcome::Value(got)) => Err(mismatch(format!(
            "expected error {}, got a result:\n{}",
            want.get("code").unwrap_or(&Value::Null),
            render(got)
        ))),
    }
}

/// `expected_error.message_contains`, when given, must be part of the message.
fn check_message(want: &Map<String, Value>, got: &ActualError) -> Run<()> {
    match want.get("message_contains").and_then(Value::as_str) {
        Some(part) if !got.message.contains(part) => Err(mismatch(format!(
            "the error message does not contain {part:?}:\n{}",
            got.message
        ))),
        _ => Ok(()),
    }
}

/// Writes the outcome into the vector file as `expected` or `expected_error`.
fn rewrite(vector: &Vector, outcome: &Outcome) -> Result<(), String> {
    let mut file = vector.file.clone();
    let old_error = file.remove("expected_error");
    file.remove("expected");
    match outcome {
        Outcome::Value(v) => {
            file.insert("expected".into(), v.clone());
        }
        Outcome::Error(e) => {
            let mut body = e.body.clone();
            if let Some(part) = old_error.as_ref().and_then(|o| o.get("message_contains")) {
                body.insert("message_contains".into(), part.clone());
            }
            file.insert("expected_error".into(), Value::Object(body));
        }
    }
    let text = canonical_text(&Value::Object(file));
    fs::write(&vector.path, text).map_err(|e| format!("cannot rewrite the file: {e}"))
}

// ---------------------------------------------------------------------------
// Areas
// ---------------------------------------------------------------------------

/// `ops/`: apply `ops` to a canvas and pin revision, inverse, event ops and
/// the resulting document; a rejection must leave the canvas byte for byte.
fn run_ops(input: &Map<String, Value>) -> Run<Outcome> {
    allow_keys(
        input,
        &["canvas", "catalog", "setup", "ops", "then_apply_inverse"],
    )?;
    let then_undo = flag(input, "then_apply_inverse")?;
    let ops_value = match input.get("ops") {
        Some(v @ Value::Array(_)) => v,
        _ => return Err(broken("`input.ops` is missing or not an array")),
    };
    let catalog = catalog_from(input)?;
    let mut canvas = canvas_from(input, &catalog)?;
    apply_setup(&mut canvas, input)?;
    let before = canvas.to_json();

    let ops = match Op::parse_list(&ops_value.to_string()) {
        Ok(ops) => ops,
        // Ops that are not well-formed never reach the canvas.
        Err(e) => return Ok(Outcome::Error(actual_error(&e, false))),
    };
    let applied = match canvas.apply(ops) {
        Ok(applied) => applied,
        Err(e) if then_undo => {
            return Err(broken(format!(
                "`then_apply_inverse` needs an apply that succeeds, got {} ({e})",
                e.code()
            )));
        }
        Err(e) => {
            check_unchanged(&before, &canvas)?;
            return Ok(Outcome::Error(actual_error(&e, true)));
        }
    };
    let applied_json = to_json_value(&applied)?;
    let event_ops = checked_event_ops(&applied_json, &canvas)?;
    check_replay(&catalog, &before, &event_ops, &canvas)?;
    if then_undo {
        check_undo(&mut canvas, &before, applied.inverse.to_vec())?;
    }
    Ok(Outcome::Value(json!({
        "revision": applied.revision,
        "inverse": applied_json["inverse"],
        "event_ops": event_ops,
        "canvas": canvas_json(&canvas)?,
    })))
}

/// A rejected apply must leave the canvas byte for byte as it was.
fn check_unchanged(before: &str, canvas: &Canvas) -> Run<()> {
    let after = canvas.to_json();
    if after == before {
        return Ok(());
    }
    Err(mismatch(format!(
        "the rejected apply changed the canvas (it must stay byte for byte):\n{}",
        diff(&parse_canvas(before)?, &parse_canvas(&after)?)
    )))
}

/// The ops of the change event, once the event is checked against the canvas.
fn checked_event_ops(applied: &Value, canvas: &Canvas) -> Run<Value> {
    let event = &applied["event"];
    if event["type"] != "canvas_changed"
        || event["canvas_id"] != canvas.id()
        || event["revision"] != applied["revision"]
        || event["seq"] != applied["revision"]
        || applied["revision"] != canvas.revision()
    {
        return Err(mismatch(format!(
            "the change event does not match the canvas (id {}, revision {}):\n{}",
            canvas.id(),
            canvas.revision(),
            render(event)
        )));
    }
    Ok(event["ops"].clone())
}

/// Applies the inverse, which must succeed and give back the starting
/// document (`revision` and `updated_at` aside).
fn check_undo(canvas: &mut Canvas, before: &str, inverse: Vec<Op>) -> Run<()> {
    let undone_from = canvas_json(canvas)?;
    let inverse_json = to_json_value(&inverse)?;
    canvas.apply(inverse).map_err(|e| {
        mismatch(format!(
            "applying the inverse failed: {} ({e})\ninverse: {}\nfrom:\n{}",
            e.code(),
            render(&inverse_json),
            render(&undone_from)
        ))
    })?;
    let original = without(&parse_canvas(before)?, &["revision", "updated_at"]);
    let restored = without(&canvas_json(canvas)?, &["revision", "updated_at"]);
    if same(&original, &restored) {
        return Ok(());
    }
    Err(mismatch(format!(
        "the inverse did not restore the original document (original -, after undo +):\n{}",
        diff(&original, &restored)
    )))
}

/// Replaying the event's ops on the starting document must give the same canvas.
fn check_replay(catalog: &Catalog, before: &str, event_ops: &Value, canvas: &Canvas) -> Run<()> {
    let mut replica = Canvas::from_json(catalog.clone(), before)
        .map_err(|e| mismatch(format!("the canvas does not reload from its own JSON: {e}")))?;
    let ops = Op::parse_list(&event_ops.to_string())
        .map_err(|e| mismatch(format!("the event ops do not parse back: {e}")))?;
    replica.apply(ops).map_err(|e| {
        mismatch(format!(
            "replaying the event ops failed: {} ({e})",
            e.code()
        ))
    })?;
    let want = canvas_json(canvas)?;
    let got = canvas_json(&replica)?;
    if same(&want, &got) {
        Ok(())
    } else {
        Err(mismatch(format!(
            "replaying the event ops on the starting document gives another canvas (applied -, replayed +):\n{}",
            diff(&want, &got)
        )))
    }
}

/// `connect/`: `can_connect` answers, which must agree with what `connect` does.
fn run_connect(input: &Map<String, Value>) -> Run<Outcome> {
    allow_keys(input, &["canvas", "catalog", "setup", "source", "target"])?;
    let source: PortRef = field(input, "source")?;
    let target: PortRef = field(input, "target")?;
    let catalog = catalog_from(input)?;
    let mut canvas = canvas_from(input, &catalog)?;
    apply_setup(&mut canvas, input)?;
    let before = canvas.to_json();

    let answer = canvas.can_connect(&source, &target);
    if canvas.to_json() != before {
        return Err(mismatch("can_connect changed the canvas"));
    }
    let mut replica = Canvas::from_json(catalog, &before)
        .map_err(|e| mismatch(format!("the canvas does not reload from its own JSON: {e}")))?;
    let connect =
        Op::parse_list(&json!({"op": "connect", "source": source, "target": target}).to_string())
            .map_err(|e| broken(format!("cannot build the connect op: {e}")))?;
    let applied = replica.apply(connect).map(|_| ());
    if short(&answer) != short(&applied) {
        return Err(mismatch(format!(
            "can_connect says {} but connect says {}",
            short(&answer),
            short(&applied)
        )));
    }
    Ok(match answer {
        Ok(()) => Outcome::Value(json!({"ok": true})),
        Err(e) => Outcome::Error(actual_error(&e, false)),
    })
}

/// `ok`, or the error code.
fn short(result: &Result<(), Error>) -> &'static str {
    match result {
        Ok(()) => "ok",
        Err(e) => e.code(),
    }
}

/// `validate/`: the report of a canvas.
fn run_validate(input: &Map<String, Value>) -> Run<Outcome> {
    allow_keys(input, &["canvas", "catalog", "setup"])?;
    let catalog = catalog_from(input)?;
    let mut canvas = canvas_from(input, &catalog)?;
    apply_setup(&mut canvas, input)?;
    Ok(Outcome::Value(to_json_value(&canvas.validate())?))
}

/// `migrate/` and `format/`: loading a document (an object, or raw text).
fn run_load(area: &str, input: &Map<String, Value>) -> Run<Outcome> {
    allow_keys(input, &["catalog", "canvas", "document_text"])?;
    let text = match (input.get("canvas"), input.get("document_text")) {
        (Some(doc), None) => doc.to_string(),
        (None, Some(Value::String(text))) if area == "format" => text.clone(),
        (None, Some(_)) if area == "format" => {
            return Err(broken("`input.document_text` must be a string"));
        }
        _ if area == "format" => {
            return Err(broken(
                "give exactly one of `input.canvas` and `input.document_text`",
            ));
        }
        _ => return Err(broken("`input.canvas` is required")),
    };
    let catalog = catalog_from(input)?;
    let canvas = match Canvas::from_json(catalog.clone(), &text) {
        Ok(canvas) => canvas,
        Err(e) => return Ok(Outcome::Error(actual_error(&e, false))),
    };
    // Loading never loses data: what a loaded canvas writes loads to the same thing.
    let written = canvas.to_json();
    let reloaded = Canvas::from_json(catalog, &written).map_err(|e| {
        mismatch(format!(
            "the loaded canvas does not reload from its own JSON: {e}"
        ))
    })?;
    if reloaded.to_json() != written {
        return Err(mismatch(format!(
            "reloading the written document changes it (written -, reloaded +):\n{}",
            diff(
                &parse_canvas(&written)?,
                &parse_canvas(&reloaded.to_json())?
            )
        )));
    }
    Ok(Outcome::Value(json!({
        "migrations": to_json_value(canvas.migrations_applied())?,
        "canvas": canvas_json(&canvas)?,
        "report": to_json_value(&canvas.validate())?,
    })))
}

/// `preview/`: the task a node would send at a quality tier.
fn run_preview(input: &Map<String, Value>) -> Run<Outcome> {
    allow_keys(input, &["canvas", "catalog", "setup", "node", "quality"])?;
    let node: String = field(input, "node")?;
    let quality: String = field(input, "quality")?;
    let catalog = catalog_from(input)?;
    let mut canvas = canvas_from(input, &catalog)?;
    apply_setup(&mut canvas, input)?;
    let quality = match Quality::from_str(&quality) {
        Ok(q) => q,
        Err(e) => return Ok(Outcome::Error(actual_error(&e, false))),
    };
    Ok(match canvas.task_preview(&node, quality) {
        Ok(preview) => Outcome::Value(to_json_value(&preview)?),
        Err(e) => Outcome::Error(actual_error(&e, false)),
    })
}

/// `spec/`: registering a spec (or an array of specs, all or none) into the
/// built-in catalogue.
fn run_spec(input: &Map<String, Value>) -> Run<Outcome> {
    allow_keys(input, &["catalog", "spec"])?;
    let spec = input
        .get("spec")
        .ok_or_else(|| broken("`input.spec` is missing"))?;
    let catalog = catalog_from(input)?;
    let names: Vec<String> = match spec {
        Value::Array(items) => items.iter().filter_map(type_name).collect(),
        one => type_name(one).into_iter().collect(),
    };
    let versions_before = versions(&catalog, &names);
    let registered = match catalog.register_json(&spec.to_string()) {
        Ok(registered) => registered,
        Err(e) => {
            if versions(&catalog, &names) != versions_before {
                return Err(mismatch(
                    "a refused registration changed the catalogue (it is all or none)",
                ));
            }
            return Ok(Outcome::Error(actual_error(&e, false)));
        }
    };
    for spec in &registered {
        let found = catalog.get(&spec.type_name).map(|s| s.version);
        if found != Some(spec.version) {
            return Err(mismatch(format!(
                "`{}` was registered but the catalogue holds {found:?}",
                spec.type_name
            )));
        }
    }
    let types: Vec<String> = registered.iter().map(|s| s.type_name.to_string()).collect();
    Ok(Outcome::Value(match (spec, types.as_slice()) {
        (Value::Array(_), _) => json!({ "types": types }),
        (_, [one]) => json!({ "type": one }),
        _ => return Err(mismatch(format!("one spec registered as {types:?}"))),
    }))
}

/// `import/`: reading a canvas in whatever format it is in, as
/// `format::import_any` does.
fn run_import(input: &Map<String, Value>) -> Run<Outcome> {
    allow_keys(input, &["catalog", "data", "data_text", "format"])?;
    let text = match (input.get("data"), input.get("data_text")) {
        (Some(data), None) => data.to_string(),
        (None, Some(Value::String(text))) => text.clone(),
        (None, Some(_)) => return Err(broken("`input.data_text` must be a string")),
        _ => {
            return Err(broken(
                "give exactly one of `input.data` and `input.data_text`",
            ));
        }
    };
    let format: Option<Format> = match input.get("format") {
        None => None,
        Some(_) => Some(field(input, "format")?),
    };
    let catalog = catalog_from(input)?;
    let imported = match import_any(&catalog, &text, format) {
        Ok(imported) => imported,
        Err(e) => return Ok(Outcome::Error(actual_error(&e, false))),
    };
    if format.is_none() {
        let told = detect(&text)
            .map_err(|e| mismatch(format!("import_any read it, but detect refuses it: {e}")))?;
        if told != imported.format {
            return Err(mismatch(format!(
                "detect says {told}, import_any read {}",
                imported.format
            )));
        }
    }
    for name in &imported.registered_types {
        if catalog.get(name).is_none() {
            return Err(mismatch(format!(
                "`{name}` is reported registered but is not in the catalogue"
            )));
        }
    }
    Canvas::from_document(catalog, imported.canvas.clone()).map_err(|e| {
        mismatch(format!(
            "the imported document does not load: {} ({e})",
            e.code()
        ))
    })?;
    let mut value = to_json_value(&imported)?;
    mask_timestamps(&mut value["canvas"]);
    Ok(Outcome::Value(value))
}

/// `errors/`: the whole error body of a failing call of another area
/// (`input.call` names it; the rest of the input is that area's), or the
/// error table (`"call": "error_table"`).
fn run_errors(input: &Map<String, Value>) -> Run<Outcome> {
    let call = input
        .get("call")
        .and_then(Value::as_str)
        .ok_or_else(|| broken("`input.call` is missing or not a string"))?;
    let mut rest = input.clone();
    rest.remove("call");
    if call == "error_table" {
        allow_keys(&rest, &[])?;
        let rows: Vec<Value> = ERROR_CODES
            .iter()
            .map(|row| json!({"code": row.code, "category": row.category, "http_status": row.http_status}))
            .collect();
        return Ok(Outcome::Value(Value::Array(rows)));
    }
    if !ERROR_CALLS.contains(&call) {
        return Err(broken(format!(
            "`input.call` is `{call}`; allowed: error_table, {}",
            ERROR_CALLS.join(", ")
        )));
    }
    let error = match run_area(call, &rest)? {
        Outcome::Error(error) => error,
        Outcome::Value(value) => {
            return Err(mismatch(format!(
                "the `{call}` call succeeded; this vector pins its failure. It gave:\n{}",
                render(&value)
            )));
        }
    };
    // The body is what HTTP and the bindings show: it must read back as itself.
    let back: ErrorBody = serde_json::from_value(error.full.clone())
        .map_err(|e| mismatch(format!("the error body does not deserialise: {e}")))?;
    if to_json_value(&back)? != error.full {
        return Err(mismatch("the error body does not round-trip"));
    }
    Ok(Outcome::Value(error.full))
}

/// `events/`: the change event of each apply, in its envelope; a rejected
/// apply has none (`null`).
fn run_events(input: &Map<String, Value>) -> Run<Outcome> {
    allow_keys(input, &["catalog", "canvas", "setup", "applies"])?;
    let catalog = catalog_from(input)?;
    let mut canvas = canvas_from(input, &catalog)?;
    apply_setup(&mut canvas, input)?;
    let applies = match input.get("applies") {
        Some(Value::Array(applies)) if !applies.is_empty() => applies,
        _ => {
            return Err(broken(
                "`input.applies` must be a non-empty array of op arrays",
            ));
        }
    };
    let mut events = Vec::new();
    for (i, ops) in applies.iter().enumerate() {
        if !ops.is_array() {
            return Err(broken(format!(
                "`input.applies[{i}]` must be an array of ops"
            )));
        }
        let ops = Op::parse_list(&ops.to_string())
            .map_err(|e| broken(format!("`input.applies[{i}]` does not parse: {e}")))?;
        let before = canvas.to_json();
        match canvas.apply(ops) {
            Ok(applied) => {
                let mut event = to_json_value(&applied.event)?;
                mask_event(&mut event);
                events.push(event);
            }
            Err(_) => {
                check_unchanged(&before, &canvas)?;
                events.push(Value::Null);
            }
        }
    }
    Ok(Outcome::Value(json!({ "events": events })))
}

/// `exec/`: runs of a canvas on one executor (one cache, one task at a
/// time), with functions that behave as the vector describes.
fn run_exec(input: &Map<String, Value>) -> Run<Outcome> {
    allow_keys(input, &["catalog", "canvas", "setup", "functions", "steps"])?;
    let catalog = catalog_from(input)?;
    let mut canvas = canvas_from(input, &catalog)?;
    apply_setup(&mut canvas, input)?;
    // Runs start from a shared canvas, as an embedder holds it.
    let canvas = Arc::new(Mutex::new(canvas));
    let locked = || canvas.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(Value::Object(functions)) = input.get("functions") else {
        return Err(broken("`input.functions` is missing or not an object"));
    };
    let runner = LocalRunner::new();
    for (name, behaviour) in functions {
        let behaviour = Arc::new(Behaviour::parse(name, behaviour)?);
        runner.register(name, move |task, ctx| {
            let result = behaviour.perform(&task, &ctx);
            async move { result }
        });
    }
    let executor = Executor::new(runner).with_concurrency(1);
    let steps = match input.get("steps") {
        Some(Value::Array(steps)) if !steps.is_empty() => steps,
        _ => return Err(broken("`input.steps` is missing or not a non-empty array")),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|e| broken(format!("cannot build a runtime: {e}")))?;
    let mut planner: Option<Planner> = None;
    let mut results = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let (kind, arg) = match step {
            Value::Object(m) if m.len() == 1 => m
                .iter()
                .next()
                .map_or(("", &Value::Null), |(k, v)| (k.as_str(), v)),
            _ => {
                return Err(broken(format!(
                    "`input.steps[{i}]` must be an object with one key"
                )));
            }
        };
        let result = match kind {
            "run" => runtime.block_on(async {
                match executor.start(&canvas, named_run(arg)?).await {
                    Ok(run) => run_result(run).await.map(Ok),
                    Err(e) => Ok(Err(e)),
                }
            })?,
            "explain" => {
                let options = run_options(arg)?;
                let plan = plan_of(&locked(), &options);
                match plan {
                    Ok(plan) => {
                        match runtime.block_on(executor.explain(plan.plan(), &options.force)) {
                            Ok(explained) => Ok(to_json_value(&explained)?),
                            Err(e) => Err(e),
                        }
                    }
                    Err(e) => Err(e),
                }
            }
            "plan" => {
                let options = run_options(arg)?;
                let plan = plan_of(&locked(), &options);
                match plan {
                    Ok(plan) => {
                        planner = Some(plan);
                        Ok(Value::Null)
                    }
                    Err(e) => Err(e),
                }
            }
            "run_planned" => {
                let plan = planner.as_ref().ok_or_else(|| {
                    broken(format!(
                        "`input.steps[{i}]`: run_planned needs a plan step before it"
                    ))
                })?;
                runtime.block_on(async {
                    match executor.start_planned(&canvas, plan, named_run(arg)?).await {
                        Ok(run) => run_result(run).await.map(Ok),
                        Err(e) => Ok(Err(e)),
                    }
                })?
            }
            "apply" => {
                let ops = Op::parse_list(&arg.to_string())
                    .map_err(|e| broken(format!("`input.steps[{i}].apply` does not parse: {e}")))?;
                locked().apply(ops).map_err(|e| {
                    broken(format!(
                        "`input.steps[{i}].apply` was rejected: {} ({e})",
                        e.code()
                    ))
                })?;
                Ok(Value::Null)
            }
            other => {
                return Err(broken(format!(
                    "`input.steps[{i}]`: unknown step `{other}` (run, explain, plan, run_planned, apply)"
                )));
            }
        };
        match result {
            Ok(value) => results.push(value),
            // A refused step ends the vector: that error is its outcome.
            Err(e) => return Ok(Outcome::Error(actual_error(&e, false))),
        }
    }
    Ok(Outcome::Value(json!({ "steps": results })))
}

/// The plan a run with `options` would follow.
fn plan_of(canvas: &Canvas, options: &RunOptions) -> Result<Planner, Error> {
    Planner::new(
        canvas,
        PlanOptions {
            targets: options.targets.clone(),
            quality: options.quality,
        },
    )
}

/// Runs to the end: `{report, events}`, masked, after checking that the
/// events are numbered without gaps, belong to the run and end with its stats.
async fn run_result(mut run: ExecRun) -> Run<Value> {
    let mut stream = run
        .events()
        .ok_or_else(|| mismatch("a new run has no event stream"))?;
    let report = run.finish().await;
    let mut events = Vec::new();
    while let Some(event) = stream.next().await {
        events.push(to_json_value(&event)?);
    }
    let mut report = to_json_value(&report)?;
    for (i, event) in events.iter().enumerate() {
        if event["seq"] != json!(i) || event["run_id"] != report["run_id"] {
            return Err(mismatch(format!(
                "event {i} has seq {} and run_id {} (the run is {}):\n{}",
                event["seq"],
                event["run_id"],
                report["run_id"],
                render(event)
            )));
        }
    }
    let last = events.last().cloned().unwrap_or_default();
    if last["stats"] != report["stats"] {
        return Err(mismatch(format!(
            "the last event does not end the run with its stats:\n{}",
            render(&last)
        )));
    }
    mask_durations(&mut report);
    for event in &mut events {
        mask_event(event);
    }
    Ok(json!({"report": report, "events": events}))
}

/// `ts` of an event, when set, becomes `"<ts>"`, and its durations `"<ms>"`.
fn mask_event(event: &mut Value) {
    if event
        .get("ts")
        .and_then(Value::as_str)
        .is_some_and(|ts| !ts.is_empty())
    {
        event["ts"] = json!(TS);
    }
    mask_durations(event);
}

/// `duration_ms` of the object and of its `stats` become `"<ms>"`.
fn mask_durations(value: &mut Value) {
    if value.get("duration_ms").is_some_and(Value::is_number) {
        value["duration_ms"] = json!(MS);
    }
    if let Some(stats) = value.get_mut("stats")
        && stats.get("duration_ms").is_some_and(Value::is_number)
    {
        stats["duration_ms"] = json!(MS);
    }
}

/// The options of a run, which must name it: a generated id differs every time.
fn named_run(value: &Value) -> Run<RunOptions> {
    let options = run_options(value)?;
    if options.run_id.is_none() {
        return Err(broken("a run step needs a `run_id` in its options"));
    }
    Ok(options)
}

/// Run options from a vector's JSON, read by the core's own serde (the
/// `RunOptions` schema): a binding passes the same object to its own API.
fn run_options(value: &Value) -> Run<RunOptions> {
    reelgraph::from_value(value.clone()).map_err(|e| broken(format!("bad run options: {e}")))
}

/// What a function of an `exec/` vector does, as data: report `progress`,
/// then fail with `fails` (for every task, or only the nodes of
/// `fails_for`), or return `outputs` as given, or with `echo` the task's
/// params on every declared output port.
#[derive(Debug)]
struct Behaviour {
    progress: Vec<f64>,
    outputs: Option<Outputs>,
    echo: bool,
    fails: Option<TaskError>,
    fails_for: Option<Vec<String>>,
}

impl Behaviour {
    fn parse(name: &str, value: &Value) -> Run<Behaviour> {
        let at = |e: String| broken(format!("`input.functions.{name}`: {e}"));
        let Value::Object(m) = value else {
            return Err(at("must be an object".into()));
        };
        allow_keys(m, &["progress", "outputs", "echo", "fails", "fails_for"]).map_err(
            |e| match e {
                Failure::Broken(m) | Failure::Mismatch(m) => at(m),
            },
        )?;
        let behaviour = Behaviour {
            progress: optional(m, "progress")?.unwrap_or_default(),
            outputs: optional(m, "outputs")?,
            echo: optional(m, "echo")?.unwrap_or(false),
            fails: optional(m, "fails")?,
            fails_for: optional(m, "fails_for")?,
        };
        let always_fails = behaviour.fails.is_some() && behaviour.fails_for.is_none();
        match (behaviour.outputs.is_some(), behaviour.echo) {
            (true, true) => Err(at("give `outputs` or `echo`, not both".into())),
            (false, false) if !always_fails => Err(at(
                "give `outputs` or `echo` (or `fails` without `fails_for`)".into(),
            )),
            _ if behaviour.fails_for.is_some() && behaviour.fails.is_none() => {
                Err(at("`fails_for` needs `fails`".into()))
            }
            _ => Ok(behaviour),
        }
    }

    fn perform(&self, task: &Task, ctx: &TaskContext) -> Result<Outputs, TaskError> {
        for progress in &self.progress {
            ctx.progress.progress(*progress, None);
        }
        if let Some(error) = &self.fails
            && self
                .fails_for
                .as_ref()
                .is_none_or(|nodes| nodes.iter().any(|n| **n == *task.node))
        {
            return Err(error.clone());
        }
        if self.echo {
            return Ok(task
                .outputs
                .iter()
                .map(|port| (port.to_string(), Value::Object(task.params.clone())))
                .collect());
        }
        Ok(self.outputs.clone().unwrap_or_default())
    }
}

/// The registered version of each type, if any.
fn versions(catalog: &Catalog, names: &[String]) -> Vec<Option<u32>> {
    names
        .iter()
        .map(|n| catalog.get(n).map(|s| s.version))
        .collect()
}

fn type_name(spec: &Value) -> Option<String> {
    spec.get("type").and_then(Value::as_str).map(str::to_owned)
}

// ---------------------------------------------------------------------------
// Input helpers
// ---------------------------------------------------------------------------

fn allow_keys(input: &Map<String, Value>, allowed: &[&str]) -> Run<()> {
    match input.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => Err(broken(format!(
            "unknown input field `{key}` (allowed here: {})",
            allowed.join(", ")
        ))),
        None => Ok(()),
    }
}

fn flag(input: &Map<String, Value>, key: &str) -> Run<bool> {
    match input.get(key) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(broken(format!("`input.{key}` must be true or false"))),
    }
}

/// `input.<key>` when present.
fn optional<T: serde::de::DeserializeOwned>(
    input: &Map<String, Value>,
    key: &str,
) -> Run<Option<T>> {
    match input.get(key) {
        None => Ok(None),
        Some(_) => field(input, key).map(Some),
    }
}

fn field<T: serde::de::DeserializeOwned>(input: &Map<String, Value>, key: &str) -> Run<T> {
    let value = input
        .get(key)
        .ok_or_else(|| broken(format!("`input.{key}` is missing")))?;
    serde_json::from_value(value.clone()).map_err(|e| broken(format!("`input.{key}`: {e}")))
}

/// The built-in catalogue plus the specs of `input.catalog`, in order.
fn catalog_from(input: &Map<String, Value>) -> Run<Catalog> {
    let catalog = Catalog::builtin();
    let specs = match input.get("catalog") {
        None => return Ok(catalog),
        Some(Value::Array(specs)) => specs,
        Some(_) => return Err(broken("`input.catalog` must be an array of specs")),
    };
    for (i, spec) in specs.iter().enumerate() {
        catalog.register_json(&spec.to_string()).map_err(|e| {
            broken(format!(
                "`input.catalog[{i}]` was refused: {} ({e})",
                e.code()
            ))
        })?;
    }
    Ok(catalog)
}

/// The canvas of `input.canvas` (loaded through its JSON text), or an empty one.
fn canvas_from(input: &Map<String, Value>, catalog: &Catalog) -> Run<Canvas> {
    match input.get("canvas") {
        None => Ok(Canvas::new(
            catalog.clone(),
            DEFAULT_CANVAS.0,
            DEFAULT_CANVAS.1,
        )),
        Some(doc @ Value::Object(_)) => Canvas::from_json(catalog.clone(), &doc.to_string())
            .map_err(|e| broken(format!("`input.canvas` does not load: {} ({e})", e.code()))),
        Some(_) => Err(broken("`input.canvas` must be a canvas document object")),
    }
}

/// Applies `input.setup`, which must succeed.
fn apply_setup(canvas: &mut Canvas, input: &Map<String, Value>) -> Run<()> {
    let Some(setup) = input.get("setup") else {
        return Ok(());
    };
    if !setup.is_array() {
        return Err(broken("`input.setup` must be an array of ops"));
    }
    let ops = Op::parse_list(&setup.to_string())
        .map_err(|e| broken(format!("`input.setup` does not parse: {e}")))?;
    canvas.apply(ops).map(|_| ()).map_err(|e| {
        broken(format!(
            "`input.setup` was rejected: {} ({e}) {}",
            e.code(),
            e.details()
        ))
    })
}

// ---------------------------------------------------------------------------
// Canonical JSON
// ---------------------------------------------------------------------------

/// `{code, details}` of an error, plus `op_index` when it rejected an op.
fn actual_error(e: &Error, op_rejection: bool) -> ActualError {
    let details = e.details();
    let mut body = Map::new();
    body.insert("code".into(), json!(e.code()));
    if op_rejection {
        body.insert(
            "op_index".into(),
            details.get("op_index").cloned().unwrap_or(Value::Null),
        );
    }
    body.insert("details".into(), details);
    ActualError {
        body,
        message: e.to_string(),
        full: serde_json::to_value(e.to_body()).unwrap_or_default(),
    }
}

fn to_json_value(value: &(impl Serialize + ?Sized)) -> Run<Value> {
    serde_json::to_value(value).map_err(|e| mismatch(format!("cannot serialise: {e}")))
}

/// A canvas document with its volatile timestamps (when set) replaced by `"<ts>"`.
fn canvas_json(canvas: &Canvas) -> Run<Value> {
    parse_canvas(&canvas.to_json())
}

fn parse_canvas(text: &str) -> Run<Value> {
    let mut doc: Value = serde_json::from_str(text)
        .map_err(|e| mismatch(format!("the canvas wrote invalid JSON: {e}")))?;
    mask_timestamps(&mut doc);
    Ok(doc)
}

/// Replaces a document's `created_at` and `updated_at`, when they are
/// non-empty strings, with `"<ts>"`. An empty timestamp (a document that had
/// none) stays visible as "".
fn mask_timestamps(doc: &mut Value) {
    if let Value::Object(m) = doc {
        for key in ["created_at", "updated_at"] {
            if m.get(key)
                .and_then(Value::as_str)
                .is_some_and(|t| !t.is_empty())
            {
                m.insert(key.into(), json!(TS));
            }
        }
    }
}

fn without(value: &Value, keys: &[&str]) -> Value {
    let mut v = value.clone();
    if let Value::Object(m) = &mut v {
        for key in keys {
            m.remove(*key);
        }
    }
    v
}

/// Canonical equality: objects by keys, numbers by value (`4` equals `4.0`).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
                x == y
            } else if let (Some(x), Some(y)) = (x.as_u64(), y.as_u64()) {
                x == y
            } else {
                x.as_f64() == y.as_f64()
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// The same value with every object's keys in sorted order.
fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&m[k])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Pretty JSON, 2-space indent, sorted keys, trailing newline: how vector files are written.
fn canonical_text(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(&sorted(value)).unwrap_or_default();
    text.push('\n');
    text
}

/// A value for a message: pretty, sorted, and cut when long.
fn render(value: &Value) -> String {
    let text = serde_json::to_string_pretty(&sorted(value)).unwrap_or_default();
    if text.len() <= MAX_RENDERED {
        return text;
    }
    let mut cut = MAX_RENDERED;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}… ({} bytes in all)", &text[..cut], text.len())
}

/// Every place where `want` and `got` differ, as JSON pointers with both values.
fn diff(want: &Value, got: &Value) -> String {
    let mut found = Differences::default();
    found.walk("", want, got);
    let mut text = found.lines.join("\n");
    if found.total > found.lines.len() {
        let _ = write!(
            text,
            "\n… and {} more differences",
            found.total - found.lines.len()
        );
    }
    text
}

#[derive(Default)]
struct Differences {
    lines: Vec<String>,
    total: usize,
}

impl Differences {
    fn note(&mut self, text: String) {
        self.total += 1;
        if self.lines.len() < MAX_DIFFERENCES {
            self.lines.push(text);
        }
    }

    fn walk(&mut self, path: &str, want: &Value, got: &Value) {
        match (want, got) {
            (Value::Object(w), Value::Object(g)) => {
                let mut keys: Vec<&String> = w.keys().chain(g.keys()).collect();
                keys.sort();
                keys.dedup();
                for key in keys {
                    let child = format!("{path}/{}", key.replace('~', "~0").replace('/', "~1"));
                    self.child(&child, w.get(key), g.get(key));
                }
            }
            (Value::Array(w), Value::Array(g)) => match (ids(w), ids(g)) {
                // Nodes, edges, groups: align by id so a moved item reads as a move.
                (Some(wi), Some(gi)) => {
                    if wi != gi {
                        self.note(format!(
                            "at {path}: the ids differ or are in another order\n  - {}\n  + {}",
                            wi.join(", "),
                            gi.join(", ")
                        ));
                    }
                    for id in wi.iter().chain(gi.iter().filter(|id| !wi.contains(id))) {
                        self.child(&format!("{path}[id={id}]"), by_id(w, id), by_id(g, id));
                    }
                }
                _ => {
                    for i in 0..w.len().max(g.len()) {
                        self.child(&format!("{path}/{i}"), w.get(i), g.get(i));
                    }
                }
            },
            _ if same(want, got) => {}
            _ => {
                let at = if path.is_empty() { "(root)" } else { path };
                self.note(format!("at {at}:\n{}\n{}", side("-", want), side("+", got)));
            }
        }
    }

    fn child(&mut self, path: &str, want: Option<&Value>, got: Option<&Value>) {
        match (want, got) {
            (Some(w), Some(g)) => self.walk(path, w, g),
            (Some(w), None) => self.note(format!("at {path}: missing\n{}", side("-", w))),
            (None, Some(g)) => self.note(format!("at {path}: not expected\n{}", side("+", g))),
            (None, None) => {}
        }
    }
}

/// The `id` of every item, when every item is an object with a distinct string id.
fn ids(items: &[Value]) -> Option<Vec<String>> {
    let ids: Vec<String> = items
        .iter()
        .map(|item| item.get("id").and_then(Value::as_str).map(str::to_owned))
        .collect::<Option<_>>()?;
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    (unique.len() == ids.len()).then_some(ids)
}

fn by_id<'a>(items: &'a [Value], id: &str) -> Option<&'a Value> {
    items.iter().find(|item| item["id"].as_str() == Some(id))
}

fn side(mark: &str, value: &Value) -> String {
    indent(&render(value), &format!("  {mark} "))
}

fn indent(text: &str, prefix: &str) -> String {
    text.lines()
        .map(|l| format!("{prefix}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
