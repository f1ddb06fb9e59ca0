//! The server's Prometheus metrics: one registry, the figures every module
//! records into, and the `/metrics` route that renders them.
//!
//! Names are part of the server's interface: the Grafana dashboard in
//! `docs/ops/grafana-dashboard.json` uses them, and `tests/server_ops.rs`
//! fails when it names one the server does not expose.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use reelgraph::exec::{RunEvent, RunEventKind, RunHub, RunStats};
use reelgraph::remote::TaskEvent;
use reelgraph::runner::{CircuitState, TaskErrorKind};

use super::registry::{Registry, Route, Scope};

/// The Prometheus registry, beside the route registry of this crate.
type Families = prometheus_client::registry::Registry;
use super::state::AppState;

/// What `/metrics` answers with: OpenMetrics text, which Prometheus reads.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The route label of a request no route matched: one series for all of
/// them, however many paths clients try.
const UNMATCHED: &str = "unmatched";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: &'static str,
}

/// How a task can end, as the `outcome` label says.
/// Functions that workers name in their claims get a `function` label of
/// their own up to this many; any other function (a client's typo, or
/// names made up to flood the metrics) counts as [`OTHER_FUNCTION`].
pub const MAX_LEARNED_FUNCTIONS: usize = 128;
/// The `function` label of every function not known (see [`Metrics::function_label`]).
pub const OTHER_FUNCTION: &str = "other";

