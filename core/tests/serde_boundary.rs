//! Serde at the boundary: every option and result type a binding or an HTTP
//! body carries reads back what it writes, refuses unknown fields and values
//! of the wrong type naming the field, fills omitted fields with their
//! documented defaults, and has a current JSON Schema in `docs/schema/`
//! whose fields are the ones it writes.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::path::PathBuf;
use std::time::Duration;

use reelgraph::exec::{FailurePolicy, Force, PlanOptions, RunOptions};
use reelgraph::render::{LayoutMode, SvgOptions};
use reelgraph::runner::{CircuitConfig, Resilience, RetryPolicy};
use reelgraph::store::{AutosaveOptions, ListQuery, Prune};
use reelgraph::{Quality, from_json, from_value};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// A sample of every type in `reelgraph::schema::all()` that is a JSON
/// object, with every field set to something other than its default, so
/// that all its keys are written. Keyed by schema name.
fn samples() -> BTreeMap<&'static str, Value> {
    let mut samples = BTreeMap::new();
    let mut add = |name, value| assert!(samples.insert(name, value).is_none(), "{name} twice");

    // Options.
    add(
        "ListQuery",
        json!({"cursor": "c_0100", "limit": 50, "name_prefix": "Teaser"}),
    );
    add(
        "AutosaveOptions",
        json!({"quiet_period_ms": 500, "max_interval_ms": 5000}),
    );
    add(
        "RetryPolicy",
        json!({"max_attempts": 5, "base_ms": 100, "cap_ms": 2000, "seed": 7}),
    );
    add(
        "CircuitConfig",
        json!({"failure_threshold": 3, "cooldown_ms": 15000}),
    );
    add(
        "Resilience",
        json!({
            "retry": {"max_attempts": 4, "base_ms": 50, "cap_ms": 1000, "seed": null},
            "timeout_ms": 300000,
            "timeouts_ms": {"video.generate": 1800000},
            "timeout_grace_ms": 2000,
            "circuit_breaker": {"failure_threshold": 2, "cooldown_ms": 1000},
            "quality_floor": "standard"
        }),
    );
    add(
        "SvgOptions",
        json!({"layout": "layered", "properties": 1, "title": false, "legend": false, "margin": 8.5}),
    );

    add(
        "RunOptions",
        json!({"quality": "draft", "targets": ["img"], "force": {"nodes": ["img"]},
               "failure_policy": "fail_fast", "concurrency": 2, "run_id": "run_1"}),
    );
    add(
        "PlanOptions",
        json!({"targets": ["img", "vid"], "quality": "high"}),
    );

    // Results.
    add(
        "RunReport",
        json!({"run_id": "run_1", "canvas_id": "c", "status": "failed",
               "stats": {"tasks": 3, "executed": 1, "cache_hits": 1, "cache_misses": 2,
                         "failed": 1, "cancelled": 0, "skipped": 1, "retries": 2,
                         "clamped_progress": 0, "duration_ms": 1250},
               "outputs": {"b": {"image": "b.png"}, "a": {"image": "a.png"}},
               "errors": {"c": {"kind": "permanent", "message": "bad model"}}}),
    );
    add(
        "Layout",
        json!({"nodes": [{"id": "a", "x": 0.0, "y": 40.0, "width": 180.0, "height": 96.0}],
               "layered": true}),
    );
    add(
        "Explanation",
        json!({"node": "img", "function": "image.generate",
               "key": "ab".repeat(32), "reason": "upstream_changed"}),
    );
    add(
        "Page",
        json!({"items": [{"id": "c1", "name": "Teaser", "revision": 3,
                          "updated_at": "2026-01-01T12:00:00.000Z", "size_bytes": 2048}],
               "next_cursor": "c1"}),
    );
    add(
        "VersionInfo",
        json!({"revision": 2, "saved_at": "2026-01-01T12:00:00.000Z", "size_bytes": 900,
               "summary": "+2 nodes"}),
    );
    add(
        "RebuiltIndex",
        json!({"id": "c1", "revisions": [1, 3], "old_index": "c1/index.json.damaged",
               "damaged": [{"path": "c1/damaged/2.json", "problem": "not JSON"}]}),
    );
    add(
        "Applied",
        json!({"revision": 3, "inverse": [{"op": "remove_node", "id": "s2"}],
               "event": {"type": "canvas_changed", "canvas_id": "c", "seq": 3, "revision": 3,
                         "ts": "2026-01-01T12:00:00.000Z",
                         "ops": [{"op": "add_node", "id": "s2", "type": "shot",
                        "position": {"x": 0.0, "y": 0.0}, "properties": {}}]}}),
    );
    add(
        "RunSnapshot",
        json!({"run_id": "run_1", "canvas_id": "c", "state": "failed", "next_seq": 9,
               "overall": 1.0,
               "counts": {"tasks": 2, "queued": 0, "running": 0, "executed": 1, "cached": 0,
                          "failed": 1, "cancelled": 0, "skipped": 0, "retries": 1},
               "nodes": {"img": {"state": "failed", "function": "image.generate",
                                 "progress": 0.5, "started_at": "2026-01-01T12:00:00.000Z",
                                 "ended_at": "2026-01-01T12:00:01.000Z", "ended_seq": 7,
                                 "error": {"kind": "permanent", "message": "bad model"}}},
               "started_at": "2026-01-01T12:00:00.000Z",
               "ended_at": "2026-01-01T12:00:01.000Z"}),
    );
    add(
        "Migrated",
        json!({"node": "s1", "from_version": 1, "to_version": 2}),
    );
    add(
        "Task",
        json!({"run_id": "run_1", "node": "img", "node_type": "image_gen",
               "function": "image.generate", "params": {"prompt": "Mara", "steps": 4},
               "quality": "high", "quality_fallback": true, "idempotency_key": "k~draft",
               "outputs": ["image"]}),
    );
    add(
        "TaskError",
        json!({"kind": "resource", "message": "out of GPU memory", "hint": "try draft",
               "details": {"traceback": "Traceback (most recent call last): ..."}}),
    );
    add(
        "TaskPreview",
        json!({"node": "img", "node_type": "image_gen", "function": "image.generate",
               "quality": "ultra", "quality_fallback": true, "params": {"prompt": "Mara"},
               "inputs": {"prompt": [{"node": "p1", "port": "text"}]}}),
    );
    add(
        "CircuitStats",
        json!({"state": "half_open", "consecutive_failures": 2, "short_circuited": 9, "opened": 1}),
    );
    add(
        "CacheStats",
        json!({"entries": 3, "bytes": 4096, "hits": 10, "misses": 4, "evictions": 1}),
    );
    add(
        "ErrorBody",
        json!({"code": "conflict", "message": "stale", "hint": "reload", "details": {"current": 4}}),
    );
    // Written only: a ComfyUI server reads it, reelgraph does not.
    add(
        "ApiPrompt",
        json!({"prompt": {"3": {"class_type": "KSampler", "inputs": {"seed": 5}}},
               "left_out": [{"node": "n", "reason": "muted"}],
               "diagnostics": [{"severity": "warning", "code": "guessed_widget_names",
                                "message": "guessed", "node": "3", "hint": "give object_info"}]}),
    );
    // Written only: the table is compiled in (`reelgraph::error_codes`).
    add(
        "ErrorCode",
        json!({"code": "conflict", "category": "conflict", "http_status": 409, "when": "..."}),
    );
    add(
        "ImportStats",
        json!({"nodes": 4, "edges": 3, "reroutes": 1, "subgraph_instances": 2}),
    );

    let diagnostic = json!({"severity": "warning", "code": "dangling_edge", "message": "gone",
                            "node": "s1", "edge": "e1", "port": "in", "property": "p",
                            "hint": "remove it"});
    add(
        "Report",
        json!({"valid": true, "errors": 0, "warnings": 1, "diagnostics": [diagnostic]}),
    );
    add(
        "Imported",
        json!({"format": "comfyui_workflow", "canvas": document(),
               "diagnostics": [diagnostic], "registered_types": ["KSampler"]}),
    );
    add(
        "FlowImport",
        json!({"canvas": document(), "diagnostics": [diagnostic]}),
    );
    add(
        "Import",
        json!({"canvas": document(), "diagnostics": [diagnostic],
               "registered_types": ["KSampler"],
               "stats": {"nodes": 1, "edges": 1, "reroutes": 0, "subgraph_instances": 0}}),
    );

    // Documents.
    add("CanvasDocument", document());
    add(
        "NodeTypeSpec",
        json!({
            "type": "shout", "version": 2, "category": "post", "title": "Shout",
            "description": "Upper-cases text.",
            "inputs": [{"name": "in", "type": ["text", "any"], "required": true, "multiple": true,
                        "description": "what to shout"}],
            "outputs": [{"name": "text", "type": "text", "description": "shouted"}],
            "properties": [{"name": "volume", "type": "integer", "default": 3, "min": 1.0, "max": 11.0}],
            "provides": {"loras": {"property": "volume"}},
            "task": {"function": "text.upper", "params": {"text": {"input": "in"}}},
            "migrations": [{"from_version": 1, "rename": {"loudness": "volume"}}]
        }),
    );
    add(
        "ReactFlow",
        json!({
            "nodes": [{"id": "a", "type": "shot", "position": {"x": 1.0, "y": 2.0},
                       "data": {"number": 1}, "width": 120}],
            "edges": [{"id": "e", "source": "a", "sourceHandle": "shot", "target": "b",
                       "targetHandle": "shots", "animated": true}],
            "viewport": {"x": 0.0, "y": 0.0, "zoom": 1.5},
            "reelgraph": {"id": "c", "name": "C", "revision": 1, "created_at": "", "updated_at": "",
                          "groups": [], "story": {"page_count": 90}, "metadata": {}}
        }),
    );
    // The function-runner protocol.
    let error = json!({"kind": "transient", "message": "busy", "hint": "try later",
                       "details": {"gpu": 0}});
    add(
        "TaskSubmission",
        json!({"function": "image.generate", "params": {"prompt": "rain"}, "quality": "high",
               "idempotency_key": "k1", "priority": 5, "outputs": ["image"],
               "max_attempts": 4, "run_id": "r1", "node": "n1"}),
    );
    add(
        "TaskRecord",
        json!({"id": "tk_1", "function": "image.generate", "params": {"prompt": "rain"},
               "quality": "high", "priority": 5, "idempotency_key": "k1",
               "outputs_declared": ["image"], "state": "completed", "max_attempts": 4,
               "attempts": [{"attempt": 1, "worker": "w1",
                             "leased_at": "2026-01-01T12:00:00.000Z",
                             "ended_at": "2026-01-01T12:00:01.000Z",
                             "outcome": "failed", "error": error.clone()}],
               "progress": 0.5, "outputs": {"image": "a.png"}, "error": error.clone(),
               "run_id": "r1", "node": "n1",
               "created_at": "2026-01-01T12:00:00.000Z",
               "updated_at": "2026-01-01T12:00:02.000Z"}),
    );
    add(
        "ClaimRequest",
        json!({"worker": "w1", "functions": ["image.generate"], "max_tasks": 4, "wait_ms": 500}),
    );
    add(
        "Claimed",
        json!({"tasks": [{"task_id": "tk_1", "lease": "ls_1", "attempt": 2,
                          "function": "image.generate", "params": {}, "quality": "draft",
                          "idempotency_key": "k1", "outputs": ["image"],
                          "run_id": "r1", "node": "n1", "lease_ms": 30000}]}),
    );
    add("Heartbeat", json!({}));
    add("LeaseState", json!({"cancel": true, "lease_ms": 30000}));
    add(
        "ProgressReport",
        json!({"progress": 0.25, "message": "step 1"}),
    );
    add("Completion", json!({"outputs": {"image": "a.png"}}));
    add("Failure", json!({"error": error}));
    add(
        "HttpRunnerConfig",
        json!({"server": "http://127.0.0.1:8080", "key": "rg_x", "priority": 3,
               "request_timeout_ms": 5000, "give_up_after_ms": 60000}),
    );
    add(
        "WorkerConfig",
        json!({"server": "http://127.0.0.1:8080", "key": "rg_x", "name": "w1",
               "functions": ["image.generate"], "concurrency": 4, "claim_wait_ms": 1000,
               "grace_ms": 2000, "request_timeout_ms": 5000}),
    );
    add(
        "WorkerStats",
        json!({"claimed": 5, "completed": 3, "failed": 1, "lost": 1, "returned": 0}),
    );
    samples
}

