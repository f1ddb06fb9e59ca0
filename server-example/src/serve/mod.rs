//! `reelgraph serve`: the reference HTTP server.
//!
//! Start-up ([`run`]): open the data directory ([`AppState::open`]); at the
//! first start make the admin key and the demo canvas; bind; print
//! `admin key: rg_...` (first start only) and then
//! `reelgraph serving on http://ADDR`, the line that says it is ready;
//! serve [`app::app`] until SIGINT or SIGTERM.
//!
//! Where things are: `config` (flags), `state` (`AppState`), `app` (router
//! and layers), `registry` (routes and their scopes), `openapi`, `api_error`
//! (error bodies and the server-only code table), `json` (strict bodies),
//! `pagination`, `query` (strict query strings), `random`, `server_db` (the server's own tables), `auth` (keys and the
//! scope check), `canvases`.

pub mod api_error;
pub mod app;
pub mod auth;
pub mod canvases;
pub mod config;
pub mod json;
pub mod openapi;
pub mod pagination;
pub mod query;
pub mod random;
pub mod registry;
pub mod server_db;
pub mod state;

use std::io::Write;

use tokio::net::TcpListener;

pub use self::app::app;
pub use self::config::Args;
use self::registry::Scope;
pub use self::state::AppState;

/// The demo short film, made at the first start.
const DEMO_CANVAS: &str = include_str!("../../../examples/short-film/canvas.json");

/// Runs the server until it is told to stop.
pub async fn run(config: Args) -> reelgraph::Result<()> {
    let addr = config.addr;
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
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| reelgraph::Error::Io {
            action: "serve on",
            path: local.to_string(),
            message: e.to_string(),
        })
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

/// Resolves at SIGINT (Ctrl-C) or SIGTERM; in-flight requests then finish.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
