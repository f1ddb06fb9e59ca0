//! One WebSocket connection: a reader that handles the client's messages
//! and a writer that sends the frames the batch window could not send at
//! once, pings, and closes the connection (too slow, idle, shutdown, a
//! frame over the limit).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::StreamExt;
use futures_util::stream::SplitStream;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

use super::Shared;
use super::close;
use super::messages::{self, ClientMessage, ServerMessage, Topic};
use super::outbox::{Outbox, Pushed};
use super::sender::{Sender, Tried};
use super::topics;
use crate::serve::api_error::{ApiError, ApiResult};
use crate::serve::auth::Principal;
use crate::serve::encoded::{self, Encoded, Format, Outgoing};
use crate::serve::registry::Scope;
use crate::serve::state::AppState;

/// How long a closing handshake or a last message may take to go out.
const LAST_WORDS: Duration = Duration::from_secs(1);

/// What the tasks of one connection share.
#[derive(Debug)]
pub struct Client {
    /// `ws_` and a number, unique while the server runs.
    pub id: String,
    pub state: AppState,
    pub shared: Arc<Shared>,
    pub principal: Principal,
    pub format: Format,
    pub outbox: Outbox,
    /// The sending half, once the connection is upgraded.
    sender: OnceLock<Sender>,
    subscriptions: Mutex<HashMap<(Topic, String), JoinHandle<()>>>,
    /// When the client last sent anything (a pong too), in ms since `born`.
    heard: AtomicU64,
    born: Instant,
    /// Set by whoever decides the connection ends, with its close frame.
    closing: CancellationToken,
    close_frame: Mutex<Option<CloseFrame>>,
}

impl Client {
    pub fn new(
        state: AppState,
        shared: Arc<Shared>,
        principal: Principal,
        format: Format,
    ) -> Client {
        let queue = state.config.ws.ws_queue;
        let number = shared.opened.fetch_add(1, Ordering::Relaxed);
        Client {
            id: format!("ws_{number}"),
            state,
            shared,
            principal,
            format,
            outbox: Outbox::new(queue),
            sender: OnceLock::new(),
            subscriptions: Mutex::default(),
            heard: AtomicU64::new(0),
            born: Instant::now(),
            closing: CancellationToken::new(),
            close_frame: Mutex::new(None),
        }
    }

    /// Queues a message of the server; false when the client is too slow.
    pub fn send(self: &Arc<Self>, message: ServerMessage) -> bool {
        self.push(Arc::new(Encoded::new(message)))
    }

    /// Queues an item for the end of the window; false when the client is
    /// too slow.
    pub fn push(self: &Arc<Self>, item: Arc<dyn Outgoing>) -> bool {
        match self.outbox.push(item) {
            Pushed::First => {
                self.shared.window.send_after(self);
                true
            }
            Pushed::Queued => true,
            Pushed::Full => false,
        }
    }

    /// `forbidden` unless the key holds `scope`.
    pub fn require(&self, scope: Scope) -> ApiResult<()> {
        if self.principal.allows(scope) {
            return Ok(());
        }
        Err(ApiError::new(
            "forbidden",
            format!(
                "key `{}` may not do this: it needs the `{}` scope",
                self.principal.key_id,
                scope.as_str()
            ),
        )
        .with_details(serde_json::json!({
            "required_scope": scope,
            "key_scopes": self.principal.scopes,
        })))
    }

    /// At the end of a window: sends the queued messages as one frame if
    /// the socket takes it at once, else wakes the writer to send it.
    pub fn send_due(&self) {
        let sent = match self.sender.get() {
            Some(sender) if !self.outbox.is_too_slow() => {
                sender.try_send_frame(|| self.take_frame()) == Tried::Done
            }
            _ => false,
        };
        if !sent {
            self.outbox.writer().notify_one();
        }
    }

    /// The queued messages as one frame (counted as sent), `None` when
    /// nothing is queued.
    fn take_frame(&self) -> Option<Message> {
        let items = self.outbox.drain();
        if items.is_empty() {
            return None;
        }
        self.state.metrics.ws_frame_sent(items.len());
        Some(batch(self.format, &items))
    }

    /// Ends the connection with `code` (the first reason given wins).
    fn close(&self, code: u16, reason: &'static str) {
        let mut frame = self
            .close_frame
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if frame.is_none() {
            *frame = Some(CloseFrame {
                code,
                reason: Utf8Bytes::from_static(reason),
            });
        }
        drop(frame);
        self.closing.cancel();
    }

    fn hear(&self) {
        let ms = u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.heard.store(ms, Ordering::Relaxed);
    }

