//! Runs over HTTP, against the real server process: the demo canvas run
//! with its events as SSE (and resumed with `Last-Event-ID`), outputs and
//! files downloaded, cancelling a run and one node, explain, batches,
//! restarts, SIGTERM during a run, and the bad input the issue names.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};
use support::sse::{Sse, read_events};
use support::{Answer, Server, expect_error, json};

/// The demo canvas every server makes at its first start.
const DEMO: &str = "the-last-lighthouse";

fn ends_run(event: &Sse) -> bool {
    matches!(
        event.event.as_str(),
        "run_completed" | "run_failed" | "run_cancelled" | "error"
    )
}

/// Starts a run of the demo canvas; returns its id.
async fn start(server: &Server, options: Value) -> String {
    let response = server
        .post(&format!("/v1/canvases/{DEMO}/runs"))
        .json(&options)
        .answer()
        .await;
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (status, run) = json(response).await;
    assert_eq!(status, 202, "{run}");
    let id = run["run_id"].as_str().expect("a run id").to_owned();
    assert_eq!(location, Some(format!("/v1/runs/{id}")));
    assert_eq!(run["state"], "running");
    id
}

async fn events(server: &Server, run: &str, last_event_id: Option<u64>) -> reqwest::Response {
    let mut request = server.get(&format!("/v1/runs/{run}/events"));
    if let Some(seq) = last_event_id {
        request = request.header("last-event-id", seq.to_string());
    }
    let response = request.answer().await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().expect("text");
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );
    response
}

/// Every event of the run, to its end.
async fn all_events(server: &Server, run: &str) -> Vec<Sse> {
    read_events(&mut events(server, run, None).await, ends_run).await
}

async fn run_view(server: &Server, run: &str) -> Value {
    let (status, view) = json(server.get(&format!("/v1/runs/{run}")).answer().await).await;
    assert_eq!(status, 200, "{view}");
    view
}

/// Starts a one-task-at-a-time run of the whole demo canvas and reads its
/// events up to the first `node_started`: the run is far from done then.
async fn start_slow_run(server: &Server) -> (String, reqwest::Response, Vec<Sse>) {
    let run = start(
        server,
        json!({"quality": "draft", "concurrency": 1, "force": "all"}),
    )
    .await;
    let mut stream = events(server, &run, None).await;
    let seen = read_events(&mut stream, |e| e.event == "node_started").await;
    assert_eq!(seen.last().map(|e| e.event.as_str()), Some("node_started"));
    (run, stream, seen)
}

