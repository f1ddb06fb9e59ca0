//! The planner and the executor: content keys, explanations, the cache,
//! events, cancellation, failure policies and batches, with in-process
//! functions that record what ran.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use reelgraph::exec::{
    Executor, FailurePolicy, Force, PlanOptions, Planner, Reason, RunEvent, RunEventKind,
    RunOptions, RunStatus, SkipReason,
};
use reelgraph::runner::{LocalRunner, Outputs, TaskError};
use reelgraph::{Canvas, Catalog, Op, Quality};
use serde_json::{Value, json};

/// `note` is a data node; `step` joins its text with what arrives on `in`.
const TYPES: &str = r#"[
  {"type": "note", "category": "story", "title": "Note",
   "outputs": [{"name": "out", "type": "text"}],
   "properties": [{"name": "text", "type": "text"},
                  {"name": "colour", "type": "text", "affects_output": false}]},
  {"type": "step", "category": "post", "title": "Step",
   "inputs": [{"name": "in", "type": "text", "multiple": true}],
   "outputs": [{"name": "out", "type": "text"}],
   "properties": [{"name": "text", "type": "text", "required": true},
                  {"name": "fn", "type": "text"},
                  {"name": "comment", "type": "text"}],
   "task": {"function": "step", "quality_fallback": true,
            "params": {"text": {"property": "text"}, "fn": {"property": "fn"},
                       "in": {"input": "in"}}}}
]"#;

fn catalog() -> Catalog {
    let catalog = Catalog::builtin();
    catalog.register_json(TYPES).unwrap();
    catalog
}

/// What the step functions saw.
#[derive(Debug, Default)]
struct Calls {
    nodes: Mutex<Vec<String>>,
    running: AtomicUsize,
    peak: AtomicUsize,
}

impl Calls {
    fn take(&self) -> BTreeSet<String> {
        std::mem::take(&mut *self.nodes.lock().unwrap())
            .into_iter()
            .collect()
    }
}

/// Decrements the running count however the task ends (including drop).
struct Running(Arc<Calls>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::SeqCst);
    }
}

/// `step` behaves by its `fn` param: "" joins text and inputs; "panic",
/// "panic_at_once" (before making its future), "fail", "hang",
/// "wrong_outputs", "slow", "bad_progress" misbehave.
fn runner(calls: Arc<Calls>) -> LocalRunner {
    let runner = LocalRunner::new();
    runner.register("step", move |task, ctx| {
        assert_ne!(
            task.params.get("fn"),
            Some(&json!("panic_at_once")),
            "step {} blew up at once",
            task.node
        );
        let calls = calls.clone();
        async move {
            calls.nodes.lock().unwrap().push(task.node.to_string());
            let now = calls.running.fetch_add(1, Ordering::SeqCst) + 1;
            calls.peak.fetch_max(now, Ordering::SeqCst);
            let _running = Running(calls.clone());
            let text = task.params["text"].as_str().unwrap_or_default().to_owned();
            let inputs: Vec<String> = match task.params.get("in") {
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|v| v.as_str().unwrap_or("?").to_owned())
                    .collect(),
                _ => Vec::new(),
            };
            match task.params.get("fn").and_then(Value::as_str).unwrap_or("") {
                "panic" => panic!("step {} blew up", task.node),
                "fail" => return Err(TaskError::permanent("it failed")),
                "slow_fail" => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    return Err(TaskError::permanent("it failed"));
                }
                "resource" if task.quality > Quality::Draft => {
                    return Err(TaskError::resource("out of memory"));
                }
                "hang" => {
                    ctx.cancel.cancelled().await;
                    return Err(TaskError::cancelled());
                }
                "slow" => {
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_millis(20)) => {}
                        () = ctx.cancel.cancelled() => return Err(TaskError::cancelled()),
                    }
                }
                "wrong_outputs" => {
                    return Ok(Outputs::from_iter([("image".to_owned(), json!("x"))]));
                }
                "bad_progress" => {
                    ctx.progress.progress(1.7, Some("too far"));
                    ctx.progress.progress(-0.5, None);
                    ctx.progress.progress(f64::NAN, None);
                }
                _ => {}
            }
            let out = format!("{text}({})", inputs.join(","));
            Ok(Outputs::from_iter([("out".to_owned(), json!(out))]))
        }
    });
    runner
}

fn add(id: &str, text: &str) -> Op {
    Op::add_node(id, "step", json!({"text": text}))
}

fn link(from: &str, to: &str) -> Op {
    Op::connect((from, "out"), (to, "in"))
}

/// a → b → d, a → c → d, e alone; a reads the note n.
fn diamond() -> Canvas {
    let mut canvas = Canvas::new(catalog(), "diamond", "Diamond");
    canvas
        .apply(vec![
            Op::add_node("n", "note", json!({"text": "hello", "colour": "red"})),
            add("a", "A"),
            add("b", "B"),
            add("c", "C"),
            add("d", "D"),
            add("e", "E"),
            Op::connect(("n", "out"), ("a", "in")),
            link("a", "b"),
            link("a", "c"),
            link("b", "d"),
            link("c", "d"),
        ])
        .unwrap();
    canvas
}

