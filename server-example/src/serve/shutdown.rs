//! Graceful shutdown: the signal that starts it, and the runs it cancels.
//!
//! The order (see `serve::run`): on SIGTERM or SIGINT every run still going
//! is cancelled, the accept loop stops and drains the requests in flight
//! (a run's event stream ends with its `run_cancelled`), then the server
//! waits for the cancelled runs to write their reports, and the stores
//! close when the state is dropped.

use std::time::Duration;

use reelgraph::exec::RunHub;
use tokio::time::Instant;

/// Resolves on the first SIGTERM or SIGINT.
pub async fn signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM ({e}); stop the server with SIGINT");
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
    tracing::info!("shutting down: no new connections; requests in flight finish");
}

/// Cancels every run still going; returns their ids.
pub fn cancel_runs(hub: &RunHub) -> Vec<String> {
    let running: Vec<String> = hub
        .run_ids()
        .into_iter()
        .filter(|id| going(hub, id))
        .collect();
    for id in &running {
        // A run that ended meanwhile cannot be cancelled; nothing to do.
        let _ = hub.cancel(id);
    }
    if !running.is_empty() {
        tracing::info!(runs = running.len(), "cancelled the runs still going");
    }
    running
}

/// Whether the run has not ended yet (a run the hub forgot has).
fn going(hub: &RunHub, id: &str) -> bool {
    hub.snapshot(id).is_ok_and(|s| !s.state.is_over())
}

/// Waits until each of `runs` has ended, for at most `limit`.
pub async fn wait_for_runs(hub: &RunHub, runs: &[String], limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let left = runs.iter().filter(|id| going(hub, id)).count();
        if left == 0 {
            return;
        }
        if Instant::now() >= deadline {
            tracing::warn!(
                runs = left,
                "runs still winding down after {limit:?}; exiting"
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use reelgraph::exec::{Executor, RunHub, RunOptions, RunState};
    use reelgraph::runner::{LocalRunner, Outputs, TaskError};
    use reelgraph::{Canvas, Catalog, Op};
    use serde_json::json;

    use super::{cancel_runs, wait_for_runs};

    #[tokio::test]
    async fn runs_still_going_are_cancelled_and_waited_for() {
        let catalog = Catalog::builtin();
        catalog
            .register_json(
                r#"{"type": "wait", "category": "post", "title": "Wait",
                "outputs": [{"name": "text", "type": "text"}],
                "task": {"function": "wait.forever"}}"#,
            )
            .expect("the type registers");
        let mut canvas = Canvas::new(catalog, "c", "C");
        canvas
            .apply(vec![Op::add_node("a", "wait", json!({}))])
            .expect("the node is added");
        let runner = LocalRunner::new();
        // Runs until its node is cancelled.
        runner.register("wait.forever", |_task, ctx| async move {
            ctx.cancel.cancelled().await;
            Err::<Outputs, _>(TaskError::cancelled())
        });
        let hub = RunHub::default();
        let executor = Executor::new(runner).with_hub(hub.clone());
        let canvas = Arc::new(Mutex::new(canvas));
        let run = executor
            .start(&canvas, RunOptions::new().run_id("r1"))
            .await
            .expect("the run starts");
        let finished = tokio::spawn(run.finish());

        let cancelled = cancel_runs(&hub);
        assert_eq!(cancelled, ["r1"]);
        wait_for_runs(&hub, &cancelled, Duration::from_secs(30)).await;
        assert_eq!(
            hub.snapshot("r1").expect("the run").state,
            RunState::Cancelled
        );
        finished.await.expect("the run's task ends");
        // Nothing left to cancel.
        assert!(cancel_runs(&hub).is_empty());
    }
}
