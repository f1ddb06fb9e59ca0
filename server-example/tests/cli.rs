//! The `reelgraph` binary, run as a user runs it: in a temporary folder,
//! with stdout and stderr captured (so never a terminal: plain lines).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

/// The demo short film, "The Last Lighthouse": 50 nodes, 22 tasks.
const DEMO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../examples/short-film/canvas.json"
);

fn reelgraph(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_reelgraph"));
    command.current_dir(dir);
    command
}

/// What a finished command left.
#[derive(Debug)]
struct Done {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(dir: &Path, args: &[&str]) -> Done {
    let output = reelgraph(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs");
    Done {
        code: output.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(output.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("UTF-8 stderr"),
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// The demo canvas with two property errors: `img_1a.cfg_scale` out of
/// range and `edit.fps` not a number.
fn broken_canvas(dir: &Path) -> PathBuf {
    let mut doc: Value = serde_json::from_str(&fs::read_to_string(DEMO).unwrap()).unwrap();
    for node in doc["nodes"].as_array_mut().unwrap() {
        match node["id"].as_str().unwrap() {
            "img_1a" => node["properties"]["cfg_scale"] = json!(999),
            "edit" => node["properties"]["fps"] = json!("fast"),
            _ => {}
        }
    }
    let file = dir.join("broken.json");
    fs::write(&file, doc.to_string()).unwrap();
    file
}

/// Files under `dir/sub` whose name ends in `ext`.
fn files(dir: &Path, sub: &str, ext: &str) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir.join(sub)) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_str().unwrap().ends_with(ext))
        .collect();
    found.sort();
    found
}

fn report(out: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(out.join("run-report.json")).unwrap()).unwrap()
}

fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn validate_says_valid_invalid_or_unreadable_with_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let demo = Path::new(DEMO);

    let valid = run(dir.path(), &["validate", path(demo)]);
    assert_eq!(valid.code, 0, "{valid:?}");
    assert!(
        valid
            .stdout
            .contains("the-last-lighthouse (50 nodes, 102 edges): valid, 0 errors"),
        "{valid:?}"
    );

    let broken = broken_canvas(dir.path());
    let invalid = run(dir.path(), &["validate", path(&broken)]);
    assert_eq!(invalid.code, 1, "{invalid:?}");
    assert!(
        invalid
            .stdout
            .contains("error[property_invalid] img_1a.cfg_scale: "),
        "{invalid:?}"
    );
    assert!(
        invalid
            .stdout
            .contains("error[property_invalid] edit.fps: ")
    );
    assert!(invalid.stdout.contains("  hint: give a value from 1 to 30"));
    assert!(invalid.stdout.contains("invalid, 2 errors"));

    let as_json = run(dir.path(), &["validate", "--json", path(&broken)]);
    assert_eq!(as_json.code, 1);
    let report: Value = serde_json::from_str(&as_json.stdout).unwrap();
    assert_eq!(report["errors"], 2);
    assert_eq!(report["diagnostics"][0]["code"], "property_invalid");

    fs::write(dir.path().join("garbage.json"), "not json {").unwrap();
    let garbage = run(dir.path(), &["validate", "garbage.json"]);
    assert_eq!(garbage.code, 2, "{garbage:?}");
    assert!(
        garbage
            .stderr
            .starts_with("error[invalid_json]: garbage.json: invalid JSON"),
        "{garbage:?}"
    );
    assert!(garbage.stderr.contains("\nhint: "));
    assert!(garbage.stdout.is_empty());

    let mut newer: Value = serde_json::from_str(&fs::read_to_string(demo).unwrap()).unwrap();
    newer["format_version"] = json!(99);
    fs::write(dir.path().join("newer.json"), newer.to_string()).unwrap();
    let newer = run(dir.path(), &["validate", "newer.json"]);
    assert_eq!(newer.code, 2);
    assert!(
        newer.stderr.contains("error[unsupported_format_version]"),
        "{newer:?}"
    );