const TASK_OUTCOMES: [&str; 4] = ["completed", "failed", "cancelled", "timeout"];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskLabels {
    function: String,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FunctionLabels {
    function: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    function: String,
    event: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CircuitLabels {
    function: String,
    state: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DropLabels {
    reason: &'static str,
}

/// Why the server closes a WebSocket client, as the `reason` label says.
const WS_DROP_REASONS: [&str; 3] = ["too_slow", "idle", "frame_too_large"];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StoreLabels {
    operation: &'static str,
}

/// Histogram buckets in seconds, from `start` growing by `factor`.
#[derive(Debug, Clone, Copy)]
struct Buckets {
    start: f64,
    factor: f64,
    count: u16,
}

impl MetricConstructor<Histogram> for Buckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(exponential_buckets(self.start, self.factor, self.count))
    }
}

/// Requests and store calls: 100 µs to about 1.6 s.
const FAST: Buckets = Buckets {
    start: 0.000_1,
    factor: 2.0,
    count: 15,
};
/// Tasks: 10 ms to about 11 minutes.
const SLOW: Buckets = Buckets {
    start: 0.01,
    factor: 3.0,
    count: 11,
};

/// Claim waits: 1 ms to about 33 s (a long-poll lasts up to 30 s).
const CLAIMS: Buckets = Buckets {
    start: 0.001,
    factor: 2.0,
    count: 16,
};

/// The server's metrics. Cheap to clone; clones record into one registry.
///
/// Every module records through this handle in `AppState`: HTTP requests by
/// the middleware [`track_requests`], open connections by the accept loop,
/// store calls by [`super::metered_store::MeteredStore`], runs and tasks by
/// [`Metrics::follow_run`] (called once for each run the server starts).
#[derive(Debug, Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    registry: Families,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: Family<HttpLabels, Histogram, Buckets>,
    open_connections: Gauge,
    runs_started: Counter,
    runs_finished: Family<StatusLabels, Counter>,
    tasks: Family<TaskLabels, Counter>,
    task_duration: Family<FunctionLabels, Histogram, Buckets>,
    cache_lookups: Family<CacheLabels, Counter>,
    circuits: Family<CircuitLabels, Gauge>,
    store_duration: Family<StoreLabels, Histogram, Buckets>,
    resident_memory: Gauge,
    queue_tasks: Family<QueueLabels, Counter>,
    queue_depth: Family<FunctionLabels, Gauge>,
    claim_wait: Histogram,
    /// The functions `queue_depth` has a series of (set to 0 when drained).
    queue_functions: Mutex<HashSet<String>>,
    /// Functions with a `function` label of their own: the catalogue's,
    /// and up to [`MAX_LEARNED_FUNCTIONS`] more that workers serve.
    functions: RwLock<Labelled>,
    ws_connections: Gauge,
    ws_frames: Counter,
    ws_messages: Counter,
    ws_dropped: Family<DropLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Families::with_prefix("reelgraph");
        let inner = Inner {
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(FAST),
            open_connections: Gauge::default(),
            runs_started: Counter::default(),
            runs_finished: Family::default(),
            tasks: Family::default(),
            task_duration: Family::new_with_constructor(SLOW),
            cache_lookups: Family::default(),
            circuits: Family::default(),
            store_duration: Family::new_with_constructor(FAST),
            resident_memory: Gauge::default(),
            queue_tasks: Family::default(),
            queue_depth: Family::default(),
            claim_wait: CLAIMS.new_metric(),
            queue_functions: Mutex::default(),
            functions: RwLock::default(),
            ws_connections: Gauge::default(),
            ws_frames: Counter::default(),
            ws_messages: Counter::default(),
            ws_dropped: Family::default(),
            // Filled below, once every family is registered in `registry`.
            registry: Families::default(),
        };
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route and status",
            inner.http_requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request (to its response head), by method, route and status",
            inner.http_duration.clone(),
        );
        registry.register(
            "http_open_connections",
            "TCP connections open now",
            inner.open_connections.clone(),
        );
        registry.register("runs_started", "Runs started", inner.runs_started.clone());
        registry.register(
            "runs_finished",
            "Runs finished, by status (completed, failed, cancelled)",
            inner.runs_finished.clone(),
        );
        registry.register(
            "tasks",
            "Tasks that ended, by function and outcome (completed, failed, cancelled, timeout)",
            inner.tasks.clone(),
        );
        registry.register(
            "task_duration_seconds",
            "Time a completed task took, by function",
            inner.task_duration.clone(),
        );
        registry.register(
            "cache_lookups",
            "Result cache lookups of the runs, by result (hit, miss)",
            inner.cache_lookups.clone(),
        );
        registry.register(
            "circuit_state",
            "1 for the state each function's circuit breaker is in (closed, open, half_open)",
            inner.circuits.clone(),
        );
        registry.register(
            "store_operation_duration_seconds",
            "Time a canvas store call took, by operation",
            inner.store_duration.clone(),
        );
        registry.register(
            "process_resident_memory_bytes",
            "Resident memory of the server process",
            inner.resident_memory.clone(),
        );
        registry.register(
            "queue_tasks",
            "Tasks of the function-runner service, by function and event (submitted, requeued, completed, failed, cancelled, dead)",
            inner.queue_tasks.clone(),
        );
        registry.register(
            "queue_depth",
            "Tasks of the function-runner service waiting for a worker, by function",
            inner.queue_depth.clone(),
        );
        registry.register(
            "queue_claim_wait_seconds",
            "Time a worker's claim waited before its answer (tasks, or none when its wait ran out)",
            inner.claim_wait.clone(),
        );
        registry.register(
            "ws_open_connections",
            "WebSocket connections open now",
            inner.ws_connections.clone(),
        );
        registry.register(
            "ws_frames_sent",
            "WebSocket frames sent (one per batch)",
            inner.ws_frames.clone(),
        );
        registry.register(
            "ws_messages_sent",
            "Messages sent in WebSocket frames",
            inner.ws_messages.clone(),
        );
        registry.register(
            "ws_clients_dropped",
            "WebSocket clients the server closed, by reason (too_slow, idle, frame_too_large)",
            inner.ws_dropped.clone(),
        );
        let metrics = Metrics {
            inner: Arc::new(Inner { registry, ..inner }),
        };
        // Series that exist from the start read 0, not "no data", and a
        // rate over them works from the first scrape.
        for status in ["completed", "failed", "cancelled"] {
            metrics
                .inner
                .runs_finished
                .get_or_create_owned(&StatusLabels { status });
        }
        for reason in WS_DROP_REASONS {
            metrics
                .inner
                .ws_dropped
                .get_or_create_owned(&DropLabels { reason });
        }
        for result in ["hit", "miss"] {
            metrics
                .inner
                .cache_lookups
                .get_or_create_owned(&CacheLabels { result });
        }
        metrics
    }

    /// Starts the series of each of `functions` (the functions the
    /// catalogue's node types run): tasks at 0, circuits closed.
    pub fn expect_functions<'a>(&self, functions: impl IntoIterator<Item = &'a str>) {
        let inner = &self.inner;
        for function in functions {
            inner
                .functions
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .expected
                .insert(function.to_owned());
            for outcome in TASK_OUTCOMES {
                inner.tasks.get_or_create_owned(&TaskLabels {
                    function: function.to_owned(),
                    outcome,
                });
            }
            inner.task_duration.get_or_create_owned(&FunctionLabels {
                function: function.to_owned(),
            });
            self.set_circuit(function, CircuitState::Closed);
        }
    }

    fn set_circuit(&self, function: &str, state: CircuitState) {
        for each in [
            CircuitState::Closed,
            CircuitState::Open,
            CircuitState::HalfOpen,
        ] {
            self.inner
                .circuits
                .get_or_create(&CircuitLabels {
                    function: function.to_owned(),
                    state: circuit_state_name(each),
                })
                .set(i64::from(each == state));
        }
    }

    /// The metrics as OpenMetrics text.
    pub fn render(&self) -> String {
        if let Some(bytes) = resident_memory_bytes() {
            self.inner
                .resident_memory
                .set(i64::try_from(bytes).unwrap_or(i64::MAX));
        }
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.inner.registry);
        text
    }

    fn record_request(&self, method: &str, route: &str, status: u16, took: Duration) {
        let labels = HttpLabels {
            method: method.to_owned(),
            route: route.to_owned(),
            status,
        };
        self.inner
            .http_duration
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
        self.inner.http_requests.get_or_create(&labels).inc();
    }

    /// Counts a connection open until the guard is dropped.
    pub fn connection_opened(&self) -> ConnectionGuard {
        self.inner.open_connections.inc();
        ConnectionGuard {
            gauge: self.inner.open_connections.clone(),
        }
    }

    /// Counts a WebSocket connection open until the guard is dropped.
    pub fn ws_connection_opened(&self) -> ConnectionGuard {
        self.inner.ws_connections.inc();
        ConnectionGuard {
            gauge: self.inner.ws_connections.clone(),
        }
    }

    /// Counts one WebSocket frame of `messages` messages.
    pub fn ws_frame_sent(&self, messages: usize) {
        self.inner.ws_frames.inc();
        self.inner.ws_messages.inc_by(messages as u64);
    }

    /// Counts a WebSocket client the server closed; `reason` is one of
    /// `too_slow`, `idle`, `frame_too_large`.
    pub fn ws_client_dropped(&self, reason: &'static str) {
        self.inner
            .ws_dropped
            .get_or_create(&DropLabels { reason })
            .inc();
    }

    /// Records one store call.
    pub fn record_store(&self, operation: &'static str, took: Duration) {
        self.inner
            .store_duration
            .get_or_create(&StoreLabels { operation })
            .observe(took.as_secs_f64());
    }

    /// Gives the functions a worker claims tasks of a label of their own,
    /// while fewer than [`MAX_LEARNED_FUNCTIONS`] were learned so.
    pub fn learn_functions(&self, functions: &[String]) {
        let known = |labelled: &Labelled| functions.iter().all(|f| labelled.has(f));
        if known(
            &self
                .inner
                .functions
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        ) {
            return;
        }
        let mut labelled = self
            .inner
            .functions
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        for function in functions {
            if !labelled.has(function) && labelled.learned.len() < MAX_LEARNED_FUNCTIONS {
                labelled.learned.insert(function.clone());
            }
        }
    }

    /// The `function` label of `function`: itself when the catalogue runs
    /// it or a worker serves it, else `other`, so clients cannot grow the
    /// number of series without bound.
    pub fn function_label(&self, function: &str) -> String {
        let labelled = self
            .inner
            .functions
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        if labelled.has(function) {
            function.to_owned()
        } else {
            OTHER_FUNCTION.to_owned()
        }
    }

    /// Counts an event of the function-runner service's task of `function`.
    pub fn record_task_event(&self, function: &str, event: &TaskEvent) {
        let event = match event {
            TaskEvent::TaskQueued { .. } => "submitted",
            TaskEvent::TaskRequeued { .. } => "requeued",
            TaskEvent::TaskCompleted { .. } => "completed",
            TaskEvent::TaskFailed { .. } => "failed",
            TaskEvent::TaskCancelled { .. } => "cancelled",
            TaskEvent::TaskDead { .. } => "dead",
            _ => return,
        };
        self.inner
            .queue_tasks
            .get_or_create(&QueueLabels {
                function: self.function_label(function),
                event,
            })
            .inc();
    }

    /// Sets the queue depth of each function (those left out to 0);
    /// functions without a label of their own add up under `other`.
    pub fn set_queue_depth(&self, depth: &[(String, u64)]) {
        let mut labelled: HashMap<String, u64> = HashMap::new();
        for (function, count) in depth {
            *labelled.entry(self.function_label(function)).or_default() += count;
        }
        let mut known = self
            .inner
            .queue_functions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for function in known.iter() {
            if !labelled.contains_key(function) {
                self.inner
                    .queue_depth
                    .get_or_create(&FunctionLabels {
                        function: function.clone(),
                    })
                    .set(0);
            }
        }
        for (function, count) in labelled {
            known.insert(function.clone());
            self.inner
                .queue_depth
                .get_or_create(&FunctionLabels { function })
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
    }

    /// Records how long a claim waited.
    pub fn record_claim_wait(&self, took: Duration) {
        self.inner.claim_wait.observe(took.as_secs_f64());
    }

    /// Records a run's events as they come, on a task of its own: runs
    /// started and finished, tasks per function and outcome, task times,
    /// cache lookups and circuit states. Call it right after the run is
    /// registered in `hub`; a run the hub does not know is ignored.
    pub fn follow_run(&self, hub: &RunHub, run_id: &str) {
        let Ok(mut events) = hub.subscribe(run_id, 0) else {
            return;
        };
        let metrics = self.clone();
        tokio::spawn(async move {
            let mut run = RunFollower::default();
            // An error means the subscription fell behind and was dropped:
            // what it missed is not counted.
            while let Ok(Some(event)) = events.next().await {
                metrics.record_event(&mut run, &event);
            }
        });
    }

    fn record_event(&self, run: &mut RunFollower, event: &RunEvent) {
        let inner = &self.inner;
        match &event.kind {
            RunEventKind::RunStarted { .. } => {
                inner.runs_started.inc();
            }
            RunEventKind::NodeStarted { node, function, .. } => {
                run.functions
                    .insert(node.to_string(), self.function_label(function));
            }
            RunEventKind::NodeCompleted {
                node, duration_ms, ..
            } => {
                let function = run.function(node);
                inner
                    .task_duration
                    .get_or_create(&FunctionLabels {
                        function: function.clone(),
                    })
                    .observe(duration_ms.as_secs_f64());
                self.count_task(function, "completed");
            }
            RunEventKind::NodeFailed { node, error, .. } => {
                let outcome = match error.kind {
                    TaskErrorKind::Cancelled => "cancelled",
                    TaskErrorKind::Timeout => "timeout",
                    _ => "failed",
                };
                self.count_task(run.function(node), outcome);
            }
            RunEventKind::CircuitChanged { function, state } => {
                self.set_circuit(&self.function_label(function), *state);
            }
            RunEventKind::RunCompleted { stats } => self.finish_run("completed", stats),
            RunEventKind::RunFailed { stats, .. } => self.finish_run("failed", stats),
            RunEventKind::RunCancelled { stats } => self.finish_run("cancelled", stats),
            _ => {}
        }
    }

    fn count_task(&self, function: String, outcome: &'static str) {
        self.inner
            .tasks
            .get_or_create(&TaskLabels { function, outcome })
            .inc();
    }

    fn finish_run(&self, status: &'static str, stats: &RunStats) {
        let inner = &self.inner;
        inner
            .runs_finished
            .get_or_create(&StatusLabels { status })
            .inc();
        inner
            .cache_lookups
            .get_or_create(&CacheLabels { result: "hit" })
            .inc_by(stats.cache_hits as u64);
        inner
            .cache_lookups
            .get_or_create(&CacheLabels { result: "miss" })
            .inc_by(stats.cache_misses as u64);
    }
}

