//! The API as a whole: the OpenAPI document against the routes that answer,
//! error bodies, keys and scopes, and the HTTP layers (request ids,
//! compression, body limits, timeouts).

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use reelgraph_server::serve::registry::Scope;
use reelgraph_server::serve::{AppState, Args, app};
use reqwest::Method;
use serde_json::{Value, json};
use support::{Answer, Server, expect_error, json};
use tower::ServiceExt;

/// Every operation of the document, as (method, path, required scope).
fn operations(document: &Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            let scope = operation["x-required-scope"].as_str().expect("a scope");
            out.push((method.to_uppercase(), path.clone(), scope.to_owned()));
        }
    }
    out.sort();
    out
}

/// A path of the document with its parameters filled in.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "no-such-thing"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn the_document_lists_exactly_the_registered_routes_and_each_answers() {
    let server = Server::start();
    let (status, document) = json(server.get("/v1/openapi.json").answer().await).await;
    assert_eq!(status, 200);
    assert_eq!(document["openapi"], "3.1.0");

    let registry = app::registry(Default::default());
    let mut registered: Vec<(String, String, String)> = registry
        .routes()
        .map(|r| {
            (
                r.method.to_string(),
                // The document spells a wildcard `{*path}` as `{path}`.
                r.path.replace("{*", "{"),
                r.scope.as_str().to_owned(),
            )
        })
        .collect();
    registered.sort();
    let documented = operations(&document);
    assert_eq!(documented, registered);
    assert!(
        documented
            .iter()
            .any(|(m, p, _)| m == "PATCH" && p == "/v1/canvases/{id}")
    );

    // Each documented route is routed: whatever it answers, it is not
    // "no such route" or "wrong method" (a typo in a path would be).
    for (method, path, _) in &documented {
        let method = Method::from_bytes(method.as_bytes()).expect("a method");
        let response = server
            .request(method.clone(), &concrete(path))
            .header("content-type", "application/json")
            .body("{}")
            .answer()
            .await;
        let status = response.status().as_u16();
        // Not every answer is JSON (`/metrics` is text); errors are.
        let text = response.text().await.expect("a body");
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let code = body["error"]["code"].as_str().unwrap_or("");
        assert!(
            code != "route_not_found" && code != "method_not_allowed" && status < 500,
            "{method} {path}: {status} {body}"
        );
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_get_json_errors() {
    let server = Server::start();
    let error = expect_error(
        server.get("/v1/nothing-here").answer().await,
        404,
        "route_not_found",
    )
    .await;
    assert!(
        error["message"]
            .as_str()
            .expect("a message")
            .contains("/v1/nothing-here")
    );
    let response = server.delete("/v1/openapi.json").answer().await;
    assert_eq!(response.headers()["allow"], "GET,HEAD");
    expect_error(response, 405, "method_not_allowed").await;
    // A path axum cannot read (bad percent-encoding) is JSON too.
    let response = server.get("/v1/canvases/%FF").answer().await;
    assert!(response.status().is_client_error());
    let (_, body) = json(response).await;
    assert!(body["error"]["code"].is_string(), "{body}");
}

#[tokio::test]
async fn every_route_but_public_ones_needs_a_valid_key() {
    let server = Server::start();
    let (_, document) = json(server.get("/v1/openapi.json").answer().await).await;
    let wrong = format!("rg_{}", "0".repeat(64));
    for (method, path, scope) in operations(&document) {
        if scope == "public" {
            continue;
        }
        let method = Method::from_bytes(method.as_bytes()).expect("a method");
        let url = server.url(&concrete(&path));
        let none = server.client.request(method.clone(), &url).answer().await;
        assert_eq!(none.headers()["www-authenticate"], "Bearer");
        expect_error(none, 401, "unauthorized").await;
        let bad = server
            .client
            .request(method.clone(), &url)
            .bearer_auth(&wrong)
            .answer()
            .await;
        expect_error(bad, 401, "unauthorized").await;
        let basic = server
            .client
            .request(method, &url)
            .header("authorization", format!("Basic {}", server.admin_key))
            .answer()
            .await;
        expect_error(basic, 401, "unauthorized").await;
    }
}

/// In-process: a key without a route's scope gets 403 naming the scope; a
/// revoked key 401.
#[tokio::test(flavor = "multi_thread")]
async fn scopes_and_revocation_are_enforced() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let state = AppState::open(Args::local(dir.path().to_owned())).expect("the state");
    let (reader, reader_secret) = state.keys.create("reader", &[Scope::Read]).expect("a key");
    let router = app(state.clone());
    let call = |method: &str, path: &str, body: &str| {
        Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {reader_secret}"))
            .header("content-type", "application/json")
            .body(Body::from(body.to_owned()))
            .expect("a request")
    };
    let read = router
        .clone()
        .oneshot(call("GET", "/v1/canvases", ""))
        .await
        .expect("an answer");
    assert_eq!(read.status(), StatusCode::OK);
    let write = router
        .clone()
        .oneshot(call("POST", "/v1/canvases", r#"{"name": "Film"}"#))
        .await
        .expect("an answer");
    assert_eq!(write.status(), StatusCode::FORBIDDEN);
    let body: Value = serde_json::from_slice(
        &axum::body::to_bytes(write.into_body(), 1 << 20)
            .await
            .expect("a body"),
    )
    .expect("JSON");
    assert_eq!(body["error"]["code"], "forbidden");
    assert_eq!(body["error"]["details"]["required_scope"], "write");
    assert_eq!(body["error"]["details"]["key_scopes"], json!(["read"]));

    assert!(matches!(
        state.keys.revoke(&reader.id),
        Ok(reelgraph_server::serve::auth::keys::Revoke::Revoked(_))
    ));
    let revoked = router
        .oneshot(call("GET", "/v1/canvases", ""))
        .await
        .expect("an answer");
    assert_eq!(revoked.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn request_ids_are_made_or_echoed() {
    let server = Server::start();
    let made = server.get("/v1/canvases").answer().await;
    let id = made.headers()["x-request-id"]
        .to_str()
        .expect("text")
        .to_owned();
    assert_eq!(id.len(), 36, "{id}");
    let echoed = server
        .get("/v1/nothing")
        .header("x-request-id", "trace-42")
        .answer()
        .await;
    assert_eq!(echoed.headers()["x-request-id"], "trace-42");
}

#[tokio::test]
async fn responses_are_compressed_when_asked() {
    let server = Server::start();
    for encoding in ["gzip", "br"] {
        let response = server
            .get("/v1/openapi.json")
            .header("accept-encoding", encoding)
            .answer()
            .await;
        assert_eq!(response.headers()["content-encoding"], encoding);
        let compressed = response.bytes().await.expect("a body");
        assert!(
            serde_json::from_slice::<Value>(&compressed).is_err(),
            "{encoding} body is plain JSON"
        );
    }
    let plain = server.get("/v1/openapi.json").answer().await;
    assert!(plain.headers().get("content-encoding").is_none());
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_413() {
    let server = Server::start_with(&["--body-limit", "1024"]);
    let name = "x".repeat(2000);
    let response = server
        .post("/v1/canvases")
        .json(&json!({"name": name}))
        .answer()
        .await;
    expect_error(response, 413, "payload_too_large").await;
    // Without a Content-Length (chunked), the limit holds as the body streams in.
    let chunks =
        futures_util::stream::iter((0..8).map(|_| Ok::<_, std::io::Error>(vec![b' '; 512])));
    let response = server
        .post("/v1/canvases")
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .answer()
        .await;
    expect_error(response, 413, "payload_too_large").await;
}

/// A client that sends its body too slowly (slowloris) is cut off with 408.
#[test]
fn slow_requests_time_out_with_408() {
    let server = Server::start_with(&["--request-timeout", "300ms"]);
    let address = server.base_url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("a timeout");
    write!(
        stream,
        "POST /v1/canvases HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"name\":",
        server.admin_key
    )
    .expect("writes");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"request_timeout\""), "{answer}");
}

/// A client that sends its headers too slowly is disconnected: it cannot
/// hold a connection open for long.
#[test]
fn slow_headers_are_cut_off() {
    let server = Server::start_with(&["--header-timeout", "300ms"]);
    let address = server.base_url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("a timeout");
    write!(stream, "GET /v1/canvases HTTP/1.1\r\nHost: {address}\r\n").expect("writes");
    let mut answer = Vec::new();
    // The server closes the connection (end of stream), long before the
    // client's own 20 s read timeout would end the wait with an error.
    let read = stream.read_to_end(&mut answer);
    assert!(read.is_ok(), "still connected: {read:?}");
}