    let missing = run(dir.path(), &["validate", "nowhere.json"]);
    assert_eq!(missing.code, 2);
    assert!(
        missing
            .stderr
            .starts_with("error[io]: cannot read nowhere.json")
    );
}

#[test]
fn run_makes_frames_edl_and_contact_sheet_and_a_second_run_is_all_cached() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("film");
    let args = ["run", DEMO, "--out", "film", "--quality", "draft"];

    let first = run(dir.path(), &args);
    assert_eq!(first.code, 0, "{first:?}");
    // Not a terminal: plain lines, no escape codes, no progress bars.
    assert!(!first.stdout.contains('\u{1b}'));
    assert!(
        first.stdout.starts_with("run run-") && first.stdout.contains("22 tasks at draft quality"),
        "{}",
        first.stdout
    );
    assert!(first.stdout.contains("✓ img_1a image.generate "));
    assert!(first.stdout.contains("✓ export media.export "));
    assert!(first.stdout.contains("\nrun completed\n"));
    assert!(
        first
            .stdout
            .contains(": 22 run, 0 cached, 0 failed, 0 skipped"),
        "{}",
        first.stdout
    );

    let sheets = files(&out, "export", ".png");
    assert_eq!(sheets.len(), 1, "one contact sheet");
    assert!(fs::read(&sheets[0]).unwrap().starts_with(b"\x89PNG"));
    let edls = files(&out, "edl", ".edl");
    assert_eq!(edls.len(), 1, "one EDL");
    assert!(fs::read_to_string(&edls[0]).unwrap().starts_with("TITLE:"));
    let frames = files(&out, "frames", ".png");
    assert!(frames.len() >= 12, "a frame per shot, got {frames:?}");
    assert!(!files(&out, "audio", ".wav").is_empty());
    assert!(
        fs::read_to_string(out.join("canvas.svg"))
            .unwrap()
            .starts_with("<svg")
    );
    // The summary says where things are.
    let sheet = sheets[0].strip_prefix(dir.path()).unwrap();
    assert!(
        first
            .stdout
            .contains(&format!("  contact sheet  {}\n", sheet.display())),
        "{}",
        first.stdout
    );
    assert!(first.stdout.contains("  EDL            film/edl/"));
    assert!(
        first
            .stdout
            .contains("  report         film/run-report.json")
    );

    let report1 = report(&out);
    assert_eq!(report1["status"], "completed");
    assert_eq!(report1["stats"]["executed"], 22);
    assert_eq!(report1["outputs"].as_object().unwrap().len(), 22);

    let second = run(dir.path(), &args);
    assert_eq!(second.code, 0, "{second:?}");
    assert!(
        second
            .stdout
            .contains(": 0 run, 22 cached, 0 failed, 0 skipped"),
        "{}",
        second.stdout
    );
    assert!(!second.stdout.contains("started"));
    let report2 = report(&out);
    assert_eq!(report2["stats"]["executed"], 0);
    assert_eq!(report2["stats"]["cache_hits"], 22);
    // The cached results still point at the files of the first run.
    assert_eq!(report2["outputs"], report1["outputs"]);
    assert!(second.stdout.contains(&format!("{}", sheet.display())));
}

#[test]
fn json_mode_prints_one_event_per_line_with_gapless_seq() {
    let dir = tempfile::tempdir().unwrap();
    let done = run(
        dir.path(),
        &[
            "run",
            DEMO,
            "--out",
            "out",
            "--quality",
            "draft",
            "--targets",
            "img_title",
            "--json",
        ],
    );
    assert_eq!(done.code, 0, "{done:?}");
    let events = json_lines(&done.stdout);
    for (i, event) in events.iter().enumerate() {
        assert_eq!(event["seq"], i, "{event}");
        assert_eq!(event["run_id"], events[0]["run_id"]);
        assert!(event["ts"].is_string());
    }
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types.first(), Some(&"run_started"));
    assert_eq!(types.last(), Some(&"run_completed"));
    for kind in [
        "node_queued",
        "node_started",
        "node_progress",
        "node_completed",
    ] {
        assert!(types.contains(&kind), "no {kind} in {types:?}");
    }
    assert_eq!(events[0]["tasks"], 1);
    // People's lines go to stderr, so stdout stays NDJSON.
    assert!(done.stderr.contains("completed in "), "{}", done.stderr);
}

