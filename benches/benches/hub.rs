//! The run hub's speed goal: a run of a million events is slowed by at most
//! 10 % when 1,000 subscribers follow it.
//!
//! The run: one task sends 1,000,000 progress notes (each its own event,
//! published to the hub on its own, the hub's worst case), through an
//! executor with a hub. What is timed is the run alone: from `finish()` to
//! its report, driven on the bench thread by a current-thread runtime. The
//! subscribers, when there are any, drain on a second runtime with one
//! worker thread, so on a 2-core machine the run has one core and the 1,000
//! subscribers share the other. Each subscriber takes every batch of events
//! the hub hands it (`next_batch`: events read in place, up to a block of
//! 256 at a time) and checks that each batch starts where the last ended;
//! after the timing, every subscriber must have received every event, or the
//! bench fails. (Looking at each event is the consumer's own work: a
//! thousand consumers each looking at a million events is a billion steps,
//! more than one core does in the run's time.)
//!
//! `cargo bench -p reelgraph-benches --bench hub`

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use reelgraph::Canvas;
use reelgraph::exec::{Executor, HubOptions, RunHub, RunOptions};
use tokio::runtime::{Builder, Runtime};

/// Progress notes the task sends.
const NOTES: usize = 1_000_000;
const SUBSCRIBERS: usize = 1_000;
/// Events kept for replay, and so how far a subscriber may fall behind: the
/// whole run (about 150 MB), since on one core a thousand subscribers fall
/// further behind a run this fast than the default 16,384 events; they
/// finish reading after the run ends (not timed).
const REPLAY: usize = 1 << 20;

/// One timed run with `subscribers` following it on `readers`; returns the
/// run's time.
fn timed_run(
    executor: &Executor,
    hub: Option<&RunHub>,
    canvas: &std::sync::Arc<std::sync::Mutex<Canvas>>,
    driver: &Runtime,
    readers: &Runtime,
    subscribers: usize,
) -> Duration {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let id = format!("bench-{}", RUNS.fetch_add(1, Ordering::Relaxed));
    let mut run = driver
        .block_on(executor.start(canvas, RunOptions::new().force_all().run_id(&id)))
        .expect("a run");
    // Nobody reads the run's own stream: only the hub's subscribers.
    drop(run.events());
    let tasks: Vec<_> = (0..subscribers)
        .map(|_| {
            let mut sub = hub.expect("a hub").subscribe(&id, 0).expect("subscribes");
            readers.spawn(async move {
                let mut next = 0u64;
                while let Some(batch) = sub.next_batch().await.expect("keeps up") {
                    assert_eq!(batch.first_seq(), next, "no gap");
                    next += batch.len() as u64;
                }
                next
            })
        })
        .collect();
    let start = Instant::now();
    let report = driver.block_on(run.finish());
    let took = start.elapsed();
    for task in tasks {
        let read = readers.block_on(task).expect("a subscriber");
        assert!(read as usize > NOTES, "a subscriber read {read} events");
    }
    assert_eq!(report.stats.executed, 1);
    took
}

fn hub(c: &mut Criterion) {
    let (canvas, runner) = reelgraph_benches::chatty(NOTES);
    let driver = Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let readers = Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let hub = RunHub::new(HubOptions::new().replay(REPLAY).max_finished(1));
    let plain = Executor::new(runner.clone());
    let with_hub = Executor::new(runner).with_hub(hub.clone());

    let mut group = c.benchmark_group("hub");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(NOTES as u64));
    let arms: [(&str, &Executor, Option<&RunHub>, usize); 3] = [
        ("1m_events_no_hub", &plain, None, 0),
        ("1m_events_hub_0_subscribers", &with_hub, Some(&hub), 0),
        (
            "1m_events_hub_1000_subscribers",
            &with_hub,
            Some(&hub),
            SUBSCRIBERS,
        ),
    ];
    for (name, executor, hub, subscribers) in arms {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| timed_run(executor, hub, &canvas, &driver, &readers, subscribers))
                    .sum()
            });
        });
    }
    group.finish();
}

criterion_group!(benches, hub);
criterion_main!(benches);
