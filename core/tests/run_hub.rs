//! The run hub: runs by id, subscribers with replay from a `seq`, slow
//! subscribers, snapshots, cancellation by id, retention; and the event
//! envelope's serde both ways.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use reelgraph::exec::{
    Executor, HubOptions, NodeState, RunEvent, RunEvents, RunHub, RunOptions, RunReport,
    RunSnapshot, RunState, RunStatus, Subscription,
};
use reelgraph::runner::{LocalRunner, Outputs, TaskError};
use reelgraph::store::AutosaveEvent;
use reelgraph::{Canvas, Catalog, Event, Op};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

/// `talk` sends `notes` progress notes; `wait` also waits for a permit of
/// the gate first (`notes` 0: none).
const TYPES: &str = r#"[
  {"type": "talker", "category": "post", "title": "Talker",
   "inputs": [{"name": "in", "type": "text", "multiple": true}],
   "outputs": [{"name": "out", "type": "text"}],
   "properties": [{"name": "notes", "type": "integer"},
                  {"name": "fn", "type": "text"}],
   "task": {"function": "talk",
            "params": {"notes": {"property": "notes"}, "fn": {"property": "fn"}}}}
]"#;

/// A chain of `nodes` talkers, each sending `notes` progress notes.
fn canvas(nodes: usize, notes: u64, function: &str) -> Canvas {
    let catalog = Catalog::builtin();
    catalog.register_json(TYPES).unwrap();
    let mut canvas = Canvas::new(catalog, "talk", "Talk");
    let mut ops = Vec::new();
    for i in 0..nodes {
        let id = format!("t{i}");
        ops.push(Op::add_node(
            &id,
            "talker",
            json!({"notes": notes, "fn": function}),
        ));
        if i > 0 {
            ops.push(Op::connect((&format!("t{}", i - 1), "out"), (&id, "in")));
        }
    }
    canvas.apply(ops).unwrap();
    canvas
}

/// Runs start from a shared canvas.
fn shared(canvas: Canvas) -> Arc<std::sync::Mutex<Canvas>> {
    Arc::new(std::sync::Mutex::new(canvas))
}

fn runner(gate: Arc<Semaphore>) -> LocalRunner {
    let runner = LocalRunner::new();
    runner.register("talk", move |task, ctx| {
        let gate = gate.clone();
        async move {
            if task.params.get("fn") == Some(&json!("wait")) {
                tokio::select! {
                    permit = gate.acquire() => permit.unwrap().forget(),
                    () = ctx.cancel.cancelled() => return Err(TaskError::cancelled()),
                }
            }
            let notes = task.params["notes"].as_u64().unwrap_or(0);
            for i in 0..notes {
                ctx.progress.progress(i as f64 / notes as f64, None);
            }
            Ok::<_, TaskError>(Outputs::from_iter([("out".to_owned(), json!(task.node))]))
        }
    });
    runner
}

fn executor(hub: &RunHub) -> Executor {
    Executor::new(runner(Arc::new(Semaphore::new(0)))).with_hub(hub.clone())
}

async fn all(events: &mut RunEvents) -> Vec<RunEvent> {
    let mut out = Vec::new();
    while let Some(event) = events.next().await {
        out.push(event);
    }
    out
}

/// Reads a subscription to its end; an error ends it too.
async fn read(sub: &mut Subscription) -> (Vec<RunEvent>, Option<reelgraph::Error>) {
    let mut out = Vec::new();
    loop {
        match sub.next().await {
            Ok(Some(event)) => out.push(event),
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e)),
        }
    }
}

fn seqs(events: &[RunEvent]) -> Vec<u64> {
    events.iter().map(|e| e.seq).collect()
}

/// A report without its timing.
fn shape(report: &RunReport) -> Value {
    let mut json = serde_json::to_value(report).unwrap();
    json["stats"]["duration_ms"] = json!(0);
    json["run_id"] = json!("");
    json
}

