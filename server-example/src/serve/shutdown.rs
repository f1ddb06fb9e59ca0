//! Graceful shutdown: the signal that starts it.
//!
//! The order (see `serve::run`): on SIGTERM or SIGINT every run still going
//! is cancelled (`Runs::cancel_all`), the accept loop stops and drains the
//! requests in flight (a run's event stream ends with its `run_cancelled`),
//! then the server waits for the cancelled runs to be stored
//! (`Runs::shutdown`, bounded by `--drain-timeout`), and the stores close
//! when the state is dropped.

/// Resolves on the first SIGTERM or SIGINT (`reelgraph worker` stops on it too).
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
                tracing::warn!("cannot listen for SIGTERM ({e}); stop the process with SIGINT");
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