#[test]
fn targets_run_only_what_the_targets_need() {
    let dir = tempfile::tempdir().unwrap();
    let done = run(
        dir.path(),
        &[
            "run",
            DEMO,
            "--out",
            "out",
            "--quality",
            "draft",
            "--targets",
            "vid_1a",
        ],
    );
    assert_eq!(done.code, 0, "{done:?}");
    assert!(done.stdout.contains(": 2 run, 0 cached"), "{}", done.stdout);
    let report = report(&dir.path().join("out"));
    assert_eq!(report["stats"]["tasks"], 2);
    let ran: BTreeSet<&str> = report["outputs"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(ran, BTreeSet::from(["img_1a", "vid_1a"]));
    assert!(files(&dir.path().join("out"), "export", ".png").is_empty());
    assert!(files(&dir.path().join("out"), "edl", ".edl").is_empty());
}

#[test]
fn a_failing_node_is_reported_with_its_hint_and_exit_code_1() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let args = [
        "run",
        DEMO,
        "--out",
        "out",
        "--quality",
        "draft",
        "--targets",
        "vid_1a",
    ];
    assert_eq!(run(dir.path(), &args).code, 0);
    // The cached frame's file is gone: the video node that reads it fails.
    for frame in files(&out, "frames", ".png") {
        fs::remove_file(frame).unwrap();
    }
    let mut forced = args.to_vec();
    forced.extend(["--force", "vid_1a"]);
    let failed = run(dir.path(), &forced);
    assert_eq!(failed.code, 1, "{failed:?}");
    assert!(
        failed.stdout.contains("✗ vid_1a failed: invalid_input: "),
        "{}",
        failed.stdout
    );
    assert!(failed.stdout.contains("does not exist"));
    assert!(
        failed
            .stdout
            .contains("    hint: run the node that made it again")
    );
    assert!(
        failed
            .stdout
            .contains(": 0 run, 1 cached, 1 failed, 0 skipped"),
        "{}",
        failed.stdout
    );
    assert_eq!(report(&out)["status"], "failed");
    assert!(report(&out)["errors"]["vid_1a"]["message"].is_string());
}

#[test]
fn refusals_exit_2_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let broken = broken_canvas(dir.path());

    let invalid = run(dir.path(), &["run", path(&broken), "--out", "out"]);
    assert_eq!(invalid.code, 2, "{invalid:?}");
    assert!(
        invalid
            .stderr
            .contains("error[property_invalid] img_1a.cfg_scale: "),
        "the report is printed: {}",
        invalid.stderr
    );
    assert!(
        invalid
            .stderr
            .contains("error[invalid_canvas]: canvas `the-last-lighthouse` has 2 validation errors; nothing ran"),
        "{}",
        invalid.stderr
    );
    assert!(invalid.stderr.contains("\nhint: "));
    assert!(invalid.stdout.is_empty());
    assert!(!dir.path().join("out").exists(), "no output folder");

    // The part of a broken canvas that the targets need may still run.
    let partial = run(
        dir.path(),
        &[
            "run",
            path(&broken),
            "--out",
            "partial",
            "--quality",
            "draft",
            "--targets",
            "img_2a",
        ],
    );
    assert_eq!(partial.code, 0, "{partial:?}");

    let demo = Path::new(DEMO);
    let unknown = run(
        dir.path(),
        &[
            "run",
            path(demo),
            "--out",
            "out",
            "--targets",
            "img_1a,nope",
        ],
    );
    assert_eq!(unknown.code, 2, "{unknown:?}");
    assert!(
        unknown.stderr.starts_with(
            "error[unknown_node]: --targets: there is no node `nope` in canvas `the-last-lighthouse`"
        ),
        "{}",
        unknown.stderr
    );
    assert!(unknown.stderr.contains(
        "hint: node ids are case-sensitive; the task nodes of this canvas are: img_1a, img_1b,"
    ));

    let data = run(
        dir.path(),
        &["run", path(demo), "--out", "out", "--targets", "elias"],
    );
    assert_eq!(data.code, 2, "{data:?}");
    assert!(data.stderr.starts_with("error[no_task]: node `elias`"));

    let force = run(
        dir.path(),
        &["run", path(demo), "--out", "out", "--force", "nope"],
    );
    assert_eq!(force.code, 2);
    assert!(force.stderr.starts_with("error[unknown_node]: --force: "));

    let bad_args = run(
        dir.path(),
        &["run", path(demo), "--out", "out", "--quality", "best"],
    );
    assert_eq!(bad_args.code, 2);
    assert!(
        bad_args
            .stderr
            .contains("possible values: draft, standard, high, ultra")
    );

    assert!(!dir.path().join("out").exists(), "no output folder");
}

