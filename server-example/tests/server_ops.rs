//! Operating the server: `/metrics` and the Grafana dashboard's names,
//! `/healthz` and `/readyz`, JSON logs with request ids, graceful shutdown
//! on SIGTERM, and clients that send a request head too slowly.

mod support;

use std::collections::BTreeSet;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Answer, Server, expect_error, json};

/// The value of the sample `series` (name and labels as rendered).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
}

async fn scrape(server: &Server) -> String {
    let response = server.client.get(server.url("/metrics")).answer().await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    response.text().await.expect("a body")
}

/// Polls the metrics until `done` holds (a connection closes on its own
/// task); panics after 10 s with the last scrape.
async fn scrape_until(server: &Server, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = scrape(server).await;
        if done(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "never came true:\n{text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status_and_time_the_store() {
    let server = Server::start();
    let ok = r#"reelgraph_http_requests_total{method="GET",route="/healthz",status="200"}"#;
    let missing =
        r#"reelgraph_http_requests_total{method="GET",route="/v1/canvases/{id}",status="404"}"#;
    let unmatched = r#"reelgraph_http_requests_total{method="GET",route="unmatched",status="404"}"#;
    let store_gets = r#"reelgraph_store_operation_duration_seconds_count{operation="get"}"#;
    let before = scrape(&server).await;
    let count = |text: &str, series| sample(text, series).unwrap_or(0.0);

    for _ in 0..3 {
        let response = server.client.get(server.url("/healthz")).send().await;
        assert_eq!(response.expect("an answer").status(), 200);
    }
    for path in ["/v1/canvases/no-such-canvas", "/no/such/route"] {
        let response = server.get(path).answer().await;
        assert_eq!(response.status(), 404);
    }
    let after = scrape(&server).await;

    assert_eq!(count(&after, ok) - count(&before, ok), 3.0, "{after}");
    assert_eq!(count(&after, missing) - count(&before, missing), 1.0);
    assert_eq!(count(&after, unmatched) - count(&before, unmatched), 1.0);
    // The id is not a label: no series names the canvas.
    assert!(!after.contains("no-such-canvas"), "{after}");
    let timed = r#"reelgraph_http_request_duration_seconds_count{method="GET",route="/healthz",status="200"}"#;
    assert_eq!(count(&after, timed) - count(&before, timed), 3.0);
    // The canvas that was not found was looked up in the store.
    assert!(
        count(&after, store_gets) > count(&before, store_gets),
        "{after}"
    );
    assert!(sample(&after, "reelgraph_process_resident_memory_bytes").is_some_and(|b| b > 0.0));
}

#[tokio::test]
async fn open_connections_are_counted_until_they_close() {
    let server = Server::start();
    let addr = server.base_url.trim_start_matches("http://").to_owned();
    let gauge = "reelgraph_http_open_connections";
    let idle = sample(&scrape(&server).await, gauge).expect("the gauge");

    let held: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(&addr).expect("a connection"))
        .collect();
    scrape_until(&server, |t| sample(t, gauge) == Some(idle + 3.0)).await;
    drop(held);
    scrape_until(&server, |t| sample(t, gauge) == Some(idle)).await;
}

/// Every name the scrape exposes: sample names, and for each family the
/// names its samples will have (a family with no sample yet still counts).
fn exposed_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines() {
        if let Some(family) = line.strip_prefix("# TYPE ") {
            let mut words = family.split_whitespace();
            let (Some(name), Some(kind)) = (words.next(), words.next()) else {
                continue;
            };
            let suffixes: &[&str] = match kind {
                "counter" => &["_total"],
                "histogram" => &["_bucket", "_sum", "_count"],
                _ => &[""],
            };
            names.extend(suffixes.iter().map(|s| format!("{name}{s}")));
        } else if !line.starts_with('#') {
            let name = line.split(['{', ' ']).next().unwrap_or("");
            names.insert(name.to_owned());
        }
    }
    names
}