/// A canvas document with every field written.
fn document() -> Value {
    json!({
        "format": "reelgraph.canvas", "format_version": 2, "id": "c", "name": "C",
        "revision": 3, "created_at": "2026-01-01T12:00:00.000Z",
        "updated_at": "2026-01-01T12:00:01.000Z",
        "nodes": [{"id": "s1", "type": "shot", "type_version": 1, "label": "Opening",
                   "position": {"x": 1.5, "y": -2.0}, "properties": {"number": 1},
                   "ui": {"color": "red"}}],
        "edges": [{"id": "e1", "source": {"node": "a", "port": "x"},
                   "target": {"node": "s1", "port": "y"}}],
        "groups": [{"id": "g", "label": "Act I", "nodes": ["s1"], "ui": {}}],
        "viewport": {"x": 10.0, "y": 20.0, "zoom": 0.5},
        "story": {"structure": "three_act", "page_count": 100},
        "metadata": {"owner": "studio"}
    })
}

/// JSON → `T` → JSON gives the same JSON, and reading it again the same `T`.
fn round_trips<T: Serialize + DeserializeOwned>(name: &str, sample: &Value) {
    let value: T = from_value(sample.clone())
        .unwrap_or_else(|e| panic!("{name} does not read its sample: {e}"));
    let written = serde_json::to_value(&value).expect("serialises");
    assert_eq!(
        &written, sample,
        "{name} writes another shape than it reads"
    );
    let text = serde_json::to_string(&value).expect("serialises");
    let again: T = from_json(&text).unwrap_or_else(|e| panic!("{name} reads its own text: {e}"));
    assert_eq!(serde_json::to_value(&again).expect("serialises"), written);
}

