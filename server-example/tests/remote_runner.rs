//! `HttpRunner` against the real server with faults injected: a proxy
//! between the runner and the server delays, refuses, answers 503 or cuts
//! the event stream, while an in-process `Worker` (straight to the server)
//! does the tasks. The runner rides through what passes, and fails with
//! the right typed error when the server stays down or the key is wrong.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use reelgraph::Quality;
use reelgraph::remote::{HttpRunner, HttpRunnerConfig, Worker, WorkerConfig};
use reelgraph::runner::{
    FunctionRunner, LocalRunner, Outputs, ProgressSink, Resilience, RetryPolicy, Task, TaskContext,
    TaskError, TaskErrorKind, TaskNote,
};
use serde_json::{Value, json};
use support::fault_proxy::{Fault, FaultProxy};
use support::{Answer, Server, json};
use tokio_util::sync::CancellationToken;

/// The test functions the worker serves.
fn functions() -> LocalRunner {
    let runner = LocalRunner::new();
    runner.register("test.echo", |task, _ctx| async move {
        Ok(Outputs::from_iter([(
            "out".to_owned(),
            task.params["x"].clone(),
        )]))
    });
    // Half done, a pause (long enough to cut the stream in), then done.
    runner.register("test.slow", |task, ctx: TaskContext| async move {
        ctx.progress.progress(0.5, Some("half"));
        tokio::time::sleep(Duration::from_millis(800)).await;
        ctx.progress.progress(0.9, Some("nearly"));
        Ok(Outputs::from_iter([(
            "out".to_owned(),
            task.params["x"].clone(),
        )]))
    });
    runner.register("test.whose", |task, _ctx| async move {
        Ok(Outputs::from_iter([(
            "out".to_owned(),
            json!(format!("{}/{}", task.run_id, task.node)),
        )]))
    });
    runner.register("test.wrong_shape", |_task, _ctx| async move {
        Ok(Outputs::from_iter([("not_a_port".to_owned(), json!(1))]))
    });
    // Fails the first time it is called, then works.
    let failed_once = Arc::new(AtomicBool::new(false));
    runner.register("test.fails_once", move |task, _ctx| {
        let first = !failed_once.swap(true, Ordering::SeqCst);
        async move {
            if first {
                return Err(TaskError::permanent("the first call fails"));
            }
            Ok(Outputs::from_iter([(
                "out".to_owned(),
                task.params["x"].clone(),
            )]))
        }
    });
    runner.register(
        "test.until_cancelled",
        |_task, ctx: TaskContext| async move {
            ctx.cancel.cancelled().await;
            Err(TaskError::cancelled())
        },
    );
    runner
}

/// The server, and a worker of the test functions working for it until
/// the fixture is dropped.
struct Farm {
    server: Server,
    stop: CancellationToken,
}

impl Farm {
    fn start() -> Farm {
        let server = Server::start_with(&["--task-lease", "2s"]);
        let config = WorkerConfig::new(&server.base_url, &server.admin_key)
            .with_concurrency(4)
            .with_claim_wait(Duration::from_millis(500))
            .with_grace(Duration::from_millis(200));
        let worker = Worker::new(config, Arc::new(functions())).expect("a worker");
        let stop = CancellationToken::new();
        tokio::spawn({
            let stop = stop.clone();
            async move { worker.run(stop).await.expect("the worker runs") }
        });
        Farm { server, stop }
    }

    fn runner(&self, url: &str, give_up_after: Duration) -> HttpRunner {
        let config = HttpRunnerConfig::new(url, &self.server.admin_key)
            .with_request_timeout(Duration::from_secs(5))
            .with_give_up_after(give_up_after);
        HttpRunner::new(config).expect("a runner")
    }
}

