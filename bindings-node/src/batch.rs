//! Batches: many canvases, or variants of one, run together under one
//! executor's cap. Each run of a batch is an ordinary `Run`; the batch's one
//! event stream (runs told apart by `run_id`) feeds the batch's `onEvent`.

use napi::Env;
use napi::bindgen_prelude::{ClassInstance, PromiseRaw, Unknown};
use napi_derive::napi;
use reelgraph::exec::RunOptions;
use tokio::sync::watch;

use crate::canvas::Canvas;
use crate::errors::{js, type_error};
use crate::events::{event_callback, pump};
use crate::executor::Executor;
use crate::run::{Run, fill};

#[napi]
impl Executor {
    /// Starts one run per canvas with the `RunOptions` JSON text at the same
    /// index; any refusal refuses the whole batch before anything runs.
    #[napi(ts_return_type = "Promise<Run[]>")]
    #[allow(
        clippy::needless_pass_by_value,
        reason = "napi hands arguments over by value"
    )]
    pub fn batch<'env>(
        &self,
        env: &'env Env,
        canvases: Vec<ClassInstance<'_, Canvas>>,
        options_json: Vec<String>,
        on_event: Option<Unknown<'_>>,
        hold: Option<Unknown<'_>>,
    ) -> napi::Result<PromiseRaw<'env, Vec<Run>>> {
        if canvases.len() != options_json.len() {
            return Err(type_error(
                "optionsJson",
                &format!("{} options, one per canvas", canvases.len()),
                &options_json.len().to_string(),
            ));
        }
        let mut jobs = Vec::with_capacity(canvases.len());
        for (canvas, text) in canvases.iter().zip(&options_json) {
            let options: RunOptions = js(reelgraph::from_json(text))?;
            jobs.push((&canvas.inner, options));
        }
        let on_event = event_callback(on_event)?;
        let hold = event_callback(hold)?;
        let started = self.inner.batch(jobs);
        let hub = self.hub.clone();
        env.spawn_future(async move {
            let mut batch = js(started.await)?;
            let pumping = on_event
                .and_then(|callback| Some((batch.events()?, callback)))
                .map(|(events, callback)| napi::bindgen_prelude::spawn(pump(events, callback)));
            let mut cells = Vec::new();
            let runs = batch
                .handles()
                .into_iter()
                .map(|handle| {
                    let (tx, rx) = watch::channel(None);
                    cells.push(tx);
                    Run::of(handle, hub.clone(), rx)
                })
                .collect();
            napi::bindgen_prelude::spawn(async move {
                // Keeps the process alive until the reports (see `run::drive`).
                let _hold = hold;
                let reports = batch.finish().await;
                if let Some(pumping) = pumping {
                    let _ = pumping.await;
                }
                for (tx, report) in cells.iter().zip(&reports) {
                    fill(tx, report);
                }
            });
            Ok(runs)
        })
    }
}