#[test]
fn a_damaged_cache_is_warned_about_and_the_run_goes_on_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let canvas = dir.path().join("canvas.json");
    fs::copy(DEMO, &canvas).unwrap();
    let canvas_before = fs::read(&canvas).unwrap();
    let args = [
        "run",
        "canvas.json",
        "--out",
        "out",
        "--quality",
        "draft",
        "--targets",
        "vid_1a",
    ];
    assert_eq!(run(dir.path(), &args).code, 0);
    let cache = dir.path().join("out").join(".cache.sqlite");
    let healthy = fs::read(&cache).unwrap();
    let warned = |done: &Done| {
        assert_eq!(done.code, 0, "{done:?}");
        assert!(
            done.stderr
                .contains("warning: the result cache out/.cache.sqlite "),
            "{}",
            done.stderr
        );
        assert!(
            done.stderr.contains(
                "hint: delete out/.cache.sqlite to start a new cache (it holds only results that can be made again), or run with --no-cache"
            ),
            "{}",
            done.stderr
        );
        assert!(
            done.stdout
                .contains(": 2 run, 0 cached, 0 failed, 0 skipped"),
            "{}",
            done.stdout
        );
    };

    // Overwritten with garbage, and cut short: the file does not open.
    let garbage = b"not a database; ".repeat(512);
    for damaged in [&garbage[..], &healthy[..healthy.len() / 2]] {
        fs::write(&cache, damaged).unwrap();
        let done = run(dir.path(), &args);
        warned(&done);
        assert!(done.stderr.contains(" cannot be used ("), "{}", done.stderr);
        assert_eq!(fs::read(&cache).unwrap(), damaged, "left for the user");
    }

    // A damaged page of results: the file opens, its lookups fail.
    let mut broken = healthy.clone();
    broken[4096..8192].fill(0x5A);
    fs::write(&cache, &broken).unwrap();
    let done = run(dir.path(), &args);
    warned(&done);
    assert!(
        done.stderr.contains(" failed during the run ("),
        "{}",
        done.stderr
    );
    assert!(done.stdout.contains("queued    img_1a (cache unavailable)"));

    // --no-cache leaves the file alone and says nothing about it.
    fs::write(&cache, &garbage).unwrap();
    let mut no_cache = args.to_vec();
    no_cache.push("--no-cache");
    let done = run(dir.path(), &no_cache);
    assert_eq!(done.code, 0, "{done:?}");
    assert!(!done.stderr.contains("warning"), "{}", done.stderr);
    assert!(
        done.stdout
            .contains(": 2 run, 0 cached, 0 failed, 0 skipped")
    );
    assert_eq!(fs::read(&cache).unwrap(), garbage);

    assert_eq!(
        fs::read(&canvas).unwrap(),
        canvas_before,
        "the canvas file is never touched"
    );
}