/// An extra field is refused with `invalid_json`, naming the field and the type.
fn refuses_unknown_field<T: DeserializeOwned + Debug>(name: &str, sample: &Value) {
    let mut bad = sample.clone();
    bad.as_object_mut()
        .expect("an object sample")
        .insert("qualty".into(), json!("high"));
    let err = from_value::<T>(bad).expect_err(name);
    assert_eq!(err.code(), "invalid_json", "{name}");
    assert_eq!(err.category().as_str(), "invalid_input", "{name}");
    assert_eq!(err.details()["field"], "qualty", "{name}");
    assert_eq!(err.details()["type"], name, "{name}");
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("unknown field `qualty` in {name}, expected")),
        "{message}"
    );
}

macro_rules! for_each_sampled_type {
    ($check:ident) => {{
        let samples = samples();
        let sample = |name: &str| {
            samples
                .get(name)
                .unwrap_or_else(|| panic!("no sample of {name}"))
        };
        $check::<ListQuery>("ListQuery", sample("ListQuery"));
        $check::<AutosaveOptions>("AutosaveOptions", sample("AutosaveOptions"));
        $check::<RetryPolicy>("RetryPolicy", sample("RetryPolicy"));
        $check::<CircuitConfig>("CircuitConfig", sample("CircuitConfig"));
        $check::<Resilience>("Resilience", sample("Resilience"));
        $check::<SvgOptions>("SvgOptions", sample("SvgOptions"));
        $check::<RunOptions>("RunOptions", sample("RunOptions"));
        $check::<PlanOptions>("PlanOptions", sample("PlanOptions"));
        $check::<reelgraph::exec::RunReport>("RunReport", sample("RunReport"));
        $check::<reelgraph::exec::Explanation>("Explanation", sample("Explanation"));
        $check::<reelgraph::render::Layout>("Layout", sample("Layout"));
        $check::<reelgraph::store::Page>("Page", sample("Page"));
        $check::<reelgraph::store::VersionInfo>("VersionInfo", sample("VersionInfo"));
        $check::<reelgraph::store::RebuiltIndex>("RebuiltIndex", sample("RebuiltIndex"));
        $check::<reelgraph::Migrated>("Migrated", sample("Migrated"));
        $check::<reelgraph::Applied>("Applied", sample("Applied"));
        $check::<reelgraph::exec::RunSnapshot>("RunSnapshot", sample("RunSnapshot"));
        $check::<reelgraph::runner::Task>("Task", sample("Task"));
        $check::<reelgraph::runner::TaskError>("TaskError", sample("TaskError"));
        $check::<reelgraph::TaskPreview>("TaskPreview", sample("TaskPreview"));
        $check::<reelgraph::runner::CircuitStats>("CircuitStats", sample("CircuitStats"));
        $check::<reelgraph::cache::CacheStats>("CacheStats", sample("CacheStats"));
        $check::<reelgraph::ErrorBody>("ErrorBody", sample("ErrorBody"));
        $check::<reelgraph::format::comfyui::ImportStats>("ImportStats", sample("ImportStats"));
        $check::<reelgraph::Report>("Report", sample("Report"));
        $check::<reelgraph::format::Imported>("Imported", sample("Imported"));
        $check::<reelgraph::format::react_flow::FlowImport>("FlowImport", sample("FlowImport"));
        $check::<reelgraph::format::comfyui::Import>("Import", sample("Import"));
        $check::<reelgraph::CanvasDocument>("CanvasDocument", sample("CanvasDocument"));
        $check::<reelgraph::NodeTypeSpec>("NodeTypeSpec", sample("NodeTypeSpec"));
        $check::<reelgraph::remote::TaskSubmission>("TaskSubmission", sample("TaskSubmission"));
        $check::<reelgraph::remote::TaskRecord>("TaskRecord", sample("TaskRecord"));
        $check::<reelgraph::remote::ClaimRequest>("ClaimRequest", sample("ClaimRequest"));
        $check::<reelgraph::remote::Claimed>("Claimed", sample("Claimed"));
        $check::<reelgraph::remote::LeaseState>("LeaseState", sample("LeaseState"));
        $check::<reelgraph::remote::ProgressReport>("ProgressReport", sample("ProgressReport"));
        $check::<reelgraph::remote::Completion>("Completion", sample("Completion"));
        $check::<reelgraph::remote::Failure>("Failure", sample("Failure"));
        $check::<reelgraph::remote::HttpRunnerConfig>(
            "HttpRunnerConfig",
            sample("HttpRunnerConfig"),
        );
        $check::<reelgraph::remote::WorkerConfig>("WorkerConfig", sample("WorkerConfig"));
        $check::<reelgraph::remote::WorkerStats>("WorkerStats", sample("WorkerStats"));
    }};
}