/// The functions with a `function` label of their own.
#[derive(Debug, Default)]
struct Labelled {
    /// The catalogue's (and node types registered since): no limit.
    expected: HashSet<String>,
    /// Named by workers' claims, at most [`MAX_LEARNED_FUNCTIONS`].
    learned: HashSet<String>,
}

impl Labelled {
    fn has(&self, function: &str) -> bool {
        self.expected.contains(function) || self.learned.contains(function)
    }
}

/// What a run's follower remembers: which function each started node runs
/// (its label).
#[derive(Debug, Default)]
struct RunFollower {
    functions: HashMap<String, String>,
}

impl RunFollower {
    fn function(&self, node: &str) -> String {
        self.functions
            .get(node)
            .cloned()
            .unwrap_or_else(|| "unknown".to_owned())
    }
}

fn circuit_state_name(state: CircuitState) -> &'static str {
    match state {
        CircuitState::Closed => "closed",
        CircuitState::Open => "open",
        CircuitState::HalfOpen => "half_open",
    }
}

/// Lowers an open-connections gauge when the connection ends.
#[derive(Debug)]
pub struct ConnectionGuard {
    gauge: Gauge,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

/// Middleware: counts and times every request by method, matched route and
/// status. The route is the pattern (`/v1/canvases/{id}`), never the path,
/// so ids do not make new series.
pub async fn track_requests(
    State(metrics): State<Metrics>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, MatchedPath::as_str)
        .to_owned();
    let response = next.run(request).await;
    metrics.record_request(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

pub fn register(routes: &mut Registry) {
    routes.add(
        Route::get("/metrics", "getMetrics", "Prometheus metrics")
            .tag("operations")
            .scope(Scope::Public)
            .raw_response(
                200,
                CONTENT_TYPE,
                "The metrics in the OpenMetrics text format",
            ),
        get(metrics_text),
    );
}

/// `GET /metrics`: the metrics as OpenMetrics text, without a key.
async fn metrics_text(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        state.metrics.render(),
    )
        .into_response()
}

/// The resident set size of this process, from `/proc` (Linux only).
fn resident_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use reelgraph::exec::{Executor, RunHub, RunOptions};
    use reelgraph::runner::{LocalRunner, Outputs, TaskError};
    use reelgraph::{Canvas, Catalog, Op};
    use serde_json::json;

