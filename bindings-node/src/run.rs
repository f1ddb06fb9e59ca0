//! `Run`: a run under way. The core's run is driven on the binding's
//! runtime as soon as it starts; this handle waits for its report, cancels
//! it, and reads its events and status from the executor's run hub.

use std::sync::Arc;

use napi::bindgen_prelude::Unknown;
use napi_derive::napi;
use reelgraph::exec::{Run as CoreRun, RunHandle, RunHub, RunReport};
use tokio::sync::watch;

use crate::convert::{string_arg, to_text};
use crate::errors::js;
use crate::events::{EventCallback, RunEventStream, pump};

/// The report as JSON text (or why it could not be written), once the run has one.
pub(crate) type ReportCell = watch::Receiver<Option<Arc<Result<String, String>>>>;

/// Drives `run` to its end on the binding's runtime, feeding `on_event`
/// first; the report (JSON text) arrives in the returned cell.
fn drive(
    mut run: CoreRun,
    on_event: Option<EventCallback>,
    hold: Option<EventCallback>,
) -> ReportCell {
    let (tx, rx) = watch::channel(None);
    let events = on_event.and_then(|callback| Some((run.events()?, callback)));
    napi::bindgen_prelude::spawn(async move {
        // A strong handle keeps the process alive until the report: the
        // functions' handles do not (they must not keep a process from exiting).
        let _hold = hold;
        let pumping =
            events.map(|(events, callback)| napi::bindgen_prelude::spawn(pump(events, callback)));
        let report = run.finish().await;
        // `wait()` resolves after `onEvent` saw the last event.
        if let Some(pumping) = pumping {
            let _ = pumping.await;
        }
        fill(&tx, &report);
    });
    rx
}

/// Puts `report` in the cell `tx` feeds.
pub(crate) fn fill(tx: &watch::Sender<Option<Arc<Result<String, String>>>>, report: &RunReport) {
    let text = to_text(report).map_err(|e| e.reason.clone());
    let _ = tx.send(Some(Arc::new(text)));
}

/// Waits for the report in `cell`.
pub(crate) async fn report_of(mut cell: ReportCell) -> napi::Result<String> {
    let report = cell
        .wait_for(Option::is_some)
        .await
        .map_err(|_| napi::Error::from_reason("the run ended without a report"))?;
    match report.as_deref() {
        Some(Ok(text)) => Ok(text.clone()),
        Some(Err(reason)) => Err(napi::Error::from_reason(reason.clone())),
        None => Err(napi::Error::from_reason("the run ended without a report")),
    }
}

#[napi]
pub struct Run {
    id: String,
    handle: RunHandle,
    hub: RunHub,
    report: ReportCell,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run").field("id", &self.id).finish()
    }
}

impl Run {
    /// Starts driving `run`, whose events the hub also gets.
    pub(crate) fn spawn(
        run: CoreRun,
        hub: RunHub,
        on_event: Option<EventCallback>,
        hold: Option<EventCallback>,
    ) -> Self {
        let handle = run.handle();
        Run::of(handle, hub, drive(run, on_event, hold))
    }

    /// A run driven elsewhere, whose report arrives in `report`.
    pub(crate) fn of(handle: RunHandle, hub: RunHub, report: ReportCell) -> Self {
        Run {
            id: handle.run_id().to_owned(),
            handle,
            hub,
            report,
        }
    }
}

#[napi]
impl Run {
    #[napi(getter)]
    pub fn id(&self) -> String {
        self.id.clone()
    }

    /// The report (JSON text) once the run ended.
    #[napi]
    pub async fn wait(&self) -> napi::Result<String> {
        report_of(self.report.clone()).await
    }

    /// Cancels the run: running tasks are told to stop, nothing new starts.
    #[napi]
    pub fn cancel(&self) {
        self.handle.cancel();
    }

    /// Cancels one node of the run; `false` when the run does not execute it.
    #[napi]
    pub fn cancel_node(&self, node: Unknown<'_>) -> napi::Result<bool> {
        Ok(self.handle.cancel_node(&string_arg(node, "node")?))
    }

    /// Where the run stands (JSON text of the hub's `RunSnapshot`).
    #[napi]
    pub fn snapshot_json(&self) -> napi::Result<String> {
        to_text(&js(self.hub.snapshot(&self.id))?)
    }

    /// The run's events from `seq` (0: from the start, while the hub holds them).
    #[napi]
    pub fn events(&self, seq: Option<f64>) -> napi::Result<RunEventStream> {
        let seq = seq.unwrap_or(0.0);
        if !(seq.is_finite() && seq >= 0.0 && seq.fract() == 0.0) {
            return Err(crate::errors::type_error(
                "seq",
                "a whole number of at least 0",
                &seq.to_string(),
            ));
        }
        Ok(RunEventStream::new(js(self
            .hub
            .subscribe(&self.id, seq as u64))?))
    }
}
