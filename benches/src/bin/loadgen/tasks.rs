//! `tasks`: submitters put tasks into the task service as fast as they can
//! (or at `--task-rate`), while `--workers` workers long-poll
//! `/v1/workers/claim` for up to `--max-tasks` at a time and complete every
//! task they get. Figures: tasks a second submitted, claimed and completed
//! in the window, and claim-to-start latency: from just before a submitter
//! writes `POST /v1/tasks` to when a worker has read the claim answer that
//! leases the task (submission, queueing, the long-poll's wake-up and the
//! claim answer). After the window the workers drain the queue; a task
//! submitted but never completed is lost, one leased twice is duplicated.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::{Method, StatusCode};
use reelgraph::remote::{ClaimRequest, Claimed, Completion, LeasedTask, TaskSubmission};
use serde_json::{Map, Value, json};

use crate::Load;
use crate::client::Client;
use crate::stats::Tally;

#[derive(Debug, Clone, clap::Args)]
pub struct TaskArgs {
    /// tasks: workers claiming and completing.
    #[arg(long, default_value_t = 8)]
    pub workers: usize,
    /// tasks: the most tasks one claim leases (the protocol allows 64).
    #[arg(long, default_value_t = 64)]
    pub max_tasks: u32,
    /// tasks: completions each worker has in flight at once.
    #[arg(long, default_value_t = 4)]
    pub lanes: usize,
    /// tasks: submissions a second across all submitters; 0 = as fast as
    /// they can.
    #[arg(long, default_value_t = 0)]
    pub task_rate: u32,
}

/// The function the tasks are for; no worker but these serves it.
const FUNCTION: &str = "load.noop";
/// How long the workers get to drain the queue after the window.
const DRAIN: Duration = Duration::from_secs(20);
/// A claim's long-poll.
const CLAIM_WAIT: Duration = Duration::from_millis(500);

/// What one submitter or worker did; merged at the end.
#[derive(Debug, Default)]
struct Log {
    /// Numbers of the tasks submitted (201), with whether in the window.
    submitted: Vec<u64>,
    submitted_in_window: u64,
    /// Numbers of the tasks leased, each time one was.
    claimed: Vec<u64>,
    claimed_in_window: u64,
    completed: Vec<u64>,
    completed_in_window: u64,
    claim_to_start: Tally,
    errors: u64,
    first_error: Option<String>,
}

impl Log {
    fn error(&mut self, what: String) {
        self.errors += 1;
        self.first_error.get_or_insert(what);
    }