    fn silent_for(&self) -> Duration {
        self.born
            .elapsed()
            .saturating_sub(Duration::from_millis(self.heard.load(Ordering::Relaxed)))
    }

    fn stop_all(&self) {
        let subscriptions = std::mem::take(
            &mut *self
                .subscriptions
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for ((topic, id), task) in subscriptions {
            task.abort();
            if topic == Topic::Canvas {
                self.shared.presence.leave(&id, self);
            }
        }
    }
}

/// Serves `socket` until it closes.
pub async fn run(socket: WebSocket, client: Arc<Client>) {
    let (sink, stream) = socket.split();
    // Set once, here: the connection's only sending half.
    let _ = client.sender.set(Sender::new(sink));
    // The reader is a task of its own. In the writer's task, every frame
    // sent would poll it too, and each poll readies a read buffer.
    let mut reader = AbortOnDropHandle::new(tokio::spawn(read(stream, client.clone())));
    let writer = write(client.clone());
    tokio::pin!(writer);
    tokio::select! {
        () = &mut writer => {
            // The close frame went out: wait a moment for the client's, so
            // the socket is not reset under frames it has still to read.
            let _ = tokio::time::timeout(LAST_WORDS, &mut reader).await;
        }
        _ = &mut reader => {
            // The client closed (or broke) the connection: say goodbye.
            client.close(close::NORMAL, "");
            let _ = tokio::time::timeout(LAST_WORDS, writer).await;
        }
    }
    client.stop_all();
}

async fn read(mut stream: SplitStream<WebSocket>, client: Arc<Client>) {
    while let Some(message) = stream.next().await {
        client.hear();
        let frame = match message {
            Ok(Message::Text(text)) => axum::body::Bytes::from(text),
            Ok(Message::Binary(bytes)) => bytes,
            Ok(Message::Close(_)) => return,
            Ok(Message::Ping(_) | Message::Pong(_)) => continue,
            Err(e) => {
                tracing::debug!("WebSocket read ended: {e}");
                if is_too_big(&e) {
                    client.state.metrics.ws_client_dropped("frame_too_large");
                    client.close(close::TOO_BIG, "frame_too_large");
                }
                return;
            }
        };
        match messages::parse(client.format, &frame) {
            Ok(message) => handle(&client, message).await,
            Err((reference, error)) => {
                client.send(ServerMessage::error(reference, error));
            }
        }
    }
}

/// Whether tungstenite refused a frame over `--ws-max-frame`.
fn is_too_big(error: &axum::Error) -> bool {
    use std::error::Error as _;
    let mut source = error.source();
    while let Some(e) = source {
        if let Some(tungstenite) = e.downcast_ref::<tokio_tungstenite::tungstenite::Error>() {
            return matches!(
                tungstenite,
                tokio_tungstenite::tungstenite::Error::Capacity(_)
            );
        }
        source = e.source();
    }
    false
}

/// A new subscription, unless the connection holds its limit already
/// (subscribing again to the same thing replaces, so it is never refused).
/// A run or task subscription that ended (its last event sent) no longer
/// counts; a canvas one counts until unsubscribed, as presence does.
async fn subscribe(
    client: &Arc<Client>,
    topic: Topic,
    id: &str,
    since: Option<u64>,
    reference: Option<String>,
) -> ApiResult<JoinHandle<()>> {
    let limit = client.state.config.ws.ws_max_subscriptions;
    {
        let mut subscriptions = client
            .subscriptions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let limit_len = usize::try_from(limit).unwrap_or(usize::MAX);
        if subscriptions.len() >= limit_len {
            subscriptions.retain(|(topic, _), task| *topic == Topic::Canvas || !task.is_finished());
        }
        if subscriptions.len() >= limit_len && !subscriptions.contains_key(&(topic, id.to_owned()))
        {
            return Err(ApiError::new(
                "too_many_subscriptions",
                format!("this connection holds {limit} subscriptions already, the most it may"),
            )
            .with_details(serde_json::json!({"limit": limit})));
        }
    }
    topics::subscribe(client, topic, id, since, reference).await
}

async fn handle(client: &Arc<Client>, message: ClientMessage) {
    match message {
        ClientMessage::Subscribe {
            reference,
            topic,
            id,
            since,
        } => match subscribe(client, topic, &id, since, reference.clone()).await {
            Ok(task) => {
                let mut subscriptions = client
                    .subscriptions
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                // Subscribing again starts over.
                if let Some(old) = subscriptions.insert((topic, id), task) {
                    old.abort();
                }
            }
            Err(error) => {
                client.send(ServerMessage::error(reference, error));
            }
        },
        ClientMessage::Unsubscribe {
            reference,
            topic,
            id,
        } => {
            let task = client
                .subscriptions
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&(topic, id.clone()));
            if let Some(task) = task {
                task.abort();
                if topic == Topic::Canvas {
                    client.shared.presence.leave(&id, client);
                }
            }
            client.send(ServerMessage::Unsubscribed {
                reference,
                topic,
                id,
            });
        }
        ClientMessage::Apply {
            reference,
            canvas,
            base_revision,
            ops,
        } => {
            let answer = match apply(client, &canvas, base_revision, ops).await {
                Ok(revision) => ServerMessage::Applied {
                    reference,
                    canvas,
                    revision,
                },
                Err(error) => ServerMessage::error(reference, error),
            };
            client.send(answer);
        }
    }
}

