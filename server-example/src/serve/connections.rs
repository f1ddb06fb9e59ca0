//! The accept loop: HTTP/1.1 connections served by hyper with a deadline
//! for request heads, counted in the metrics, and drained on shutdown.
//!
//! `axum::serve` installs no timer in hyper, which leaves hyper's
//! header-read timeout off: a client that sends a request head one byte at
//! a time would hold its connection forever. This loop is `axum::serve`
//! with that timer, the open-connections gauge, and a bounded drain.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use super::metrics::{ConnectionGuard, Metrics};

/// The open-connections count of the request's TCP connection, in its
/// extensions: an upgraded connection (a WebSocket) holds it until it
/// closes, after hyper has let go of the connection.
#[derive(Debug, Clone)]
pub struct OpenConnection {
    _count: Arc<ConnectionGuard>,
}

/// Deadlines of the accept loop.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// A request head (request line and headers) must arrive within this.
    pub header_timeout: Duration,
    /// After the shutdown signal, requests in flight get this long to finish.
    pub drain_timeout: Duration,
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops
/// accepting, lets requests in flight finish (idle keep-alive connections
/// close at once) and returns when they have, or after the drain timeout.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    metrics: Metrics,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    // hyper-util's `GracefulShutdown` does not take connections with
    // upgrades; this is the same: a signal to each, and a count of them.
    let stopping = CancellationToken::new();
    let connections = TaskTracker::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(&e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small JSON answers go out at once rather than wait for Nagle.
        let _ = stream.set_nodelay(true);
        let open = OpenConnection {
            _count: Arc::new(metrics.connection_opened()),
        };
        let counted = open.clone();
        let service = app
            .clone()
            .map_request(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request.extensions_mut().insert(counted.clone());
                request
            });
        let connection = builder
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
            .with_upgrades();
        let stop = stopping.clone();
        connections.spawn(async move {
            tokio::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                () = stop.cancelled() => {
                    // Idle keep-alive connections close now, busy ones
                    // after their response.
                    connection.as_mut().graceful_shutdown();
                    connection.as_mut().await
                }
            };
            // A client that went away or sent a bad request head ends its
            // own connection; hyper has answered it where it could.
            if let Err(e) = ended {
                tracing::debug!(%peer, "connection ended: {e}");
            }
            drop(open);
        });
    }
    drop(listener);
    stopping.cancel();
    connections.close();
    tokio::select! {
        () = connections.wait() => tracing::info!("every request in flight finished"),
        () = tokio::time::sleep(limits.drain_timeout) => tracing::warn!(
            "requests still in flight after {:?}; closing their connections",
            limits.drain_timeout
        ),
    }
}

/// An accept error (too many open files, a connection reset before it was
/// accepted) ends no server: log it and, for resource errors, pause so the
/// loop does not spin.
async fn accept_failed(e: &io::Error) {
    tracing::warn!("could not accept a connection: {e}");
    if !matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    ) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
