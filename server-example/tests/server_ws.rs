//! `/v1/ws` against the real server process: a run's events in order as
//! JSON and as MessagePack, replay with `since`, two editors converging on
//! one canvas, PATCH reaching subscribers, a slow client dropped while a
//! fast one keeps up, the handshake's auth and subprotocols, pings and the
//! idle timeout, shutdown, and the bad input the issue names.

mod support;

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use support::{Answer, Server, expect_error, json};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The demo canvas every server makes at its first start.
const DEMO: &str = "the-last-lighthouse";

/// Short windows and timeouts, so tests wait little.
const FAST: &[&str] = &["--ws-batch-window", "10ms", "--durability", "process-crash"];

/// How long a test waits for one frame.
const PATIENCE: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Copy, PartialEq)]
enum Format {
    Json,
    MsgPack,
}

/// The handshake request with these headers.
fn request(server: &Server, headers: &[(&str, &str)]) -> Request {
    let url = format!("{}/v1/ws", server.base_url.replacen("http://", "ws://", 1));
    let mut request = url.into_client_request().expect("a request");
    for (name, value) in headers {
        request.headers_mut().insert(
            header_name(name),
            HeaderValue::from_str(value).expect("a header value"),
        );
    }
    request
}

/// The handshake with these headers; the client or the HTTP answer.
async fn handshake(server: &Server, headers: &[(&str, &str)]) -> Result<Ws, WsError> {
    tokio_tungstenite::connect_async(request(server, headers))
        .await
        .map(|(ws, _)| ws)
}

fn header_name(name: &str) -> tokio_tungstenite::tungstenite::http::HeaderName {
    name.parse().expect("a header name")
}

/// A client and the messages it read but no one looked at yet.
struct Conn {
    ws: Ws,
    format: Format,
    pending: VecDeque<Value>,
    /// Every message read so far.
    seen: Vec<Value>,
}

/// A client with `key` speaking `format`.
async fn open(server: &Server, key: &str, format: Format) -> Conn {
    let bearer = format!("Bearer {key}");
    let protocol = match format {
        Format::Json => "reelgraph.json.v1",
        Format::MsgPack => "reelgraph.msgpack.v1",
    };
    let ws = handshake(
        server,
        &[
            ("authorization", &bearer),
            ("sec-websocket-protocol", protocol),
        ],
    )
    .await
    .expect("the handshake succeeds");
    Conn::new(ws, format)
}

impl Conn {
    fn new(ws: Ws, format: Format) -> Conn {
        Conn {
            ws,
            format,
            pending: VecDeque::new(),
            seen: Vec::new(),
        }
    }

    async fn send(&mut self, message: &Value) {
        let frame = match self.format {
            Format::Json => Message::text(message.to_string()),
            Format::MsgPack => {
                Message::binary(rmp_serde::to_vec_named(message).expect("MessagePack"))
            }
        };
        self.ws.send(frame).await.expect("sent");
    }

    /// The next batch, or the close code when the connection closed
    /// (`None`: without a close frame).
    async fn batch(&mut self) -> Result<Vec<Value>, Option<u16>> {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("a frame in time");
            let message = match message {
                Some(Ok(message)) => message,
                Some(Err(_)) | None => return Err(None),
            };
            let items: Vec<Value> = match (message, self.format) {
                (Message::Text(text), Format::Json) => {
                    serde_json::from_str(&text).expect("a JSON array")
                }
                (Message::Binary(bytes), Format::MsgPack) => {
                    rmp_serde::from_slice(&bytes).expect("a MessagePack array")
                }
                (Message::Close(frame), _) => return Err(frame.map(|f| u16::from(f.code))),
                (Message::Ping(_) | Message::Pong(_), _) => continue,
                (other, _) => panic!("a frame of the other format: {other:?}"),
            };
            assert!(!items.is_empty(), "an empty batch");
            return Ok(items);
        }
    }

    /// The next message.
    async fn next(&mut self) -> Result<Value, Option<u16>> {
        while self.pending.is_empty() {
            let items = self.batch().await?;
            self.pending.extend(items);
        }
        let message = self.pending.pop_front().expect("a message");
        self.seen.push(message.clone());
        Ok(message)
    }

    /// Messages until one matches `stop` (included).
    async fn until(&mut self, stop: impl Fn(&Value) -> bool) -> Vec<Value> {
        let mut read = Vec::new();
        loop {
            let message = match self.next().await {
                Ok(message) => message,
                Err(code) => panic!("closed ({code:?}) before the awaited message; read: {read:?}"),
            };
            let done = stop(&message);
            read.push(message);
            if done {
                return read;
            }
        }
    }

    /// Reads to the end; the close code.
    async fn closed(&mut self) -> Option<u16> {
        loop {
            if let Err(code) = self.next().await {
                return code;
            }
        }
    }

    /// The `canvas_changed` events read so far.
    fn changes(&self) -> Vec<Value> {
        self.seen
            .iter()
            .filter(|m| m["type"] == "canvas_changed")
            .cloned()
            .collect()
    }
}

