//! The flags of `/v1/ws`, each also read from a `REELGRAPH_*` variable.

use std::time::Duration;

/// WebSocket batching, queues, limits and timeouts.
#[derive(Debug, Clone, clap::Args)]
pub struct WsArgs {
    /// The least time between two frames of batched messages to a
    /// WebSocket client (e.g. `50ms`): a message after a quiet spell goes
    /// out at once, the ones that follow it collect for this long.
    #[arg(long, env = "REELGRAPH_WS_BATCH_WINDOW", default_value = "50ms", value_parser = humantime::parse_duration)]
    pub ws_batch_window: Duration,
    /// Messages a WebSocket client may have waiting; a client further
    /// behind is told `too_slow` and closed (code 4008).
    #[arg(long, env = "REELGRAPH_WS_QUEUE", default_value_t = DEFAULT_QUEUE)]
    pub ws_queue: usize,
    /// The largest message a WebSocket client may send, in bytes; a larger
    /// one closes the connection (code 1009).
    #[arg(long, env = "REELGRAPH_WS_MAX_FRAME", default_value_t = DEFAULT_MAX_FRAME)]
    pub ws_max_frame: usize,
    /// Subscriptions one WebSocket connection may hold at once; one more
    /// is answered `too_many_subscriptions` (the connection stays open).
    #[arg(long, env = "REELGRAPH_WS_MAX_SUBSCRIPTIONS", default_value_t = DEFAULT_MAX_SUBSCRIPTIONS, value_parser = clap::value_parser!(u32).range(1..))]
    pub ws_max_subscriptions: u32,
    /// How often the server pings each WebSocket client.
    #[arg(long, env = "REELGRAPH_WS_PING_INTERVAL", default_value = "20s", value_parser = humantime::parse_duration)]
    pub ws_ping_interval: Duration,
    /// A WebSocket client that sent nothing (not even a pong) for this long
    /// is closed (code 4000).
    #[arg(long, env = "REELGRAPH_WS_IDLE_TIMEOUT", default_value = "60s", value_parser = humantime::parse_duration)]
    pub ws_idle_timeout: Duration,
}

/// Room for a burst of a few busy runs' progress between two windows.
pub const DEFAULT_QUEUE: usize = 4096;
/// Enough for an editor following its canvas, its runs and their tasks;
/// each subscription holds a task and a hub subscriber on the server.
pub const DEFAULT_MAX_SUBSCRIPTIONS: u32 = 256;
/// 1 MiB: ops for thousands of nodes in one `apply`.
pub const DEFAULT_MAX_FRAME: usize = 1024 * 1024;

impl Default for WsArgs {
    fn default() -> WsArgs {
        WsArgs {
            ws_batch_window: Duration::from_millis(50),
            ws_queue: DEFAULT_QUEUE,
            ws_max_frame: DEFAULT_MAX_FRAME,
            ws_max_subscriptions: DEFAULT_MAX_SUBSCRIPTIONS,
            ws_ping_interval: Duration::from_secs(20),
            ws_idle_timeout: Duration::from_secs(60),
        }
    }
}