    use super::Metrics;

    /// The value of the sample `series` (name and labels as rendered).
    fn sample(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .and_then(|v| v.parse().ok())
    }

    #[tokio::test]
    async fn a_followed_run_counts_runs_tasks_and_cache_lookups() {
        let catalog = Catalog::builtin();
        catalog
            .register_json(
                r#"{"type": "shout", "category": "post", "title": "Shout",
                "outputs": [{"name": "text", "type": "text"}],
                "task": {"function": "text.upper"}}"#,
            )
            .expect("the type registers");
        let mut canvas = Canvas::new(catalog, "c", "C");
        canvas
            .apply(vec![Op::add_node("a", "shout", json!({}))])
            .expect("the node is added");
        let runner = LocalRunner::new();
        runner.register("text.upper", |_task, _ctx| async move {
            Ok::<_, TaskError>(Outputs::from_iter([("text".to_owned(), json!("HI"))]))
        });
        let hub = RunHub::default();
        let executor = Executor::new(runner).with_hub(hub.clone());
        let canvas = Arc::new(Mutex::new(canvas));
        let metrics = Metrics::new();
        // As the server does for its catalogue's functions.
        metrics.expect_functions(["text.upper"]);

        for run_id in ["r1", "r2"] {
            let run = executor
                .start(&canvas, RunOptions::new().run_id(run_id))
                .await
                .expect("the run starts");
            metrics.follow_run(&hub, run_id);
            run.finish().await;
        }
        // The followers read the hub on their own tasks: wait for the last event.
        let text = loop {
            let text = metrics.render();
            if sample(
                &text,
                r#"reelgraph_runs_finished_total{status="completed"}"#,
            ) == Some(2.0)
            {
                break text;
            }
            tokio::task::yield_now().await;
        };
        assert_eq!(sample(&text, "reelgraph_runs_started_total"), Some(2.0));
        assert_eq!(
            sample(
                &text,
                r#"reelgraph_tasks_total{function="text.upper",outcome="completed"}"#
            ),
            Some(1.0),
            "{text}"
        );
        assert_eq!(
            sample(
                &text,
                r#"reelgraph_task_duration_seconds_count{function="text.upper"}"#
            ),
            Some(1.0)
        );
        // The second run finds the first one's result.
        assert_eq!(
            sample(&text, r#"reelgraph_cache_lookups_total{result="hit"}"#),
            Some(1.0)
        );
        assert_eq!(
            sample(&text, r#"reelgraph_cache_lookups_total{result="miss"}"#),
            Some(1.0)
        );
    }

    #[test]
    fn functions_nobody_serves_share_the_label_other_and_learned_ones_are_bounded() {
        use reelgraph::event::Timestamp;
        use reelgraph::remote::TaskEvent;

        let metrics = Metrics::new();
        metrics.expect_functions(["image.generate"]);
        let queued = |id: &str| TaskEvent::TaskQueued {
            task_id: id.into(),
            seq: 0,
            ts: Timestamp::now(),
        };
        // Workers serve far more functions than get labels of their own.
        let served: Vec<String> = (0..super::MAX_LEARNED_FUNCTIONS + 10)
            .map(|n| format!("worker.fn{n}"))
            .collect();
        metrics.learn_functions(&served);
        for function in ["image.generate", "worker.fn0", "made.up.1", "made.up.2"] {
            metrics.record_task_event(function, &queued("tk"));
        }
        let last = served.last().expect("a function");
        metrics.record_task_event(last, &queued("tk"));
        metrics.set_queue_depth(&[("made.up.1".into(), 2), ("made.up.2".into(), 3)]);

        let text = metrics.render();
        let submitted = |f: &str| {
            sample(
                &text,
                &format!(r#"reelgraph_queue_tasks_total{{function="{f}",event="submitted"}}"#),
            )
        };
        assert_eq!(submitted("image.generate"), Some(1.0), "{text}");
        assert_eq!(submitted("worker.fn0"), Some(1.0), "{text}");
        assert_eq!(submitted("other"), Some(3.0), "{text}");
        assert_eq!(submitted("made.up.1"), None, "{text}");
        assert_eq!(submitted(last), None, "past the bound: {text}");
        assert_eq!(
            sample(&text, r#"reelgraph_queue_depth{function="other"}"#),
            Some(5.0),
            "{text}"
        );
    }
}
