//! Hostile input: demo functions handed paths that lead out of their output
//! folder, in params, in upstream outputs and in cached results.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use reelgraph::cache::{MemoryCache, ResultCache};
use reelgraph::exec::{ContentKey, Executor, PlanOptions, Planner, RunOptions, RunStatus};
use reelgraph::runner::{FunctionRunner, LocalRunner, Outputs, Task, TaskContext, TaskErrorKind};
use reelgraph::{Canvas, Catalog, Op, Quality};
use serde_json::{Value, json};

fn object(value: Value) -> Outputs {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// The content key of `node` in a full plan of `canvas`.
fn key_of(canvas: &Canvas, node: &str) -> ContentKey {
    let planner = Planner::new(canvas, PlanOptions::all(Quality::Standard)).unwrap();
    planner.plan().step(node).unwrap().key
}

/// A small PNG, made by the demo itself.
async fn png(dir: &Path) -> Vec<u8> {
    let runner = reelgraph_demo::runner(dir);
    let outputs = runner
        .run(
            task(
                "image.generate",
                json!({"prompt": "a lighthouse", "width": 256, "height": 256, "scale": 0.25}),
                "image",
            ),
            TaskContext::detached(),
        )
        .await
        .unwrap();
    let path = outputs["image"]["path"].as_str().unwrap();
    std::fs::read(dir.join(path)).unwrap()
}

fn task(function: &str, params: Value, port: &str) -> Task {
    Task {
        run_id: Arc::from("run-1"),
        node: Arc::from("node-1"),
        node_type: Arc::from("test"),
        function: Arc::from(function),
        params: object(params),
        quality: Quality::Draft,
        quality_fallback: false,
        idempotency_key: "k1".to_owned(),
        outputs: Arc::from([Arc::from(port)]),
    }
}

/// `<tmp>/secret.png`, `<tmp>/secret.txt` and `<tmp>/out/` with a frame
/// of its own in `frames/inside.png`.
struct Setup {
    _dir: tempfile::TempDir,
    root: PathBuf,
    out: PathBuf,
    runner: LocalRunner,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let out = root.join("out");
    let bytes = png(&root.join("scratch")).await;
    std::fs::write(root.join("secret.png"), &bytes).unwrap();
    std::fs::write(root.join("secret.txt"), "the password").unwrap();
    std::fs::create_dir_all(out.join("frames")).unwrap();
    std::fs::write(out.join("frames/inside.png"), &bytes).unwrap();
    let runner = reelgraph_demo::runner(&out);
    Setup {
        _dir: dir,
        root,
        out,
        runner,
    }
}

async fn refused(setup: &Setup, function: &str, params: Value, port: &str, path: &str) {
    let error = setup
        .runner
        .run(task(function, params, port), TaskContext::detached())
        .await
        .expect_err(&format!("{function} must not read {path}"));
    assert_eq!(error.kind, TaskErrorKind::InvalidInput, "{error:?}");
    assert!(
        error.message.contains(path) && error.message.contains("outside"),
        "names the path: {error:?}"
    );
    assert!(!error.hint.is_empty());
}

/// Each way a demo function reads an upstream file: a picture
/// (`upscale`), a listed clip that is only checked (`edit.assemble`,
/// `verify_media` off), and the clips of an EDL (`media.export`).
fn readers(path: &str) -> Vec<(&'static str, Value, &'static str)> {
    vec![
        (
            "image.upscale",
            json!({"media": {"path": path}, "factor": 2}),
            "image",
        ),
        ("edit.assemble", json!({"clips": [{"path": path}]}), "edl"),
        (
            "media.export",
            json!({"edl": {"clips": [{"path": path, "label": "one"}], "title": "T"}}),
            "video",
        ),
    ]
}

#[tokio::test]
async fn dot_dot_and_absolute_paths_are_refused() {
    let setup = setup().await;
    let absolute = setup.root.join("secret.png");
    let absolute = absolute.to_str().unwrap();
    for path in [
        "../secret.png",
        "../secret.txt",
        "frames/../../secret.png",
        absolute,
    ] {
        for (function, params, port) in readers(path) {
            refused(&setup, function, params, port, path).await;
        }
    }
    // An absolute path inside the folder is refused too: outputs name
    // files relative to it.
    let inside = setup.out.join("frames/inside.png");
    let inside = inside.to_str().unwrap();
    for (function, params, port) in readers(inside) {
        refused(&setup, function, params, port, inside).await;
    }
}

#[cfg(unix)]
#[tokio::test]
async fn symlinks_that_lead_outside_are_refused_and_those_inside_followed() {
    let setup = setup().await;
    std::os::unix::fs::symlink(
        setup.root.join("secret.png"),
        setup.out.join("frames/link.png"),
    )
    .unwrap();
    std::os::unix::fs::symlink(&setup.root, setup.out.join("up")).unwrap();
    std::os::unix::fs::symlink(
        setup.out.join("frames/inside.png"),
        setup.out.join("alias.png"),
    )
    .unwrap();
    for path in ["frames/link.png", "up/secret.png"] {
        for (function, params, port) in readers(path) {
            refused(&setup, function, params, port, path).await;
        }
    }
    for path in ["alias.png", "./frames/inside.png"] {
        for (function, params, port) in readers(path) {
            let result = setup
                .runner
                .run(task(function, params, port), TaskContext::detached())
                .await;
            assert!(result.is_ok(), "{function} reads {path}: {result:?}");
        }
    }
}

/// Through the executor: a cached frame whose output names a file
/// outside the folder, as a hand-edited or hostile cache row would.
#[tokio::test]
async fn a_cached_upstream_output_cannot_lead_a_run_outside_its_folder() {
    let setup = setup().await;
    let mut canvas = Canvas::new(Catalog::builtin(), "c", "C");
    canvas
        .apply(vec![
            Op::add_node("img", "image_gen", json!({})),
            Op::add_node("up", "upscale", json!({})),
            Op::connect(("img", "image"), ("up", "image")),
        ])
        .unwrap();
    let cache = Arc::new(MemoryCache::new(1 << 20));
    let key = key_of(&canvas, "img");
    // Runs start from a shared canvas, locked only while it is read.
    let canvas = Arc::new(std::sync::Mutex::new(canvas));
    for path in [
        "../secret.png".to_owned(),
        setup.root.join("secret.png").display().to_string(),
    ] {
        cache
            .put(
                key,
                Arc::new(object(
                    json!({"image": {"path": path, "media_type": "image/png"}}),
                )),
            )
            .await
            .unwrap();
        let executor = Executor::new(reelgraph_demo::runner(&setup.out)).with_cache(cache.clone());
        let report = executor
            .start(&canvas, RunOptions::new())
            .await
            .unwrap()
            .finish()
            .await;
        assert_eq!(report.stats.cache_hits, 1);
        assert_eq!(report.status, RunStatus::Failed);
        let error = &report.errors["up"];
        assert_eq!(error.kind, TaskErrorKind::InvalidInput);
        assert!(error.message.contains(&path), "{error:?}");
    }
}
