//! `reelgraph serve`: the reference HTTP server.
//!
//! Start-up ([`run`]): open the data directory ([`AppState::open`]); at the
//! first start make the admin key and the demo canvas; bind; print
//! `admin key: rg_...` (first start only) and then
//! `reelgraph serving on http://ADDR`, the line that says it is ready;
//! serve [`app::app`] until SIGINT or SIGTERM, then shut down gracefully
//! (see [`shutdown`]).
//!
//! Where things are: `config` (flags), `state` (`AppState`), `app` (router
//! and layers), `registry` (routes and their scopes), `openapi`, `api_error`
//! (error bodies and the server-only code table), `json` (strict bodies),
//! `pagination`, `query` (strict query strings), `random`, `server_db` (the server's own tables), `auth` (keys, sessions,
//! CSRF, rate limits, security headers, the scope check), `canvases`, `runs` (runs, their events, files and records), `tasks` (the function-runner service);
//! `node_types`, `checks` (validate, can-connect, task previews), `formats` and `media_types` (export and import), `etag`;
//! operations: `health` (`/healthz`, `/readyz`), `metrics` (`/metrics` and what records into it), `metered_store`,
//! `logging`, `connections` (the accept loop), `open_files` (the file descriptor limit) and `shutdown`;
//! `ws` (`/v1/ws`, WebSocket) and `encoded` (events serialised once per wire format).

pub mod api_error;
pub mod app;
pub mod auth;
pub mod canvases;
pub mod checks;
pub mod config;
pub mod connections;
pub mod content_coding;
pub mod encoded;
pub mod etag;
pub mod formats;
pub mod health;
pub mod json;
pub mod logging;
pub mod media_types;
pub mod metered_store;
pub mod metrics;
pub mod node_types;
pub mod open_files;
pub mod openapi;
pub mod pagination;
pub mod query;
pub mod random;
pub mod registry;
pub mod runs;
pub mod server_db;
pub mod server_db_commit;
pub mod shutdown;
pub mod state;
pub mod tasks;
pub mod ws;

use std::io::Write;

use tokio::net::TcpListener;

pub use self::app::app;
pub use self::config::Args;
use self::connections::ConnectionLimits;
use self::registry::Scope;
pub use self::state::AppState;

/// The demo short film, made at the first start.
const DEMO_CANVAS: &str = include_str!("../../../examples/short-film/canvas.json");

/// Runs the server until it is told to stop.
pub async fn run(config: Args) -> reelgraph::Result<()> {
    logging::init(config.log_format);
    match open_files::raise() {
        Ok(limit) => tracing::info!(
            before = ?limit.before,
            after = ?limit.after,
            "open-file limit (one per connection) raised to the hard limit"
        ),
        Err(e) => tracing::warn!("could not raise the open-file limit: {e}"),
    }
    let addr = config.addr;
    let limits = ConnectionLimits {
        header_timeout: config.header_timeout,
        drain_timeout: config.drain_timeout,
    };
    let state = AppState::open(config)?;
    let admin_key = first_start(&state).await?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| reelgraph::Error::Io {
            action: "listen on",
            path: addr.to_string(),
            message: e.to_string(),
        })?;
    let local = listener.local_addr().map_err(|e| reelgraph::Error::Io {
        action: "listen on",
        path: addr.to_string(),
        message: e.to_string(),
    })?;
    // What a script or test waits for: the key first, then the ready line.
    let mut out = std::io::stdout().lock();
    if let Some(key) = admin_key {
        let _ = writeln!(out, "admin key: {key}");
    }
    let _ = writeln!(out, "reelgraph serving on http://{local}");
    let _ = out.flush();
    drop(out);
    tracing::info!(url = %format!("http://{local}"), "serving");
    let runs = state.runs.clone();
    let stopping = runs.clone();
    let tasks = state.tasks.clone();
    let reaper = tasks.spawn_reaper();
    let sockets = state.ws.clone();
    let closing = sockets.clone();
    let stop = async move {
        shutdown::signal().await;
        tracing::info!("shutting down: no new connections; requests in flight finish");
        // Cancelled first, so their event streams end and the drain
        // below does not wait on them; waiting claims answer at once;
        // WebSockets are told 1001.
        stopping.cancel_all();
        tasks.close();
        closing.shutdown.cancel();
    };
    connections::serve(
        listener,
        app(state.clone()),
        state.metrics.clone(),
        limits,
        stop,
    )
    .await;
    if tokio::time::timeout(limits.drain_timeout, sockets.close_all())
        .await
        .is_err()
    {
        tracing::warn!(
            "WebSocket clients still open after {:?}",
            limits.drain_timeout
        );
    }
    // Every run stored (as cancelled, if it was going) before the exit.
    if tokio::time::timeout(limits.drain_timeout, runs.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "runs still winding down after {:?}; exiting",
            limits.drain_timeout
        );
    }
    let _ = reaper.await;
    // The stores close as the last state goes.
    drop(state);
    tracing::info!("stopped");
    Ok(())
}

/// On a data directory without keys: makes the admin key (returned, to be
/// printed once) and the demo canvas.
async fn first_start(state: &AppState) -> reelgraph::Result<Option<String>> {
    if state.keys.count()? > 0 {
        return Ok(None);
    }
    let document = reelgraph::CanvasDocument::from_json(DEMO_CANVAS)?;
    match state.canvases.create_document(document).await {
        Ok(_) => {}
        Err(e) if e.code() == "duplicate_id" => {}
        Err(e) => return Err(e),
    }
    let (_, secret) = state.keys.create("admin", &Scope::GRANTABLE)?;
    Ok(Some(secret))
}