    fn merge(&mut self, other: Log) {
        self.submitted.extend(other.submitted);
        self.submitted_in_window += other.submitted_in_window;
        self.claimed.extend(other.claimed);
        self.claimed_in_window += other.claimed_in_window;
        self.completed.extend(other.completed);
        self.completed_in_window += other.completed_in_window;
        self.claim_to_start.merge(other.claim_to_start);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

/// The clock every submitter and worker reads: task params carry the
/// microseconds since `epoch` at which they were submitted.
#[derive(Debug, Clone, Copy)]
struct Clock {
    epoch: Instant,
    start: Instant,
    end: Instant,
}

impl Clock {
    fn now_us(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    fn in_window(&self, at: Instant) -> bool {
        at >= self.start && at < self.end
    }
}

/// Runs the scenario; `Ok(false)` when a request failed or a task was lost
/// or duplicated.
pub async fn run(load: &Load<'_>, args: &TaskArgs) -> Result<bool, String> {
    let epoch = Instant::now();
    let start = epoch + Duration::from_secs(1);
    let clock = Clock {
        epoch,
        start,
        end: start + load.duration(),
    };
    let submitters = load.clients.max(1);
    // Each submitter's share of the rate, as a gap between submissions.
    let gap = (args.task_rate > 0)
        .then(|| Duration::from_secs_f64(submitters as f64 / f64::from(args.task_rate)));
    let draining = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..args.workers.max(1))
        .map(|n| {
            tokio::spawn(worker(
                n,
                load.addr,
                load.key.clone(),
                args.max_tasks,
                args.lanes.max(1),
                clock,
                Arc::clone(&draining),
            ))
        })
        .collect();
    let submitting: Vec<_> = (0..submitters)
        .map(|n| {
            tokio::spawn(submitter(
                n as u64,
                submitters as u64,
                load.addr,
                load.key.clone(),
                clock,
                gap,
            ))
        })
        .collect();
    let mut peak_rss = 0;
    while Instant::now() < clock.end {
        peak_rss = peak_rss.max(load.server_rss().unwrap_or(0));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let mut log = Log::default();
    for s in submitting {
        log.merge(s.await.map_err(|e| e.to_string())?);
    }
    // Workers drain what is queued; they stop once a claim comes back empty.
    draining.store(true, Ordering::Relaxed);
    for w in workers {
        log.merge(w.await.map_err(|e| e.to_string())?);
    }
    Ok(report(load, args, log, peak_rss))
}

/// Submitter `n` of `of`: submits until the window ends. Task numbers are
/// `n`, `n + of`, `n + 2 of`, ... so they never collide.
async fn submitter(
    n: u64,
    of: u64,
    addr: SocketAddr,
    key: String,
    clock: Clock,
    gap: Option<Duration>,
) -> Log {
    let mut client = Client::new(addr, &key);
    let mut log = Log::default();
    tokio::time::sleep_until(clock.start.into()).await;
    let mut next = clock.start;
    let mut number = n;
    while Instant::now() < clock.end {
        if let Some(gap) = gap {
            tokio::time::sleep_until(next.into()).await;
            next += gap;
        }
        let mut params = Map::new();
        params.insert("n".to_owned(), json!(number));
        params.insert("sent_us".to_owned(), json!(clock.now_us()));
        let submission = TaskSubmission {
            function: FUNCTION.to_owned(),
            params,
            quality: Default::default(),
            idempotency_key: None,
            priority: 0,
            outputs: None,
            max_attempts: None,
            run_id: None,
            node: None,
        };
        let body = serde_json::to_vec(&submission).expect("a submission serialises");
        match client
            .send(Method::POST, "/v1/tasks", None, Some(Bytes::from(body)))
            .await
        {
            Ok(a) if a.status == StatusCode::CREATED => {
                log.submitted.push(number);
                if clock.in_window(Instant::now()) {
                    log.submitted_in_window += 1;
                }
            }
            Ok(a) => log.error(format!(
                "submit: {} {}",
                a.status,
                String::from_utf8_lossy(&a.body[..a.body.len().min(300)])
            )),
            Err(e) => log.error(format!("submit: {e}")),
        }
        number += of;
    }
    log
}

/// Worker `n`: claims up to `max_tasks` at a time and completes them over
/// `lanes` connections; once `draining` is set, stops at the first empty
/// claim (or when the drain time is up).
async fn worker(
    n: usize,
    addr: SocketAddr,
    key: String,
    max_tasks: u32,
    lanes: usize,
    clock: Clock,
    draining: Arc<AtomicBool>,
) -> Log {
    let mut claimer = Client::new(addr, &key);
    let mut completers: Vec<Client> = (0..lanes).map(|_| Client::new(addr, &key)).collect();
    let mut log = Log::default();
    let claim = ClaimRequest {
        worker: format!("load-worker-{n}"),
        functions: vec![FUNCTION.to_owned()],
        max_tasks,
        wait: CLAIM_WAIT,
    };
    let body = Bytes::from(serde_json::to_vec(&claim).expect("a claim serialises"));
    let drain_until = clock.end + DRAIN;
    loop {
        let answer = claimer
            .send(Method::POST, "/v1/workers/claim", None, Some(body.clone()))
            .await;
        let read_at = Instant::now();
        let tasks = match answer {
            Ok(a) if a.status == StatusCode::OK => match serde_json::from_slice::<Claimed>(&a.body)
            {
                Ok(claimed) => claimed.tasks,
                Err(e) => {
                    log.error(format!("claim answer: {e}"));
                    Vec::new()
                }
            },
            Ok(a) => {
                log.error(format!(
                    "claim: {} {}",
                    a.status,
                    String::from_utf8_lossy(&a.body[..a.body.len().min(300)])
                ));
                Vec::new()
            }
            Err(e) => {
                log.error(format!("claim: {e}"));
                tokio::time::sleep(Duration::from_millis(50)).await;
                Vec::new()
            }
        };
        if tasks.is_empty() {
            if draining.load(Ordering::Relaxed) || Instant::now() > drain_until {
                return log;
            }
            continue;
        }
        let at_us = u64::try_from(read_at.duration_since(clock.epoch).as_micros()).unwrap_or(0);
        for task in &tasks {
            let (number, sent_us) = numbers(task);
            log.claimed.push(number);
            if clock.in_window(read_at) {
                log.claimed_in_window += 1;
                log.claim_to_start
                    .ok(Duration::from_micros(at_us.saturating_sub(sent_us)));
            }
        }
        complete_all(&mut completers, tasks, clock, &mut log).await;
        if Instant::now() > drain_until {
            return log;
        }
    }
}

/// The task's number and submission time, from its params.
fn numbers(task: &LeasedTask) -> (u64, u64) {
    let get = |name: &str| task.params.get(name).and_then(Value::as_u64).unwrap_or(0);
    (get("n"), get("sent_us"))
}

/// Completes `tasks`, spread over the lanes, each lane one at a time.
async fn complete_all(lanes: &mut [Client], tasks: Vec<LeasedTask>, clock: Clock, log: &mut Log) {
    let count = lanes.len();
    let mut shares: Vec<Vec<LeasedTask>> = (0..count).map(|_| Vec::new()).collect();
    for (i, task) in tasks.into_iter().enumerate() {
        shares[i % count].push(task);
    }
    let results = futures_util::future::join_all(
        lanes
            .iter_mut()
            .zip(shares)
            .map(|(client, share)| complete_share(client, share, clock)),
    )
    .await;
    for lane in results {
        log.merge(lane);
    }
}

async fn complete_share(client: &mut Client, tasks: Vec<LeasedTask>, clock: Clock) -> Log {
    let mut log = Log::default();
    let completion = Completion {
        outputs: Map::from_iter([("done".to_owned(), json!(true))]),
    };
    let body = Bytes::from(serde_json::to_vec(&completion).expect("a completion serialises"));
    for task in tasks {
        let path = format!("/v1/workers/leases/{}/complete", task.lease);
        match client
            .send(Method::POST, &path, None, Some(body.clone()))
            .await
        {
            Ok(a) if a.status.is_success() => {
                log.completed.push(numbers(&task).0);
                if clock.in_window(Instant::now()) {
                    log.completed_in_window += 1;
                }
            }
            Ok(a) => log.error(format!(
                "complete: {} {}",
                a.status,
                String::from_utf8_lossy(&a.body[..a.body.len().min(300)])
            )),
            Err(e) => log.error(format!("complete: {e}")),
        }
    }
    log
}

/// Prints the figures; `false` when a request failed, or a task was lost
/// or leased twice.
fn report(load: &Load<'_>, args: &TaskArgs, mut log: Log, peak_rss: u64) -> bool {
    let seconds = load.duration().as_secs_f64();
    log.submitted.sort_unstable();
    log.claimed.sort_unstable();
    log.completed.sort_unstable();
    let duplicated = log.claimed.windows(2).filter(|w| w[0] == w[1]).count();
    let lost = count_missing(&log.submitted, &log.completed);
    let rate = match args.task_rate {
        0 => "as fast as they can".to_owned(),
        r => format!("at {r}/s"),
    };
    println!(
        "tasks: {} submitters ({rate}), {} workers claiming up to {} at a time, {} completion lanes each, {} s window",
        load.clients.max(1),
        args.workers.max(1),
        args.max_tasks,
        args.lanes.max(1),
        load.seconds
    );
    println!(
        "in the window: submitted {:.0}/s, claimed {:.0}/s, completed {:.0}/s",
        log.submitted_in_window as f64 / seconds,
        log.claimed_in_window as f64 / seconds,
        log.completed_in_window as f64 / seconds
    );
    let summary = log.claim_to_start.summary(load.duration());
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "claim-to-start (submit written to claim answer read): p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {} tasks",
        ms(summary.p50),
        ms(summary.p95),
        ms(summary.p99),
        ms(summary.max),
        summary.requests
    );
    println!(
        "in all: {} submitted, {} claimed, {} completed; lost {lost}, duplicated {duplicated}; {} errors",
        log.submitted.len(),
        log.claimed.len(),
        log.completed.len(),
        log.errors
    );
    if let Some(e) = &log.first_error {
        println!("first error: {e}");
    }
    if load.server.is_some() {
        println!(
            "server RSS: peak under load {:.1} MiB (sampled every 250 ms)",
            crate::mib(peak_rss)
        );
    }
    lost == 0 && duplicated == 0 && log.errors == 0
}

/// How many of the sorted `wanted` are not in the sorted `got`.
fn count_missing(wanted: &[u64], got: &[u64]) -> usize {
    wanted
        .iter()
        .filter(|n| got.binary_search(n).is_err())
        .count()
}