#[tokio::test]
async fn a_late_subscriber_gets_every_event_from_seq_0() {
    let hub = RunHub::default();
    let mut run = executor(&hub)
        .start(
            &shared(canvas(3, 100, "")),
            RunOptions::new().run_id("late"),
        )
        .await
        .unwrap();
    let mut own = run.events().unwrap();
    let report = run.finish().await;
    let own = all(&mut own).await;

    let mut sub = hub.subscribe("late", 0).unwrap();
    let (events, error) = read(&mut sub).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(seqs(&events), (0..own.len() as u64).collect::<Vec<_>>());
    assert_eq!(events, own, "the hub's events are the run's own");
    assert_eq!(hub.report("late").unwrap().unwrap().stats, report.stats);

    // From the middle: the rest, no gap.
    let mut sub = hub.subscribe("late", 150).unwrap();
    let (rest, _) = read(&mut sub).await;
    assert_eq!(rest, own[150..]);
}

/// The types of `events`, in order.
fn types(events: &[RunEvent]) -> Vec<Value> {
    events
        .iter()
        .map(|e| serde_json::to_value(e).unwrap()["type"].clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_get_every_event_whether_the_runs_own_stream_is_read_dropped_or_never_taken() {
    let hub = RunHub::default();
    let gate = Arc::new(Semaphore::new(0));
    let executor = Executor::new(runner(gate.clone())).with_hub(hub.clone());
    let canvas = shared(canvas(3, 300, "wait"));

    // Read to the end: the reference.
    let mut run = executor
        .start(&canvas, RunOptions::new().force_all().run_id("read"))
        .await
        .unwrap();
    let mut own = run.events().unwrap();
    gate.add_permits(3);
    run.finish().await;
    let own = all(&mut own).await;

    // Dropped while the first task waits; never taken.
    let mut dropped = executor
        .start(&canvas, RunOptions::new().force_all().run_id("dropped"))
        .await
        .unwrap();
    let mut stream = dropped.events().unwrap();
    let mut sub = hub.subscribe("dropped", 0).unwrap();
    let driver = tokio::spawn(dropped.finish());
    let first = stream.next().await.unwrap();
    drop(stream);
    gate.add_permits(3);
    driver.await.unwrap();
    let never = executor
        .start(&canvas, RunOptions::new().force_all().run_id("never"))
        .await
        .unwrap();
    gate.add_permits(3);
    never.finish().await;

    let (events, error) = read(&mut sub).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(events[0], first);
    let (never, error) = read(&mut hub.subscribe("never", 0).unwrap()).await;
    assert!(error.is_none(), "{error:?}");
    for events in [events, never] {
        assert_eq!(seqs(&events), (0..own.len() as u64).collect::<Vec<_>>());
        assert_eq!(types(&events), types(&own));
    }
    assert_eq!(hub.snapshot("never").unwrap().state, RunState::Completed);
    assert_eq!(hub.snapshot("never").unwrap().next_seq, own.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_subscribers_see_identical_sequences() {
    let hub = RunHub::default();
    let gate = Arc::new(Semaphore::new(0));
    let executor = Executor::new(runner(gate.clone())).with_hub(hub.clone());
    let mut run = executor
        .start(
            &shared(canvas(4, 2_000, "wait")),
            RunOptions::new().run_id("many"),
        )
        .await
        .unwrap();
    let mut own = run.events().unwrap();
    let readers: Vec<_> = (0..50)
        .map(|_| {
            let mut sub = hub.subscribe("many", 0).unwrap();
            tokio::spawn(async move { read(&mut sub).await })
        })
        .collect();
    let driver = tokio::spawn(run.finish());
    gate.add_permits(4);
    driver.await.unwrap();
    let own = all(&mut own).await;
    assert!(own.len() > 8_000);
    for reader in readers {
        let (events, error) = reader.await.unwrap();
        assert!(error.is_none(), "{error:?}");
        assert_eq!(events, own);
    }
}

#[tokio::test]
async fn replay_from_a_dropped_seq_is_refused_with_its_own_code() {
    let hub = RunHub::new(HubOptions::new().replay(300));
    let mut run = executor(&hub)
        .start(
            &shared(canvas(2, 2_000, "")),
            RunOptions::new().run_id("long"),
        )
        .await
        .unwrap();
    let mut own = run.events().unwrap();
    run.finish().await;
    let own = all(&mut own).await;

    let error = hub.subscribe("long", 0).unwrap_err();
    assert_eq!(error.code(), "seq_dropped");
    let (oldest, next) = hub.seq_range("long").unwrap();
    assert!(oldest > 0 && next - oldest >= 300, "{oldest}..{next}");
    assert_eq!(error.details()["oldest"], json!(oldest));
    assert_eq!(error.details()["seq"], json!(0));
    assert!(
        error.hint().contains(&format!("from seq {oldest}")),
        "{}",
        error.hint()
    );

    // From the oldest held: everything after it, no gap.
    let mut sub = hub.subscribe("long", oldest).unwrap();
    let (events, error) = read(&mut sub).await;
    assert!(error.is_none());
    assert_eq!(events, own[oldest as usize..]);
}

#[tokio::test]
async fn a_subscriber_that_never_reads_is_dropped_and_the_run_is_unaffected() {
    let canvas = shared(canvas(3, 3_000, "wait"));
    let open_gate = Arc::new(Semaphore::new(3));
    let alone = Executor::new(runner(open_gate))
        .with_hub(RunHub::default())
        .start(&canvas, RunOptions::new().run_id("alone"))
        .await
        .unwrap()
        .finish()
        .await;

    let hub = RunHub::new(HubOptions::new().replay(256));
    let gate = Arc::new(Semaphore::new(0));
    let run = Executor::new(runner(gate.clone()))
        .with_hub(hub.clone())
        .start(&canvas, RunOptions::new().run_id("watched"))
        .await
        .unwrap();
    let mut idle = hub.subscribe("watched", 0).unwrap();
    // One that reads the first event, then stops.
    let mut stalled = hub.subscribe("watched", 0).unwrap();
    let driver = tokio::spawn(run.finish());
    assert_eq!(stalled.next().await.unwrap().unwrap().seq, 0);
    gate.add_permits(3);
    let watched = driver.await.unwrap();
    assert_eq!(shape(&watched), shape(&alone));
    assert_eq!(watched.status, RunStatus::Completed);

    let error = idle.next().await.unwrap_err();
    assert_eq!(error.code(), "seq_dropped");
    assert_eq!(error.details()["seq"], json!(0));
    assert!(idle.next().await.unwrap().is_none(), "dropped: the end");

    // It still holds the block it was reading, then learns what it lost.
    let (events, error) = read(&mut stalled).await;
    assert_eq!(seqs(&events), (1..256).collect::<Vec<_>>());
    let error = error.unwrap();
    assert_eq!(error.code(), "seq_dropped");
    assert_eq!(error.details()["seq"], json!(256));
    assert!(stalled.next().await.unwrap().is_none());
}

#[tokio::test]
async fn an_unknown_run_id_is_not_found() {
    let hub = RunHub::default();
    for error in [
        hub.subscribe("nope", 0).unwrap_err(),
        hub.snapshot("nope").unwrap_err(),
        hub.report("nope").unwrap_err(),
        hub.cancel("nope").unwrap_err(),
        hub.cancel_node("nope", "a").unwrap_err(),
    ] {
        assert_eq!(error.code(), "not_found");
        assert_eq!(error.details(), json!({"kind": "run", "id": "nope"}));
    }
}

#[tokio::test]
async fn a_run_id_the_hub_holds_is_refused() {
    let hub = RunHub::default();
    let executor = executor(&hub);
    let canvas = shared(canvas(1, 0, ""));
    let _run = executor
        .start(&canvas, RunOptions::new().run_id("twice"))
        .await
        .unwrap();
    let error = executor
        .start(&canvas, RunOptions::new().run_id("twice"))
        .await
        .unwrap_err();
    assert_eq!(error.code(), "duplicate_id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_while_running_and_after() {
    let hub = RunHub::default();
    let gate = Arc::new(Semaphore::new(0));
    let executor = Executor::new(runner(gate.clone())).with_hub(hub.clone());
    let run = executor
        .start(
            &shared(canvas(3, 10, "wait")),
            RunOptions::new().run_id("snap"),
        )
        .await
        .unwrap();
    let before = hub.snapshot("snap").unwrap();
    assert_eq!((before.state, before.next_seq), (RunState::Pending, 0));

    let mut sub = hub.subscribe("snap", 0).unwrap();
    let driver = tokio::spawn(run.finish());
    // Wait until the first node has started: it waits at the gate.
    while let Some(event) = sub.next().await.unwrap() {
        if serde_json::to_value(&event).unwrap()["type"] == "node_started" {
            break;
        }
    }
    let during = hub.snapshot("snap").unwrap();
    assert_eq!(during.state, RunState::Running);
    assert_eq!(during.canvas_id, "talk");
    assert_eq!((during.counts.tasks, during.counts.running), (3, 1));
    assert_eq!(during.nodes["t0"].state, NodeState::Running);
    assert_eq!(during.function("t0"), "talk");
    assert!(!during.nodes.contains_key("t2"), "not queued yet");
    assert!(hub.report("snap").unwrap().is_none());

    gate.add_permits(3);
    let report = driver.await.unwrap();
    let after = hub.snapshot("snap").unwrap();
    assert_eq!(after.state, RunState::Completed);
    assert_eq!(after.overall, 1.0);
    assert_eq!((after.counts.executed, after.counts.running), (3, 0));
    assert_eq!(after.counts.done(), 3);
    assert!(
        after
            .nodes
            .values()
            .all(|n| n.state == NodeState::Completed)
    );
    assert_eq!(hub.report("snap").unwrap().unwrap().stats, report.stats);

    // The snapshot is what folding the events gives, and it round-trips.
    let mut folded = RunSnapshot::new("snap");
    let mut sub = hub.subscribe("snap", 0).unwrap();
    while let Some(event) = sub.next().await.unwrap() {
        folded.see(&event);
    }
    assert_eq!(folded, after);
    let json = serde_json::to_value(&after).unwrap();
    let back: RunSnapshot = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(serde_json::to_value(back).unwrap(), json);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_is_cancelled_by_id() {
    let hub = RunHub::default();
    let gate = Arc::new(Semaphore::new(0));
    let executor = Executor::new(runner(gate.clone())).with_hub(hub.clone());
    let run = executor
        .start(
            &shared(canvas(3, 0, "wait")),
            RunOptions::new().run_id("stop"),
        )
        .await
        .unwrap();
    let mut sub = hub.subscribe("stop", 0).unwrap();
    let driver = tokio::spawn(run.finish());
    while let Some(event) = sub.next().await.unwrap() {
        if serde_json::to_value(&event).unwrap()["type"] == "node_started" {
            break;
        }
    }
    assert!(!hub.cancel_node("stop", "nope").unwrap());
    assert!(hub.cancel_node("stop", "t0").unwrap());
    let report = driver.await.unwrap();
    let snapshot = hub.snapshot("stop").unwrap();
    assert_eq!(snapshot.nodes["t0"].state, NodeState::Cancelled);
    assert_eq!(snapshot.stopped(), vec!["t0"]);
    assert_eq!(snapshot.not_started(), vec!["t1", "t2"]);
    assert_eq!(report.stats.cancelled, 1);

    let run = executor
        .start(
            &shared(canvas(2, 0, "wait")),
            RunOptions::new().run_id("all"),
        )
        .await
        .unwrap();
    hub.cancel("all").unwrap();
    assert_eq!(run.finish().await.status, RunStatus::Cancelled);
    assert_eq!(hub.snapshot("all").unwrap().state, RunState::Cancelled);
}

#[tokio::test(start_paused = true)]
async fn finished_runs_are_forgotten_after_their_time_or_count() {
    let hub = RunHub::new(
        HubOptions::new()
            .keep_finished(Duration::from_secs(60))
            .max_finished(2),
    );
    let executor = executor(&hub);
    let canvas = shared(canvas(1, 0, ""));
    for id in ["r1", "r2", "r3"] {
        executor
            .start(&canvas, RunOptions::new().run_id(id))
            .await
            .unwrap()
            .finish()
            .await;
    }
    // Three finished, two kept: the oldest went.
    assert_eq!(hub.report("r1").unwrap_err().code(), "not_found");
    assert!(hub.report("r3").unwrap().is_some());
    tokio::time::advance(Duration::from_secs(59)).await;
    assert!(hub.snapshot("r2").is_ok());
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(hub.snapshot("r2").unwrap_err().code(), "not_found");
    assert_eq!(hub.subscribe("r3", 0).unwrap_err().code(), "not_found");
    assert!(hub.run_ids().is_empty());
    // A forgotten id may be used again.
    executor
        .start(&canvas, RunOptions::new().run_id("r1"))
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_held_run_stays_past_its_time_and_count_until_let_go() {
    let hub = RunHub::new(
        HubOptions::new()
            .keep_finished(Duration::from_secs(60))
            .max_finished(0),
    );
    let canvas = shared(canvas(1, 0, ""));
    let run = executor(&hub)
        .start(&canvas, RunOptions::new().run_id("kept"))
        .await
        .unwrap();
    let held = hub.hold("kept").unwrap();
    let second = hub.hold("kept").unwrap();
    run.finish().await;
    tokio::time::advance(Duration::from_secs(61)).await;
    // Past both the count (0) and the time: still whole while held.
    assert_eq!(hub.snapshot("kept").unwrap().state, RunState::Completed);
    assert!(hub.report("kept").unwrap().is_some());
    assert!(hub.subscribe("kept", 0).is_ok());
    drop(held);
    assert!(hub.report("kept").unwrap().is_some(), "one hold is left");
    drop(second);
    assert_eq!(hub.snapshot("kept").unwrap_err().code(), "not_found");
    assert_eq!(hub.hold("kept").unwrap_err().code(), "not_found");

    // A hold let go of before the run's time is up changes nothing.
    let hub = RunHub::new(HubOptions::new().keep_finished(Duration::from_secs(60)));
    let run = executor(&hub)
        .start(&canvas, RunOptions::new().run_id("early"))
        .await
        .unwrap();
    drop(hub.hold("early").unwrap());
    run.finish().await;
    assert!(hub.report("early").unwrap().is_some());
}

#[tokio::test]
async fn a_run_dropped_before_its_end_is_abandoned() {
    let hub = RunHub::default();
    let run = executor(&hub)
        .start(&shared(canvas(1, 0, "")), RunOptions::new().run_id("gone"))
        .await
        .unwrap();
    let mut sub = hub.subscribe("gone", 0).unwrap();
    drop(run);
    assert!(sub.next().await.unwrap().is_none(), "the stream ends");
    assert_eq!(hub.snapshot("gone").unwrap().state, RunState::Abandoned);
    assert!(hub.report("gone").unwrap().is_none());
}

/// One event of each kind, as the wire has them.
fn every_run_event() -> Vec<Value> {
    let error = json!({"kind": "transient", "message": "busy", "hint": "retry"});
    let stats = json!({"tasks": 2, "executed": 1, "cache_hits": 1, "cache_misses": 1,
        "failed": 0, "cancelled": 0, "skipped": 0, "retries": 1, "clamped_progress": 0,
        "duration_ms": 1500});
    let kinds = [
        json!({"type": "run_started", "canvas_id": "c", "quality": "draft", "tasks": 2}),
        json!({"type": "node_queued", "node": "a", "reason": "properties_changed"}),
        json!({"type": "node_cached", "node": "a", "key": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "overall": 0.5}),
        json!({"type": "node_started", "node": "a", "function": "f", "quality": "high"}),
        json!({"type": "node_progress", "node": "a", "progress": 0.25, "message": "step 1", "overall": 0.125}),
        json!({"type": "node_progress", "node": "a", "progress": 0.5, "overall": 0.25}),
        json!({"type": "node_retrying", "node": "a", "attempt": 1, "delay_ms": 250,
               "quality": "draft", "quality_fallback": false, "error": error}),
        json!({"type": "node_completed", "node": "a", "outputs": {"out": [1, "x"]},
               "duration_ms": 1234, "overall": 1.0}),
        json!({"type": "node_failed", "node": "a", "error": error, "overall": 1.0}),
        json!({"type": "node_skipped", "node": "b", "reason": "upstream_failed", "because": "a", "overall": 1.0}),
        json!({"type": "node_skipped", "node": "b", "reason": "run_stopped", "overall": 1.0}),
        json!({"type": "circuit_changed", "function": "f", "state": "half_open"}),
        json!({"type": "run_completed", "stats": stats}),
        json!({"type": "run_failed", "error": error, "stats": stats}),
        json!({"type": "run_cancelled", "stats": stats}),
    ];
    kinds
        .into_iter()
        .enumerate()
        .map(|(seq, mut kind)| {
            let envelope = json!({"run_id": "r1", "seq": seq, "ts": "2026-01-01T12:00:00.250Z"});
            kind.as_object_mut()
                .unwrap()
                .extend(envelope.as_object().unwrap().clone());
            kind
        })
        .collect()
}

fn other_events() -> Vec<Value> {
    vec![
        json!({"type": "canvas_changed", "canvas_id": "c", "seq": 3, "revision": 3,
               "ts": "2026-01-01T12:00:00.000Z",
               "ops": [{"op": "move_node", "id": "a", "position": {"x": 1.0, "y": 2.0}}]}),
        json!({"type": "saved", "canvas_id": "c", "seq": 0, "ts": "2026-01-01T12:00:00.000Z", "revision": 3}),
        json!({"type": "conflict", "canvas_id": "c", "seq": 1, "ts": "2026-01-01T12:00:00.000Z",
               "expected": 3, "current": 5}),
        json!({"type": "failed", "canvas_id": "c", "seq": 2, "ts": "2026-01-01T12:00:00.000Z",
               "code": "storage", "message": "disk full"}),
    ]
}

/// Parses as the event type `like`'s `type` belongs to and writes it back.
fn round_trip_as(like: &Value, json: &Value) -> Result<Value, String> {
    let text = json.to_string();
    let back = match like["type"].as_str().unwrap() {
        "canvas_changed" => {
            serde_json::from_str::<Event>(&text).map(|e| serde_json::to_value(e).unwrap())
        }
        "saved" | "conflict" | "failed" => {
            serde_json::from_str::<AutosaveEvent>(&text).map(|e| serde_json::to_value(e).unwrap())
        }
        _ => serde_json::from_str::<RunEvent>(&text).map(|e| serde_json::to_value(e).unwrap()),
    };
    back.map_err(|e| e.to_string())
}

fn round_trip(json: &Value) -> Result<Value, String> {
    round_trip_as(json, json)
}

#[test]
fn every_event_kind_round_trips() {
    for json in every_run_event().iter().chain(&other_events()) {
        assert_eq!(round_trip(json).as_ref(), Ok(json), "{json}");
    }
}

#[test]
fn an_event_with_an_unknown_field_is_refused_naming_it() {
    for json in every_run_event().iter().chain(&other_events()) {
        let mut bad = json.clone();
        bad["colour"] = json!("red");
        let error = round_trip_as(json, &bad).unwrap_err();
        assert!(error.contains("colour"), "{json}: {error}");
    }
}

#[test]
fn an_event_with_a_field_of_the_wrong_type_is_refused() {
    for json in every_run_event().iter().chain(&other_events()) {
        for field in ["seq", "ts"] {
            let mut bad = json.clone();
            bad[field] = json!({"not": "this"});
            let error = round_trip_as(json, &bad).unwrap_err();
            assert!(error.contains("invalid type"), "{json}: {error}");
        }
        let mut bad = json.clone();
        bad["ts"] = json!("yesterday");
        let error = round_trip_as(json, &bad).unwrap_err();
        assert!(error.contains("RFC 3339"), "{json}: {error}");
        let mut bad = json.clone();
        bad["type"] = json!("node_exploded");
        let error = round_trip_as(json, &bad).unwrap_err();
        assert!(error.contains("node_exploded"), "{error}");
    }
}

#[test]
fn a_run_event_without_its_subject_is_refused() {
    let mut json = every_run_event().remove(0);
    json.as_object_mut().unwrap().remove("run_id");
    assert!(round_trip(&json).unwrap_err().contains("run_id"));
}

#[tokio::test]
async fn canvas_and_autosave_events_carry_the_envelope() {
    let mut canvas = canvas(1, 0, "");
    let applied = canvas
        .apply(vec![Op::add_node("t9", "talker", json!({}))])
        .unwrap();
    let json = serde_json::to_value(&applied.event).unwrap();
    assert_eq!(json["seq"], json!(applied.revision));
    assert_eq!(json["canvas_id"], "talk");
    let ts = json["ts"].as_str().unwrap();
    assert_eq!(ts.len(), "2026-01-01T12:00:00.000Z".len(), "{ts}");
    assert_eq!(ts, canvas.updated_at());
}
