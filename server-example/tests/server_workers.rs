//! Remote workers as real processes: `reelgraph worker` against the real
//! server (`serve --runner remote`, short leases). A run done by two
//! workers while one is killed with SIGKILL mid-task; the server killed
//! and restarted mid-run under a client's `reelgraph run --remote`.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::fault_proxy::FaultProxy;
use support::sse::{Sse, read_events};
use support::{Answer, Server, json};

/// The demo canvas every server makes at its first start.
const DEMO: &str = "the-last-lighthouse";

/// What the runs do: six storyboard frames (about a second each in a
/// debug build), enough for several tasks to be under way at once.
const TARGETS: [&str; 6] = ["img_1a", "img_1b", "img_2a", "img_3a", "img_3b", "img_3c"];

/// How long a test waits for something that should happen soon.
const PATIENCE: Duration = Duration::from_secs(40);

/// A `reelgraph worker` process; killed when dropped.
struct WorkerProcess(Child);

impl WorkerProcess {
    /// A worker of the demo functions for the server at `url`, writing its
    /// files into the server's results folder, its log beside it.
    fn start(server: &Server, url: &str, name: &str) -> WorkerProcess {
        let data = server.data_dir();
        let log = std::fs::File::create(data.with_file_name(format!("{name}.log"))).expect("a log");
        let child = Command::new(env!("CARGO_BIN_EXE_reelgraph"))
            .arg("worker")
            .args(["--server", url, "--key", &server.admin_key, "--name", name])
            .args([
                "--claim-wait",
                "500ms",
                "--grace",
                "1s",
                "--concurrency",
                "2",
            ])
            .arg("--out")
            .arg(data.join("results"))
            .env_remove("REELGRAPH_SERVER")
            .env_remove("REELGRAPH_KEY")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the worker starts");
        WorkerProcess(child)
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.0.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn get(server: &Server, path: &str) -> Value {
    let (status, body) = server.get(path).json_answer().await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

async fn tasks(server: &Server, state: &str) -> Vec<Value> {
    let page = get(server, &format!("/v1/tasks?state={state}&limit=200")).await;
    page["items"].as_array().expect("items").clone()
}

/// The worker of a task's current attempt.
fn holder(task: &Value) -> Option<&str> {
    task["attempts"].as_array()?.last()?["worker"].as_str()
}

/// Node ids by how many `node_completed` events name them.
fn completions<'a>(events: impl IntoIterator<Item = &'a Value>) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for event in events {
        if event["type"] == "node_completed" {
            let node = event["node"].as_str().expect("a node").to_owned();
            *seen.entry(node).or_insert(0) += 1;
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread")]
async fn two_workers_finish_a_run_when_one_is_killed_mid_task() {
    let server = Server::start_with(&["--runner", "remote", "--task-lease", "1s"]);
    let a = WorkerProcess::start(&server, &server.base_url, "worker-a");
    let (status, run) = json(
        server
            .post(&format!("/v1/canvases/{DEMO}/runs"))
            .json(&json!({"quality": "draft", "force": "all", "targets": TARGETS}))
            .answer()
            .await,
    )
    .await;
    assert_eq!(status, 202, "{run}");
    let run = run["run_id"].as_str().expect("a run id").to_owned();

    // Freeze worker A while it holds a task; if the task is still its own
    // then (not completed meanwhile), A is frozen mid-task: kill it.
    let started = Instant::now();
    let killed = loop {
        assert!(started.elapsed() < PATIENCE, "worker A never held a task");
        let held = tasks(&server, "leased").await;
        let Some(task) = held.iter().find(|t| holder(t) == Some("worker-a")) else {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        let id = task["id"].as_str().expect("an id").to_owned();
        a.signal("-STOP");
        let now = get(&server, &format!("/v1/tasks/{id}")).await;
        if now["state"] == "leased" && holder(&now) == Some("worker-a") {
            a.signal("-KILL");
            break id;
        }
        a.signal("-CONT");
    };
    drop(a);
    let _b = WorkerProcess::start(&server, &server.base_url, "worker-b");

    let mut stream = server.get(&format!("/v1/runs/{run}/events")).answer().await;
    let events = read_events(&mut stream, |e: &Sse| {
        matches!(
            e.event.as_str(),
            "run_completed" | "run_failed" | "run_cancelled"
        )
    })
    .await;
    let last = events.last().expect("events");
    assert_eq!(last.event, "run_completed", "{:?}", last.data);
    // Every node once: the killed attempt left no trace in the run.
    let done = completions(events.iter().map(|e| &e.data));
    assert_eq!(done.keys().map(String::as_str).collect::<Vec<_>>(), TARGETS);
    assert!(done.values().all(|&n| n == 1), "{done:?}");
    assert!(events.iter().all(|e| e.event != "node_failed"));

    // The killed task: A's attempt expired, B's completed it.
    let task = get(&server, &format!("/v1/tasks/{killed}")).await;
    assert_eq!(task["state"], "completed", "{task}");
    // It carries the run and node it was for.
    assert_eq!(task["run_id"], run.as_str(), "{task}");
    assert!(
        TARGETS.contains(&task["node"].as_str().unwrap_or_default()),
        "{task}"
    );
    let attempts: Vec<(&str, &str)> = task["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .map(|a| {
            (
                a["worker"].as_str().unwrap_or_default(),
                a["outcome"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        attempts,
        [("worker-a", "expired"), ("worker-b", "completed")],
        "{task}"
    );
}

/// `reelgraph run --remote` of the demo canvas, printing its events as JSON.
fn client_run(url: &str, key: &str, out: &Path) -> Child {
    let canvas = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/short-film/canvas.json");
    Command::new(env!("CARGO_BIN_EXE_reelgraph"))
        .arg("run")
        .arg(canvas)
        .args([
            "--quality",
            "draft",
            "--json",
            "--targets",
            &TARGETS.join(","),
        ])
        .args(["--remote", url, "--key", key])
        .arg("--out")
        .arg(out)
        .env_remove("REELGRAPH_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the run starts")
}

#[tokio::test(flavor = "multi_thread")]
async fn queued_tasks_survive_a_server_restart_and_a_client_run_completes() {
    let mut server = Server::start_with(&["--task-lease", "1s"]);
    // Clients and workers reach the server through a proxy that follows it
    // to its new port after the restart.
    let proxy = FaultProxy::start(&server.base_url).await;
    let out = tempfile::tempdir().expect("a temp dir");
    let client = client_run(&proxy.url, &server.admin_key, out.path());
    let _a = WorkerProcess::start(&server, &proxy.url, "worker-a");

    // Mid-run: something done, something still queued.
    let started = Instant::now();
    let queued = loop {
        assert!(started.elapsed() < PATIENCE, "the run never got going");
        let queued = tasks(&server, "queued").await;
        if !queued.is_empty() && !tasks(&server, "completed").await.is_empty() {
            break queued;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    server.restart_with(&["--task-lease", "1s"]);
    proxy.retarget(&server.base_url);
    for task in &queued {
        let id = task["id"].as_str().expect("an id");
        let now = get(&server, &format!("/v1/tasks/{id}")).await;
        assert_eq!(now["function"], task["function"], "{now}");
    }
    let _b = WorkerProcess::start(&server, &proxy.url, "worker-b");

    let output = tokio::task::spawn_blocking(move || client.wait_with_output())
        .await
        .expect("joined")
        .expect("the run's output");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let events: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("an event a line"))
        .collect();
    assert_eq!(
        events.last().map(|e| e["type"].clone()),
        Some(json!("run_completed"))
    );
    let done = completions(&events);
    assert_eq!(done.keys().map(String::as_str).collect::<Vec<_>>(), TARGETS);
    assert!(done.values().all(|&n| n == 1), "{done:?}");

    // The frames the workers wrote on the server's side are in --out, and
    // the paths printed are those.
    let results = server.data_dir().join("results");
    let frames: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "node_completed")
        .filter_map(|e| e["outputs"]["image"]["path"].as_str())
        .collect();
    assert_eq!(frames.len(), TARGETS.len(), "{events:?}");
    for frame in frames {
        let here = std::fs::read(out.path().join(frame)).expect("the frame was downloaded");
        let there = std::fs::read(results.join(frame)).expect("the worker wrote it");
        assert!(here == there, "{frame} differs from the server's");
    }
    assert!(stderr.contains("downloaded 6 files from"), "{stderr}");
    assert!(
        stderr.contains(&out.path().join("frames").display().to_string()),
        "{stderr}"
    );
}
