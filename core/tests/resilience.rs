//! Resilience middleware against a fault-injecting runner, in paused tokio
//! time: no real sleeps, and every wait is virtual and exact.
#![allow(clippy::unwrap_used)]

#[path = "support/faults.rs"]
mod faults;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use faults::{FaultRunner, Outcome, Step};
use reelgraph::Quality;
use reelgraph::runner::{
    CircuitBreaker, CircuitConfig, CircuitState, FunctionRunner, ProgressSink, QualityFallback,
    Resilience, Retry, RetryPolicy, Task, TaskContext, TaskError, TaskErrorKind, TaskNote, Timeout,
};
use serde_json::json;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use TaskErrorKind::{Cancelled, InvalidInput, Permanent, Resource, Timeout as TimedOut, Transient};

const ALL_KINDS: [TaskErrorKind; 6] = [
    Transient,
    Resource,
    InvalidInput,
    Permanent,
    Cancelled,
    TimedOut,
];

fn task(function: &str, quality: Quality, key: &str) -> Task {
    Task {
        run_id: "run".into(),
        node: "node".into(),
        node_type: "type".into(),
        function: function.into(),
        params: Default::default(),
        quality,
        quality_fallback: true,
        idempotency_key: key.to_owned(),
        outputs: Arc::from([Arc::from("key"), Arc::from("quality")]),
    }
}

/// A context whose notes are kept.
#[derive(Clone)]
struct Notes(Arc<Mutex<Vec<TaskNote>>>);

impl Notes {
    fn new() -> Self {
        Notes(Arc::new(Mutex::new(Vec::new())))
    }

    fn ctx(&self) -> TaskContext {
        self.ctx_with(CancellationToken::new())
    }

    fn ctx_with(&self, cancel: CancellationToken) -> TaskContext {
        let notes = Arc::clone(&self.0);
        TaskContext {
            progress: ProgressSink::new(move |note| notes.lock().unwrap().push(note)),
            cancel,
        }
    }

    fn all(&self) -> Vec<TaskNote> {
        self.0.lock().unwrap().clone()
    }

    fn retries(&self) -> Vec<(u32, Duration, TaskError)> {
        self.all()
            .into_iter()
            .filter_map(|n| match n {
                TaskNote::Retrying {
                    attempt,
                    delay,
                    error,
                } => Some((attempt, delay, error)),
                _ => None,
            })
            .collect()
    }

    fn circuits(&self) -> Vec<CircuitState> {
        self.all()
            .into_iter()
            .filter_map(|n| match n {
                TaskNote::Circuit { state, .. } => Some(state),
                _ => None,
            })
            .collect()
    }

    fn fallbacks(&self) -> Vec<(Quality, Quality, TaskErrorKind)> {
        self.all()
            .into_iter()
            .filter_map(|n| match n {
                TaskNote::QualityFallback { from, to, error } => Some((from, to, error.kind)),
                _ => None,
            })
            .collect()
    }
}

fn policy(max_attempts: u32, base_ms: u64, cap_ms: u64, seed: u64) -> RetryPolicy {
    RetryPolicy::default()
        .with_max_attempts(max_attempts)
        .with_base(Duration::from_millis(base_ms))
        .with_cap(Duration::from_millis(cap_ms))
        .with_seed(seed)
}

// ---------------------------------------------------------------- retry ----