fn set(node: &str, props: Value) -> Op {
    Op::set_properties(node, props)
}

/// A canvas runs are started from: shared, locked only to read or edit it.
fn shared(canvas: Canvas) -> Arc<Mutex<Canvas>> {
    Arc::new(Mutex::new(canvas))
}

async fn run(
    executor: &Executor,
    canvas: &Arc<Mutex<Canvas>>,
    options: RunOptions,
) -> (reelgraph::exec::RunReport, Vec<RunEvent>) {
    let mut run = executor.start(canvas, options).await.unwrap();
    let mut events = run.events().unwrap();
    let report = run.finish().await;
    let mut seen = Vec::new();
    while let Some(e) = events.next().await {
        seen.push(e);
    }
    (report, seen)
}

fn kinds(events: &[RunEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            serde_json::to_value(e).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

fn set_of(nodes: &[&str]) -> BTreeSet<String> {
    nodes.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn outputs_flow_downstream_and_data_nodes_arrive_as_records() {
    let calls = Arc::new(Calls::default());
    let executor = Executor::new(runner(calls.clone()));
    let (report, events) = run(&executor, &shared(diamond()), RunOptions::new()).await;
    assert_eq!(report.status, RunStatus::Completed);
    assert_eq!(calls.take(), set_of(&["a", "b", "c", "d", "e"]));
    // The note arrives as its record; b and c get a's output; d gets both in edge order.
    assert_eq!(report.outputs["b"]["out"], "B(A(?))");
    assert_eq!(report.outputs["d"]["out"], "D(B(A(?)),C(A(?)))");
    let last = events.last().unwrap();
    assert!(matches!(last.kind, RunEventKind::RunCompleted { .. }));
}

#[tokio::test]
async fn events_have_gapless_seq_and_overall_progress_reaches_one() {
    let executor = Executor::new(runner(Arc::new(Calls::default())));
    let (report, events) = run(&executor, &shared(diamond()), RunOptions::new()).await;
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (0..events.len() as u64).collect::<Vec<_>>());
    assert!(events.iter().all(|e| *e.run_id == report.run_id));
    let k = kinds(&events);
    assert_eq!(k.first().unwrap(), "run_started");
    assert_eq!(k.iter().filter(|k| *k == "node_completed").count(), 5);
    let overall: Vec<f64> = events
        .iter()
        .filter_map(|e| match &e.kind {
            RunEventKind::NodeCompleted { overall, .. } => Some(*overall),
            _ => None,
        })
        .collect();
    assert!(overall.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(*overall.last().unwrap(), 1.0);
    // Every node: queued, then started, then completed.
    for node in ["a", "b", "c", "d", "e"] {
        let order: Vec<&str> = events
            .iter()
            .filter_map(|e| match &e.kind {
                RunEventKind::NodeQueued { node: n, .. } if &**n == node => Some("queued"),
                RunEventKind::NodeStarted { node: n, .. } if &**n == node => Some("started"),
                RunEventKind::NodeCompleted { node: n, .. } if &**n == node => Some("completed"),
                _ => None,
            })
            .collect();
        assert_eq!(order, ["queued", "started", "completed"], "{node}");
    }
    let wire = serde_json::to_value(&events[0]).unwrap();
    for field in ["type", "run_id", "seq", "ts"] {
        assert!(wire.get(field).is_some(), "{field} missing from {wire}");
    }
}

#[tokio::test]
async fn a_second_run_executes_nothing_and_an_edit_reruns_exactly_its_cone() {
    let calls = Arc::new(Calls::default());
    let executor = Executor::new(runner(calls.clone()));
    let canvas = shared(diamond());
    run(&executor, &canvas, RunOptions::new()).await;
    calls.take();

    let (report, _) = run(&executor, &canvas, RunOptions::new()).await;
    assert_eq!(calls.take(), BTreeSet::new());
    assert_eq!((report.stats.executed, report.stats.cache_hits), (0, 5));
    assert_eq!(report.outputs["d"]["out"], "D(B(A(?)),C(A(?)))");

    canvas
        .lock()
        .unwrap()
        .apply(vec![set("b", json!({"text": "B2"}))])
        .unwrap();
    let (report, _) = run(&executor, &canvas, RunOptions::new()).await;
    assert_eq!(calls.take(), set_of(&["b", "d"]));
    assert_eq!(
        (
            report.stats.executed,
            report.stats.cache_hits,
            report.stats.cache_misses
        ),
        (2, 3, 2)
    );

    // The data node feeds a: its change reaches a's whole cone.
    canvas
        .lock()
        .unwrap()
        .apply(vec![set("n", json!({"text": "bye"}))])
        .unwrap();
    run(&executor, &canvas, RunOptions::new()).await;
    assert_eq!(calls.take(), set_of(&["a", "b", "c", "d"]));

    // What does not matter changes nothing: a property no template reads,
    // one marked `affects_output: false`, a move, a label of a task node.
    canvas
        .lock()
        .unwrap()
        .apply(vec![
            set("c", json!({"comment": "looks good"})),
            set("n", json!({"colour": "blue"})),
            Op::MoveNode {
                id: "a".into(),
                position: reelgraph::Position { x: 300.0, y: 40.0 },
            },
            Op::SetLabel {
                id: "d".into(),
                label: Some("Final".into()),
            },
        ])
        .unwrap();
    let (report, _) = run(&executor, &canvas, RunOptions::new()).await;
    assert_eq!(calls.take(), BTreeSet::new());
    assert_eq!(report.stats.cache_hits, 5);
}

#[tokio::test]
async fn keys_do_not_depend_on_ids_or_layout() {
    let build = |prefix: &str, x: f64| {
        let mut canvas = Canvas::new(catalog(), &format!("{prefix}canvas"), "C");
        let (a, b) = (format!("{prefix}a"), format!("{prefix}b"));
        canvas
            .apply(vec![
                Op::AddNode {
                    id: a.clone(),
                    node_type: "step".into(),
                    type_version: None,
                    label: None,
                    position: reelgraph::Position { x, y: 0.0 },
                    properties: json!({"text": "A"}).as_object().unwrap().clone(),
                    ui: None,
                },
                add(&b, "B"),
                link(&a, &b),
            ])
            .unwrap();
        let planner = Planner::new(&canvas, PlanOptions::all(Quality::Draft)).unwrap();
        planner
            .plan()
            .steps
            .iter()
            .map(|s| s.key)
            .collect::<Vec<_>>()
    };
    assert_eq!(build("x_", 0.0), build("other_", 500.0));
    // Quality is part of a task node's key.
    let canvas = diamond();
    let draft = Planner::new(&canvas, PlanOptions::all(Quality::Draft)).unwrap();
    let high = Planner::new(&canvas, PlanOptions::all(Quality::High)).unwrap();
    assert_ne!(draft.plan().steps[0].key, high.plan().steps[0].key);
}

#[tokio::test]
async fn explanations_say_why_each_node_runs() {
    let executor = Executor::new(runner(Arc::new(Calls::default())));
    let canvas = shared(diamond());
    let mut planner =
        Planner::new(&canvas.lock().unwrap(), PlanOptions::all(Quality::Standard)).unwrap();
    let reasons = |ex: Vec<reelgraph::exec::Explanation>| -> HashMap<String, Reason> {
        ex.into_iter()
            .map(|e| (e.node.to_string(), e.reason))
            .collect()
    };
    let first = reasons(
        executor
            .explain(planner.plan(), &Force::None)
            .await
            .unwrap(),
    );
    assert!(first.values().all(|r| *r == Reason::New));

    executor
        .start_planned(&canvas, &planner, RunOptions::new())
        .await
        .unwrap()
        .finish()
        .await;
    canvas
        .lock()
        .unwrap()
        .apply(vec![set("b", json!({"text": "B2"}))])
        .unwrap();
    planner.replan(&canvas.lock().unwrap()).unwrap();
    let second = reasons(
        executor
            .explain(planner.plan(), &Force::Nodes(vec!["e".into()]))
            .await
            .unwrap(),
    );
    assert_eq!(second["a"], Reason::Cached);
    assert_eq!(second["b"], Reason::PropertiesChanged);
    assert_eq!(second["c"], Reason::Cached);
    assert_eq!(second["d"], Reason::UpstreamChanged);
    assert_eq!(second["e"], Reason::Forced);
}

#[tokio::test]
async fn replan_after_random_edits_equals_a_fresh_plan() {
    let mut rng = SmallRng::seed_from_u64(7);
    let mut canvas = Canvas::new(catalog(), "random", "Random");
    let n = 40;
    let mut ops: Vec<Op> = (0..n)
        .map(|i| add(&format!("s{i}"), &format!("t{i}")))
        .collect();
    for i in 1..n {
        for _ in 0..rng.random_range(0..3) {
            let j = rng.random_range(0..i);
            ops.push(link(&format!("s{j}"), &format!("s{i}")));
        }
    }
    for op in ops {
        // A repeated random edge is refused; the rest stands.
        let _ = canvas.apply(vec![op]);
    }
    let options = PlanOptions::targets(["s39", "s30", "s12"], Quality::High);
    let mut planner = Planner::new(&canvas, options.clone()).unwrap();
    for round in 0..60 {
        let i = rng.random_range(0..n);
        let op = match rng.random_range(0..5) {
            0 | 1 => set(&format!("s{i}"), json!({"text": format!("r{round}")})),
            2 => set(&format!("s{i}"), json!({"comment": format!("r{round}")})),
            3 => {
                let j = rng.random_range(0..n);
                link(&format!("s{}", i.min(j)), &format!("s{}", i.max(j)))
            }
            _ => Op::MoveNode {
                id: format!("s{i}"),
                position: reelgraph::Position {
                    x: round as f64,
                    y: 0.0,
                },
            },
        };
        // Rejected ops (a duplicate edge, a self-loop) leave the canvas as it was.
        let _ = canvas.apply(vec![op]);
        let incremental: Vec<_> = planner
            .replan(&canvas)
            .unwrap()
            .steps
            .iter()
            .map(|s| (s.node.clone(), s.key))
            .collect();
        // A fresh plan of the same canvas reuses the own digests it keeps;
        // a reloaded copy keeps none and hashes every node from scratch.
        let reloaded = Canvas::from_document(catalog(), canvas.to_document()).unwrap();
        for fresh in [&canvas, &reloaded] {
            let fresh = Planner::new(fresh, options.clone()).unwrap();
            let expected: Vec<_> = fresh
                .plan()
                .steps
                .iter()
                .map(|s| (s.node.clone(), s.key))
                .collect();
            assert_eq!(incremental, expected, "round {round}");
        }
    }
}

/// Keys of every step, by node.
fn keys_of(canvas: &Canvas) -> Vec<(String, String)> {
    Planner::new(canvas, PlanOptions::all(Quality::Draft))
        .unwrap()
        .plan()
        .steps
        .iter()
        .map(|s| (s.node.to_string(), s.key.to_string()))
        .collect()
}

#[tokio::test]
async fn kept_digests_follow_edits_and_refused_batches() {
    let mut canvas = diamond();
    let before = keys_of(&canvas);
    // A batch that fails half-way restores the nodes it had changed.
    let refused = canvas.apply(vec![
        set("b", json!({"text": "changed"})),
        Op::set_properties("nowhere", json!({"text": "x"})),
    ]);
    assert!(refused.is_err());
    assert_eq!(keys_of(&canvas), before);
    // Edits that land change the keys a reloaded copy computes afresh.
    canvas
        .apply(vec![
            set("b", json!({"text": "changed"})),
            Op::SetLabel {
                id: "n".into(),
                label: Some("greeting".into()),
            },
        ])
        .unwrap();
    let after = keys_of(&canvas);
    assert_ne!(after, before);
    let reloaded = Canvas::from_document(catalog(), canvas.to_document()).unwrap();
    assert_eq!(keys_of(&reloaded), after);
}

#[test]
fn a_serialised_plan_lists_what_each_step_waits_for() {
    let canvas = diamond();
    let planner = Planner::new(&canvas, PlanOptions::all(Quality::Draft)).unwrap();
    let plan = planner.plan();
    let index = |node: &str| plan.steps.iter().position(|s| &*s.node == node).unwrap();
    let mut waits: Vec<&str> = plan
        .after(index("d"))
        .iter()
        .map(|&i| &*plan.steps[i].node)
        .collect();
    waits.sort_unstable();
    assert_eq!(waits, ["b", "c"]);
    assert!(plan.after(index("a")).is_empty());
    let json = serde_json::to_value(plan).unwrap();
    let d = &json["steps"][index("d")];
    assert_eq!(d["node"], "d");
    assert_eq!(d["key"], plan.steps[index("d")].key.to_hex());
    let mut after: Vec<usize> = serde_json::from_value(d["after"].clone()).unwrap();
    after.sort_unstable();
    assert_eq!(
        after,
        [index("b").min(index("c")), index("b").max(index("c"))]
    );
}

#[tokio::test]
async fn events_reach_the_consumer_while_a_task_still_runs() {
    let gate = Arc::new(tokio::sync::Notify::new());
    let task_gate = gate.clone();
    let runner = LocalRunner::new();
    runner.register("step", move |_task, ctx| {
        let gate = task_gate.clone();
        async move {
            gate.notified().await;
            ctx.progress.progress(0.5, Some("half way"));
            Ok(Outputs::from_iter([("out".to_owned(), json!("done"))]))
        }
    });
    let canvas = shared(Canvas::new(catalog(), "gated", "Gated"));
    canvas.lock().unwrap().apply(vec![add("a", "A")]).unwrap();
    let executor = Executor::new(runner);
    let mut run = executor.start(&canvas, RunOptions::new()).await.unwrap();
    let mut events = run.events().unwrap();
    let finished = tokio::spawn(run.finish());
    // The run holds its own events back only while it has work to do: with
    // `a` waiting at the gate, everything so far has been sent.
    let mut seen = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(event) = events.next().await {
            let started = matches!(event.kind, RunEventKind::NodeStarted { .. });
            seen.push(event);
            if started {
                break;
            }
        }
    })
    .await
    .expect("events arrive while the task waits");
    assert_eq!(kinds(&seen), ["run_started", "node_queued", "node_started"]);
    gate.notify_one();
    assert_eq!(finished.await.unwrap().status, RunStatus::Completed);
    let mut rest = Vec::new();
    while let Some(event) = events.next().await {
        rest.push(event);
    }
    assert_eq!(
        kinds(&rest),
        ["node_progress", "node_completed", "run_completed"]
    );
}

#[tokio::test]
async fn explain_says_what_a_partial_run_does() {
    let calls = Arc::new(Calls::default());
    let executor = Executor::new(runner(calls.clone()));
    let canvas = shared(diamond());
    let options = RunOptions::new().targets(["d"]);
    let planner = Planner::new(
        &canvas.lock().unwrap(),
        PlanOptions::targets(["d"], options.quality),
    )
    .unwrap();
    let plan = planner.plan();
    assert_eq!(plan.targets, ["d"]);
    let kept = Outputs::from_iter([("out".to_owned(), json!("kept"))]);
    executor
        .cache()
        .put(plan.step("d").unwrap().key, Arc::new(kept))
        .await
        .unwrap();
    let explain = |force: Force| {
        let executor = executor.clone();
        async move {
            executor
                .explain(plan, &force)
                .await
                .unwrap()
                .into_iter()
                .map(|e| (e.node.to_string(), e.reason))
                .collect::<HashMap<_, _>>()
        }
    };
    let reasons = |pairs: &[(&str, Reason)]| -> HashMap<String, Reason> {
        pairs.iter().map(|(n, r)| ((*n).to_owned(), *r)).collect()
    };

    // `d` is cached, so nothing upstream of it is needed, and a run agrees.
    assert_eq!(
        explain(Force::None).await,
        reasons(&[
            ("a", Reason::NotNeeded),
            ("b", Reason::NotNeeded),
            ("c", Reason::NotNeeded),
            ("d", Reason::Cached),
        ])
    );
    let (report, events) = run(&executor, &canvas, options.clone()).await;
    assert_eq!(report.outputs["d"]["out"], "kept");
    assert!(calls.take().is_empty());
    let not_needed: BTreeSet<String> = events
        .iter()
        .filter_map(|e| match &e.kind {
            RunEventKind::NodeSkipped {
                node,
                reason: SkipReason::NotNeeded,
                ..
            } => Some(node.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(not_needed, set_of(&["a", "b", "c"]));

    // A forced node runs, with what it needs that is not cached.
    assert_eq!(
        explain(Force::Nodes(vec!["b".into()])).await,
        reasons(&[
            ("a", Reason::New),
            ("b", Reason::Forced),
            ("c", Reason::NotNeeded),
            ("d", Reason::Cached),
        ])
    );
    run(&executor, &canvas, options.force(["b"])).await;
    assert_eq!(calls.take(), set_of(&["a", "b"]));
}

#[tokio::test]
async fn targets_run_only_what_they_need() {
    let calls = Arc::new(Calls::default());
    let executor = Executor::new(runner(calls.clone()));
    let canvas = shared(diamond());
    let (report, _) = run(&executor, &canvas, RunOptions::new().targets(["b"])).await;
    assert_eq!(calls.take(), set_of(&["a", "b"]));
    assert_eq!(report.stats.tasks, 2);
    // With b cached, a is not needed again even if its result were gone.
    let (report, events) = run(
        &executor,
        &canvas,
        RunOptions::new().targets(["b"]).force(["b"]),
    )
    .await;
    assert_eq!(calls.take(), set_of(&["b"]));
    assert_eq!(report.stats.cache_hits, 1);
    assert!(kinds(&events).contains(&"node_cached".to_owned()));
}

#[tokio::test]
async fn an_invalid_canvas_is_refused_before_any_task_runs() {
    let calls = Arc::new(Calls::default());
    let executor = Executor::new(runner(calls.clone()));
    let canvas = shared(diamond());
    canvas
        .lock()
        .unwrap()
        .apply(vec![Op::SetProperties {
            id: "e".into(),
            properties: Default::default(),
            unset: vec!["text".into()],
        }])
        .unwrap();
    let err = executor
        .start(&canvas, RunOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_canvas");
    let details = err.to_body().details;
    assert_eq!(details["report"]["errors"], 1);
    assert_eq!(details["report"]["diagnostics"][0]["node"], "e");
    assert!(calls.take().is_empty());
    // A partial run that does not need `e` is not blocked by it.
    let (report, _) = run(&executor, &canvas, RunOptions::new().targets(["d"])).await;
    assert_eq!(report.status, RunStatus::Completed);
}

#[tokio::test]
async fn an_unknown_function_is_refused_before_any_task_runs() {
    let calls = Arc::new(Calls::default());
    let executor = Executor::new(LocalRunner::new());
    let err = executor
        .start(&shared(diamond()), RunOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "unknown_function");
    assert_eq!(
        err.to_body().details["nodes"],
        json!(["a", "b", "c", "d", "e"])
    );
    assert!(err.hint().contains("register"));
    assert_eq!(err.to_body().details["known"], json!([]));
    assert!(calls.take().is_empty());

    // A runner that can list its functions has them named in the error.
    let runner = LocalRunner::new();
    runner.register("text.upper", |_task, _ctx| async { Ok(Outputs::new()) });
    runner.register("image.blur", |_task, _ctx| async { Ok(Outputs::new()) });
    let err = Executor::new(runner)
        .start(&shared(diamond()), RunOptions::new())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_body().details["known"],
        json!(["image.blur", "text.upper"])
    );
    assert!(
        err.hint().ends_with("known: image.blur, text.upper"),
        "{}",
        err.hint()
    );
}

#[tokio::test]
async fn a_panic_fails_its_node_and_independent_branches_continue() {
    let calls = Arc::new(Calls::default());
    let executor = Executor::new(runner(calls.clone()));
    let canvas = shared(diamond());
    canvas
        .lock()
        .unwrap()
        .apply(vec![
            set("b", json!({"fn": "panic"})),
            set("e", json!({"fn": "panic_at_once"})),
        ])
        .unwrap();
    let (report, events) = run(&executor, &canvas, RunOptions::new()).await;
    assert_eq!(report.status, RunStatus::Failed);
    assert!(
        report.errors["b"].message.contains("step b blew up"),
        "{:?}",
        report.errors["b"]
    );
    assert!(
        report.errors["e"]
            .message
            .contains("step e blew up at once"),
        "{:?}",
        report.errors["e"]
    );
    // `e` panicked before it was counted as a call.
    assert_eq!(calls.take(), set_of(&["a", "b", "c"]));
    let skipped: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.kind {
            RunEventKind::NodeSkipped {
                node,
                reason,
                because,
                ..
            } => Some((
                node.to_string(),
                *reason,
                because.as_deref().map(str::to_owned),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        skipped,
        [(
            "d".to_owned(),
            SkipReason::UpstreamFailed,
            Some("b".to_owned())
        )]
    );
    assert!(matches!(
        events.last().unwrap().kind,
        RunEventKind::RunFailed { .. }
    ));
}

#[tokio::test]
async fn fail_fast_cancels_what_runs_and_skips_the_rest() {
    let calls = Arc::new(Calls::default());
    let executor = Executor::new(runner(calls.clone()));
    let mut canvas = diamond();
    canvas
        .apply(vec![
            set("e", json!({"fn": "hang"})),
            set("a", json!({"fn": "slow_fail"})), // fails once `e` is surely running
        ])
        .unwrap();
    let (report, events) = run(
        &executor,
        &shared(canvas),
        RunOptions::new().failure_policy(FailurePolicy::FailFast),
    )
    .await;
    assert_eq!(report.status, RunStatus::Failed);
    assert_eq!(report.errors["a"].message, "it failed");
    assert_eq!(
        report.errors["e"].kind,
        reelgraph::runner::TaskErrorKind::Cancelled
    );
    assert_eq!(calls.running.load(Ordering::SeqCst), 0);
    assert_eq!(report.stats.skipped, 3);
    assert!(matches!(
        events.last().unwrap().kind,
        RunEventKind::RunFailed { .. }
    ));
}

#[tokio::test]
async fn outputs_that_do_not_match_the_declared_ports_fail_the_node() {
    let executor = Executor::new(runner(Arc::new(Calls::default())));
    let canvas = shared(diamond());
    canvas
        .lock()
        .unwrap()
        .apply(vec![set("e", json!({"fn": "wrong_outputs"}))])
        .unwrap();
    let (report, _) = run(&executor, &canvas, RunOptions::new()).await;
    let error = &report.errors["e"];
    assert!(
        error.message.contains("no value for out") && error.message.contains("undeclared image"),
        "{error:?}"
    );
    // Nothing was stored for it: the next run tries again.
    let (again, _) = run(&executor, &canvas, RunOptions::new()).await;
    assert_eq!((again.stats.cache_misses, again.stats.failed), (1, 1));
}

#[tokio::test]
async fn a_cancelled_run_stops_its_tasks_and_sends_nothing_after_run_cancelled() {
    let calls = Arc::new(Calls::default());
    let executor = Executor::new(runner(calls.clone()));
    let canvas = shared(diamond());
    canvas
        .lock()
        .unwrap()
        .apply(vec![
            set("a", json!({"fn": "hang"})),
            set("e", json!({"fn": "hang"})),
        ])
        .unwrap();
    let mut run = executor.start(&canvas, RunOptions::new()).await.unwrap();
    let mut events = run.events().unwrap();
    let handle = run.handle();
    let finished = tokio::spawn(run.finish());
    // Cancel once both hanging tasks have started.
    let mut started = 0;
    while let Some(event) = events.next().await {
        if matches!(event.kind, RunEventKind::NodeStarted { .. }) {
            started += 1;
            if started == 2 {
                handle.cancel();
                break;
            }
        }
    }
    let report = finished.await.unwrap();
    assert_eq!(report.status, RunStatus::Cancelled);
    assert_eq!(
        calls.running.load(Ordering::SeqCst),
        0,
        "a task outlived its run"
    );
    let mut rest = Vec::new();
    while let Some(e) = events.next().await {
        rest.push(e);
    }
    assert!(matches!(
        rest.last().unwrap().kind,
        RunEventKind::RunCancelled { .. }
    ));
    let k = kinds(&rest);
    assert_eq!(
        k.iter().filter(|k| *k == "node_skipped").count(),
        3,
        "{k:?}"
    );
}

#[tokio::test]
async fn cancelling_one_node_skips_its_cone_and_the_rest_goes_on() {
    let calls = Arc::new(Calls::default());
    let executor = Executor::new(runner(calls.clone()));
    let canvas = shared(diamond());
    canvas
        .lock()
        .unwrap()
        .apply(vec![set("c", json!({"fn": "hang"}))])
        .unwrap();
    let mut run = executor.start(&canvas, RunOptions::new()).await.unwrap();
    let mut events = run.events().unwrap();
    let handle = run.handle();
    let finished = tokio::spawn(run.finish());
    while let Some(event) = events.next().await {
        if let RunEventKind::NodeStarted { node, .. } = &event.kind
            && &**node == "c"
        {
            assert!(handle.cancel_node("c"));
        }
    }
    let report = finished.await.unwrap();
    assert_eq!(
        report.errors["c"].kind,
        reelgraph::runner::TaskErrorKind::Cancelled
    );
    assert!(report.outputs.contains_key("b") && report.outputs.contains_key("e"));
    assert!(!report.outputs.contains_key("d"));
    assert!(!handle.cancel_node("no-such-node"));
}

#[tokio::test]
async fn progress_outside_zero_to_one_is_clamped_and_counted() {
    let executor = Executor::new(runner(Arc::new(Calls::default())));
    let canvas = shared(diamond());
    canvas
        .lock()
        .unwrap()
        .apply(vec![set("e", json!({"fn": "bad_progress"}))])
        .unwrap();
    let (report, events) = run(&executor, &canvas, RunOptions::new()).await;
    let progress: Vec<f64> = events
        .iter()
        .filter_map(|e| match &e.kind {
            RunEventKind::NodeProgress { progress, .. } => Some(*progress),
            _ => None,
        })
        .collect();
    assert_eq!(progress, [1.0, 0.0, 0.0]);
    assert_eq!(report.stats.clamped_progress, 3);
    assert_eq!(report.status, RunStatus::Completed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_variants_shares_one_cap() {
    let calls = Arc::new(Calls::default());
    let executor = Executor::new(runner(calls.clone())).with_concurrency(2);
    let canvas = shared(Canvas::new(catalog(), "wide", "Wide"));
    canvas
        .lock()
        .unwrap()
        .apply(
            (0..12)
                .map(|i| Op::add_node(&format!("w{i}"), "step", json!({"text": "w", "fn": "slow"})))
                .collect::<Vec<_>>(),
        )
        .unwrap();
    let mut batch = executor
        .batch([
            (&canvas, RunOptions::new().quality(Quality::Draft)),
            (
                &canvas,
                RunOptions::new()
                    .quality(Quality::High)
                    .targets(["w1", "w2"]),
            ),
        ])
        .await
        .unwrap();
    let mut events = batch.events().unwrap();
    let reports = batch.finish().await;
    assert_eq!(
        reports.iter().map(|r| r.stats.executed).collect::<Vec<_>>(),
        [12, 2]
    );
    assert!(
        calls.peak.load(Ordering::SeqCst) <= 2,
        "peak {}",
        calls.peak.load(Ordering::SeqCst)
    );
    let mut per_run: HashMap<String, Vec<u64>> = HashMap::new();
    while let Some(e) = events.next().await {
        per_run.entry(e.run_id.to_string()).or_default().push(e.seq);
    }
    assert_eq!(per_run.len(), 2);
    for seqs in per_run.values() {
        assert_eq!(*seqs, (0..seqs.len() as u64).collect::<Vec<_>>());
    }
}

#[tokio::test]
async fn a_result_made_at_a_lower_tier_is_passed_on_but_not_cached() {
    use reelgraph::runner::{FunctionRunner, QualityFallback};
    let calls = Arc::new(Calls::default());
    let runner: Arc<dyn FunctionRunner> = Arc::new(QualityFallback::new(runner(calls.clone())));
    let executor = Executor::new(runner);
    let canvas = shared(diamond());
    canvas
        .lock()
        .unwrap()
        .apply(vec![set("b", json!({"fn": "resource"}))])
        .unwrap();
    let options = || RunOptions::new().quality(Quality::Standard).targets(["d"]);
    let (report, events) = run(&executor, &canvas, options()).await;
    assert_eq!(report.status, RunStatus::Completed);
    assert!(events.iter().any(|e| matches!(&e.kind, RunEventKind::NodeRetrying { node, quality_fallback: true, quality: Quality::Draft, .. } if &**node == "b")));
    calls.take();
    // b (degraded) and d (built on it) run again; a and c were cached.
    run(&executor, &canvas, options()).await;
    assert_eq!(calls.take(), set_of(&["b", "d"]));
}

#[tokio::test]
async fn targets_and_forced_nodes_are_checked_before_anything_runs() {
    let executor = Executor::new(runner(Arc::new(Calls::default())));
    let canvas = shared(diamond());
    let unknown = executor
        .start(&canvas, RunOptions::new().targets(["nope"]))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), "unknown_node");
    let data = executor
        .start(&canvas, RunOptions::new().targets(["n"]))
        .await
        .unwrap_err();
    assert_eq!(data.code(), "no_task");
    let forced = executor
        .start(&canvas, RunOptions::new().force(["ghost"]))
        .await
        .unwrap_err();
    assert_eq!(forced.code(), "unknown_node");
    // `check` refuses the same way, and accepts what `start` accepts.
    assert_eq!(
        executor
            .check(&canvas.lock().unwrap(), &RunOptions::new().targets(["n"]))
            .unwrap_err()
            .code(),
        "no_task"
    );
    executor
        .check(&canvas.lock().unwrap(), &RunOptions::new().targets(["d"]))
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_waiting_for_a_slot_are_skipped_not_failed_when_the_run_is_cancelled() {
    let calls = Arc::new(Calls::default());
    let executor = Executor::new(runner(calls.clone())).with_concurrency(1);
    let canvas = shared(Canvas::new(catalog(), "queue", "Queue"));
    canvas
        .lock()
        .unwrap()
        .apply(
            (0..4)
                .map(|i| Op::add_node(&format!("q{i}"), "step", json!({"text": "q", "fn": "hang"})))
                .collect::<Vec<_>>(),
        )
        .unwrap();
    let mut run = executor.start(&canvas, RunOptions::new()).await.unwrap();
    let mut events = run.events().unwrap();
    let handle = run.handle();
    let finished = tokio::spawn(run.finish());
    while let Some(event) = events.next().await {
        if matches!(event.kind, RunEventKind::NodeStarted { .. }) {
            handle.cancel();
            break;
        }
    }
    let report = finished.await.unwrap();
    assert_eq!(report.status, RunStatus::Cancelled);
    assert_eq!(
        (
            report.stats.cancelled,
            report.stats.failed,
            report.stats.skipped
        ),
        (1, 0, 3)
    );
    assert_eq!(calls.take().len(), 1);
    assert_eq!(calls.running.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn functions_registered_after_the_executor_exists_run_and_a_second_registration_replaces_the_first()
 {
    let runner = LocalRunner::new();
    let executor = Executor::new(runner.clone());
    let canvas = shared(Canvas::new(catalog(), "late", "Late"));
    canvas.lock().unwrap().apply(vec![add("a", "A")]).unwrap();

    // Not known yet: refused before anything runs, naming what is known.
    let err = executor
        .start(&canvas, RunOptions::new())
        .await
        .expect_err("no function yet");
    assert_eq!(err.code(), "unknown_function");

    let output = |text: &'static str| {
        move |_task: reelgraph::runner::Task, _ctx| async move {
            Ok::<_, TaskError>(Outputs::from_iter([("out".to_owned(), json!(text))]))
        }
    };
    runner.register("step", output("first"));
    let (report, _) = run(&executor, &canvas, RunOptions::new()).await;
    assert_eq!(report.outputs["a"]["out"], json!("first"));

    // Registering the name again replaces the function for later tasks.
    runner.register("step", output("second"));
    assert_eq!(runner.functions(), vec!["step".to_owned()]);
    let (report, _) = run(&executor, &canvas, RunOptions::new().force_all()).await;
    assert_eq!(report.outputs["a"]["out"], json!("second"));
}

#[tokio::test]
async fn a_plan_behind_the_canvas_is_refused_as_stale_plan_and_runs_after_replan() {
    let calls = Arc::new(Calls::default());
    let executor = Executor::new(runner(calls.clone()));
    let canvas = shared(diamond());
    let mut planner =
        Planner::new(&canvas.lock().unwrap(), PlanOptions::all(Quality::Draft)).unwrap();
    canvas
        .lock()
        .unwrap()
        .apply(vec![set("b", json!({"text": "B2"}))])
        .unwrap();
    let err = executor
        .start_planned(&canvas, &planner, RunOptions::new())
        .await
        .expect_err("stale");
    assert_eq!(err.code(), "stale_plan");
    assert_eq!(err.http_status(), 409);
    assert_eq!(err.details()["plan_revision"], json!(1));
    assert_eq!(err.details()["revision"], json!(2));
    assert!(err.hint().contains("replan"));
    assert!(calls.take().is_empty(), "nothing ran");

    planner.replan(&canvas.lock().unwrap()).unwrap();
    let report = executor
        .start_planned(&canvas, &planner, RunOptions::new())
        .await
        .unwrap()
        .finish()
        .await;
    // Every step node ran (the note is data and has no task).
    assert_eq!(calls.take(), set_of(&["a", "b", "c", "d", "e"]));
    assert!(report.outputs.contains_key("b"));
}

/// Two runs of one canvas started together: each node's work is done once.
#[tokio::test]
async fn runs_started_together_execute_shared_work_once() {
    let calls = Arc::new(Calls::default());
    let executor = Executor::new(runner(calls.clone()));
    let canvas = shared(diamond());
    let slow: Vec<Op> = ["a", "b", "c", "d", "e"]
        .iter()
        .map(|node| set(node, json!({"fn": "slow"})))
        .collect();
    canvas.lock().unwrap().apply(slow).unwrap();
    let (first, second) = tokio::join!(
        run(&executor, &canvas, RunOptions::new()),
        run(&executor, &canvas, RunOptions::new()),
    );
    assert_eq!(first.0.status, RunStatus::Completed);
    assert_eq!(second.0.status, RunStatus::Completed);
    assert_eq!(first.0.outputs, second.0.outputs);
    let mut executed = calls.nodes.lock().unwrap().clone();
    executed.sort();
    assert_eq!(executed, ["a", "b", "c", "d", "e"], "one call per node");
}

/// A failure is not handed on: each run tries the work itself.
#[tokio::test]
async fn a_failed_shared_execution_is_tried_again_by_the_other_run() {
    let calls = Arc::new(Calls::default());
    let executor = Executor::new(runner(calls.clone()));
    let canvas = shared(diamond());
    canvas
        .lock()
        .unwrap()
        .apply(vec![set("e", json!({"fn": "slow_fail"}))])
        .unwrap();
    let options = || RunOptions::new().targets(["e"]);
    let (first, second) = tokio::join!(
        run(&executor, &canvas, options()),
        run(&executor, &canvas, options()),
    );
    assert_eq!(first.0.status, RunStatus::Failed);
    assert_eq!(second.0.status, RunStatus::Failed);
    assert_eq!(*calls.nodes.lock().unwrap(), ["e", "e"], "each run tried");
}