#[test]
fn no_cache_neither_reads_nor_writes_a_healthy_cache() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "run",
        DEMO,
        "--out",
        "out",
        "--quality",
        "draft",
        "--targets",
        "img_1a",
    ];
    assert_eq!(run(dir.path(), &args).code, 0);
    let cache = dir.path().join("out").join(".cache.sqlite");
    let stored = fs::read(&cache).unwrap();
    let mut no_cache = args.to_vec();
    no_cache.push("--no-cache");
    let done = run(dir.path(), &no_cache);
    assert_eq!(done.code, 0, "{done:?}");
    assert!(
        done.stdout
            .contains(": 1 run, 0 cached, 0 failed, 0 skipped"),
        "{}",
        done.stdout
    );
    assert_eq!(fs::read(&cache).unwrap(), stored);
    let again = run(dir.path(), &args);
    assert!(
        again.stdout.contains(": 0 run, 1 cached"),
        "{}",
        again.stdout
    );
}

#[test]
fn ctrl_c_cancels_the_run_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    // One task at a time: the run is far from done when the first task starts.
    let mut child = reelgraph(dir.path())
        .args([
            "run",
            DEMO,
            "--out",
            "out",
            "--quality",
            "draft",
            "--concurrency",
            "1",
            "--json",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut events = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        assert_ne!(stdout.read_line(&mut line).unwrap(), 0, "ended early");
        let event: Value = serde_json::from_str(&line).unwrap();
        let started = event["type"] == "node_started";
        events.push(event);
        if started {
            break;
        }
    }
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    events.extend(json_lines(&rest));
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");

    let last = events.last().unwrap();
    assert_eq!(last["type"], "run_cancelled", "{last}");
    for (i, event) in events.iter().enumerate() {
        assert_eq!(event["seq"], i);
    }
    assert!(stderr.contains("cancelling: "), "{stderr}");
    assert!(stderr.contains("cancelled after "), "{stderr}");
    assert!(stderr.contains("did not start: "), "{stderr}");
    let report = report(&dir.path().join("out"));
    assert_eq!(report["status"], "cancelled");
    assert!(report["stats"]["executed"].as_u64().unwrap() < 22);
}

#[test]
fn convert_round_trips_through_react_flow() {
    let dir = tempfile::tempdir().unwrap();
    let demo = Path::new(DEMO);
    let to_flow = run(dir.path(), &["convert", path(demo), "canvas.flow.json"]);
    assert_eq!(to_flow.code, 0, "{to_flow:?}");
    assert!(to_flow.stderr.contains("(react-flow)"));
    let flow: Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("canvas.flow.json")).unwrap())
            .unwrap();
    assert_eq!(flow["nodes"].as_array().unwrap().len(), 50);
    assert_eq!(flow["edges"].as_array().unwrap().len(), 102);

    // Told from the content on the way back; `.json` alone needs --to.
    let ambiguous = run(dir.path(), &["convert", "canvas.flow.json", "back.json"]);
    assert_eq!(ambiguous.code, 2);
    assert!(ambiguous.stderr.starts_with("error[unknown_format]: "));
    let back = run(
        dir.path(),
        &["convert", "canvas.flow.json", "back.json", "--to", "native"],
    );
    assert_eq!(back.code, 0, "{back:?}");
    let original: Value = serde_json::from_str(&fs::read_to_string(demo).unwrap()).unwrap();
    let again: Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("back.json")).unwrap()).unwrap();
    assert_eq!(again["format"], "reelgraph.canvas");
    assert_eq!(again["nodes"], original["nodes"]);
    assert_eq!(again["edges"], original["edges"]);
    assert_eq!(
        run(dir.path(), &["validate", "back.json"]).code,
        0,
        "the round trip is still a valid canvas"
    );

    let mermaid = run(dir.path(), &["convert", "back.json", "canvas.mmd"]);
    assert_eq!(mermaid.code, 0);
    assert!(
        fs::read_to_string(dir.path().join("canvas.mmd"))
            .unwrap()
            .contains("flowchart LR")
    );
}