#[test]
fn every_sampled_type_round_trips() {
    for_each_sampled_type!(round_trips);
    // React Flow objects keep fields they do not know (`width`, `animated`).
    round_trips::<reelgraph::format::react_flow::ReactFlow>("ReactFlow", &samples()["ReactFlow"]);
}

#[test]
fn every_sampled_type_refuses_an_unknown_field_by_name() {
    for_each_sampled_type!(refuses_unknown_field);
}

#[test]
fn typed_values_round_trip_through_their_builders() {
    fn same<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T) {
        let text = serde_json::to_string(value).expect("serialises");
        assert_eq!(&from_json::<T>(&text).expect(&text), value);
    }
    same(
        &RetryPolicy::default()
            .with_max_attempts(9)
            .with_base(Duration::from_millis(15))
            .with_cap(Duration::from_secs(3))
            .with_seed(42),
    );
    same(
        &CircuitConfig::default()
            .with_failure_threshold(1)
            .with_cooldown(Duration::from_millis(250)),
    );
    same(&AutosaveOptions {
        quiet_period: Duration::from_millis(300),
        max_interval: Duration::from_secs(4),
    });
    same(
        &Resilience::new()
            .retry(RetryPolicy::default().with_max_attempts(2))
            .timeout(Duration::from_secs(60))
            .timeout_for("video.generate", Duration::from_secs(600))
            .timeout_grace(Duration::from_millis(500))
            .circuit_breaker(CircuitConfig::default())
            .quality_floor(Quality::Standard),
    );
    same(&Resilience::new().quality_fallback(true));
    same(&Resilience::new());
    same(
        &SvgOptions::default()
            .layout(LayoutMode::Positions)
            .properties(0)
            .title(false)
            .margin(4.0),
    );
    same(&ListQuery::first(20));
    same(&Prune::KeepLast(10));
    same(&Prune::OlderThan(Duration::from_secs(86_400)));
    same(&Quality::Ultra);
    same(
        &RunOptions::new()
            .quality(Quality::High)
            .targets(["img"])
            .force(["img", "vid"])
            .failure_policy(FailurePolicy::FailFast)
            .concurrency(3)
            .run_id("nightly"),
    );
    same(&RunOptions::new().force_all());
    same(&PlanOptions::targets(["img"], Quality::Draft));
    for force in [Force::None, Force::All, Force::Nodes(vec!["a".into()])] {
        same(&force);
    }
}