/// Every `reelgraph_*` name the dashboard's queries use.
fn dashboard_names() -> BTreeSet<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/ops/grafana-dashboard.json"
    );
    let text = std::fs::read_to_string(path).expect("the dashboard");
    let dashboard: Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let mut exprs = Vec::new();
    collect_exprs(&dashboard, &mut exprs);
    assert!(
        exprs.len() >= 10,
        "the dashboard has {} queries",
        exprs.len()
    );
    exprs
        .iter()
        .flat_map(|e| e.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')))
        .filter(|word| word.starts_with("reelgraph_"))
        .map(str::to_owned)
        .collect()
}

fn collect_exprs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                match (key.as_str(), item) {
                    ("expr", Value::String(expr)) => out.push(expr.clone()),
                    _ => collect_exprs(item, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_exprs(item, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_dashboard_uses_only_metrics_the_server_exposes() {
    // A short lease: the queue's depth is refreshed by the lease reaper,
    // every quarter of a lease.
    let server = Server::start_with(&["--task-lease", "400ms"]);
    // A first request makes the series of requests, a submitted task those
    // of the task queue.
    scrape(&server).await;
    let (status, task) = json(
        server
            .post("/v1/tasks")
            .json(&serde_json::json!({"function": "image.generate"}))
            .answer()
            .await,
    )
    .await;
    assert_eq!(status, 201, "{task}");
    let mut exposed = exposed_names(&scrape(&server).await);
    for _ in 0..50 {
        if exposed.contains("reelgraph_queue_depth") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        exposed = exposed_names(&scrape(&server).await);
    }
    let used = dashboard_names();
    let missing: Vec<_> = used.difference(&exposed).collect();
    assert!(
        missing.is_empty(),
        "docs/ops/grafana-dashboard.json uses {missing:?}, which /metrics does not expose; it exposes {exposed:?}"
    );
    // Every family the server has is on the dashboard.
    let families: BTreeSet<_> = scrape(&server)
        .await
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect();
    for family in families {
        assert!(
            used.iter().any(|name| name.starts_with(&family)),
            "the dashboard shows nothing of {family}"
        );
    }
}

#[tokio::test]
async fn health_and_readiness_need_no_key() {
    let server = Server::start();
    for (path, status) in [("/healthz", "ok"), ("/readyz", "ready")] {
        let response = server.client.get(server.url(path)).send().await;
        let (code, body) = json(response.expect("an answer")).await;
        assert_eq!(
            (code, body["status"].as_str()),
            (200, Some(status)),
            "{path}"
        );
    }
}

#[tokio::test]
async fn readiness_fails_when_the_store_is_gone() {
    let server = Server::start();
    std::fs::remove_dir_all(server.data_dir()).expect("the data directory is removed");

    let response = server.client.get(server.url("/readyz")).send().await;
    let error = expect_error(response.expect("an answer"), 503, "not_ready").await;
    assert!(
        error["details"]["cause"]
            .as_str()
            .is_some_and(|c| c.contains("canvases.sqlite")),
        "{error}"
    );
    // Alive all the same.
    let response = server.client.get(server.url("/healthz")).send().await;
    assert_eq!(response.expect("an answer").status(), 200);
}

#[tokio::test]
async fn logs_are_json_lines_with_the_request_id_and_no_key() {
    let server = Server::start();
    let response = server
        .get("/v1/canvases/no-such-canvas")
        .header("x-request-id", "ops-test-request-1")
        .header("cookie", "session=secret-cookie-value")
        .answer()
        .await;
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["x-request-id"], "ops-test-request-1");

    // The line is written as the response goes out: wait for it.
    let deadline = Instant::now() + Duration::from_secs(10);
    let log = loop {
        let log = server.log();
        if log.contains("ops-test-request-1") || Instant::now() > deadline {
            break log;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let answered = lines
        .iter()
        .find(|l| l["span"]["request_id"] == "ops-test-request-1")
        .unwrap_or_else(|| panic!("no line of the request in:\n{log}"));
    assert_eq!(answered["fields"]["status"], 404, "{answered}");
    assert_eq!(answered["span"]["route"], "/v1/canvases/{id}", "{answered}");
    assert!(!log.contains(&server.admin_key), "the key is in the log");
    assert!(
        !log.contains("secret-cookie-value"),
        "the cookie is in the log"
    );
}

#[tokio::test]
async fn logs_are_plain_text_when_asked() {
    let server = Server::start_with(&["--log-format", "text"]);
    let response = server
        .client
        .get(server.url("/healthz"))
        .header("x-request-id", "ops-test-request-2")
        .answer()
        .await;
    assert_eq!(response.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.log().contains("ops-test-request-2") {
        assert!(
            Instant::now() < deadline,
            "no line of the request:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let line = server
        .log()
        .lines()
        .find(|l| l.contains("ops-test-request-2"))
        .map(str::to_owned)
        .expect("the line");
    assert!(serde_json::from_str::<Value>(&line).is_err(), "{line}");
    assert!(line.contains("status=200"), "{line}");
}

fn addr_of(server: &Server) -> String {
    server.base_url.trim_start_matches("http://").to_owned()
}

/// SIGTERM while a request's body is still on its way: the server stops
/// accepting, finishes that request, and exits 0 with the canvas stored.
#[tokio::test]
async fn sigterm_lets_a_request_in_flight_finish() {
    let mut server = Server::start();
    let addr = addr_of(&server);
    let body = br#"{"id": "late", "name": "Created during shutdown"}"#;
    let mut stream = TcpStream::connect(&addr).expect("a connection");
    write!(
        stream,
        "POST /v1/canvases HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        server.admin_key,
        body.len()
    )
    .expect("the head is sent");
    stream.write_all(&body[..10]).expect("half a body");
    stream.flush().expect("flushed");
    // Another connection answered after this one was opened: the accept
    // loop took this one first (the backlog is first in, first out), and
    // its head was read meanwhile.
    let response = server.client.get(server.url("/healthz")).send().await;
    assert_eq!(response.expect("an answer").status(), 200);

    let pid = server.child().id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status();
    assert!(killed.expect("kill runs").success());
    // New connections are refused once the server stops accepting.
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(&addr).is_ok() {
        assert!(
            Instant::now() < deadline,
            "still accepting 10 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    stream.write_all(&body[10..]).expect("the rest of the body");
    let mut answer = String::new();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("a timeout");
    stream.read_to_string(&mut answer).expect("the answer");
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");

    let status = server.child().wait().expect("the server exits");
    assert!(
        status.success(),
        "exit status {status}; log:\n{}",
        server.log()
    );
    assert!(
        server.log().contains("every request in flight finished"),
        "{}",
        server.log()
    );

    server.restart();
    let response = server.get("/v1/canvases/late").send().await;
    assert_eq!(response.expect("an answer").status(), 200);
}

/// A client that trickles its request head (slowloris) has its connection
/// closed once the header timeout passes, however long it keeps sending.
#[test]
fn a_request_head_sent_too_slowly_is_cut_off() {
    let server = Server::start_with(&["--header-timeout", "500ms"]);
    let mut stream = TcpStream::connect(addr_of(&server)).expect("a connection");
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("a timeout");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: slow\r\n")
        .expect("the first line");
    // One header line every 100 ms, for at most 20 s.
    for n in 0..200 {
        let mut buf = [0_u8; 256];
        match stream.read(&mut buf) {
            // Closed, or told it took too long: either way, cut off.
            Ok(_) => return,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
        if write!(stream, "X-Slow-{n}: 1\r\n").is_err() {
            return;
        }
    }
    panic!("the server held a connection with an unfinished head for 20 s");
}