/// The same apply as `PATCH /v1/canvases/{id}`, on a task of its own: a
/// connection that closes meanwhile does not cut a store write short.
async fn apply(
    client: &Arc<Client>,
    canvas: &str,
    base_revision: u64,
    ops: Vec<reelgraph::Op>,
) -> ApiResult<u64> {
    client.require(Scope::Write)?;
    let state = client.state.clone();
    let canvas = canvas.to_owned();
    let task = tokio::spawn(async move {
        state
            .canvases
            .apply(&canvas, base_revision, ops)
            .await
            .map(|edit| edit.applied.revision)
    });
    match task.await {
        Ok(result) => Ok(result?),
        Err(e) => Err(ApiError::new(
            "server_error",
            format!("the edit failed: {e}"),
        )),
    }
}

async fn write(client: Arc<Client>) {
    let Some(sender) = client.sender.get() else {
        return;
    };
    let config = client.state.config.ws.clone();
    let metrics = client.state.metrics.clone();
    let shutdown = client.shared.shutdown.clone();
    let mut ping = tokio::time::interval(config.ws_ping_interval);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ping.tick().await;
    // Made once, not once a frame: every connection waits on the same
    // shutdown token, and each new wait would queue on its lock.
    let closing = client.closing.cancelled();
    let shutdown = shutdown.cancelled();
    tokio::pin!(closing, shutdown);
    loop {
        tokio::select! {
            () = client.outbox.due() => {}
            _ = ping.tick() => {
                if client.silent_for() >= config.ws_idle_timeout {
                    metrics.ws_client_dropped("idle");
                    client.close(close::IDLE, "idle_timeout");
                    continue;
                }
                if !send(&client, sender.send(Message::Ping(axum::body::Bytes::new()))).await {
                    return;
                }
                continue;
            }
            () = &mut closing => break,
            () = &mut shutdown => {
                client.close(close::GOING_AWAY, "server_shutting_down");
                break;
            }
        }
        if client.outbox.is_too_slow() {
            break;
        }
        if !send(&client, sender.flush(|| client.take_frame())).await {
            return;
        }
    }
    // What the window collected goes out before the close frame.
    if !client.outbox.is_too_slow() {
        let flushed = tokio::time::timeout(
            LAST_WORDS,
            send(&client, sender.flush(|| client.take_frame())),
        )
        .await;
        if !flushed.unwrap_or(false) {
            return;
        }
    }
    if client.outbox.is_too_slow() {
        metrics.ws_client_dropped("too_slow");
        let error = ApiError::new(
            "too_slow",
            format!(
                "more than {} messages waited for this connection: read faster, or subscribe to less",
                config.ws_queue
            ),
        );
        let last = [Arc::new(Encoded::new(ServerMessage::error(None, error))) as Arc<dyn Outgoing>];
        let frame = batch(client.format, &last);
        let _ = tokio::time::timeout(LAST_WORDS, sender.send(frame)).await;
        client.close(close::TOO_SLOW, "too_slow");
    }
    let frame = client
        .close_frame
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let _ = tokio::time::timeout(LAST_WORDS, sender.send(Message::Close(frame))).await;
    let _ = tokio::time::timeout(LAST_WORDS, sender.close()).await;
}

/// Waits for `sending`, giving up (false) when the connection broke or the
/// client is too slow meanwhile.
async fn send(client: &Client, sending: impl Future<Output = Result<(), axum::Error>>) -> bool {
    tokio::select! {
        sent = sending => sent.is_ok(),
        () = client.outbox.overflow() => true,
    }
}

fn batch(format: Format, items: &[Arc<dyn Outgoing>]) -> Message {
    let frame = encoded::batch(format, items);
    match format {
        Format::Json => match String::from_utf8(frame) {
            Ok(text) => Message::Text(text.into()),
            Err(e) => Message::Binary(e.into_bytes().into()),
        },
        Format::MsgPack => Message::Binary(frame.into()),
    }
}