#[tokio::test]
async fn a_demo_run_streams_every_node_to_completion_and_resumes_after_last_event_id() {
    let server = Server::start();
    let run = start(
        &server,
        json!({"quality": "draft", "targets": ["grade_4a"]}),
    )
    .await;
    let events = all_events(&server, &run).await;

    let ids: Vec<u64> = events.iter().map(|e| e.id).collect();
    assert_eq!(ids, (0..events.len() as u64).collect::<Vec<_>>());
    for event in &events {
        assert_eq!(event.data["type"], event.event.as_str());
        assert_eq!(event.data["seq"], event.id);
        assert_eq!(event.data["run_id"], run.as_str());
    }
    assert_eq!(events[0].event, "run_started");
    let tasks = events[0].data["tasks"].as_u64().expect("tasks");
    let completed: BTreeSet<&str> = events
        .iter()
        .filter(|e| e.event == "node_completed")
        .map(|e| e.data["node"].as_str().expect("a node"))
        .collect();
    // Every task node of the run completed: the grade, its image and the
    // video it is graded from.
    assert_eq!(completed, BTreeSet::from(["img_4a", "vid_4a", "grade_4a"]));
    assert_eq!(tasks, 3);
    assert_eq!(
        events.last().map(|e| e.event.as_str()),
        Some("run_completed")
    );

    // A client that saw up to seq 3 gets the rest, the same events.
    let resumed = read_events(&mut self::events(&server, &run, Some(3)).await, ends_run).await;
    assert_eq!(resumed.first().map(|e| e.id), Some(4));
    let rest: Vec<&Value> = events[4..].iter().map(|e| &e.data).collect();
    assert_eq!(resumed.iter().map(|e| &e.data).collect::<Vec<_>>(), rest);
    let after = server
        .get(&format!("/v1/runs/{run}/events?after=3"))
        .answer()
        .await;
    let after = read_events(&mut { after }, ends_run).await;
    assert_eq!(after.iter().map(|e| e.id).collect::<Vec<_>>(), ids[4..]);

    let view = run_view(&server, &run).await;
    assert_eq!(view["run"]["state"], "completed");
    assert_eq!(view["snapshot"]["state"], "completed");
    assert_eq!(view["snapshot"]["counts"]["executed"], 3);
    assert_eq!(view["report"]["status"], "completed");
    // A run that ended does not change: its ETag answers 304.
    let first = server.get(&format!("/v1/runs/{run}")).answer().await;
    let etag = first.headers()["etag"].clone();
    let again = server
        .get(&format!("/v1/runs/{run}"))
        .header("if-none-match", etag)
        .answer()
        .await;
    assert_eq!(again.status(), 304);

    // The outputs name files; each downloads from the run's folder.
    let (status, outputs) = json(
        server
            .get(&format!("/v1/runs/{run}/outputs"))
            .answer()
            .await,
    )
    .await;
    assert_eq!(status, 200, "{outputs}");
    let image = &outputs["outputs"]["grade_4a"]["media"];
    let path = image["path"].as_str().expect("a file path");
    let file = server
        .get(&format!("/v1/runs/{run}/files/{path}"))
        .answer()
        .await;
    assert_eq!(file.status(), 200);
    assert_eq!(file.headers()["content-type"], "image/png");
    let bytes = file.bytes().await.expect("the file");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
    let on_disk = server.data_dir().join("runs").join(&run).join(path);
    assert_eq!(std::fs::read(on_disk).expect("the run's copy"), bytes);
    // The same file from the results folder, as `run --remote` fetches it.
    let result = server
        .get(&format!("/v1/results/{path}"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(result.status(), 200);
    assert_eq!(result.bytes().await.expect("the file"), bytes);

    // The list has it, filtered by canvas and state.
    let (status, page) = json(
        server
            .get(&format!("/v1/runs?canvas_id={DEMO}&state=completed"))
            .answer()
            .await,
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"][0]["run_id"], run.as_str());
    let (_, none) = json(server.get("/v1/runs?state=failed").answer().await).await;
    assert_eq!(none["items"], json!([]));
}

#[tokio::test]
async fn cancelling_a_run_stops_it_and_stores_it_cancelled() {
    let server = Server::start();
    let (run, mut stream, _) = start_slow_run(&server).await;
    let response = server
        .post(&format!("/v1/runs/{run}/cancel"))
        .answer()
        .await;
    assert_eq!(response.status(), 202);
    let rest = read_events(&mut stream, ends_run).await;
    assert_eq!(rest.last().map(|e| e.event.as_str()), Some("run_cancelled"));

    let view = run_view(&server, &run).await;
    assert_eq!(view["run"]["state"], "cancelled");
    assert_eq!(view["report"]["status"], "cancelled");
    assert!(
        view["report"]["stats"]["executed"]
            .as_u64()
            .expect("a count")
            < 22
    );
    let again = server
        .post(&format!("/v1/runs/{run}/cancel"))
        .answer()
        .await;
    expect_error(again, 409, "run_finished").await;
    let outputs = server
        .post(&format!("/v1/runs/{run}/nodes/export/cancel"))
        .answer()
        .await;
    expect_error(outputs, 409, "run_finished").await;
}

#[tokio::test]
async fn cancelling_one_node_skips_what_needs_it_and_the_rest_goes_on() {
    let server = Server::start();
    let (run, mut stream, _) = start_slow_run(&server).await;
    let unknown = server
        .post(&format!("/v1/runs/{run}/nodes/no_such_node/cancel"))
        .answer()
        .await;
    let error = expect_error(unknown, 404, "not_found").await;
    assert_eq!(error["details"]["kind"], "node");
    // `export` is the last node the run reaches: it has not started.
    let response = server
        .post(&format!("/v1/runs/{run}/nodes/export/cancel"))
        .answer()
        .await;
    assert_eq!(response.status(), 202);
    let rest = read_events(&mut stream, ends_run).await;
    assert_eq!(rest.last().map(|e| e.event.as_str()), Some("run_completed"));

    let view = run_view(&server, &run).await;
    let nodes = &view["snapshot"]["nodes"];
    assert_ne!(nodes["export"]["state"], "completed", "{nodes}");
    assert!(nodes["export"]["started_at"].is_null(), "{nodes}");
    assert_eq!(nodes["edit"]["state"], "completed", "{nodes}");
    assert!(view["report"]["outputs"].get("export").is_none());
}

#[tokio::test]
async fn explain_says_why_each_node_would_run() {
    let server = Server::start();
    let explain = |body: Value| {
        let request = server
            .post(&format!("/v1/canvases/{DEMO}/explain"))
            .json(&body);
        async move {
            let (status, explained) = request.json_answer().await;
            assert_eq!(status, 200, "{explained}");
            let steps = explained["steps"].as_array().expect("steps").clone();
            let reason = |node: &str| {
                steps
                    .iter()
                    .find(|s| s["node"] == node)
                    .map(|s| s["reason"].as_str().expect("a reason").to_owned())
            };
            (reason("img_1a"), reason("vid_1a"))
        }
    };
    let target = json!({"quality": "draft", "targets": ["img_1a"]});
    assert_eq!(explain(target.clone()).await, (Some("new".into()), None));
    let run = start(&server, target.clone()).await;
    all_events(&server, &run).await;
    assert_eq!(explain(target).await.0.as_deref(), Some("cached"));
    let forced = json!({"quality": "draft", "targets": ["img_1a"], "force": {"nodes": ["img_1a"]}});
    assert_eq!(explain(forced).await.0.as_deref(), Some("forced"));
}

#[tokio::test]
async fn a_batch_runs_every_variant() {
    let server = Server::start();
    let response = server
        .post(&format!("/v1/canvases/{DEMO}/batches"))
        .json(&json!({"runs": [
            {"quality": "draft", "targets": ["img_1a"]},
            {"quality": "draft", "targets": ["img_1b"], "run_id": "variant-b"}
        ]}))
        .answer()
        .await;
    let (status, batch) = json(response).await;
    assert_eq!(status, 202, "{batch}");
    let runs: Vec<String> = batch["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| r["run_id"].as_str().expect("an id").to_owned())
        .collect();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1], "variant-b");
    for (run, node) in runs.iter().zip(["img_1a", "img_1b"]) {
        let events = all_events(&server, run).await;
        assert_eq!(
            events.last().map(|e| e.event.as_str()),
            Some("run_completed")
        );
        let view = run_view(&server, run).await;
        assert!(view["report"]["outputs"].get(node).is_some(), "{view}");
    }

    let empty = server
        .post(&format!("/v1/canvases/{DEMO}/batches"))
        .json(&json!({"runs": []}))
        .answer()
        .await;
    expect_error(empty, 422, "invalid_field").await;
    // One bad variant refuses the whole batch.
    let bad = server
        .post(&format!("/v1/canvases/{DEMO}/batches"))
        .json(&json!({"runs": [{"targets": ["img_1a"]}, {"targets": ["nope"]}]}))
        .answer()
        .await;
    expect_error(bad, 422, "unknown_node").await;
    // Two runs, a page of one at a time, newest first.
    let (_, first) = json(server.get("/v1/runs?limit=1").answer().await).await;
    assert_eq!(first["items"][0]["run_id"], "variant-b", "{first}");
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let (_, second) = json(
        server
            .get(&format!("/v1/runs?limit=1&cursor={cursor}"))
            .answer()
            .await,
    )
    .await;
    assert_eq!(second["items"][0]["run_id"], runs[0].as_str(), "{second}");
    assert!(second["next_cursor"].is_null(), "{second}");
}

/// Waits until the run's row is stored as completed: the run's end is
/// written just after its last event goes out.
async fn until_stored_completed(server: &Server, run: &str) {
    let started = std::time::Instant::now();
    loop {
        let (_, page) = server
            .get("/v1/runs?state=completed&limit=200")
            .json_answer()
            .await;
        let items = page["items"].as_array().expect("a page");
        if items.iter().any(|item| item["run_id"] == run) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "run {run} was never stored as completed: {page}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_restart_finds_every_finished_run_with_its_events_and_files() {
    let mut server = Server::start();
    let run = start(&server, json!({"quality": "draft", "targets": ["img_1a"]})).await;
    let before = all_events(&server, &run).await;
    let view = run_view(&server, &run).await;
    let path = view["report"]["outputs"]["img_1a"]["image"]["path"]
        .as_str()
        .expect("a file")
        .to_owned();
    until_stored_completed(&server, &run).await;

    server.restart();
    let (_, page) = server.get("/v1/runs").json_answer().await;
    assert_eq!(page["items"][0]["run_id"], run.as_str(), "{page}");
    assert_eq!(page["items"][0]["state"], "completed");
    let after = run_view(&server, &run).await;
    assert_eq!(after["report"], view["report"]);
    assert_eq!(after["snapshot"]["state"], "completed");
    let replayed = all_events(&server, &run).await;
    let data = |events: &[Sse]| events.iter().map(|e| e.data.clone()).collect::<Vec<_>>();
    assert_eq!(data(&replayed), data(&before));
    let file = server
        .get(&format!("/v1/runs/{run}/files/{path}"))
        .answer()
        .await;
    assert_eq!(file.status(), 200);
}

#[tokio::test]
async fn a_finished_run_the_hub_let_go_of_is_read_from_the_database() {
    let server = Server::start_with(&["--held-runs", "1"]);
    let first = start(&server, json!({"quality": "draft", "targets": ["img_1a"]})).await;
    let before = all_events(&server, &first).await;
    let view = run_view(&server, &first).await;
    until_stored_completed(&server, &first).await;
    // A second run ends, and with it the first's place in memory.
    let second = start(&server, json!({"quality": "draft", "targets": ["img_1a"]})).await;
    all_events(&server, &second).await;

    let after = run_view(&server, &first).await;
    assert_eq!(after["snapshot"]["state"], "completed", "{after}");
    assert_eq!(after["report"], view["report"]);
    let replayed = all_events(&server, &first).await;
    let data = |events: &[Sse]| events.iter().map(|e| e.data.clone()).collect::<Vec<_>>();
    assert_eq!(data(&replayed), data(&before));
}

#[tokio::test]
async fn a_run_read_right_after_its_last_event_is_whole_while_the_hub_keeps_none() {
    // The hub forgets a finished run at once, but only after the run is
    // stored: a read between the two must not find it half there.
    let server = Server::start_with(&["--held-runs", "0"]);
    for _ in 0..20 {
        let run = start(&server, json!({"quality": "draft", "targets": ["img_1a"]})).await;
        let events = all_events(&server, &run).await;
        let view = run_view(&server, &run).await;
        assert_eq!(view["run"]["state"], "completed", "{view}");
        assert_eq!(view["snapshot"]["state"], "completed", "{view}");
        assert_eq!(view["report"]["status"], "completed", "{view}");
        assert_eq!(all_events(&server, &run).await.len(), events.len());
    }
}

#[cfg(unix)]
#[tokio::test]
async fn sigterm_during_a_run_stores_it_cancelled_with_nothing_half_written() {
    let mut server = Server::start();
    let (run, mut stream, _) = start_slow_run(&server).await;
    let pid = server.child().id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    // The stream ends with the run's last event as the server winds down.
    let rest = read_events(&mut stream, ends_run).await;
    assert_eq!(rest.last().map(|e| e.event.as_str()), Some("run_cancelled"));
    let status = server.child().wait().expect("the server exits");
    assert!(status.success(), "{status:?}\n{}", server.log());

    server.restart();
    let view = run_view(&server, &run).await;
    assert_eq!(view["run"]["state"], "cancelled");
    assert_eq!(view["report"]["status"], "cancelled");
    let partial = walk(&server.data_dir())
        .into_iter()
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.ends_with(".partial") || name.ends_with(".tmp")
        })
        .collect::<Vec<_>>();
    assert_eq!(partial, Vec::<std::path::PathBuf>::new());
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}

#[tokio::test]
async fn bad_input_is_refused_with_the_error_table_status() {
    let server = Server::start();
    let post = |path: String, body: Value| server.post(&path).json(&body).send();

    let unknown_canvas = post("/v1/canvases/nope/runs".into(), json!({}))
        .await
        .expect("an answer");
    expect_error(unknown_canvas, 404, "not_found").await;
    let runs = format!("/v1/canvases/{DEMO}/runs");
    let typo = post(runs.clone(), json!({"qualty": "draft"}))
        .await
        .expect("an answer");
    let error = expect_error(typo, 422, "unknown_field").await;
    assert_eq!(error["details"]["field"], "qualty");
    let quality = post(runs.clone(), json!({"quality": "best"}))
        .await
        .expect("an answer");
    expect_error(quality, 422, "invalid_body").await;
    let zero = post(runs.clone(), json!({"concurrency": 0}))
        .await
        .expect("an answer");
    expect_error(zero, 422, "invalid_body").await;
    let target = post(runs.clone(), json!({"targets": ["nope"]}))
        .await
        .expect("an answer");
    expect_error(target, 422, "unknown_node").await;
    let data_node = post(runs.clone(), json!({"targets": ["elias"]}))
        .await
        .expect("an answer");
    expect_error(data_node, 422, "no_task").await;
    let bad_id = post(runs.clone(), json!({"run_id": "../escape"}))
        .await
        .expect("an answer");
    let error = expect_error(bad_id, 422, "invalid_field").await;
    assert_eq!(error["details"]["field"], "run_id");
    let text = server
        .post(&runs)
        .header("content-type", "text/plain")
        .body("{}")
        .answer()
        .await;
    expect_error(text, 415, "unsupported_media_type").await;
    let malformed = server
        .post(&runs)
        .header("content-type", "application/json")
        .body("{\"quality\":")
        .answer()
        .await;
    expect_error(malformed, 400, "invalid_json").await;

    let run = start(
        &server,
        json!({"quality": "draft", "targets": ["img_1a"], "run_id": "mine"}),
    )
    .await;
    assert_eq!(run, "mine");
    let again = post(runs.clone(), json!({"run_id": "mine"}))
        .await
        .expect("an answer");
    expect_error(again, 409, "duplicate_id").await;
    all_events(&server, &run).await;

    for path in [
        "/v1/runs/nope",
        "/v1/runs/nope/events",
        "/v1/runs/nope/outputs",
        "/v1/runs/nope/files/a.png",
    ] {
        let response = server.get(path).answer().await;
        expect_error(response, 404, "not_found").await;
    }
    let cancel = server.post("/v1/runs/nope/cancel").answer().await;
    expect_error(cancel, 404, "not_found").await;

    // File names that leave the run's folder, however they are written.
    std::fs::write(server.data_dir().join("secret.txt"), "key").expect("a file outside");
    for path in [
        "..%2F..%2Fsecret.txt",
        "%2Fetc%2Fpasswd",
        "frames%5C..%5C..%5Csecret.txt",
    ] {
        let response = server
            .get(&format!("/v1/runs/{run}/files/{path}"))
            .answer()
            .await;
        expect_error(response, 400, "invalid_path").await;
        let response = server
            .get(&format!("/v1/results/{path}"))
            .send()
            .await
            .expect("an answer");
        expect_error(response, 400, "invalid_path").await;
    }
    #[cfg(unix)]
    {
        let link = server.data_dir().join("runs").join(&run).join("out.txt");
        std::os::unix::fs::symlink(server.data_dir().join("secret.txt"), link).expect("a symlink");
        let response = server
            .get(&format!("/v1/runs/{run}/files/out.txt"))
            .answer()
            .await;
        expect_error(response, 404, "not_found").await;
    }
    let missing = server
        .get(&format!("/v1/runs/{run}/files/frames/none.png"))
        .answer()
        .await;
    expect_error(missing, 404, "not_found").await;
    let missing = server
        .get("/v1/results/frames/none.png")
        .send()
        .await
        .expect("an answer");
    expect_error(missing, 404, "not_found").await;

    let bad_last = server
        .get(&format!("/v1/runs/{run}/events"))
        .header("last-event-id", "soon")
        .answer()
        .await;
    expect_error(bad_last, 400, "invalid_request").await;
    for query in [
        "state=sleeping",
        "limit=0",
        "limit=-1",
        "limit=100000",
        "cursor=zz",
        "colour=red",
    ] {
        let response = server.get(&format!("/v1/runs?{query}")).answer().await;
        let status = response.status().as_u16();
        let (_, body) = json(response).await;
        assert!(matches!(status, 400 | 422), "{query}: {status} {body}");
    }
}

/// A server that may run one run at a time refuses a second start and a
/// batch (503 `unavailable`, with `Retry-After`) without recording them,
/// and starts runs again once the first has ended.
#[tokio::test]
async fn starts_beyond_the_active_runs_limit_are_refused_until_one_ends() {
    let server = Server::start_with(&["--max-active-runs", "1"]);
    let (run, mut stream, _) = start_slow_run(&server).await;

    let second = server
        .post(&format!("/v1/canvases/{DEMO}/runs"))
        .json(&json!({"quality": "draft", "targets": ["img_1a"], "run_id": "refused"}))
        .answer()
        .await;
    assert_eq!(second.headers()["retry-after"], "1");
    let body = expect_error(second, 503, "unavailable").await;
    assert_eq!(body["details"]["reason"], "active_runs");
    assert_eq!(body["details"]["limit"], 1);
    let batch = server
        .post(&format!("/v1/canvases/{DEMO}/batches"))
        .json(&json!({"runs": [{"quality": "draft", "targets": ["img_1a"]}]}))
        .answer()
        .await;
    expect_error(batch, 503, "unavailable").await;
    // Nothing of the refused starts was written.
    let (_, page) = server.get("/v1/runs").json_answer().await;
    let listed: Vec<&str> = page["items"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| r["run_id"].as_str().expect("an id"))
        .collect();
    assert_eq!(listed, [run.as_str()]);
    let (status, _) = server.get("/v1/runs/refused").json_answer().await;
    assert_eq!(status, 404);

    let cancelled = server
        .post(&format!("/v1/runs/{run}/cancel"))
        .answer()
        .await;
    assert_eq!(cancelled.status(), 202);
    read_events(&mut stream, ends_run).await;
    // Its room comes back once its driver has stored it.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let again = server
            .post(&format!("/v1/canvases/{DEMO}/runs"))
            .json(&json!({"quality": "draft", "targets": ["img_1a"]}))
            .answer()
            .await;
        if again.status() == 202 {
            break;
        }
        expect_error(again, 503, "unavailable").await;
        assert!(
            std::time::Instant::now() < deadline,
            "no room after the run ended"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