impl Drop for Farm {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn task(function: &str, key: &str) -> Task {
    Task {
        run_id: "r1".into(),
        node: "n1".into(),
        node_type: "test".into(),
        function: function.into(),
        params: json!({"x": key}).as_object().cloned().unwrap_or_default(),
        quality: Quality::Draft,
        quality_fallback: false,
        idempotency_key: format!("{key}-{}", std::process::id()),
        outputs: vec![Arc::from("out")].into(),
    }
}

/// A context whose notes are kept.
fn watched() -> (TaskContext, Arc<Mutex<Vec<TaskNote>>>) {
    let notes = Arc::new(Mutex::new(Vec::new()));
    let ctx = TaskContext {
        progress: ProgressSink::new({
            let notes = notes.clone();
            move |note| {
                notes
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(note)
            }
        }),
        cancel: CancellationToken::new(),
    };
    (ctx, notes)
}

fn progress_seen(notes: &Mutex<Vec<TaskNote>>) -> Vec<f64> {
    notes
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .filter_map(|note| match note {
            TaskNote::Progress { progress, .. } => Some(*progress),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_runs_remotely_with_its_progress_and_through_a_slow_server() {
    let farm = Farm::start();
    let proxy = FaultProxy::start(&farm.server.base_url).await;
    proxy.set(Fault::Delay(Duration::from_millis(300)));
    let runner = farm.runner(&proxy.url, Duration::from_secs(10));
    let (ctx, notes) = watched();
    let outputs = runner
        .run(task("test.slow", "slow-server"), ctx)
        .await
        .expect("outputs");
    assert_eq!(outputs["out"], "slow-server");
    assert_eq!(progress_seen(&notes), [0.5, 0.9]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_worker_s_function_sees_the_run_and_node_of_the_task() {
    let farm = Farm::start();
    let runner = farm.runner(&farm.server.base_url, Duration::from_secs(10));
    let outputs = runner
        .run(task("test.whose", "whose"), TaskContext::detached())
        .await
        .expect("outputs");
    assert_eq!(outputs["out"], "r1/n1");
    // A task submitted without them: its id stands for both.
    let (status, record) = json(
        farm.server
            .post("/v1/tasks")
            .json(&json!({"function": "test.whose", "outputs": ["out"]}))
            .answer()
            .await,
    )
    .await;
    assert_eq!(status, 201, "{record}");
    let id = record["id"].as_str().expect("an id");
    let done = loop {
        let (_, record) = json(farm.server.get(&format!("/v1/tasks/{id}")).answer().await).await;
        if record["state"] == "completed" {
            break record;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(done["outputs"]["out"], format!("{id}/{id}"), "{done}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_runner_rides_through_a_server_down_for_a_while_and_its_503s() {
    let farm = Farm::start();
    let proxy = FaultProxy::start(&farm.server.base_url).await;
    proxy.set(Fault::Down);
    let runner = farm.runner(&proxy.url, Duration::from_secs(20));
    let run = tokio::spawn(async move {
        runner
            .run(task("test.echo", "down-then-503"), TaskContext::detached())
            .await
    });
    tokio::time::sleep(Duration::from_millis(600)).await;
    proxy.set(Fault::Unavailable);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(!run.is_finished(), "the runner is still trying");
    proxy.set(Fault::Pass);
    let outputs = run.await.expect("joined").expect("outputs");
    assert_eq!(outputs["out"], "down-then-503");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_event_stream_is_followed_again_after_the_last_event() {
    let farm = Farm::start();
    let proxy = FaultProxy::start(&farm.server.base_url).await;
    let runner = farm.runner(&proxy.url, Duration::from_secs(10));
    let (ctx, notes) = watched();
    let run = tokio::spawn(async move { runner.run(task("test.slow", "cut"), ctx).await });
    // Cut once the first progress arrived: the task is mid-way.
    while progress_seen(&notes).is_empty() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    proxy.cut();
    let outputs = run.await.expect("joined").expect("outputs");
    assert_eq!(outputs["out"], "cut");
    // Every progress once: the stream went on after what was seen.
    assert_eq!(progress_seen(&notes), [0.5, 0.9]);
    let resumed = proxy
        .heads()
        .into_iter()
        .filter(|head| head.contains("/events"))
        .filter(|head| head.to_ascii_lowercase().contains("last-event-id: "))
        .count();
    assert_eq!(resumed, 1, "{:#?}", proxy.heads());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_down_too_long_is_transient_and_resilience_retries_it() {
    let farm = Farm::start();
    let proxy = FaultProxy::start(&farm.server.base_url).await;
    proxy.set(Fault::Down);
    let runner = farm.runner(&proxy.url, Duration::from_millis(300));

    // Alone, the runner gives up: a transient error that says what to do.
    let error = runner
        .run(task("test.echo", "stays-down"), TaskContext::detached())
        .await
        .expect_err("the server is down");
    assert_eq!(error.kind, TaskErrorKind::Transient, "{error}");
    assert!(error.message.contains("unreachable"), "{error}");
    assert!(error.hint.contains("running"), "{}", error.hint);

    // Inside the resilience middleware, the retries outlast the outage.
    let resilient = Resilience::new()
        .retry(
            RetryPolicy::default()
                .with_max_attempts(30)
                .with_base(Duration::from_millis(100))
                .with_cap(Duration::from_millis(300)),
        )
        .wrap(runner);
    let (ctx, notes) = watched();
    let run = tokio::spawn(async move { resilient.run(task("test.echo", "retried"), ctx).await });
    tokio::time::sleep(Duration::from_millis(1200)).await;
    proxy.set(Fault::Pass);
    let outputs = run.await.expect("joined").expect("outputs");
    assert_eq!(outputs["out"], "retried");
    let retries = notes
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .filter(|note| matches!(note, TaskNote::Retrying { error, .. } if error.kind == TaskErrorKind::Transient))
        .count();
    assert!(retries >= 1, "the middleware retried");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_key_or_one_without_run_is_permanent_and_a_refused_task_invalid() {
    let farm = Farm::start();
    let server = &farm.server;
    let wrong =
        HttpRunner::new(HttpRunnerConfig::new(&server.base_url, "rg_not-a-key")).expect("a runner");
    let error = wrong
        .run(task("test.echo", "wrong-key"), TaskContext::detached())
        .await
        .expect_err("refused");
    assert_eq!(error.kind, TaskErrorKind::Permanent, "{error}");
    assert!(error.hint.contains("`run` scope"), "{}", error.hint);

    let (status, key) = json(
        server
            .post("/v1/keys")
            .json(&json!({"name": "reader", "scopes": ["read"]}))
            .answer()
            .await,
    )
    .await;
    assert_eq!(status, 201, "{key}");
    let reader = HttpRunner::new(HttpRunnerConfig::new(
        &server.base_url,
        key["key"].as_str().expect("the secret"),
    ))
    .expect("a runner");
    let error = reader
        .run(task("test.echo", "read-only"), TaskContext::detached())
        .await
        .expect_err("refused");
    assert_eq!(error.kind, TaskErrorKind::Permanent, "{error}");

    let too_high = HttpRunner::new(
        HttpRunnerConfig::new(&server.base_url, &server.admin_key).with_priority(5000),
    )
    .expect("a runner");
    let error = too_high
        .run(task("test.echo", "priority"), TaskContext::detached())
        .await
        .expect_err("refused");
    assert_eq!(error.kind, TaskErrorKind::InvalidInput, "{error}");
    assert!(error.message.contains("priority"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_task_is_cancelled_on_the_server_and_its_worker_stops() {
    let farm = Farm::start();
    let runner = farm.runner(&farm.server.base_url, Duration::from_secs(10));
    let task = task("test.until_cancelled", "cancelled");
    let submitted_again = json!({
        "function": "test.until_cancelled",
        "idempotency_key": task.idempotency_key,
    });
    let (ctx, _) = watched();
    let cancel = ctx.cancel.clone();
    let run = tokio::spawn(async move { runner.run(task, ctx).await });
    // Wait until a worker holds it.
    let id = loop {
        let (_, record) = json(
            farm.server
                .post("/v1/tasks")
                .json(&submitted_again)
                .answer()
                .await,
        )
        .await;
        if record["state"] == "leased" {
            break record["id"].as_str().expect("an id").to_owned();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    cancel.cancel();
    let error = run.await.expect("joined").expect_err("cancelled");
    assert_eq!(error.kind, TaskErrorKind::Cancelled);
    // Read by id: the cancelled task let go of its key.
    let (_, record) = json(farm.server.get(&format!("/v1/tasks/{id}")).answer().await).await;
    assert_eq!(record["state"], "cancelled", "{record}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_cancelled_while_its_submit_is_in_flight_is_cancelled_on_the_server() {
    let farm = Farm::start();
    let proxy = FaultProxy::start(&farm.server.base_url).await;
    // The submit reaches the server only after the cancel.
    proxy.set(Fault::Delay(Duration::from_millis(600)));
    let runner = farm.runner(&proxy.url, Duration::from_secs(10));
    let task = task("test.until_cancelled", "cancelled-in-flight");
    let (ctx, _) = watched();
    let cancel = ctx.cancel.clone();
    let run = tokio::spawn(async move { runner.run(task, ctx).await });
    tokio::time::sleep(Duration::from_millis(150)).await;
    cancel.cancel();
    let error = run.await.expect("joined").expect_err("cancelled");
    assert_eq!(error.kind, TaskErrorKind::Cancelled);
    // The submit reached the server and made the task (waited for: a
    // runner that let go of it returns before then) ...
    let started = std::time::Instant::now();
    while !proxy
        .heads()
        .iter()
        .any(|head| head.starts_with("POST /v1/tasks "))
    {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the submit never reached the server"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // ... and the runner cancelled it (the only task of its function).
    let (_, page) = json(
        farm.server
            .get("/v1/tasks?function=test.until_cancelled")
            .answer()
            .await,
    )
    .await;
    let states: Vec<&Value> = page["items"]
        .as_array()
        .expect("a page")
        .iter()
        .map(|task| &task["state"])
        .collect();
    assert_eq!(states, [&json!("cancelled")], "{page}");
}

#[tokio::test(flavor = "multi_thread")]
async fn work_that_ended_without_a_result_runs_anew_when_run_again() {
    let farm = Farm::start();
    let runner = farm.runner(&farm.server.base_url, Duration::from_secs(10));
    let task = task("test.fails_once", "anew");
    let error = runner
        .run(task.clone(), TaskContext::detached())
        .await
        .expect_err("the first call fails");
    assert_eq!(error.kind, TaskErrorKind::Permanent, "{error}");
    // The same task (same key) again: not the old failure, a new task.
    let outputs = runner
        .run(task.clone(), TaskContext::detached())
        .await
        .expect("outputs");
    assert_eq!(outputs["out"], "anew");
    // And once more: the completed task is found, nothing runs again.
    let again = runner
        .run(task, TaskContext::detached())
        .await
        .expect("outputs");
    assert_eq!(again, outputs);
}

#[tokio::test(flavor = "multi_thread")]
async fn outputs_of_the_wrong_shape_fail_the_task_and_the_worker_goes_on() {
    let farm = Farm::start();
    let runner = farm.runner(&farm.server.base_url, Duration::from_secs(10));
    let error = runner
        .run(task("test.wrong_shape", "shape"), TaskContext::detached())
        .await
        .expect_err("refused outputs");
    assert_eq!(error.kind, TaskErrorKind::InvalidInput, "{error}");
    let outputs = runner
        .run(task("test.echo", "after-shape"), TaskContext::detached())
        .await
        .expect("the worker still works");
    assert_eq!(outputs["out"], "after-shape");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_download_writes_the_workers_file_or_says_what_is_missing() {
    let farm = Farm::start();
    let frames = farm.server.data_dir().join("results").join("frames");
    std::fs::create_dir_all(&frames).expect("the results folder");
    std::fs::write(frames.join("a b.png"), b"png bytes").expect("a worker's file");
    let runner = farm.runner(&farm.server.base_url, Duration::from_secs(10));
    let out = tempfile::tempdir().expect("a temp dir");
    let to = out.path().join("frames/a b.png");
    runner
        .download("frames/a b.png", &to)
        .await
        .expect("downloaded");
    assert_eq!(std::fs::read(&to).expect("written"), b"png bytes");

    let missing = runner
        .download("frames/none.png", &out.path().join("none.png"))
        .await
        .expect_err("the server has no such file");
    assert_eq!(missing.code(), "not_found", "{missing}");
    assert!(!out.path().join("none.png").exists());
    let down = farm.runner("http://127.0.0.1:9", Duration::from_secs(1));
    let error = down
        .download("frames/a b.png", &out.path().join("x.png"))
        .await
        .expect_err("nobody listens");
    assert_eq!(error.code(), "io", "{error}");
}

#[test]
fn the_runner_and_the_worker_can_be_shared_across_threads() {
    fn shared<T: Send + Sync + 'static>() {}
    shared::<HttpRunner>();
    shared::<Worker>();
    shared::<HttpRunnerConfig>();
    shared::<WorkerConfig>();
}
