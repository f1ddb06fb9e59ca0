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
