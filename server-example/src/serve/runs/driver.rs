//! Drives a run (or a batch) to its end on a task of its own: reads its
//! events, links the files of each completed node into the run's folder,
//! and stores the run once it ended.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use reelgraph::exec::{HeldRun, RunEvent, RunEventKind, RunEvents, RunReport, RunSnapshot};
use reelgraph::runner::Outputs;

use super::records::Ended;
use super::service::Runs;

/// Awaits the run's report while following its events, then stores it;
/// lets go of the run in the hub (`held`) once it is stored.
pub(super) async fn drive(
    runs: Runs,
    finish: impl Future<Output = RunReport>,
    events: Option<RunEvents>,
    held: Option<HeldRun>,
) {
    let (report, mut logs) = tokio::join!(finish, follow(&runs, events));
    let events = logs.remove(report.run_id.as_str()).unwrap_or_default();
    store(&runs, &report, &events).await;
    drop(held);
}

/// As [`drive`], for the runs of a batch, which share one event stream.
pub(super) async fn drive_batch(
    runs: Runs,
    finish: impl Future<Output = Vec<RunReport>>,
    events: Option<RunEvents>,
    held: Vec<HeldRun>,
) {
    let (reports, mut logs) = tokio::join!(finish, follow(&runs, events));
    for report in reports {
        let events = logs.remove(report.run_id.as_str()).unwrap_or_default();
        store(&runs, &report, &events).await;
    }
    drop(held);
}

/// Every event, by run; a completed node's files are linked as it completes,
/// so they can be downloaded while the run goes on.
async fn follow(runs: &Runs, events: Option<RunEvents>) -> HashMap<Arc<str>, Vec<RunEvent>> {
    let mut logs: HashMap<Arc<str>, Vec<RunEvent>> = HashMap::new();
    let Some(mut events) = events else {
        return logs;
    };
    while let Some(event) = events.next().await {
        if let RunEventKind::NodeCompleted { outputs, .. } = &event.kind {
            link(runs, &event.run_id, vec![outputs.clone()]).await;
        }
        logs.entry(event.run_id.clone()).or_default().push(event);
    }
    logs
}

/// Links the files of every output of the report (cached nodes' too), then
/// stores the run's end.
async fn store(runs: &Runs, report: &RunReport, events: &[RunEvent]) {
    let outputs = report.outputs.values().cloned().collect();
    link(runs, &report.run_id, outputs).await;
    // The hub holds the run until it is stored; a run it could not hold
    // (gone before the driver began) has its events tell the same story.
    let snapshot = runs.hub().snapshot(&report.run_id).unwrap_or_else(|_| {
        let mut snapshot = RunSnapshot::new(report.run_id.as_str());
        events.iter().for_each(|event| snapshot.see(event));
        snapshot
    });
    let ended = Ended {
        snapshot: &snapshot,
        report,
        events,
    };
    if let Err(e) = runs.records().finish(&ended).await {
        tracing::error!(run_id = %report.run_id, error = %e.body.message, "the end of a run was not stored");
    }
}

async fn link(runs: &Runs, run_id: &str, outputs: Vec<Arc<Outputs>>) {
    let folders = runs.folders().clone();
    let id = run_id.to_owned();
    let linked = tokio::task::spawn_blocking(move || {
        outputs
            .iter()
            .try_for_each(|outputs| folders.link_outputs(&id, outputs))
    })
    .await;
    match linked {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(%run_id, error = %e, "a run's files were not all linked"),
        Err(e) => tracing::warn!(%run_id, error = %e, "linking a run's files stopped"),
    }
}
