//! One WebSocket client of `/v1/ws` in the `ws-fanout` scenario: it
//! connects from a local address of its own, subscribes when the scenario
//! says so, and for every run event it receives records the delivery
//! latency, from the event's `ts` to the moment its frame was read.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::net::TcpSocket;
use tokio::sync::{mpsc, watch};

use reelgraph_server::serve::ws::close;
use reelgraph_server::serve::ws::messages::{ClientMessage, Topic};

use crate::ws_frames::{Connection, opcode};
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

/// Opens the TCP connection and makes the WebSocket handshake with the
/// JSON subprotocol and the API key.
pub async fn connect(n: usize, server: SocketAddr, key: &str) -> Result<Connection, String> {
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
    let seed = n as u64 ^ now_us();
    Connection::handshake(
        stream,
        &server.to_string(),
        "/v1/ws",
        SUBPROTOCOL,
        key,
        seed,
    )
    .await
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
    let connection = {
        let _turn = connecting.acquire().await;
        match connect(n, server, &key).await {
            Ok(connection) => connection,
            Err(e) => {
                let _ = steps.send(Step::Failed(e.clone()));
                received.dropped = Some(e);
                return received;
            }
        }
    };
    let _ = steps.send(Step::Connected);
    let mut follow = Follow {
        connection,
        steps,
        received,
        last_seq: None,
        window: None,
    };
    loop {
        // The phase's future lives as long as the phase, not one frame:
        // frames are what every client reads many times a second.
        let changed = {
            let changed = phases.changed();
            tokio::pin!(changed);
            loop {
                tokio::select! {
                    biased;
                    changed = &mut changed => break changed,
                    read = follow.connection.read_more() => match read {
                        Ok(true) => {
                            if let Err(e) = follow.take_frames().await {
                                return follow.fail(e);
                            }
                        }
                        Ok(false) => return follow.fail("the server closed the connection".to_owned()),
                        Err(e) => return follow.fail(format!("read: {e}")),
                    },
                }
            }
        };
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
            Phase::Measure { from, to } => follow.window = Some((from, to)),
            Phase::Stop => return follow.close().await,
            Phase::Idle => {}
        }
    }
}

/// A connected client's state.
struct Follow {
    connection: Connection,
    steps: mpsc::UnboundedSender<Step>,
    received: Received,
    last_seq: Option<u64>,
    /// The measuring window, once it is set.
    window: Option<(u64, u64)>,
}

impl Follow {
    async fn subscribe(&mut self, message: ClientMessage) -> Result<(), String> {
        let text = serde_json::to_string(&message).map_err(|e| e.to_string())?;
        self.connection
            .send(opcode::TEXT, text.as_bytes())
            .await
            .map_err(|e| format!("send: {e}"))
    }

    /// Takes every whole frame read so far: a batch of messages each, and
    /// pings to answer.
    async fn take_frames(&mut self) -> Result<(), String> {
        let read_at = now_us();
        loop {
            let Some((frame, len)) = self.connection.frame()? else {
                return Ok(());
            };
            match frame.opcode {
                opcode::TEXT => {
                    let text = std::str::from_utf8(frame.payload)
                        .map_err(|_| "a text frame that is not UTF-8".to_owned())?;
                    let batch = ws_wire::items(text)
                        .map_err(|e| format!("a frame that is not a batch: {e}"))?;
                    self.connection.consume(len);
                    self.read(batch, read_at)?;
                }
                opcode::PING => {
                    let payload = frame.payload.to_vec();
                    self.connection.consume(len);
                    self.connection
                        .send(opcode::PONG, &payload)
                        .await
                        .map_err(|e| format!("send: {e}"))?;
                }
                opcode::CLOSE => return Err(frame.close_reason()),
                // Nothing else is expected; a pong is harmless.
                _ => self.connection.consume(len),
            }
        }
    }

    /// Reads one frame's batch of messages, read at `read_at`.
    fn read(&mut self, batch: Vec<Item>, read_at: u64) -> Result<(), String> {
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
                    match self.window {
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

    /// Sends a normal close and waits (a little) for the server's.
    async fn close(mut self) -> Received {
        let closing = async {
            self.connection
                .send(opcode::CLOSE, &close::NORMAL.to_be_bytes())
                .await?;
            while self.connection.read_more().await? {
                while let Ok(Some((frame, len))) = self.connection.frame() {
                    if frame.opcode == opcode::CLOSE {
                        return Ok(());
                    }
                    self.connection.consume(len);
                }
            }
            Ok::<(), std::io::Error>(())
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), closing).await;
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