fn is(kind: &'static str) -> impl Fn(&Value) -> bool {
    move |m| m["type"] == kind
}

fn ends_run(m: &Value) -> bool {
    matches!(
        m["type"].as_str(),
        Some("run_completed" | "run_failed" | "run_cancelled")
    )
}

/// Starts a run of the demo canvas; returns its id.
async fn start_run(server: &Server) -> String {
    let response = server
        .post(&format!("/v1/canvases/{DEMO}/runs"))
        .json(&json!({"quality": "draft", "targets": ["img_1a"]}))
        .answer()
        .await;
    let (status, run) = json(response).await;
    assert_eq!(status, 202, "{run}");
    run["run_id"].as_str().expect("a run id").to_owned()
}

async fn new_canvas(server: &Server, id: &str) {
    let response = server
        .post("/v1/canvases")
        .json(&json!({"id": id, "name": id}))
        .answer()
        .await;
    assert_eq!(response.status(), 201);
}

/// A new key with these scopes: its secret.
async fn key(server: &Server, scopes: &[&str]) -> String {
    let response = server
        .post("/v1/keys")
        .json(&json!({"name": "ws", "scopes": scopes}))
        .answer()
        .await;
    let (status, body) = json(response).await;
    assert_eq!(status, 201, "{body}");
    body["key"].as_str().expect("a key").to_owned()
}

fn shot(id: &str) -> Value {
    json!({"op": "add_node", "id": id, "type": "shot", "properties": {"prompt": id}})
}