#[tokio::test(start_paused = true)]
async fn a_task_that_succeeded_never_runs_again() {
    let faults = FaultRunner::new(7)
        .with_failure_rate(0.5, Transient)
        .with_latency(Duration::from_millis(20));
    let runner = Arc::new(
        Resilience::new()
            .retry(policy(5, 50, 2_000, 1))
            .timeout(Duration::from_secs(5))
            .wrap(faults.clone()),
    );
    let mut tasks = JoinSet::new();
    for i in 0..300 {
        let runner = Arc::clone(&runner);
        let t = task("f", Quality::Standard, &format!("key-{i}"));
        tasks.spawn(async move { runner.run(t, TaskContext::detached()).await });
    }
    let mut succeeded = 0;
    let mut failed = 0;
    while let Some(joined) = tasks.join_next().await {
        match joined.unwrap() {
            Ok(_) => succeeded += 1,
            Err(e) => {
                assert_eq!(e.kind, Transient);
                failed += 1;
            }
        }
    }
    // Both paths were exercised: retries, and tasks that ran out of attempts.
    assert!(
        succeeded > 270 && failed > 0,
        "{succeeded} ok, {failed} failed"
    );

    let completions = faults.completions_per_key();
    assert!(completions.values().all(|&n| n == 1), "{completions:?}");
    assert_eq!(completions.len(), succeeded);
    // No call for a key after its success: the success is its last call.
    let log = faults.log();
    for (key, calls) in faults.calls_per_key() {
        let outcomes: Vec<Outcome> = log
            .iter()
            .filter(|c| c.key == key)
            .map(|c| c.outcome)
            .collect();
        assert_eq!(outcomes.len(), calls);
        let first_success = outcomes.iter().position(|o| *o == Outcome::Completed);
        if let Some(at) = first_success {
            assert_eq!(at, calls - 1, "{key} ran after succeeding: {outcomes:?}");
        } else {
            assert_eq!(calls, 5, "{key} failed before using its attempts");
        }
    }
    assert!(faults.calls() > 300);
}