#[test]
fn convert_imports_a_comfyui_workflow_with_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let workflow = json!({
        "version": 0.4,
        "nodes": [
            {"id": 1, "type": "CheckpointLoaderSimple", "pos": [0, 0], "title": "Load model",
             "outputs": [{"name": "MODEL", "type": "MODEL", "links": [1]},
                         {"name": "CLIP", "type": "CLIP", "links": [2]}],
             "widgets_values": ["sd15.safetensors"]},
            {"id": 2, "type": "CLIPTextEncode", "pos": [300, 200],
             "inputs": [{"name": "clip", "type": "CLIP", "link": 2}],
             "outputs": [{"name": "CONDITIONING", "type": "CONDITIONING", "links": [3]}],
             "widgets_values": ["a lighthouse at dusk, storm"]},
            {"id": 3, "type": "KSampler", "pos": [600, 0],
             "inputs": [{"name": "model", "type": "MODEL", "link": 1},
                        {"name": "positive", "type": "CONDITIONING", "link": 3}],
             "outputs": [{"name": "LATENT", "type": "LATENT", "links": []}],
             "widgets_values": [42, "fixed", 20, 7.5, "euler", "normal", 1.0]},
            {"id": 4, "type": "Note", "pos": [0, 400], "widgets_values": ["storyboard pass"]}
        ],
        // Link 9 goes to an input slot KSampler does not have, and no input names it.
        "links": [[1, 1, 0, 3, 0, "MODEL"], [2, 1, 1, 2, 0, "CLIP"],
                  [3, 2, 0, 3, 1, "CONDITIONING"], [9, 7, 0, 3, 2, "LATENT"]],
        "groups": []
    });
    fs::write(dir.path().join("workflow.json"), workflow.to_string()).unwrap();

    let imported = run(
        dir.path(),
        &["convert", "workflow.json", "imported.canvas.json"],
    );
    assert_eq!(imported.code, 0, "{imported:?}");
    assert!(
        imported
            .stderr
            .contains("warning[dangling_edge]: workflow.json: edge 9: "),
        "{}",
        imported.stderr
    );
    assert!(imported.stderr.contains("(comfyui)"));
    let canvas: Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("imported.canvas.json")).unwrap())
            .unwrap();
    assert_eq!(canvas["nodes"].as_array().unwrap().len(), 4);
    assert_eq!(canvas["edges"].as_array().unwrap().len(), 3);

    let api = run(dir.path(), &["convert", "workflow.json", "prompt.api.json"]);
    assert_eq!(api.code, 0, "{api:?}");
    assert!(
        api.stderr
            .contains("note: left out of the prompt (editor only): 4")
    );
    let prompt: Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("prompt.api.json")).unwrap())
            .unwrap();
    assert_eq!(prompt["3"]["class_type"], "KSampler");
    assert_eq!(prompt["3"]["inputs"]["model"], json!(["1", 0]));
    assert!(prompt.get("4").is_none());

    // The short film has no ComfyUI node: an empty prompt is refused.
    let empty = run(dir.path(), &["convert", DEMO, "film.api.json"]);
    assert_eq!(empty.code, 2);
    assert!(empty.stderr.starts_with("error[empty_prompt]: "));
}