fn only_run_events(messages: &[Value]) -> Vec<Value> {
    messages
        .iter()
        .filter(|m| m.get("run_id").is_some())
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_run_s_events_arrive_in_order_and_alike_in_json_and_msgpack() {
    let server = Server::start_with(FAST);
    let mut text = open(&server, &server.admin_key, Format::Json).await;
    let mut binary = open(&server, &server.admin_key, Format::MsgPack).await;
    let run = start_run(&server).await;
    let subscribe = json!({"type": "subscribe", "ref": "r", "topic": "run", "id": run});
    text.send(&subscribe).await;
    binary.send(&subscribe).await;

    // Both read at once: a client that reads nothing is closed as idle.
    let (from_text, from_binary) = tokio::join!(text.until(ends_run), binary.until(ends_run));
    assert_eq!(
        from_text[0],
        json!({"type": "subscribed", "ref": "r", "topic": "run", "id": run})
    );
    let events = only_run_events(&from_text);
    let seqs: Vec<u64> = events
        .iter()
        .map(|e| e["seq"].as_u64().expect("a seq"))
        .collect();
    assert_eq!(seqs, (0..seqs.len() as u64).collect::<Vec<_>>());
    assert_eq!(events[0]["type"], "run_started");
    assert_eq!(
        events.last().map(|e| &e["type"]),
        Some(&json!("run_completed"))
    );
    assert!(events.iter().any(|e| e["type"] == "node_progress"));
    // The same content, whatever the format.
    assert_eq!(from_text, from_binary);

    // A client that reconnects with the last seq it saw gets the rest.
    drop(text);
    let mut again = open(&server, &server.admin_key, Format::Json).await;
    let seen = 4;
    again
        .send(&json!({"type": "subscribe", "topic": "run", "id": run, "since": seen}))
        .await;
    let rest = only_run_events(&again.until(ends_run).await);
    assert_eq!(rest, events[seen as usize + 1..]);
}

#[tokio::test]
async fn two_editors_converge_and_a_patch_reaches_both() {
    let server = Server::start_with(FAST);
    new_canvas(&server, "reel").await;
    let mut alice = open(&server, &server.admin_key, Format::Json).await;
    let mut bob = open(&server, &server.admin_key, Format::MsgPack).await;
    for editor in [&mut alice, &mut bob] {
        editor
            .send(&json!({"type": "subscribe", "topic": "canvas", "id": "reel"}))
            .await;
        let subscribed = editor.until(is("subscribed")).await;
        assert_eq!(subscribed.last().map(|m| &m["revision"]), Some(&json!(0)));
    }

    // Alice's first presence names her; Bob's names them both; Alice is
    // told Bob came.
    let alice_alone = alice.until(is("presence")).await;
    let bob_sees = bob.until(is("presence")).await;
    let alice_sees = alice.until(is("presence")).await;
    let (alice_alone, bob_sees, alice_sees) = (
        alice_alone.last().expect("presence"),
        bob_sees.last().expect("presence"),
        alice_sees.last().expect("presence"),
    );
    let alice_connection = &alice_alone["joined"][0]["connection"];
    let bob_connection = alice_sees["joined"][0]["connection"].clone();
    assert_eq!(alice_alone["joined"][0]["key"], "admin");
    assert_eq!(alice_alone["joined"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        (&alice_sees["joined"][0]["key"], &alice_sees["left"]),
        (&json!("admin"), &json!([]))
    );
    assert_ne!(&bob_connection, alice_connection);
    let mut everyone: Vec<&Value> = bob_sees["joined"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|entry| &entry["connection"])
        .collect();
    everyone.sort_by_key(|c| c.to_string());
    let mut expected = vec![alice_connection, &bob_connection];
    expected.sort_by_key(|c| c.to_string());
    assert_eq!(everyone, expected);

    // Both edit revision 0: one wins, the other is told, nothing is merged.
    let apply = |who: &str, base: u64| json!({"type": "apply", "ref": who, "canvas": "reel", "base_revision": base, "ops": [shot(who)]});
    alice.send(&apply("alice", 0)).await;
    let answer = alice.until(|m| m["ref"] == "alice").await;
    assert_eq!(
        answer.last(),
        Some(&json!({"type": "applied", "ref": "alice", "canvas": "reel", "revision": 1}))
    );
    bob.send(&apply("bob", 0)).await;
    let refused = bob.until(|m| m["ref"] == "bob").await;
    let refused = refused.last().expect("an answer");
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["error"]["code"], "conflict");
    assert_eq!(refused["error"]["details"]["current"], 1);
    // Bob applies again on what he has now.
    bob.send(&apply("bob", 1)).await;
    let answer = bob.until(|m| m["ref"] == "bob").await;
    assert_eq!(answer.last().map(|m| &m["revision"]), Some(&json!(2)));

    // And an edit over HTTP reaches them both.
    let response = server
        .patch("/v1/canvases/reel")
        .header("if-match", "2")
        .json(&json!({"ops": [shot("carol")]}))
        .answer()
        .await;
    assert_eq!(response.status(), 200);

    for editor in [&mut alice, &mut bob] {
        editor
            .until(|m| m["type"] == "canvas_changed" && m["revision"] == 3)
            .await;
        let changes = editor.changes();
        let seqs: Vec<&Value> = changes.iter().map(|c| &c["seq"]).collect();
        assert_eq!(seqs, [&json!(1), &json!(2), &json!(3)]);
        let added: Vec<&Value> = changes.iter().map(|c| &c["ops"][0]["id"]).collect();
        assert_eq!(added, [&json!("alice"), &json!("bob"), &json!("carol")]);
    }
    assert_eq!(alice.changes(), bob.changes());
    let (_, canvas) = json(server.get("/v1/canvases/reel").answer().await).await;
    assert_eq!(canvas["revision"], 3);
    assert_eq!(canvas["nodes"].as_array().map(Vec::len), Some(3));

    // Bob goes; Alice is told.
    drop(bob);
    let left = alice
        .until(|m| m["type"] == "presence" && m["left"] != json!([]))
        .await;
    assert_eq!(
        left.last().map(|m| (&m["left"], &m["joined"])),
        Some((&json!([bob_connection]), &json!([])))
    );

    // A client back after revision 1 gets the changes it missed.
    let mut late = open(&server, &server.admin_key, Format::Json).await;
    late.send(&json!({"type": "subscribe", "topic": "canvas", "id": "reel", "since": 1}))
        .await;
    late.until(|m| m["seq"] == 3).await;
    assert_eq!(late.changes(), alice.changes()[1..]);

    // Changes the server no longer holds (the demo canvas was made before
    // this start): the client is told to read the canvas again.
    late.send(&json!({"type": "subscribe", "topic": "canvas", "id": DEMO, "since": 0}))
        .await;
    let resync = late.until(is("resync")).await;
    assert_eq!(
        resync.last().map(|m| (&m["topic"], &m["id"])),
        Some((&json!("canvas"), &json!(DEMO)))
    );
}

/// The connection ids a `presence` message adds and removes.
fn presence_change(message: &Value) -> (Vec<String>, Vec<String>) {
    let ids = |list: &Value, field: Option<&str>| -> Vec<String> {
        list.as_array()
            .expect("a list")
            .iter()
            .map(|entry| field.map_or(entry, |f| &entry[f]))
            .map(|id| id.as_str().expect("a connection id").to_owned())
            .collect()
    };
    (
        ids(&message["joined"], Some("connection")),
        ids(&message["left"], None),
    )
}

/// Reads frames until `conn` knows `count` connections on the canvas;
/// returns how many `presence` messages that took. Nobody is announced
/// twice, and nobody leaves who had not joined.
async fn presence_until(
    conn: &mut Conn,
    here: &mut std::collections::BTreeSet<String>,
    count: usize,
) -> usize {
    let mut messages = 0;
    while here.len() != count {
        let frame = conn.batch().await.expect("a frame");
        for message in frame.iter().filter(|m| m["type"] == "presence") {
            messages += 1;
            let (joined, left) = presence_change(message);
            for id in joined {
                assert!(here.insert(id.clone()), "{id} joined twice");
            }
            for id in left {
                assert!(here.remove(&id), "{id} left without having joined");
            }
        }
    }
    messages
}

#[tokio::test]
async fn presence_is_batched_per_window_beyond_sixty_four_connections() {
    const CLIENTS: usize = 100;
    const LEAVING: usize = 10;
    let server = Server::start_with(FAST);
    new_canvas(&server, "crowd").await;
    let mut conns = Vec::new();
    for _ in 0..CLIENTS {
        conns.push(open(&server, &server.admin_key, Format::Json).await);
    }
    // All at once: many joins fall into one window.
    for conn in &mut conns {
        conn.send(&json!({"type": "subscribe", "topic": "canvas", "id": "crowd"}))
            .await;
    }
    let mut views = Vec::new();
    let mut messages = Vec::new();
    for conn in &mut conns {
        let mut here = std::collections::BTreeSet::new();
        messages.push(presence_until(conn, &mut here, CLIENTS).await);
        views.push(here);
    }
    // One message per join would tell the first subscriber of all 100
    // in 100 messages; joins that share a window share a message.
    assert!(messages[0] < CLIENTS, "{messages:?}");
    assert!(
        views.iter().all(|here| *here == views[0]),
        "everyone sees the same crowd"
    );

    // Ten leave at once; the others are told, and of no one else.
    let leaving: Vec<Conn> = conns.drain(..LEAVING).collect();
    drop(leaving);
    let mut first_view = None;
    for (conn, mut here) in conns.iter_mut().zip(views.drain(LEAVING..)) {
        presence_until(conn, &mut here, CLIENTS - LEAVING).await;
        assert_eq!(first_view.get_or_insert_with(|| here.clone()), &here);
    }
    let remaining = first_view.expect("a view");
    let gone: Vec<&String> = views[0].difference(&remaining).collect();
    assert_eq!(gone.len(), LEAVING);
}

#[tokio::test]
async fn a_message_after_a_quiet_spell_goes_out_at_once_and_the_next_ones_wait_a_window() {
    // A long window: "at once" and "a window later" are seconds apart.
    const WINDOW: Duration = Duration::from_secs(4);
    const AT_ONCE: Duration = Duration::from_millis(2500);
    let server = Server::start_with(&["--ws-batch-window", "4s"]);
    new_canvas(&server, "quiet").await;
    let mut conn = open(&server, &server.admin_key, Format::Json).await;
    let patch = |revision: u64| {
        server
            .patch("/v1/canvases/quiet")
            .header("if-match", revision.to_string())
            .json(&json!({"ops": [shot(&format!("s{revision}"))]}))
            .answer()
    };

    // No window closed yet: the answer to `subscribe` goes out at once.
    conn.send(&json!({"type": "subscribe", "topic": "canvas", "id": "quiet"}))
        .await;
    let first = tokio::time::timeout(AT_ONCE, conn.batch())
        .await
        .expect("the first frame at once, not a window later")
        .expect("a frame");
    assert_eq!(first[0]["type"], "subscribed", "{first:?}");
    // The join's presence, in that frame or the next window's.
    if !first.iter().any(is("presence")) {
        conn.until(is("presence")).await;
    }

    // A window just closed: five edits now collect until the next one
    // closes, and go out as one frame.
    for revision in 0..5 {
        assert_eq!(patch(revision).await.status(), 200);
    }
    let together = conn.batch().await.expect("a frame");
    let revisions: Vec<&Value> = together.iter().map(|m| &m["revision"]).collect();
    assert_eq!(revisions, [1, 2, 3, 4, 5], "{together:?}");

    // Quiet for longer than a window: the next edit goes out at once.
    tokio::time::sleep(WINDOW + Duration::from_millis(500)).await;
    assert_eq!(patch(5).await.status(), 200);
    let alone = tokio::time::timeout(AT_ONCE, conn.batch())
        .await
        .expect("an edit after a quiet spell at once")
        .expect("a frame");
    let revisions: Vec<&Value> = alone.iter().map(|m| &m["revision"]).collect();
    assert_eq!(revisions, [6], "{alone:?}");
}

/// Whether the server dropped a client as too slow.
async fn dropped_too_slow(server: &Server) -> bool {
    let metrics = server
        .get("/metrics")
        .answer()
        .await
        .text()
        .await
        .expect("text");
    metrics.contains("reelgraph_ws_clients_dropped_total{reason=\"too_slow\"} 1")
}

#[tokio::test]
async fn a_slow_client_is_dropped_while_a_fast_one_keeps_up() {
    let server = Server::start_with(&[
        "--ws-batch-window",
        "5ms",
        "--ws-queue",
        "8",
        "--durability",
        "process-crash",
    ]);
    new_canvas(&server, "big").await;
    // A small receive buffer: a client that reads nothing fills it soon.
    let addr = server
        .base_url
        .trim_start_matches("http://")
        .parse()
        .expect("an address");
    let socket = TcpSocket::new_v4().expect("a socket");
    socket.set_recv_buffer_size(4096).expect("a buffer size");
    let stream = socket.connect(addr).await.expect("connected");
    let bearer = format!("Bearer {}", server.admin_key);
    let (ws, _) = tokio_tungstenite::client_async(
        request(&server, &[("authorization", &bearer)]),
        MaybeTlsStream::Plain(stream),
    )
    .await
    .expect("the handshake succeeds");
    let mut slow = Conn::new(ws, Format::Json);
    let mut fast = open(&server, &server.admin_key, Format::Json).await;
    let subscribe = json!({"type": "subscribe", "topic": "canvas", "id": "big"});
    for client in [&mut slow, &mut fast] {
        client.send(&subscribe).await;
        client.until(is("subscribed")).await;
    }

    // `fast` reads every change until told how many there were.
    let (total, mut told) = watch::channel(u64::MAX);
    let reader = tokio::spawn(async move {
        while (fast.changes().len() as u64) < *told.borrow() {
            tokio::select! {
                message = fast.next() => {
                    let message = message.expect("fast stays open");
                    assert_ne!(message["type"], "error", "{message}");
                }
                _ = told.changed() => {}
            }
        }
        fast.changes()
    });
    // Big changes, until the server dropped `slow`, which reads nothing.
    let prompt = "x".repeat(60_000);
    let mut ops = vec![shot("s")];
    let mut edits = 0;
    while edits < 400 && !(edits % 10 == 0 && edits > 0 && dropped_too_slow(&server).await) {
        ops.push(json!({"op": "set_properties", "id": "s", "properties": {"prompt": format!("{edits}{prompt}")}}));
        let response = server
            .patch("/v1/canvases/big")
            .header("if-match", edits.to_string())
            .json(&json!({ "ops": ops }))
            .answer()
            .await;
        assert_eq!(response.status(), 200, "{:?}", response.text().await);
        ops.clear();
        edits += 1;
    }
    assert!(dropped_too_slow(&server).await, "slow was never dropped");
    total.send(edits).expect("the reader listens");
    let changes = reader.await.expect("the fast reader");
    let seqs: Vec<u64> = changes
        .iter()
        .map(|m| m["seq"].as_u64().expect("a seq"))
        .collect();
    assert_eq!(seqs, (1..=edits).collect::<Vec<_>>(), "fast missed nothing");

    // `slow` gets what was sent before it was dropped, then the end: a
    // `too_slow` error and close 4008 when the buffers let them through.
    let end = slow.closed().await;
    assert!(matches!(end, None | Some(4008)), "{end:?}");
    assert!((slow.changes().len() as u64) < edits, "slow got everything");
    let errors: Vec<&Value> = slow.seen.iter().filter(|m| m["type"] == "error").collect();
    assert!(
        errors.iter().all(|m| m["error"]["code"] == "too_slow"),
        "{errors:?}"
    );
}

#[tokio::test]
async fn the_handshake_needs_a_key_or_a_cookie_from_an_allowed_origin() {
    let server = Server::start_with(&["--allowed-origin", "http://editor.test"]);
    let refused = |result: Result<Ws, WsError>| match result {
        Err(WsError::Http(response)) => {
            let body: Value =
                serde_json::from_slice(response.body().as_deref().unwrap_or_default())
                    .expect("a JSON error");
            (response.status().as_u16(), body["error"]["code"].clone())
        }
        Err(e) => panic!("not an HTTP refusal: {e}"),
        Ok(_) => panic!("the handshake succeeded"),
    };
    assert_eq!(
        refused(handshake(&server, &[]).await),
        (401, json!("unauthorized"))
    );
    // A key that may not read may not subscribe to anything.
    let runner = key(&server, &["run"]).await;
    let bearer = format!("Bearer {runner}");
    assert_eq!(
        refused(handshake(&server, &[("authorization", &bearer)]).await),
        (403, json!("forbidden"))
    );

    let response = server
        .client
        .post(server.url("/v1/session"))
        .json(&json!({"key": server.admin_key}))
        .answer()
        .await;
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .expect("text")
        .split(';')
        .next()
        .expect("name=value")
        .to_owned();
    assert_eq!(
        refused(handshake(&server, &[("cookie", &cookie)]).await),
        (403, json!("csrf_failed"))
    );
    let foreign = [("cookie", cookie.as_str()), ("origin", "http://evil.test")];
    assert_eq!(
        refused(handshake(&server, &foreign).await),
        (403, json!("csrf_failed"))
    );
    let own = server.base_url.clone();
    for origin in [own.as_str(), "http://editor.test"] {
        let ws = handshake(&server, &[("cookie", &cookie), ("origin", origin)])
            .await
            .expect("an allowed origin");
        let mut client = Conn::new(ws, Format::Json);
        client
            .send(&json!({"type": "subscribe", "topic": "canvas", "id": DEMO}))
            .await;
        client.until(is("subscribed")).await;
    }

    // Subprotocols: an unknown one alone is refused; a known one is chosen.
    let bearer = format!("Bearer {}", server.admin_key);
    let unknown = [
        ("authorization", bearer.as_str()),
        ("sec-websocket-protocol", "chat.v2"),
    ];
    assert_eq!(
        refused(handshake(&server, &unknown).await),
        (400, json!("unsupported_subprotocol"))
    );
    let among = [
        ("authorization", bearer.as_str()),
        ("sec-websocket-protocol", "chat.v2, reelgraph.msgpack.v1"),
    ];
    let ws = handshake(&server, &among)
        .await
        .expect("a known subprotocol among others");
    let mut client = Conn::new(ws, Format::MsgPack);
    client
        .send(&json!({"type": "subscribe", "topic": "canvas", "id": DEMO}))
        .await;
    client.until(is("subscribed")).await;
    // Not a WebSocket request at all.
    expect_error(server.get("/v1/ws").answer().await, 426, "upgrade_required").await;
}

#[tokio::test]
async fn bad_messages_get_errors_and_the_connection_stays_usable() {
    let server = Server::start_with(&["--ws-batch-window", "10ms", "--ws-max-frame", "4096"]);
    let reader = key(&server, &["read"]).await;
    let mut client = open(&server, &reader, Format::Json).await;
    let code = |m: &Value| m["error"]["code"].as_str().map(str::to_owned);

    let apply = json!({"type": "apply", "ref": "1", "canvas": DEMO, "base_revision": 0, "ops": [shot("z")]});
    let cases = [
        (
            r#"{"type": "dance", "ref": "1"}"#.to_owned(),
            "unknown_message_type",
        ),
        ("{not json".to_owned(), "invalid_message"),
        (r#"{"ref": "1"}"#.to_owned(), "invalid_message"),
        (
            r#"{"type": "subscribe", "ref": "1", "topic": "film", "id": "x"}"#.to_owned(),
            "invalid_message",
        ),
        (
            r#"{"type": "subscribe", "ref": "1", "topic": "run", "id": "x", "colour": 1}"#
                .to_owned(),
            "invalid_message",
        ),
        (
            r#"{"type": "subscribe", "ref": "1", "topic": "run", "id": "nope"}"#.to_owned(),
            "not_found",
        ),
        (
            r#"{"type": "subscribe", "ref": "1", "topic": "canvas", "id": "nope"}"#.to_owned(),
            "not_found",
        ),
        // A read-only key may not edit.
        (apply.to_string(), "forbidden"),
    ];
    for (frame, expected) in cases {
        client
            .ws
            .send(Message::text(frame.clone()))
            .await
            .expect("sent");
        let answer = client.until(is("error")).await;
        let answer = answer.last().expect("an error");
        assert_eq!(code(answer).as_deref(), Some(expected), "{frame}: {answer}");
        assert!(
            answer["error"]["hint"]
                .as_str()
                .is_some_and(|h| !h.is_empty())
        );
    }
    // Still usable.
    client
        .send(&json!({"type": "subscribe", "ref": "ok", "topic": "canvas", "id": DEMO}))
        .await;
    client.until(is("subscribed")).await;

    let mut binary = open(&server, &reader, Format::MsgPack).await;
    binary
        .ws
        .send(Message::binary(vec![0xc1, 0x00]))
        .await
        .expect("sent");
    let answer = binary.until(is("error")).await;
    assert_eq!(code(&answer[0]).as_deref(), Some("invalid_message"));
    binary.send(&json!({"type": "dance"})).await;
    let answer = binary.until(is("error")).await;
    assert_eq!(code(&answer[0]).as_deref(), Some("unknown_message_type"));

    // A frame over --ws-max-frame closes the connection with 1009.
    client
        .ws
        .send(Message::text("x".repeat(5000)))
        .await
        .expect("sent");
    assert_eq!(client.closed().await, Some(u16::from(CloseCode::Size)));
}

#[tokio::test]
async fn a_connection_holds_at_most_its_limit_of_subscriptions() {
    let server = Server::start_with(&["--ws-batch-window", "10ms", "--ws-max-subscriptions", "2"]);
    new_canvas(&server, "second").await;
    new_canvas(&server, "third").await;
    let reader = key(&server, &["read"]).await;
    let mut client = open(&server, &reader, Format::Json).await;
    let subscribe = |id: &str| json!({"type": "subscribe", "ref": id, "topic": "canvas", "id": id});
    for id in [DEMO, "second"] {
        client.send(&subscribe(id)).await;
        client.until(is("subscribed")).await;
    }
    client.send(&subscribe("third")).await;
    let answer = client.until(is("error")).await;
    let error = &answer.last().expect("an error")["error"];
    assert_eq!(error["code"], "too_many_subscriptions", "{error}");
    assert_eq!(error["details"]["limit"], 2, "{error}");
    assert!(
        error["hint"]
            .as_str()
            .is_some_and(|h| h.contains("unsubscribe")),
        "{error}"
    );
    // Subscribing again to one held replaces it; after an unsubscribe
    // there is room again.
    client.send(&subscribe("second")).await;
    client.until(is("subscribed")).await;
    client
        .send(&json!({"type": "unsubscribe", "topic": "canvas", "id": "second"}))
        .await;
    client.until(is("unsubscribed")).await;
    client.send(&subscribe("third")).await;
    let answer = client.until(is("subscribed")).await;
    assert_eq!(answer.last().expect("an answer")["id"], "third");
}

#[tokio::test]
async fn a_silent_client_is_closed_and_shutdown_says_going_away() {
    let mut server =
        Server::start_with(&["--ws-ping-interval", "50ms", "--ws-idle-timeout", "300ms"]);
    let mut silent = open(&server, &server.admin_key, Format::Json).await;
    let mut awake = open(&server, &server.admin_key, Format::Json).await;
    // `awake` reads (and so answers pings) for a while; `silent` does not.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(800);
    while let Ok(message) = tokio::time::timeout_at(deadline, awake.ws.next()).await {
        assert!(matches!(message, Some(Ok(Message::Ping(_)))), "{message:?}");
    }
    assert_eq!(silent.closed().await, Some(4000));

    let pid = server.child().id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    assert_eq!(awake.closed().await, Some(1001));
    let status = server.child().wait().expect("the server exits");
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn a_task_s_events_arrive_in_order_and_alike_in_json_and_msgpack() {
    let server = Server::start_with(FAST);
    let post = |path: String, body: Value| {
        let request = server.post(&path).json(&body);
        async move { request.json_answer().await }
    };
    let (_, task) = post("/v1/tasks".into(), json!({"function": "image.generate"})).await;
    let id = task["id"].as_str().expect("a task id").to_owned();
    let mut text = open(&server, &server.admin_key, Format::Json).await;
    let mut binary = open(&server, &server.admin_key, Format::MsgPack).await;
    let subscribe = json!({"type": "subscribe", "ref": "t", "topic": "task", "id": id});
    text.send(&subscribe).await;
    binary.send(&subscribe).await;
    let (first, _) = tokio::join!(
        text.until(is("task_queued")),
        binary.until(is("task_queued"))
    );
    assert_eq!(
        first[0],
        json!({"type": "subscribed", "ref": "t", "topic": "task", "id": id})
    );

    let (_, claimed) = post(
        "/v1/workers/claim".into(),
        json!({"worker": "w1", "functions": ["image.generate"]}),
    )
    .await;
    let lease = claimed["tasks"][0]["lease"].as_str().expect("a lease");
    let leases = format!("/v1/workers/leases/{lease}");
    post(format!("{leases}/progress"), json!({"progress": 0.5})).await;
    let (status, _) = post(
        format!("{leases}/complete"),
        json!({"outputs": {"image": "a.png"}}),
    )
    .await;
    assert_eq!(status, 200);

    let (from_text, from_binary) = tokio::join!(
        text.until(is("task_completed")),
        binary.until(is("task_completed"))
    );
    assert_eq!(from_text, from_binary);
    let kinds: Vec<&Value> = from_text.iter().map(|m| &m["type"]).collect();
    assert_eq!(
        kinds,
        [
            &json!("task_leased"),
            &json!("task_progress"),
            &json!("task_completed")
        ]
    );
    let seqs: Vec<&Value> = from_text.iter().map(|m| &m["seq"]).collect();
    assert_eq!(seqs, [&json!(1), &json!(2), &json!(3)]);

    // After the end: a replay from `since`, and an unknown task refused.
    text.send(&json!({"type": "subscribe", "topic": "task", "id": id, "since": 1}))
        .await;
    let replay = text.until(is("task_completed")).await;
    assert_eq!(replay[1..], from_text[1..]);
    text.send(&json!({"type": "subscribe", "ref": "x", "topic": "task", "id": "tk_nope"}))
        .await;
    let refused = text.until(is("error")).await;
    assert_eq!(
        refused.last().map(|m| &m["error"]["code"]),
        Some(&json!("not_found"))
    );
}

/// A node type that reports progress `steps` times, `interval_ms` apart
/// (the demo function `demo.pace`): a run that lasts while followers come
/// and go.
const PACE_TYPE: &str = r#"{
    "type": "ws_pace",
    "category": "test",
    "title": "Paced progress",
    "description": "Reports progress steps times, interval_ms apart.",
    "inputs": [],
    "outputs": [{"name": "done", "type": "any"}],
    "properties": [
        {"name": "steps", "type": "integer", "default": 40, "min": 1, "max": 1000},
        {"name": "interval_ms", "type": "integer", "default": 25, "min": 1, "max": 1000}
    ],
    "task": {
        "function": "demo.pace",
        "params": {"steps": {"property": "steps"}, "interval_ms": {"property": "interval_ms"}}
    }
}"#;

/// Starts a run of one paced node (about a second of progress events).
async fn start_paced_run(server: &Server) -> String {
    let registered = server
        .post("/v1/node-types")
        .header("content-type", "application/json")
        .body(PACE_TYPE)
        .answer()
        .await;
    assert_eq!(registered.status(), 201);
    new_canvas(server, "paced").await;
    let node = json!({"op": "add_node", "id": "pace", "type": "ws_pace"});
    let patched = server
        .patch("/v1/canvases/paced")
        .header("if-match", "0")
        .json(&json!({"ops": [node]}))
        .answer()
        .await;
    assert_eq!(patched.status(), 200);
    let response = server
        .post("/v1/canvases/paced/runs")
        .json(&json!({"force": "all"}))
        .answer()
        .await;
    let (status, run) = json(response).await;
    assert_eq!(status, 202, "{run}");
    run["run_id"].as_str().expect("a run id").to_owned()
}

/// The `seq` of each run event in `messages`.
fn seqs(messages: &[Value]) -> Vec<u64> {
    only_run_events(messages)
        .iter()
        .map(|m| m["seq"].as_u64().expect("a seq"))
        .collect()
}

/// `seqs` run on by one from `first`, with no gap and no repeat.
fn assert_unbroken(seqs: &[u64], first: u64, who: &str) {
    let expected: Vec<u64> = (first..first + seqs.len() as u64).collect();
    assert_eq!(
        seqs, expected,
        "{who}: events out of order, repeated or missing"
    );
}

/// A run's live followers share one reader of its events. Each still gets
/// every event once and in order from where it asked: the first follower,
/// a late one that replays from the start, one that asks for the events
/// after a `seq`, and one that leaves and comes back after the last event
/// it saw.
#[tokio::test]
async fn followers_that_join_a_live_run_at_different_points_each_get_every_event_once() {
    let server = Server::start_with(FAST);
    let run = start_paced_run(&server).await;
    let subscribe = |reference: &str, since: Option<u64>| {
        let mut message = json!({"type": "subscribe", "ref": reference, "topic": "run", "id": run});
        if let Some(since) = since {
            message["since"] = json!(since);
        }
        message
    };
    let mut first = open(&server, &server.admin_key, Format::Json).await;
    first.send(&subscribe("first", None)).await;
    // Well into the run before the others come.
    let mut seen = Vec::new();
    while seqs(&seen).len() < 6 {
        seen.push(first.next().await.expect("an event"));
    }
    let since = seqs(&seen)[3];
    let mut late = open(&server, &server.admin_key, Format::MsgPack).await;
    late.send(&subscribe("late", None)).await;
    let mut after = open(&server, &server.admin_key, Format::Json).await;
    after.send(&subscribe("after", Some(since))).await;
    let mut returning = open(&server, &server.admin_key, Format::Json).await;
    returning.send(&subscribe("back", None)).await;
    let mut before_leaving = Vec::new();
    while seqs(&before_leaving).len() < 8 {
        before_leaving.push(returning.next().await.expect("an event"));
    }
    let unsubscribe = json!({"type": "unsubscribe", "topic": "run", "id": run});
    returning.send(&unsubscribe).await;
    // Whatever was queued before the unsubscribe still arrives.
    before_leaving.extend(returning.until(is("unsubscribed")).await);
    let last_seen = *seqs(&before_leaving).last().expect("events before leaving");
    returning.send(&subscribe("back", Some(last_seen))).await;

    let (rest_first, from_late, from_after, back) = tokio::join!(
        first.until(ends_run),
        late.until(ends_run),
        after.until(ends_run),
        returning.until(ends_run),
    );
    seen.extend(rest_first);
    let all = seqs(&seen);
    assert_unbroken(&all, all[0], "the first follower");
    assert!(all.len() > 40, "every progress event: {}", all.len());
    assert_unbroken(&seqs(&from_late), all[0], "the late follower");
    assert_unbroken(&seqs(&from_after), since + 1, "the follower after a seq");
    let mut returned = seqs(&before_leaving);
    returned.extend(seqs(&back));
    assert_unbroken(&returned, all[0], "the follower that came back");
    // The same events, whatever the format.
    assert_eq!(only_run_events(&from_late), only_run_events(&seen));
    assert_eq!(
        only_run_events(&from_after),
        only_run_events(&seen)[usize::try_from(since + 1 - all[0]).expect("an index")..]
    );
}