#[test]
fn durations_are_whole_milliseconds_in_fields_named_ms() {
    let prune = serde_json::to_value(Prune::OlderThan(Duration::from_secs(2))).expect("json");
    assert_eq!(prune, json!({"older_than_ms": 2000}));
    assert_eq!(
        serde_json::to_value(Prune::KeepLast(3)).expect("json"),
        json!({"keep_last": 3})
    );
    let options = AutosaveOptions {
        quiet_period: Duration::from_micros(1_500),
        max_interval: Duration::from_secs(1),
    };
    assert_eq!(
        serde_json::to_value(options).expect("json"),
        json!({"quiet_period_ms": 1, "max_interval_ms": 1000})
    );
    let err = from_json::<AutosaveOptions>(r#"{"quiet_period": 5}"#).expect_err("no _ms");
    assert_eq!(err.details()["field"], "quiet_period");
    let err = from_json::<AutosaveOptions>(r#"{"quiet_period_ms": 1.5}"#).expect_err("whole ms");
    assert_eq!(err.details()["field"], "quiet_period_ms");
    let err = from_json::<AutosaveOptions>(r#"{"quiet_period_ms": -1}"#).expect_err("negative");
    assert_eq!(err.details()["path"], "quiet_period_ms");
}

#[test]
fn omitted_fields_take_the_documented_defaults() {
    assert_eq!(
        from_json::<RetryPolicy>("{}").expect("{}"),
        RetryPolicy::default()
    );
    let policy: RetryPolicy = from_json(r#"{"cap_ms": 500}"#).expect("cap only");
    assert_eq!(
        (policy.max_attempts, policy.base, policy.cap, policy.seed),
        (
            3,
            Duration::from_millis(200),
            Duration::from_millis(500),
            None
        )
    );
    let circuit: CircuitConfig = from_json("{}").expect("{}");
    assert_eq!(
        (circuit.failure_threshold, circuit.cooldown),
        (5, Duration::from_secs(30))
    );
    let autosave: AutosaveOptions = from_json(r#"{"max_interval_ms": 60000}"#).expect("one");
    assert_eq!(autosave.quiet_period, Duration::from_secs(2));
    assert_eq!(autosave.max_interval, Duration::from_secs(60));
    assert_eq!(
        from_json::<ListQuery>("{}").expect("{}"),
        ListQuery::default()
    );
    assert_eq!(from_json::<ListQuery>("{}").expect("{}").page_size(), 100);
    assert_eq!(
        from_json::<SvgOptions>("{}").expect("{}"),
        SvgOptions::default()
    );
    let svg: SvgOptions = from_json(r#"{"legend": false}"#).expect("legend");
    assert_eq!(
        (
            svg.layout,
            svg.properties,
            svg.title,
            svg.legend,
            svg.margin
        ),
        (LayoutMode::Auto, 3, true, false, 32.0)
    );
    let run: RunOptions = from_json(r#"{"quality": "draft"}"#).expect("quality only");
    assert_eq!(run, RunOptions::new().quality(Quality::Draft));
    assert_eq!(
        (run.force, run.failure_policy, run.concurrency, run.run_id),
        (Force::None, FailurePolicy::ContinueIndependent, None, None)
    );
    assert_eq!(
        from_json::<PlanOptions>("{}").expect("{}"),
        PlanOptions::all(Quality::Standard)
    );
    // No middleware unless asked for.
    assert_eq!(
        from_json::<Resilience>("{}").expect("{}"),
        Resilience::new()
    );
    // A diagnostic leaves out the places it does not name.
    let diagnostic: reelgraph::Diagnostic =
        from_json(r#"{"severity": "error", "code": "cycle", "message": "loop", "hint": "cut it"}"#)
            .expect("no places");
    assert_eq!(
        (diagnostic.node, diagnostic.severity),
        (None, reelgraph::Severity::Error)
    );
    // A task error's hint may be left out.
    let error: reelgraph::runner::TaskError =
        from_json(r#"{"kind": "transient", "message": "busy"}"#).expect("no hint");
    assert_eq!(error.hint, "");
}

#[test]
fn wrong_types_are_refused_naming_the_field_path() {
    let cases: [(&str, reelgraph::Error, &str, &str); 6] = [
        (
            "max_attempts",
            from_json::<RetryPolicy>(r#"{"max_attempts": "five"}"#).expect_err("string"),
            "invalid RetryPolicy at `max_attempts`: invalid type: string \"five\", expected u32",
            "max_attempts",
        ),
        (
            "retry.cap_ms",
            from_json::<Resilience>(r#"{"retry": {"cap_ms": true}}"#).expect_err("bool"),
            "invalid Resilience at `retry.cap_ms`: invalid type: boolean `true`, expected u64",
            "cap_ms",
        ),
        (
            "quality_floor",
            from_json::<Resilience>(r#"{"quality_floor": "best"}"#).expect_err("tier"),
            "invalid Resilience at `quality_floor`: unknown variant `best`, expected one of `draft`, `standard`, `high`, `ultra`",
            "quality_floor",
        ),
        (
            "title",
            from_json::<SvgOptions>(r#"{"title": "yes"}"#).expect_err("string"),
            "invalid SvgOptions at `title`: invalid type: string \"yes\", expected a boolean",
            "title",
        ),
        (
            "timeouts_ms.video",
            from_json::<Resilience>(r#"{"timeouts_ms": {"video": "1s"}}"#).expect_err("text"),
            "invalid Resilience at `timeouts_ms.video`: invalid type: string \"1s\", expected u64",
            "video",
        ),
        (
            "items[0].revision",
            from_value::<reelgraph::store::Page>(json!({"items": [{"id": "c", "name": "C",
                "revision": -1, "updated_at": "", "size_bytes": 0}], "next_cursor": null}))
            .expect_err("negative"),
            "invalid Page at `items[0].revision`: invalid value: integer `-1`, expected u64",
            "revision",
        ),
    ];
    for (path, err, message, field) in cases {
        assert_eq!(err.code(), "invalid_json", "{path}");
        assert_eq!(err.details()["path"], path);
        assert_eq!(err.details()["field"], field, "{path}");
        assert_eq!(err.to_string(), message);
        assert!(err.hint().contains("docs/schema/"), "{}", err.hint());
    }
    // The brief's example: a typo in the run options.
    let err = from_json::<RunOptions>(r#"{"qualty": "high"}"#).expect_err("typo");
    assert_eq!(
        err.to_string(),
        "unknown field `qualty` in RunOptions, expected one of `quality`, `targets`, `force`, `failure_policy`, `concurrency`, `run_id`"
    );
    let err = from_json::<RunOptions>(r#"{"concurrency": 0}"#).expect_err("zero");
    assert_eq!(
        err.to_string(),
        "invalid RunOptions at `concurrency`: invalid value: integer `0`, expected at least 1 task"
    );
    let err = from_json::<RunOptions>(r#"{"force": "some"}"#).expect_err("variant");
    assert_eq!(err.details()["path"], "force");
    // A nested unknown field names where it is.
    let err = from_json::<Resilience>(r#"{"retry": {"bse_ms": 1}}"#).expect_err("typo");
    assert!(
        err.to_string()
            .starts_with("unknown field `bse_ms` in Resilience at `retry`, expected one of `max_attempts`, `base_ms`"),
        "{err}"
    );
    // A list of options names the item.
    let err = from_json::<Vec<RunOptions>>(r#"[{}, {"qualty": 1}]"#).expect_err("typo");
    assert!(
        err.to_string()
            .starts_with("unknown field `qualty` in Vec<RunOptions> at `[1]`, expected"),
        "{err}"
    );
    assert_eq!(err.details()["path"], "[1].qualty");
    assert!(err.hint().contains("docs/schema/"), "{}", err.hint());
    // Not JSON at all, and text after the value.
    let err = from_json::<RetryPolicy>("{").expect_err("eof");
    assert_eq!(err.code(), "invalid_json");
    assert!(
        err.to_string().starts_with("invalid RetryPolicy: EOF"),
        "{err}"
    );
    let err = from_json::<RetryPolicy>("{} {}").expect_err("two values");
    assert!(err.to_string().contains("trailing characters"), "{err}");
    // Prune is one of two keys, and only one.
    let err = from_json::<Prune>(r#"{"older_than": 5}"#).expect_err("no _ms");
    assert!(
        err.to_string().contains("unknown variant `older_than`"),
        "{err}"
    );
    let err = from_json::<Prune>(r#"{"keep_last": 1, "older_than_ms": 5}"#).expect_err("both");
    assert_eq!(err.code(), "invalid_json");
    let err = from_json::<Force>(r#"{"nodes": ["a"], "all": null}"#).expect_err("both");
    assert_eq!(err.code(), "invalid_json");
    let err = from_json::<Force>(r#"{"nodes": "img"}"#).expect_err("not a list");
    assert_eq!(err.details()["path"], "nodes");
}

/// The schemas the code makes now, by name.
fn schemas() -> BTreeMap<String, Value> {
    reelgraph::schema::all()
        .into_iter()
        .map(|(name, schema)| (name, serde_json::to_value(schema).expect("schema")))
        .collect()
}

#[test]
fn the_schema_files_are_current() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/schema");
    let mut on_disk = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).expect("docs/schema exists") {
        let path = entry.expect("entry").path();
        on_disk.insert(
            path.file_stem()
                .expect("name")
                .to_string_lossy()
                .into_owned(),
        );
    }
    let schemas = schemas();
    assert_eq!(
        on_disk,
        schemas.keys().cloned().collect::<BTreeSet<_>>(),
        "docs/schema/ holds other types than reelgraph::schema::all(): run `make generate`"
    );
    let page = std::fs::read_to_string(dir.join("../schemas.md")).expect("docs/schemas.md");
    for (name, schema) in &schemas {
        assert!(
            page.contains(&format!("`docs/schema/{name}.json`")),
            "docs/schemas.md does not list {name}"
        );
        let text = std::fs::read_to_string(dir.join(format!("{name}.json"))).expect("read");
        assert!(
            !text.contains("```"),
            "{name}: Rust examples left in a description"
        );
        let file: Value = serde_json::from_str(&text).expect("a schema file is JSON");
        assert_eq!(
            &file, schema,
            "docs/schema/{name}.json is out of date: run `make generate`"
        );
    }
}

#[test]
fn each_object_schema_lists_exactly_the_fields_its_type_writes() {
    let samples = samples();
    for (name, schema) in schemas() {
        let Some(properties) = schema.get("properties") else {
            continue; // an enum or a union: no fields of its own
        };
        if schema.get("oneOf").is_some() {
            continue; // an event envelope: its fields depend on its `type`
        }
        let sample = samples
            .get(name.as_str())
            .unwrap_or_else(|| panic!("add a sample of {name} with every field set"));
        let written: BTreeSet<&String> = sample.as_object().expect("object").keys().collect();
        let listed: BTreeSet<&String> = properties.as_object().expect("object").keys().collect();
        assert_eq!(written, listed, "{name}: the schema and the type disagree");
        // No schema lets unknown fields through unless the type keeps them
        // (React Flow) or is never read (the error table, API prompts).
        if !["ReactFlow", "ErrorCode", "ApiPrompt"].contains(&name.as_str()) {
            assert_eq!(schema["additionalProperties"], json!(false), "{name}");
        }
    }
}

#[test]
fn durations_are_integers_in_the_schemas() {
    let schemas = schemas();
    for (name, field) in [
        ("RetryPolicy", "base_ms"),
        ("RetryPolicy", "cap_ms"),
        ("CircuitConfig", "cooldown_ms"),
        ("AutosaveOptions", "quiet_period_ms"),
        ("Resilience", "timeout_ms"),
    ] {
        let ty = &schemas[name]["properties"][field]["type"];
        assert!(
            ty == "integer" || *ty == json!(["integer", "null"]),
            "{name}.{field}: {ty}"
        );
    }
    let defaults = &schemas["RetryPolicy"]["properties"];
    assert_eq!(defaults["base_ms"]["default"], 200);
    assert_eq!(defaults["cap_ms"]["default"], 10_000);
}
