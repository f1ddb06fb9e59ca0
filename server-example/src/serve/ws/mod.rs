//! `GET /v1/ws`: the WebSocket API. A client subscribes to canvases and
//! runs, applies ops to canvases, and gets what happens in batches, one
//! frame per window (`--ws-batch-window`), as JSON or MessagePack.
//!
//! - [`messages`]: what client and server send; [`topics`]: what a
//!   subscription follows (add a topic there); [`run_feed`]: one reader
//!   of a run's events for all its followers;
//! - [`client`]: one connection (reader, writer, batching, pings, closing);
//!   [`outbox`]: its bounded queue; [`sender`]: its sending half, shared
//!   with [`window`], the batch window all connections share;
//!   [`presence`]: who is on a canvas;
//! - [`config`]: the flags. See `docs/server-websocket.md`.

pub mod client;
pub mod config;
pub mod messages;
pub mod outbox;
pub mod presence;
pub mod run_feed;
pub mod sender;
pub mod topics;
pub mod window;

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, SEC_WEBSOCKET_PROTOCOL};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use self::client::Client;
pub use self::config::WsArgs;
use self::presence::Presence;
use self::run_feed::RunFeeds;
use self::window::Window;
use super::api_error::{ApiError, ApiResult};
use super::auth::Principal;
use super::auth::csrf;
use super::connections::OpenConnection;
use super::encoded::Format;
use super::registry::{Registry, Route, Scope};
use super::state::AppState;

/// The subprotocols, by the format they choose.
pub const JSON_PROTOCOL: &str = "reelgraph.json.v1";
pub const MSGPACK_PROTOCOL: &str = "reelgraph.msgpack.v1";

/// Each connection's read buffer. Client messages are small and rare;
/// tungstenite's default (128 KiB, allocated up front) would make an idle
/// connection cost that much.
const READ_BUFFER: usize = 4096;

/// The close codes the server sends.
pub mod close {
    /// The client closed the connection.
    pub const NORMAL: u16 = 1000;
    /// The server is shutting down.
    pub const GOING_AWAY: u16 = 1001;
    /// A frame over `--ws-max-frame`.
    pub const TOO_BIG: u16 = 1009;
    /// Nothing heard from the client for `--ws-idle-timeout`.
    pub const IDLE: u16 = 4000;
    /// The client's queue overflowed (`--ws-queue`).
    pub const TOO_SLOW: u16 = 4008;
}

/// What every connection shares: the shutdown signal, the connections
/// still open, the batch window, the feeds of the runs followed live,
/// and who is on which canvas.
#[derive(Debug, Default)]
pub struct Shared {
    pub shutdown: CancellationToken,
    pub connections: TaskTracker,
    pub window: Window,
    pub run_feeds: RunFeeds,
    pub presence: Presence,
    /// Numbers the connections (their ids in presence messages).
    pub opened: std::sync::atomic::AtomicU64,
}

impl Shared {
    /// Closes every connection (code 1001) and waits until they have closed.
    pub async fn close_all(&self) {
        self.shutdown.cancel();
        self.connections.close();
        self.connections.wait().await;
    }
}

pub fn register(routes: &mut Registry) {
    routes.add(
        Route::get(
            "/v1/ws",
            "openWebSocket",
            "Open a WebSocket: subscribe to canvases and runs, apply ops",
        )
        .scope(Scope::Read)
        .header(
            "Sec-WebSocket-Protocol",
            "`reelgraph.json.v1` (the default) or `reelgraph.msgpack.v1`",
            false,
        )
        .empty_response(101, "Switching to the WebSocket protocol"),
        get(open),
    );
}

async fn open(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    connection: Option<Extension<OpenConnection>>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let upgrade = upgrade.map_err(|e| {
        ApiError::new(
            "upgrade_required",
            format!("`/v1/ws` takes WebSocket connections only: {e}"),
        )
    })?;
    // A cookie is sent by the browser whatever page opens the socket:
    // only pages of allowed origins may use it.
    if !headers.contains_key(AUTHORIZATION)
        && let Err(failure) = csrf::check_origin(&headers, &state.config.security.origin_policy())
    {
        return Err(ApiError::new(
            "csrf_failed",
            "a WebSocket opened with the session cookie must come from a page of this server's origin (or one named with --allowed-origin)",
        )
        .with_details(json!({"reason": failure.reason()})));
    }
    let (format, protocol) = subprotocol(&headers)?;
    let limit = state.config.ws.ws_max_frame;
    let mut upgrade = upgrade
        .max_message_size(limit)
        .max_frame_size(limit)
        .read_buffer_size(READ_BUFFER)
        // A frame is a whole batch already: written at once.
        .write_buffer_size(0);
    if let Some(name) = protocol {
        upgrade = upgrade.protocols([name]);
    }
    let shared = state.ws.clone();
    Window::start(&shared, state.config.ws.ws_batch_window);
    let client = Arc::new(Client::new(
        state.clone(),
        shared.clone(),
        principal,
        format,
    ));
    let tracker = shared.connections.clone();
    Ok(upgrade
        .on_upgrade(move |socket| {
            tracker.track_future(async move {
                let _open = state.metrics.ws_connection_opened();
                // The TCP connection counts until the socket closes.
                let _connection = connection;
                client::run(socket, client).await;
            })
        })
        .into_response())
}

/// The format the client asked for: the first subprotocol offered that the
/// server speaks; JSON when none is offered. With it, the name to echo.
fn subprotocol(headers: &HeaderMap) -> ApiResult<(Format, Option<&'static str>)> {
    let offered: Vec<String> = headers
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect();
    if offered.is_empty() {
        return Ok((Format::Json, None));
    }
    for protocol in &offered {
        match protocol.as_str() {
            JSON_PROTOCOL => return Ok((Format::Json, Some(JSON_PROTOCOL))),
            MSGPACK_PROTOCOL => return Ok((Format::MsgPack, Some(MSGPACK_PROTOCOL))),
            _ => {}
        }
    }
    Err(ApiError::new(
        "unsupported_subprotocol",
        format!(
            "the server speaks none of the subprotocols offered ({})",
            offered.join(", ")
        ),
    )
    .with_details(json!({"offered": offered, "supported": [JSON_PROTOCOL, MSGPACK_PROTOCOL]})))
}