#[test]
fn convert_names_widgets_after_object_info_and_reads_api_prompts() {
    let dir = tempfile::tempdir().unwrap();
    let workflow = json!({
        "nodes": [{"id": 1, "type": "MyBlur", "pos": [0, 0], "outputs": [],
                   "widgets_values": [3, "gaussian"]}],
        "links": []
    });
    fs::write(dir.path().join("workflow.json"), workflow.to_string()).unwrap();
    let guessed = run(dir.path(), &["convert", "workflow.json", "prompt.api.json"]);
    assert_eq!(guessed.code, 0, "{guessed:?}");
    assert!(
        guessed.stderr.contains("warning[guessed_widget_names]"),
        "{}",
        guessed.stderr
    );

    let info = json!({"MyBlur": {"input": {"required": {
        "image": ["IMAGE"], "radius": ["INT", {}], "kind": [["box", "gaussian"]]}},
        "input_order": {"required": ["image", "radius", "kind"]}}});
    fs::write(dir.path().join("object_info.json"), info.to_string()).unwrap();
    let named = run(
        dir.path(),
        &[
            "convert",
            "workflow.json",
            "named.api.json",
            "--object-info",
            "object_info.json",
        ],
    );
    assert_eq!(named.code, 0, "{named:?}");
    assert!(!named.stderr.contains("guessed_widget_names"));
    let prompt: Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("named.api.json")).unwrap())
            .unwrap();
    assert_eq!(
        prompt["1"]["inputs"],
        json!({"radius": 3, "kind": "gaussian"})
    );

    // The prompt reads back: laid out, with a note that it had no layout.
    let back = run(
        dir.path(),
        &["convert", "named.api.json", "back.canvas.json"],
    );
    assert_eq!(back.code, 0, "{back:?}");
    assert!(
        back.stderr.contains("warning[no_layout]"),
        "{}",
        back.stderr
    );

    fs::write(dir.path().join("bad_info.json"), "[1]").unwrap();
    let bad = run(
        dir.path(),
        &[
            "convert",
            "workflow.json",
            "x.api.json",
            "--object-info",
            "bad_info.json",
        ],
    );
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(
        bad.stderr.starts_with("error[wrong_format]: "),
        "{}",
        bad.stderr
    );
}

#[test]
fn render_writes_svg_dot_and_mermaid() {
    let dir = tempfile::tempdir().unwrap();
    let demo = Path::new(DEMO);
    let svg = run(dir.path(), &["render", path(demo), "-o", "canvas.svg"]);
    assert_eq!(svg.code, 0, "{svg:?}");
    let text = fs::read_to_string(dir.path().join("canvas.svg")).unwrap();
    assert!(text.starts_with("<svg"));
    assert!(text.contains("The Last Lighthouse"));
    assert!(text.trim_end().ends_with("</svg>"));

    let dot = run(dir.path(), &["render", path(demo), "-o", "canvas.dot"]);
    assert_eq!(dot.code, 0);
    assert!(
        fs::read_to_string(dir.path().join("canvas.dot"))
            .unwrap()
            .starts_with("digraph")
    );

    let mermaid = run(dir.path(), &["render", path(demo), "--format", "mermaid"]);
    assert_eq!(mermaid.code, 0);
    assert!(mermaid.stdout.contains("flowchart LR"));
}

/// The most bytes the command line reads from one input (the core's
/// `store::MAX_DOCUMENT_BYTES`, 64 MiB).
const INPUT_LIMIT: u64 = 64 << 20;

#[test]
fn inputs_over_the_size_limit_are_refused_without_reading_them_whole() {
    let dir = tempfile::tempdir().unwrap();
    // A sparse file one byte over the limit: refused from its size.
    let big = dir.path().join("big.json");
    fs::File::create(&big)
        .unwrap()
        .set_len(INPUT_LIMIT + 1)
        .unwrap();
    let commands: [&[&str]; 4] = [
        &["validate", "big.json"],
        &["render", "big.json"],
        &["convert", "big.json", "out.canvas.json"],
        &["run", "big.json", "--out", "out"],
    ];
    for args in commands {
        let done = run(dir.path(), args);
        assert_eq!(done.code, 2, "{args:?}: {done:?}");
        assert!(
            done.stderr.starts_with(&format!(
                "error[too_large]: big.json: the file is {} bytes, more than the limit of {INPUT_LIMIT} bytes (64 MiB)",
                INPUT_LIMIT + 1
            )),
            "{args:?}: {}",
            done.stderr
        );
        assert!(
            done.stderr.contains("\nhint: "),
            "{args:?}: {}",
            done.stderr
        );
        assert!(done.stdout.is_empty());
    }
    assert!(!dir.path().join("out.canvas.json").exists());
    assert!(!dir.path().join("out").exists());

    // Exactly at the limit is read (and then found not to be JSON).
    fs::File::create(&big)
        .unwrap()
        .set_len(INPUT_LIMIT)
        .unwrap();
    let at_limit = run(dir.path(), &["validate", "big.json"]);
    assert_eq!(at_limit.code, 2);
    assert!(
        at_limit
            .stderr
            .starts_with("error[invalid_json]: big.json: "),
        "{at_limit:?}"
    );

    // A file without an end: reading stops one byte past the limit.
    #[cfg(unix)]
    {
        let endless = run(dir.path(), &["validate", "/dev/zero"]);
        assert_eq!(endless.code, 2, "{endless:?}");
        assert!(
            endless.stderr.starts_with(&format!(
                "error[too_large]: /dev/zero: it is more than the limit of {INPUT_LIMIT} bytes (64 MiB)"
            )),
            "{}",
            endless.stderr
        );
    }
}