#[tokio::test(start_paused = true)]
async fn only_retryable_kinds_are_retried_up_to_the_cap() {
    for kind in ALL_KINDS {
        let faults = FaultRunner::new(0).script_for("f", [Step::Fail(kind); 10]);
        let retry = Retry::new(faults.clone(), policy(4, 100, 10_000, 5));
        let notes = Notes::new();
        let error = retry
            .run(task("f", Quality::Standard, "k"), notes.ctx())
            .await
            .unwrap_err();
        assert_eq!(error.kind, kind);
        if kind.is_retryable() {
            assert_eq!(faults.calls(), 4, "{kind}");
            // The last attempt's error comes back, as it was.
            assert_eq!(error.message, format!("injected {kind} #4"));
            let retries = notes.retries();
            let attempts: Vec<u32> = retries.iter().map(|r| r.0).collect();
            assert_eq!(attempts, [1, 2, 3]);
            for (attempt, _, error) in &retries {
                assert_eq!(error.message, format!("injected {kind} #{attempt}"));
            }
        } else {
            assert_eq!(faults.calls(), 1, "{kind} must not be retried");
            assert_eq!(error.message, format!("injected {kind} #1"));
            assert!(notes.all().is_empty());
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_non_retryable_error_after_retries_ends_them_and_a_success_stops_them() {
    let faults = FaultRunner::new(0).script_for(
        "f",
        [
            Step::Fail(Transient),
            Step::Fail(TimedOut),
            Step::Fail(InvalidInput),
        ],
    );
    let retry = Retry::new(faults.clone(), policy(10, 100, 10_000, 5));
    let notes = Notes::new();
    let error = retry
        .run(task("f", Quality::Standard, "k"), notes.ctx())
        .await
        .unwrap_err();
    assert_eq!(error.kind, InvalidInput);
    assert_eq!(faults.calls(), 3);
    assert_eq!(notes.retries().len(), 2);

    let faults = FaultRunner::new(0).script_for("f", [Step::Fail(Transient), Step::Ok]);
    let retry = Retry::new(faults.clone(), policy(10, 100, 10_000, 5));
    let outputs = retry
        .run(task("f", Quality::Standard, "k"), TaskContext::detached())
        .await
        .unwrap();
    assert_eq!(outputs["key"], json!("k"));
    assert_eq!(faults.calls(), 2);
    assert_eq!(faults.completions_per_key()["k"], 1);
}

/// Runs a task that always fails transiently through a retry with `seed`;
/// returns the notes' delays and the gaps between the calls.
async fn backoff(seed: u64) -> (Vec<Duration>, Vec<Duration>) {
    let faults = FaultRunner::new(0).script_for("f", [Step::Fail(Transient); 8]);
    let retry = Retry::new(faults.clone(), policy(8, 100, 1_000, seed));
    let notes = Notes::new();
    retry
        .run(task("f", Quality::Standard, "k"), notes.ctx())
        .await
        .unwrap_err();
    let delays = notes.retries().into_iter().map(|r| r.1).collect();
    let log = faults.log();
    let gaps = log.windows(2).map(|w| w[1].at - w[0].at).collect();
    (delays, gaps)
}

#[tokio::test(start_paused = true)]
async fn backoff_waits_are_full_jitter_within_bounds_that_grow() {
    let policy = policy(8, 100, 1_000, 0);
    let ceilings: Vec<Duration> = (0..7).map(|k| policy.ceiling(k)).collect();
    let ms = Duration::from_millis;
    assert_eq!(
        ceilings,
        [
            ms(100),
            ms(200),
            ms(400),
            ms(800),
            ms(1000),
            ms(1000),
            ms(1000)
        ]
    );

    let seeds = 200;
    let mut sums = [Duration::ZERO; 7];
    let mut below_half = [0; 7];
    for seed in 0..seeds {
        let (delays, gaps) = backoff(seed).await;
        assert_eq!(delays.len(), 7);
        for (k, (delay, gap)) in delays.iter().zip(&gaps).enumerate() {
            assert!(
                *delay <= ceilings[k],
                "retry {k}: {delay:?} > {:?}",
                ceilings[k]
            );
            // The next attempt starts after the reported wait (tokio's timer
            // rounds up to the millisecond).
            assert!(
                *gap >= *delay && *gap <= *delay + ms(1),
                "{gap:?} vs {delay:?}"
            );
            sums[k] += *delay;
            if *delay < ceilings[k] / 2 {
                below_half[k] += 1;
            }
        }
    }
    // Full jitter: spread over the whole range, averaging half the ceiling,
    // so the averages grow with the ceilings until the cap.
    let means: Vec<Duration> = sums.iter().map(|s| *s / seeds as u32).collect();
    for k in 0..7 {
        let ratio = means[k].as_secs_f64() / ceilings[k].as_secs_f64();
        assert!(
            (0.4..0.6).contains(&ratio),
            "retry {k}: mean {:?}",
            means[k]
        );
        assert!(
            (60..140).contains(&below_half[k]),
            "retry {k}: {} below half",
            below_half[k]
        );
    }
    for k in 0..4 {
        assert!(means[k + 1] > means[k], "{means:?}");
    }

    // A seed repeats its waits; another seed gives others.
    assert_eq!(backoff(42).await.0, backoff(42).await.0);
    assert_ne!(backoff(42).await.0, backoff(43).await.0);
}

#[tokio::test(start_paused = true)]
async fn cancelling_during_a_backoff_wait_stops_retries() {
    let faults = FaultRunner::new(0).script_for("f", [Step::Fail(Transient); 5]);
    let retry = Arc::new(Retry::new(faults.clone(), policy(5, 10_000, 60_000, 9)));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let cancel = CancellationToken::new();
    let ctx = TaskContext {
        progress: ProgressSink::new(move |note| {
            let _ = tx.send(note);
        }),
        cancel: cancel.clone(),
    };
    let started = Instant::now();
    let running = {
        let retry = Arc::clone(&retry);
        tokio::spawn(async move { retry.run(task("f", Quality::Standard, "k"), ctx).await })
    };
    let Some(TaskNote::Retrying {
        attempt: 1, delay, ..
    }) = rx.recv().await
    else {
        panic!("expected a retrying note first");
    };
    assert!(
        delay > Duration::from_millis(10),
        "seed gives a wait to interrupt: {delay:?}"
    );
    tokio::time::sleep(delay / 2).await;
    cancel.cancel();
    let error = running.await.unwrap().unwrap_err();
    assert_eq!(error.kind, Cancelled);
    assert_eq!(faults.calls(), 1, "no attempt after the cancellation");
    assert!(started.elapsed() < delay, "the wait was cut short");
    assert!(rx.try_recv().is_err(), "no further notes");

    // Cancelled before it starts: the inner runner is never called.
    let cancel = CancellationToken::new();
    cancel.cancel();
    let error = retry
        .run(
            task("f", Quality::Standard, "k2"),
            Notes::new().ctx_with(cancel),
        )
        .await
        .unwrap_err();
    assert_eq!(error.kind, Cancelled);
    assert_eq!(faults.calls(), 1);
}

// -------------------------------------------------------------- timeout ----

#[tokio::test(start_paused = true)]
async fn a_timeout_ends_a_hang_and_cancels_the_inner_work() {
    let faults = FaultRunner::new(0).script([Step::Hang]);
    let timeout = Timeout::new(faults.clone(), Duration::from_secs(5));
    let started = Instant::now();
    let error = timeout
        .run(task("f", Quality::Standard, "k"), TaskContext::detached())
        .await
        .unwrap_err();
    assert_eq!(error.kind, TimedOut);
    assert!(error.message.contains("5s"), "{}", error.message);
    assert!(!error.hint.is_empty());
    let log = faults.log();
    assert_eq!(log.len(), 1);
    assert!(
        log[0].token.is_cancelled(),
        "the inner work is told to stop"
    );
    assert_eq!(log[0].outcome, Outcome::SawCancel, "and it saw that");
    // It stopped as soon as it was told: nothing waited out the grace period.
    assert_eq!(started.elapsed(), Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn a_hang_that_ignores_its_token_is_dropped_after_the_grace_period() {
    let faults = FaultRunner::new(0).script([Step::Stuck]);
    let timeout = Timeout::new(faults.clone(), Duration::from_secs(5));
    let started = Instant::now();
    let error = timeout
        .run(task("f", Quality::Standard, "k"), TaskContext::detached())
        .await
        .unwrap_err();
    assert_eq!(error.kind, TimedOut);
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(5) + Timeout::<FaultRunner>::DEFAULT_GRACE
    );
    let log = faults.log();
    assert!(log[0].token.is_cancelled());
    assert_eq!(log[0].outcome, Outcome::Running, "dropped, still stuck");
}

#[tokio::test(start_paused = true)]
async fn timeouts_have_per_function_overrides_and_leave_fast_work_alone() {
    let faults = FaultRunner::new(0)
        .script_for("slow", [Step::Slow(Duration::from_secs(30))])
        .script_for(
            "f",
            [
                Step::Slow(Duration::from_secs(30)),
                Step::Slow(Duration::from_secs(4)),
            ],
        );
    let timeout = Timeout::new(faults.clone(), Duration::from_secs(5))
        .with_limit("slow", Duration::from_secs(60));
    let run = |function: &'static str| {
        timeout.run(
            task(function, Quality::Standard, function),
            TaskContext::detached(),
        )
    };
    assert!(run("slow").await.is_ok(), "30 s is within slow's 60 s");
    assert_eq!(
        run("f").await.unwrap_err().kind,
        TimedOut,
        "30 s is over f's 5 s"
    );
    assert!(run("f").await.is_ok(), "4 s is within f's 5 s");
    assert!(!faults.log()[0].token.is_cancelled());
}

#[tokio::test(start_paused = true)]
async fn cancelling_the_run_reaches_the_work_under_a_timeout() {
    let faults = FaultRunner::new(0).script([Step::Hang]);
    let timeout = Timeout::new(faults.clone(), Duration::from_secs(60));
    let cancel = CancellationToken::new();
    let canceller = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            cancel.cancel();
        })
    };
    let error = timeout
        .run(
            task("f", Quality::Standard, "k"),
            Notes::new().ctx_with(cancel),
        )
        .await
        .unwrap_err();
    canceller.await.unwrap();
    assert_eq!(error.kind, Cancelled, "a cancellation is not a timeout");
    assert_eq!(faults.log()[0].outcome, Outcome::SawCancel);
}

