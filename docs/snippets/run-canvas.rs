use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reelgraph::exec::{
    Executor, Explanation, Force, PlanOptions, Planner, Reason, RunEvent, RunOptions, RunStatus,
};
use reelgraph::runner::{CircuitConfig, Resilience, RetryPolicy};
use reelgraph::{Canvas, Op, Quality};
use serde_json::json;

/// Runs `frame_1` of the canvas with the demo functions (files go under
/// `out`), runs it again, then edits its shot and asks what would run.
pub async fn run_canvas(
    canvas: &Arc<Mutex<Canvas>>,
    out: &Path,
) -> Result<(Vec<RunEvent>, Vec<Explanation>), reelgraph::Error> {
    // The demo functions behind retries, a limit per attempt, a circuit
    // breaker per function and quality fallback.
    let runner = Resilience::new()
        .retry(RetryPolicy::default())
        .timeout(Duration::from_secs(300))
        .circuit_breaker(CircuitConfig::default())
        .quality_fallback(true)
        .wrap(reelgraph_demo::runner(out));
    // At most 4 tasks at once over all its runs; results in memory.
    let executor = Executor::new(runner).with_concurrency(4);

    // A partial run: `frame_1` and what it needs. Starting checks the
    // canvas and the functions and looks the results up in the cache.
    let options = RunOptions::new()
        .quality(Quality::Draft)
        .targets(["frame_1"])
        .run_id("run-1");
    let mut run = executor.start(canvas, options.clone()).await?;
    let mut events = run.events().expect("the events are taken once");
    // Drive the run and read its events as they come; the stream ends
    // after the run's last event.
    let (report, seen) = tokio::join!(run.finish(), async {
        let mut seen = Vec::new();
        while let Some(event) = events.next().await {
            seen.push(event);
        }
        seen
    });
    assert_eq!(report.status, RunStatus::Completed);
    // Outputs by node and port: here the descriptor of a demo PNG.
    let frame = &report.outputs["frame_1"]["image"];
    assert_eq!(frame["media_type"], "image/png");

    // Nothing changed: the second run takes the result from the cache.
    let again = executor.start(canvas, options.run_id("run-2")).await?;
    let again = again.finish().await;
    assert_eq!((again.stats.executed, again.stats.cache_hits), (0, 1));

    // Plan the whole canvas, edit the first shot, re-plan, and explain.
    // The canvas is shared: lock it only to read or edit it.
    let mut planner = Planner::new(
        &canvas.lock().expect("the canvas lock"),
        PlanOptions::all(Quality::Draft),
    )?;
    let before = executor.explain(planner.plan(), &Force::None).await?;
    assert_eq!(before[0].reason, Reason::Cached);
    canvas
        .lock()
        .expect("the canvas lock")
        .apply(vec![Op::set_properties(
            "shot_1",
            json!({"prompt": "Mara at the window, storm"}),
        )])?;
    planner.replan(&canvas.lock().expect("the canvas lock"))?;
    let after = executor.explain(planner.plan(), &Force::None).await?;
    Ok((seen, after))
}