#[test]
fn stdin_longer_than_the_limit_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for args in [["validate", "-"], ["render", "-"]] {
        let mut child = reelgraph(dir.path())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        // JSON white space, twice the limit, written until the reader stops
        // taking it (the limit holds for a stream that never ends).
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            let chunk = vec![b' '; 1 << 20];
            let mut written = 0u64;
            while written < 2 * INPUT_LIMIT {
                if stdin.write_all(&chunk).is_err() {
                    break;
                }
                written += chunk.len() as u64;
            }
            written
        });
        let output = child.wait_with_output().unwrap();
        let written = writer.join().unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.starts_with(&format!(
                "error[too_large]: <stdin>: it is more than the limit of {INPUT_LIMIT} bytes (64 MiB)"
            )),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains("\nhint: "));
        // Whole chunks only: the one the reader stopped in does not count.
        assert!(written >= INPUT_LIMIT, "the writer wrote {written} bytes");
    }
}

#[test]
fn json_that_is_not_an_object_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("[1, 2]", "a JSON array"),
        ("[]", "a JSON array"),
        (" [{\"format\": \"reelgraph.canvas\"}]", "a JSON array"),
        ("42", "a JSON number"),
        ("-0.5e3", "a JSON number"),
        ("\"canvas\"", "a JSON string"),
        ("true", "a JSON boolean"),
        ("null", "JSON null"),
    ];
    for (text, found) in cases {
        fs::write(dir.path().join("odd.json"), text).unwrap();
        for args in [
            &["validate", "odd.json"][..],
            &["run", "odd.json", "--out", "out"],
            &["convert", "odd.json", "out.flow.json", "--from", "native"],
        ] {
            let done = run(dir.path(), args);
            assert_eq!(done.code, 2, "{text} {args:?}: {done:?}");
            assert!(
                done.stderr.starts_with(&format!(
                    "error[invalid_json]: odd.json: expected a canvas document (a JSON object with \"format\": \"reelgraph.canvas\"), found {found}"
                )),
                "{text} {args:?}: {}",
                done.stderr
            );
            assert!(
                done.stderr
                    .contains("\nhint: each format reelgraph reads is one JSON object"),
                "{text} {args:?}: {}",
                done.stderr
            );
        }
        // Told from the content: none of the formats read is anything but an object.
        for args in [
            &["render", "odd.json"][..],
            &["convert", "odd.json", "out.canvas.json"],
        ] {
            let done = run(dir.path(), args);
            assert_eq!(done.code, 2, "{text} {args:?}: {done:?}");
            assert!(
                done.stderr.starts_with(&format!(
                    "error[unknown_format]: odd.json: cannot tell which format this is: found {found}, not a reelgraph canvas"
                )),
                "{text} {args:?}: {}",
                done.stderr
            );
            assert!(
                done.stderr
                    .contains("\nhint: pass --from native|react-flow|comfyui")
            );
        }
    }
    // JSON that is broken stays a syntax error, whatever it starts with.
    fs::write(dir.path().join("odd.json"), "[1, 2").unwrap();
    for args in [&["validate", "odd.json"][..], &["render", "odd.json"]] {
        let done = run(dir.path(), args);
        assert!(
            done.stderr
                .starts_with("error[invalid_json]: odd.json: invalid JSON"),
            "{args:?}: {}",
            done.stderr
        );
    }
}