// -------------------------------------------------------------- breaker ----

fn breaker_with(
    faults: &FaultRunner,
    threshold: u32,
    cooldown_s: u64,
) -> CircuitBreaker<FaultRunner> {
    CircuitBreaker::new(
        faults.clone(),
        CircuitConfig::default()
            .with_failure_threshold(threshold)
            .with_cooldown(Duration::from_secs(cooldown_s)),
    )
}

#[tokio::test(start_paused = true)]
async fn the_breaker_opens_after_n_failures_and_short_circuits() {
    let faults = FaultRunner::new(0).script_for(
        "f",
        [
            Step::Fail(Transient),
            Step::Fail(TimedOut),
            Step::Fail(Permanent),
        ],
    );
    let breaker = breaker_with(&faults, 3, 30);
    let mut notes = Vec::new();
    for i in 0..3 {
        assert_eq!(breaker.state("f"), CircuitState::Closed);
        let n = Notes::new();
        breaker
            .run(task("f", Quality::Standard, &format!("k{i}")), n.ctx())
            .await
            .unwrap_err();
        notes.push(n.circuits());
    }
    // Only the failure that opened the circuit hears about it.
    assert_eq!(notes, [vec![], vec![], vec![CircuitState::Open]]);
    assert_eq!(breaker.state("f"), CircuitState::Open);

    tokio::time::sleep(Duration::from_secs(10)).await;
    let n = Notes::new();
    let error = breaker
        .run(task("f", Quality::Standard, "k3"), n.ctx())
        .await
        .unwrap_err();
    assert_eq!(faults.calls(), 3, "the inner runner is not called");
    assert_eq!(error.kind, Transient);
    assert!(error.message.contains("`f`"), "{}", error.message);
    assert!(
        error.message.contains("20s"),
        "says when it tries again: {}",
        error.message
    );
    assert!(!error.hint.is_empty());
    assert!(n.all().is_empty(), "a refusal changes nothing");

    let stats = &breaker.stats()["f"];
    assert_eq!(stats.state, CircuitState::Open);
    assert_eq!(
        (
            stats.consecutive_failures,
            stats.short_circuited,
            stats.opened
        ),
        (3, 1, 1)
    );

    // Other functions have circuits of their own.
    assert!(
        breaker
            .run(task("g", Quality::Standard, "g"), TaskContext::detached())
            .await
            .is_ok()
    );
    assert_eq!(breaker.state("g"), CircuitState::Closed);
    assert_eq!(breaker.state("never-called"), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn only_errors_about_the_functions_health_count() {
    // invalid_input and cancelled neither count nor reset the count.
    let faults = FaultRunner::new(0).script_for(
        "f",
        [
            Step::Fail(Resource),
            Step::Fail(Transient),
            Step::Fail(InvalidInput),
            Step::Fail(Cancelled),
        ],
    );
    let breaker = breaker_with(&faults, 3, 30);
    for i in 0..4 {
        breaker
            .run(
                task("f", Quality::Standard, &format!("k{i}")),
                TaskContext::detached(),
            )
            .await
            .unwrap_err();
    }
    assert_eq!(breaker.state("f"), CircuitState::Closed);
    assert_eq!(breaker.stats()["f"].consecutive_failures, 2);
    let faults = faults.script_for("f", [Step::Fail(Transient)]);
    breaker
        .run(task("f", Quality::Standard, "k4"), TaskContext::detached())
        .await
        .unwrap_err();
    assert_eq!(breaker.state("f"), CircuitState::Open);
    assert_eq!(faults.calls(), 5);

    // A success resets the count.
    let faults = FaultRunner::new(0).script_for(
        "f",
        [
            Step::Fail(Transient),
            Step::Fail(Transient),
            Step::Ok,
            Step::Fail(Transient),
            Step::Fail(Transient),
        ],
    );
    let breaker = breaker_with(&faults, 3, 30);
    for i in 0..5 {
        let _ = breaker
            .run(
                task("f", Quality::Standard, &format!("k{i}")),
                TaskContext::detached(),
            )
            .await;
    }
    assert_eq!(breaker.state("f"), CircuitState::Closed);
    assert_eq!(breaker.stats()["f"].consecutive_failures, 2);
}

#[tokio::test(start_paused = true)]
async fn after_the_cooldown_exactly_one_trial_goes_through_and_its_success_closes() {
    let faults = FaultRunner::new(0).script_for(
        "f",
        [
            Step::Fail(Transient),
            Step::Fail(Transient),
            Step::Slow(Duration::from_secs(2)),
        ],
    );
    let breaker = Arc::new(breaker_with(&faults, 2, 10));
    for i in 0..2 {
        breaker
            .run(
                task("f", Quality::Standard, &format!("k{i}")),
                TaskContext::detached(),
            )
            .await
            .unwrap_err();
    }
    assert_eq!(breaker.state("f"), CircuitState::Open);

    // Just before the cooldown ends: still refused.
    tokio::time::sleep(Duration::from_millis(9_999)).await;
    let early = breaker
        .run(
            task("f", Quality::Standard, "early"),
            TaskContext::detached(),
        )
        .await;
    assert!(early.unwrap_err().message.contains("is open"));
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(
        breaker.state("f"),
        CircuitState::Open,
        "open until a call comes"
    );

    let trial_notes = Notes::new();
    let trial = {
        let breaker = Arc::clone(&breaker);
        let ctx = trial_notes.ctx();
        tokio::spawn(async move {
            breaker
                .run(task("f", Quality::Standard, "trial"), ctx)
                .await
        })
    };
    tokio::task::yield_now().await; // the trial is admitted and running
    assert_eq!(breaker.state("f"), CircuitState::HalfOpen);
    let other = breaker
        .run(
            task("f", Quality::Standard, "other"),
            TaskContext::detached(),
        )
        .await;
    let error = other.unwrap_err();
    assert_eq!(error.kind, Transient);
    assert!(error.message.contains("half-open"), "{}", error.message);

    assert!(trial.await.unwrap().is_ok());
    assert_eq!(
        trial_notes.circuits(),
        [CircuitState::HalfOpen, CircuitState::Closed]
    );
    assert_eq!(breaker.state("f"), CircuitState::Closed);
    assert_eq!(faults.calls(), 3, "two failures and exactly one trial");
    let stats = &breaker.stats()["f"];
    assert_eq!(
        (
            stats.consecutive_failures,
            stats.short_circuited,
            stats.opened
        ),
        (0, 2, 1)
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_trial_reopens_the_circuit_and_notes_agree_with_stats() {
    let faults = FaultRunner::new(0).script_for("f", [Step::Fail(Transient); 3]); // then successes
    let breaker = breaker_with(&faults, 2, 10);
    let all = Notes::new(); // every task reports here
    let run = async |key: &str| {
        breaker
            .run(task("f", Quality::Standard, key), all.ctx())
            .await
    };

    run("a").await.unwrap_err();
    run("b").await.unwrap_err();
    assert_eq!(all.circuits(), [CircuitState::Open]);
    tokio::time::sleep(Duration::from_secs(10)).await;
    run("trial-1").await.unwrap_err(); // the trial fails
    assert_eq!(
        all.circuits(),
        [
            CircuitState::Open,
            CircuitState::HalfOpen,
            CircuitState::Open
        ]
    );
    assert_eq!(breaker.state("f"), CircuitState::Open);
    assert!(
        run("refused").await.unwrap_err().message.contains("10s"),
        "a full cooldown again"
    );
    assert_eq!(faults.calls(), 3);

    tokio::time::sleep(Duration::from_secs(10)).await;
    run("trial-2").await.unwrap();
    let states = all.circuits();
    assert_eq!(
        states,
        [
            CircuitState::Open,
            CircuitState::HalfOpen,
            CircuitState::Open,
            CircuitState::HalfOpen,
            CircuitState::Closed
        ]
    );
    let stats = &breaker.stats()["f"];
    assert_eq!(Some(&stats.state), states.last());
    assert_eq!(stats.state, breaker.state("f"));
    let opened = states.iter().filter(|s| **s == CircuitState::Open).count();
    assert_eq!(stats.opened, opened as u64);
    assert_eq!(stats.short_circuited, 1);
}

#[tokio::test(start_paused = true)]
async fn a_trial_whose_caller_goes_away_frees_the_half_open_slot() {
    let faults = FaultRunner::new(0).script_for("f", [Step::Fail(Transient), Step::Hang]);
    let breaker = Arc::new(breaker_with(&faults, 1, 10));
    breaker
        .run(task("f", Quality::Standard, "a"), TaskContext::detached())
        .await
        .unwrap_err();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let trial = {
        let breaker = Arc::clone(&breaker);
        tokio::spawn(async move {
            breaker
                .run(
                    task("f", Quality::Standard, "hang"),
                    TaskContext::detached(),
                )
                .await
        })
    };
    tokio::task::yield_now().await;
    assert_eq!(breaker.state("f"), CircuitState::HalfOpen);
    trial.abort();
    assert!(trial.await.unwrap_err().is_cancelled());
    // The next call becomes the trial instead of being refused for ever.
    breaker
        .run(
            task("f", Quality::Standard, "next"),
            TaskContext::detached(),
        )
        .await
        .unwrap();
    assert_eq!(breaker.state("f"), CircuitState::Closed);
    assert_eq!(faults.calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_call_from_before_the_circuit_opened_does_not_close_it() {
    let faults = FaultRunner::new(0).script_for(
        "f",
        [
            Step::Slow(Duration::from_secs(5)),
            Step::Fail(Transient),
            Step::Fail(Transient),
        ],
    );
    let breaker = Arc::new(breaker_with(&faults, 2, 30));
    let slow_notes = Notes::new();
    let slow = {
        let breaker = Arc::clone(&breaker);
        let ctx = slow_notes.ctx();
        tokio::spawn(async move { breaker.run(task("f", Quality::Standard, "slow"), ctx).await })
    };
    tokio::task::yield_now().await; // admitted while closed
    for key in ["b", "c"] {
        breaker
            .run(task("f", Quality::Standard, key), TaskContext::detached())
            .await
            .unwrap_err();
    }
    assert_eq!(breaker.state("f"), CircuitState::Open);
    assert!(slow.await.unwrap().is_ok());
    assert_eq!(
        breaker.state("f"),
        CircuitState::Open,
        "a late success is not a trial"
    );
    assert!(slow_notes.all().is_empty());
    assert_eq!(breaker.stats()["f"].opened, 1);
}

// ------------------------------------------------------------- fallback ----

#[tokio::test(start_paused = true)]
async fn a_resource_error_at_high_tries_again_at_standard() {
    let faults = FaultRunner::new(0).script_for("f", [Step::Fail(Resource), Step::Ok]);
    let fallback = QualityFallback::new(faults.clone());
    let notes = Notes::new();
    let outputs = fallback
        .run(task("f", Quality::High, "k"), notes.ctx())
        .await
        .unwrap();
    assert_eq!(outputs["quality"], json!("standard"));
    assert_eq!(
        notes.fallbacks(),
        [(Quality::High, Quality::Standard, Resource)]
    );
    let log = faults.log();
    let tried: Vec<(Quality, &str)> = log.iter().map(|c| (c.quality, c.key.as_str())).collect();
    // The lower tier has a key of its own.
    assert_eq!(
        tried,
        [(Quality::High, "k"), (Quality::Standard, "k~standard")]
    );
}

#[tokio::test(start_paused = true)]
async fn no_fallback_when_the_node_forbids_it_or_there_is_nothing_lower() {
    let cases = [
        ("forbidden", Quality::High, false),
        ("draft", Quality::Draft, true),
    ];
    for (name, quality, allowed) in cases {
        let faults = FaultRunner::new(0).script_for("f", [Step::Fail(Resource), Step::Ok]);
        let fallback = QualityFallback::new(faults.clone());
        let notes = Notes::new();
        let mut t = task("f", quality, "k");
        t.quality_fallback = allowed;
        let error = fallback.run(t, notes.ctx()).await.unwrap_err();
        assert_eq!(error.kind, Resource, "{name}");
        assert_eq!(faults.calls(), 1, "{name}");
        assert!(notes.all().is_empty(), "{name}");
    }

    // Other kinds never fall back.
    let faults = FaultRunner::new(0).script_for("f", [Step::Fail(Transient), Step::Ok]);
    let error = QualityFallback::new(faults.clone())
        .run(task("f", Quality::Ultra, "k"), TaskContext::detached())
        .await
        .unwrap_err();
    assert_eq!((error.kind, faults.calls()), (Transient, 1));
}

#[tokio::test(start_paused = true)]
async fn fallback_goes_one_tier_at_a_time_down_to_the_floor() {
    let faults = FaultRunner::new(0).script_for("f", [Step::Fail(Resource); 4]);
    let notes = Notes::new();
    let error = QualityFallback::new(faults.clone())
        .with_floor(Quality::Standard)
        .run(task("f", Quality::Ultra, "k"), notes.ctx())
        .await
        .unwrap_err();
    assert_eq!(error.kind, Resource);
    let tried: Vec<Quality> = faults.log().iter().map(|c| c.quality).collect();
    assert_eq!(tried, [Quality::Ultra, Quality::High, Quality::Standard]);
    assert_eq!(
        notes.fallbacks(),
        [
            (Quality::Ultra, Quality::High, Resource),
            (Quality::High, Quality::Standard, Resource)
        ]
    );
}

// ---------------------------------------------------------------- stack ----

#[tokio::test(start_paused = true)]
async fn the_composed_stack_times_out_retries_falls_back_and_succeeds() {
    let faults = FaultRunner::new(0).script_for(
        "image.generate",
        [
            Step::Hang,
            Step::Fail(Transient),
            Step::Fail(Resource),
            Step::Ok,
        ],
    );
    let runner = Resilience::new()
        .retry(policy(3, 100, 1_000, 3))
        .timeout(Duration::from_secs(5))
        .circuit_breaker(CircuitConfig::default())
        .quality_fallback(true)
        .wrap(faults.clone());
    assert!(runner.knows("image.generate") && !runner.knows("missing"));

    let notes = Notes::new();
    let outputs = runner
        .run(task("image.generate", Quality::High, "k"), notes.ctx())
        .await
        .unwrap();
    assert_eq!(outputs["quality"], json!("standard"));

    let log = faults.log();
    let tried: Vec<Quality> = log.iter().map(|c| c.quality).collect();
    assert_eq!(
        tried,
        [
            Quality::High,
            Quality::High,
            Quality::High,
            Quality::Standard
        ]
    );
    assert!(
        log[0].token.is_cancelled(),
        "the hung attempt was told to stop"
    );
    assert_eq!(log[0].outcome, Outcome::SawCancel);
    assert!(
        !log[1].token.is_cancelled(),
        "each attempt has a token of its own"
    );

    let retries: Vec<(u32, TaskErrorKind)> = notes
        .retries()
        .into_iter()
        .map(|r| (r.0, r.2.kind))
        .collect();
    assert_eq!(retries, [(1, TimedOut), (2, Transient)]);
    assert_eq!(
        notes.fallbacks(),
        [(Quality::High, Quality::Standard, Resource)]
    );
    assert!(
        notes.circuits().is_empty(),
        "three failures stay under the threshold of five"
    );
    let circuits = runner.circuits().unwrap();
    assert_eq!(circuits.state("image.generate"), CircuitState::Closed);
    assert_eq!(circuits.stats()["image.generate"].consecutive_failures, 0);
    assert_eq!(
        faults.completions_per_key().into_iter().collect::<Vec<_>>(),
        [("k~standard".to_owned(), 1)]
    );
}

#[tokio::test(start_paused = true)]
async fn in_the_stack_an_open_circuit_cuts_a_tasks_retries_short() {
    let faults = FaultRunner::new(0).script_for("f", [Step::Fail(Transient); 10]);
    let runner = Resilience::new()
        .retry(policy(4, 100, 1_000, 3))
        .timeout(Duration::from_secs(5))
        .circuit_breaker(CircuitConfig::default().with_failure_threshold(2))
        .quality_fallback(true)
        .wrap(faults.clone());
    let notes = Notes::new();
    let error = runner
        .run(task("f", Quality::High, "k"), notes.ctx())
        .await
        .unwrap_err();
    assert_eq!(
        faults.calls(),
        2,
        "attempts 3 and 4 never reach the function"
    );
    assert_eq!(error.kind, Transient);
    assert!(
        error.message.contains("circuit for `f` is open"),
        "{}",
        error.message
    );
    assert_eq!(notes.circuits(), [CircuitState::Open]);
    assert_eq!(notes.retries().len(), 3);
    let stats = &runner.circuits().unwrap().stats()["f"];
    assert_eq!(
        (stats.state, stats.short_circuited, stats.opened),
        (CircuitState::Open, 2, 1)
    );
}
