//! Runners and canvases for measuring the executor rather than the work.

use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use std::sync::{Arc, Mutex};

use reelgraph::runner::{LocalRunner, Outputs};
use reelgraph::{Canvas, Catalog, Op};
use serde_json::{Value, json};

/// One task node whose function sends `notes` progress notes and ends: a run
/// of it is `notes` events and little else, for measuring the event path.
pub fn chatty(notes: usize) -> (Arc<Mutex<Canvas>>, LocalRunner) {
    let catalog = Catalog::builtin();
    catalog
        .register_json(
            r#"{"type": "chatty", "category": "post", "title": "Chatty",
                "outputs": [{"name": "out", "type": "text"}],
                "task": {"function": "chatty"}}"#,
        )
        .expect("the type registers");
    let mut canvas = Canvas::new(catalog, "events", "Events");
    canvas
        .apply(vec![Op::add_node("talker", "chatty", json!({}))])
        .expect("the node");
    let runner = LocalRunner::new();
    runner.register("chatty", move |_task, ctx| async move {
        for i in 0..notes {
            ctx.progress.progress(i as f64 / notes as f64, None);
        }
        Ok(Outputs::from_iter([("out".to_owned(), json!("done"))]))
    });
    (Arc::new(Mutex::new(canvas)), runner)
}

/// A local runner with a no-op function for every function of the built-in
/// catalogue: each returns `true` on every declared output. For measuring
/// the executor rather than the work.
pub fn noop_runner() -> LocalRunner {
    let runner = LocalRunner::new();
    let catalog = Catalog::builtin();
    for name in catalog.type_names() {
        let Some(task) = catalog.get(&name).and_then(|spec| spec.task.clone()) else {
            continue;
        };
        runner.register(&task.function, |task, _ctx| async move {
            Ok(task
                .outputs
                .iter()
                .map(|port| (port.to_string(), Value::Bool(true)))
                .collect())
        });
    }
    runner
}

/// The node type of [`layered_dag`]: a task that reads its inputs and a number.
pub const STEP_TYPE: &str = r#"{
  "type": "step", "category": "post", "title": "Step",
  "inputs": [{"name": "in", "type": "text", "multiple": true}],
  "outputs": [{"name": "out", "type": "text"}],
  "properties": [{"name": "n", "type": "integer"}],
  "task": {"function": "step", "params": {"n": {"property": "n"}, "in": {"input": "in"}}}
}"#;

/// A layered DAG of `layers × width` [`STEP_TYPE`] nodes; each node after
/// the first layer reads `fan_in` distinct nodes of the layer before. The
/// canvas for measuring the executor itself, with [`noop_step_runner`].
pub fn layered_dag(layers: usize, width: usize, fan_in: usize, seed: u64) -> Canvas {
    let catalog = Catalog::builtin();
    catalog
        .register_json(STEP_TYPE)
        .expect("the step type registers");
    let mut canvas = Canvas::new(catalog, "layered", "Layered");
    let mut rng = SmallRng::seed_from_u64(seed);
    let id = |layer: usize, i: usize| format!("s{layer}_{i}");
    for layer in 0..layers {
        let mut ops = Vec::with_capacity(width * (1 + fan_in));
        for i in 0..width {
            ops.push(Op::add_node(
                &id(layer, i),
                "step",
                json!({"n": layer * width + i}),
            ));
            if layer > 0 {
                let mut sources: Vec<usize> = (0..width).collect();
                sources.shuffle(&mut rng);
                for &s in sources.iter().take(fan_in) {
                    ops.push(Op::connect(
                        (&id(layer - 1, s), "out"),
                        (&id(layer, i), "in"),
                    ));
                }
            }
        }
        canvas.apply(ops).expect("a valid layer");
    }
    canvas
}

/// Runs `canvas` to its end as the execution bench measures it: a fresh run
/// with its events read by a consumer on another task. Returns the report
/// and how many events the consumer read. Call inside a tokio runtime.
pub async fn run_with_consumer(
    executor: &reelgraph::exec::Executor,
    canvas: &Arc<Mutex<Canvas>>,
) -> (reelgraph::exec::RunReport, usize) {
    let mut run = executor
        .start(canvas, reelgraph::exec::RunOptions::new())
        .await
        .expect("a run starts");
    let mut events = run.events().expect("the event stream");
    let consumer = tokio::spawn(async move {
        let mut read = 0usize;
        while events.next().await.is_some() {
            read += 1;
        }
        read
    });
    let report = run.finish().await;
    (report, consumer.await.expect("the consumer ends"))
}

/// A local runner whose `step` function does nothing but answer.
pub fn noop_step_runner() -> LocalRunner {
    let runner = LocalRunner::new();
    runner.register("step", |_task, _ctx| async move {
        Ok(Outputs::from_iter([("out".to_owned(), Value::Bool(true))]))
    });
    runner
}
