//! One WebSocket client of `/v1/ws` in the `ws-fanout` scenario: it
//! connects from a local address of its own, subscribes when the scenario
//! says so, and for every run event it receives records the delivery
//! latency, from the event's `ts` to the moment its frame was read.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use reelgraph_server::serve::ws::messages::{ClientMessage, Topic};

use crate::ws_wire::{self, Item};

/// The subprotocol the clients speak.
pub const SUBPROTOCOL: &str = reelgraph_server::serve::ws::JSON_PROTOCOL;

/// Loopback addresses the clients connect from, in turn, so that tens of
/// thousands of connections do not run out of ephemeral ports on one.
const SOURCES: u8 = 16;

/// What the scenario tells every client, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Connect, then wait.
    Idle,
    /// Subscribe to this run too.
    Follow(String),
    /// Count events whose `ts` (milliseconds since the epoch) lies in
    /// `from..to`; events before it are warm-up.
    Measure { from: u64, to: u64 },
    /// Close the connection and report.
    Stop,
}

/// What one client saw.
#[derive(Debug, Default)]
pub struct Received {
    /// Delivery latency of each event of the window, in microseconds.
    pub latencies_us: Vec<u32>,
    /// Events before the window (warm-up, or replayed at the subscribe).
    pub before: u64,
    /// Events after the window.
    pub after: u64,
    /// Events missing between two received ones (by `seq`).
    pub gaps: u64,
    /// How the server ended the connection before the client did.
    pub dropped: Option<String>,
}

/// A client's progress, reported to the scenario.
#[derive(Debug)]
pub enum Step {
    /// Connected (the handshake is done).
    Connected,
    /// Subscribed to the run.
    Following,
    Failed(String),
}

/// The local address client `n` connects from: one of [`SOURCES`]
/// loopback addresses when the server is on IPv4 loopback.
fn source(n: usize, server: SocketAddr) -> Option<IpAddr> {
    match server.ip() {
        IpAddr::V4(ip) if ip.is_loopback() => {
            let last = 1 + (n % usize::from(SOURCES)) as u8;
            Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
        }
        _ => None,
    }
}

type Socket = WebSocketStream<TcpStream>;

/// Opens the TCP connection and makes the WebSocket handshake with the
/// JSON subprotocol and the API key.
pub async fn connect(n: usize, server: SocketAddr, key: &str) -> Result<Socket, String> {
    let socket = TcpSocket::new_v4().map_err(|e| format!("socket: {e}"))?;
    if let Some(ip) = source(n, server) {
        socket
            .bind(SocketAddr::new(ip, 0))
            .map_err(|e| format!("bind {ip}: {e}"))?;
    }
    let stream = socket
        .connect(server)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut request = format!("ws://{server}/v1/ws")
        .into_client_request()
        .map_err(|e| e.to_string())?;
    let headers = request.headers_mut();
    headers.insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {key}")).map_err(|e| e.to_string())?,
    );
    headers.insert(
        "sec-websocket-protocol",
        HeaderValue::from_static(SUBPROTOCOL),
    );
    // Small buffers: ten thousand clients in one process.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_write_buffer_size(1 << 20);
    let (socket, _) = tokio_tungstenite::client_async_with_config(request, stream, Some(config))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    Ok(socket)
}

/// Client `n`: connects, then follows the phases until `Stop` (or until
/// the server closes the connection).
pub async fn client(
    n: usize,
    server: SocketAddr,
    key: String,
    mut phases: watch::Receiver<Phase>,
    steps: mpsc::UnboundedSender<Step>,
    connecting: &tokio::sync::Semaphore,
) -> Received {
    let mut received = Received::default();
    let socket = {
        let _turn = connecting.acquire().await;
        match connect(n, server, &key).await {
            Ok(socket) => socket,
            Err(e) => {
                let _ = steps.send(Step::Failed(e.clone()));
                received.dropped = Some(e);
                return received;
            }
        }
    };
    let _ = steps.send(Step::Connected);
    let mut follow = Follow {
        socket,
        steps,
        received,
        last_seq: None,
    };
    loop {
        tokio::select! {
            changed = phases.changed() => {
                if changed.is_err() {
                    return follow.close().await;
                }
                let phase = phases.borrow_and_update().clone();
                match phase {
                    Phase::Follow(run) => {
                        if let Err(e) = follow.subscribe(ws_wire::subscribe(Topic::Run, &run)).await {
                            return follow.fail(e);
                        }
                    }
                    Phase::Stop => return follow.close().await,
                    Phase::Idle | Phase::Measure { .. } => {}
                }
            }
            message = follow.socket.next() => {
                let window = match &*phases.borrow() {
                    Phase::Measure { from, to } => Some((*from, *to)),
                    _ => None,
                };
                match message {
                    Some(Ok(message)) => {
                        if let Err(e) = follow.read(message, window) {
                            return follow.fail(e);
                        }
                    }
                    Some(Err(e)) => return follow.fail(format!("read: {e}")),
                    None => return follow.fail("the server closed the connection".to_owned()),
                }
            }
        }
    }
}

/// A connected client's state.
struct Follow {
    socket: Socket,
    steps: mpsc::UnboundedSender<Step>,
    received: Received,
    last_seq: Option<u64>,
}

impl Follow {
    async fn subscribe(&mut self, message: ClientMessage) -> Result<(), String> {
        let text = serde_json::to_string(&message).map_err(|e| e.to_string())?;
        self.socket
            .send(Message::text(text))
            .await
            .map_err(|e| format!("send: {e}"))
    }

    /// Reads one frame: a batch of messages.
    fn read(&mut self, message: Message, window: Option<(u64, u64)>) -> Result<(), String> {
        let read_at = now_us();
        let text = match message {
            Message::Text(text) => text,
            Message::Close(frame) => {
                return Err(match frame {
                    Some(f) => format!("closed by the server: {} {}", f.code, f.reason),
                    None => "closed by the server".to_owned(),
                });
            }
            // Pings are answered by the library; nothing else is expected.
            _ => return Ok(()),
        };
        let batch =
            ws_wire::items(&text).map_err(|e| format!("a frame that is not a batch: {e}"))?;
        for item in batch {
            match item {
                Item::Subscribed => {
                    let _ = self.steps.send(Step::Following);
                }
                Item::Trouble(what) => return Err(what),
                Item::RunEvent { seq, ts_ms } => {
                    if let Some(last) = self.last_seq {
                        if seq <= last {
                            return Err(format!("event {seq} came after event {last}"));
                        }
                        self.received.gaps += seq - last - 1;
                    }
                    self.last_seq = Some(seq);
                    match window {
                        Some((from, to)) if (from..to).contains(&ts_ms) => {
                            let latency = read_at.saturating_sub(ts_ms * 1000);
                            self.received
                                .latencies_us
                                .push(u32::try_from(latency).unwrap_or(u32::MAX));
                        }
                        Some((_, to)) if ts_ms >= to => self.received.after += 1,
                        _ => self.received.before += 1,
                    }
                }
                Item::Other => {}
            }
        }
        Ok(())
    }

    fn fail(mut self, why: String) -> Received {
        let _ = self.steps.send(Step::Failed(why.clone()));
        self.received.dropped = Some(why);
        self.received
    }

    async fn close(mut self) -> Received {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.socket.close(None)).await;
        self.received
    }
}

/// Now, in microseconds since the Unix epoch (the clock events' `ts` use).
pub fn now_us() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since.as_micros()).unwrap_or(u64::MAX)
}
