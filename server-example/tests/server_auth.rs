//! Security over the real server process: keys and scopes on every route,
//! the keys CLI and admin routes, browser sessions with CSRF, rate limits
//! and the security headers.

mod support;

use std::path::Path;
use std::process::Command;

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};
use support::{Answer, Server, expect_error, json};

/// A request without any credentials.
fn bare(server: &Server, method: Method, path: &str) -> RequestBuilder {
    server.client.request(method, server.url(path))
}

/// Every operation of the OpenAPI document: (method, concrete path, scope).
async fn operations(server: &Server) -> Vec<(Method, String, String)> {
    let (status, document) = json(server.get("/v1/openapi.json").answer().await).await;
    assert_eq!(status, 200);
    let mut out = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        let concrete: Vec<&str> = path
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    "no-such-thing"
                } else {
                    segment
                }
            })
            .collect();
        for (method, operation) in item.as_object().expect("a path item") {
            let scope = operation["x-required-scope"].as_str().expect("a scope");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("a method");
            out.push((method, concrete.join("/"), scope.to_owned()));
        }
    }
    out
}

/// The request of one operation, with a JSON body where it may take one
/// (the scope is checked before the body is read).
fn call(server: &Server, method: &Method, path: &str, secret: Option<&str>) -> RequestBuilder {
    let mut request = bare(server, method.clone(), path);
    if let Some(secret) = secret {
        request = request.bearer_auth(secret);
    }
    if matches!(*method, Method::POST | Method::PUT | Method::PATCH) {
        request = request.json(&json!({})).header("if-match", "0");
    }
    request
}

async fn error_code(response: Response) -> (u16, Option<String>, Option<HeaderValue>) {
    let challenge = response.headers().get("www-authenticate").cloned();
    let status = response.status().as_u16();
    let text = response.text().await.expect("a body");
    let code = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|body| body["error"]["code"].as_str().map(str::to_owned));
    (status, code, challenge)
}

#[tokio::test]
async fn every_route_needs_a_valid_key_but_public_ones() {
    let server = Server::start();
    let (revoked_id, revoked) = server.key("gone", &["read", "write", "run"]).await;
    let response = server
        .delete(&format!("/v1/keys/{revoked_id}"))
        .answer()
        .await;
    assert_eq!(response.status(), 200);
    let wrong = format!("rg_{}", "0".repeat(64));

    let operations = operations(&server).await;
    assert!(operations.len() >= 10, "{operations:?}");
    for (method, path, scope) in &operations {
        let what = format!("{method} {path}");
        if scope == "public" {
            // The session routes read the key or cookie themselves (tested below).
            if path == "/v1/session" {
                continue;
            }
            let (status, code, _) =
                error_code(call(&server, method, path, None).answer().await).await;
            assert!(
                status != 401 && code.as_deref() != Some("unauthorized"),
                "{what} is public: {status}"
            );
            continue;
        }
        for secret in [
            None,
            Some("not a key"),
            Some(wrong.as_str()),
            Some(revoked.as_str()),
        ] {
            let (status, code, challenge) =
                error_code(call(&server, method, path, secret).answer().await).await;
            assert_eq!(
                (status, code.as_deref()),
                (401, Some("unauthorized")),
                "{what} with {secret:?}"
            );
            assert_eq!(
                challenge.as_ref().map(|v| v.as_bytes()),
                Some(&b"Bearer"[..]),
                "{what}"
            );
        }
    }
    // A key header that is not `Bearer` is refused the same way.
    let response = bare(&server, Method::GET, "/v1/canvases")
        .header("authorization", format!("Basic {revoked}"))
        .answer()
        .await;
    expect_error(response, 401, "unauthorized").await;
}

#[tokio::test]
async fn each_scope_reaches_its_routes_and_no_others() {
    let server = Server::start();
    let mut keys = Vec::new();
    for scope in ["read", "write", "run", "admin"] {
        keys.push((scope, server.key(scope, &[scope]).await.1));
    }
    let operations = operations(&server).await;
    for family in ["read", "write", "admin"] {
        assert!(
            operations.iter().any(|(_, _, scope)| scope == family),
            "no `{family}` route in {operations:?}"
        );
    }
    for (method, path, needed) in operations.iter().filter(|(_, _, scope)| scope != "public") {
        for (scope, secret) in &keys {
            let (status, code, _) =
                error_code(call(&server, method, path, Some(secret)).answer().await).await;
            let what =
                format!("{method} {path} (needs {needed}) with a `{scope}` key: {status} {code:?}");
            if scope == needed {
                assert!(
                    !matches!(code.as_deref(), Some("forbidden" | "unauthorized")),
                    "{what}"
                );
            } else {
                assert_eq!(
                    (status, code.as_deref()),
                    (403, Some("forbidden")),
                    "{what}"
                );
            }
        }
    }
    // The refusal names the scope that was missing.
    let (_, read) = &keys[0];
    let response = bare(&server, Method::GET, "/v1/keys")
        .bearer_auth(read)
        .answer()
        .await;
    let error = expect_error(response, 403, "forbidden").await;
    assert_eq!(error["details"]["required_scope"], "admin");
}

#[tokio::test]
async fn admin_routes_create_list_and_revoke_keys() {
    let server = Server::start();
    let (id, secret) = server.key("ci", &["read", "run"]).await;
    assert!(secret.starts_with("rg_") && secret.len() == 67, "{secret}");
    let response = bare(&server, Method::GET, "/v1/canvases")
        .bearer_auth(&secret)
        .answer()
        .await;
    assert_eq!(response.status(), 200);

    // Pages, oldest first; never a secret or a hash.
    let (status, first) = json(server.get("/v1/keys?limit=1").answer().await).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["items"][0]["name"], "admin");
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let (_, second) = json(
        server
            .get(&format!("/v1/keys?cursor={cursor}"))
            .answer()
            .await,
    )
    .await;
    let listed = &second["items"][0];
    assert_eq!(
        (listed["id"].as_str(), &listed["scopes"]),
        (Some(id.as_str()), &json!(["read", "run"]))
    );
    assert!(listed["last_used_at"].is_string(), "{listed}");
    assert!(
        listed.get("key").is_none() && listed.get("hash").is_none(),
        "{listed}"
    );
    assert_eq!(second["next_cursor"], Value::Null);
    let response = server.get("/v1/keys?cursor=zz").answer().await;
    expect_error(response, 400, "invalid_cursor").await;

    // Bad bodies.
    for (body, status, code) in [
        (
            json!({"name": "x", "scopes": ["root"]}),
            422,
            "invalid_body",
        ),
        (json!({"name": "x", "scopes": []}), 422, "invalid_field"),
        (
            json!({"name": "x", "scopes": ["public"]}),
            422,
            "invalid_field",
        ),
        (
            json!({"name": "", "scopes": ["read"]}),
            422,
            "invalid_field",
        ),
        (
            json!({"name": "x", "scopes": ["read"], "expires": 1}),
            422,
            "unknown_field",
        ),
    ] {
        let response = server.post("/v1/keys").json(&body).answer().await;
        expect_error(response, status, code).await;
    }

    // Revoking: the key stops at once; unknown ids; the last admin key stays.
    let (status, revoked) = json(server.delete(&format!("/v1/keys/{id}")).answer().await).await;
    assert_eq!(status, 200);
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
    let response = bare(&server, Method::GET, "/v1/canvases")
        .bearer_auth(&secret)
        .answer()
        .await;
    expect_error(response, 401, "unauthorized").await;
    let response = server
        .delete("/v1/keys/key_0000000000000000")
        .answer()
        .await;
    expect_error(response, 404, "not_found").await;
    let (_, keys) = server.get("/v1/keys").json_answer().await;
    let admin_id = keys["items"][0]["id"]
        .as_str()
        .expect("the admin key")
        .to_owned();
    let response = server
        .delete(&format!("/v1/keys/{admin_id}"))
        .answer()
        .await;
    expect_error(response, 409, "last_admin_key").await;

    // With a second admin key, the first may go.
    let (_, second_admin) = server.key("admin 2", &["admin"]).await;
    let response = bare(&server, Method::DELETE, &format!("/v1/keys/{admin_id}"))
        .bearer_auth(&second_admin)
        .answer()
        .await;
    assert_eq!(response.status(), 200);

    // No secret is stored or logged in clear.
    for secret in [&secret, &second_admin] {
        assert_not_in_files(&server.data_dir(), secret);
        assert!(
            !server.log().contains(secret.as_str()),
            "a key is in the log"
        );
    }
}

fn assert_not_in_files(dir: &Path, secret: &str) {
    for entry in std::fs::read_dir(dir).expect("the data directory") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            assert_not_in_files(&path, secret);
        } else {
            let bytes = std::fs::read(&path).expect("a file");
            let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
            assert!(!found, "the key is in clear in {}", path.display());
        }
    }
}

/// `reelgraph keys ...` on a data directory: (exit code, stdout, stderr).
fn keys_cli(data_dir: &Path, args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_reelgraph"))
        .arg("keys")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("REELGRAPH_DATA_DIR")
        .output()
        .expect("the binary runs");
    (
        output.status.code().expect("an exit code"),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_keys_command_manages_the_keys_of_a_data_directory() {
    let mut server = Server::start();
    let dir = server.data_dir();

    let (code, out, err) = keys_cli(&dir, &["create", "--name", "ci", "--scope", "read,run"]);
    assert_eq!(code, 0, "{err}");
    let secret = out
        .lines()
        .find(|l| l.starts_with("rg_"))
        .expect("the key is printed")
        .to_owned();
    let id = out
        .split_whitespace()
        .find(|w| w.starts_with("key_"))
        .expect("the id is printed")
        .to_owned();
    // A running server takes the new key at once.
    let response = bare(&server, Method::GET, "/v1/canvases")
        .bearer_auth(&secret)
        .answer()
        .await;
    assert_eq!(response.status(), 200);
    let response = bare(&server, Method::POST, "/v1/canvases")
        .bearer_auth(&secret)
        .json(&json!({"name": "x"}))
        .answer()
        .await;
    expect_error(response, 403, "forbidden").await;

    let (code, out, _) = keys_cli(&dir, &["list"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("ID"), "{out}");
    let line = out
        .lines()
        .find(|l| l.contains(&id))
        .expect("the new key is listed");
    assert!(line.contains("ci") && line.contains("read,run"), "{line}");
    assert!(!out.contains("rg_"), "a list shows no secret: {out}");
    let (code, out, _) = keys_cli(&dir, &["list", "--json"]);
    assert_eq!(code, 0);
    let listed: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");

    // Refusals: exit 2 with the error's code.
    let (code, _, err) = keys_cli(&dir, &["create", "--name", "x", "--scope", "root"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not a scope"), "{err}");
    let (code, _, err) = keys_cli(&dir, &["revoke", "key_0000000000000000"]);
    assert_eq!(code, 2);
    assert!(err.contains("error[not_found]"), "{err}");
    let admin_id = listed[0]["id"].as_str().expect("the admin key's id");
    let (code, _, err) = keys_cli(&dir, &["revoke", admin_id]);
    assert_eq!(code, 2);
    assert!(
        err.contains("error[conflict]") && err.contains("last admin key"),
        "{err}"
    );
    let (code, _, err) = keys_cli(&dir.join("missing"), &["list"]);
    assert_eq!(code, 2);
    assert!(err.contains("error[io]"), "{err}");

    // Revoked with the server stopped, refused after the restart.
    server.stop();
    let (code, out, err) = keys_cli(&dir, &["revoke", &id]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("revoked {id}")), "{out}");
    server.restart();
    let response = bare(&server, Method::GET, "/v1/canvases")
        .bearer_auth(&secret)
        .answer()
        .await;
    expect_error(response, 401, "unauthorized").await;
    let (_, out, _) = keys_cli(&dir, &["list"]);
    let line = out.lines().find(|l| l.contains(&id)).expect("still listed");
    assert!(
        line.trim_end().ends_with('Z'),
        "a revoked key shows when: {line}"
    );
}

/// A session: (cookie pair for the `Cookie` header, CSRF token, the `Set-Cookie` value).
async fn session(server: &Server, secret: &str) -> (String, String, String) {
    let response = bare(server, Method::POST, "/v1/session")
        .json(&json!({"key": secret}))
        .answer()
        .await;
    let set_cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("a cookie")
        .to_owned();
    let (status, body) = json(response).await;
    assert_eq!(status, 201, "{body}");
    let pair = set_cookie.split(';').next().expect("name=value").to_owned();
    (
        pair,
        body["csrf_token"].as_str().expect("a token").to_owned(),
        set_cookie,
    )
}

fn with_cookie(server: &Server, method: Method, path: &str, cookie: &str) -> RequestBuilder {
    bare(server, method, path).header("cookie", cookie)
}

#[tokio::test]
async fn cookie_requests_that_change_state_need_the_token_and_the_origin() {
    let server = Server::start();
    let (_, secret) = server.key("editor", &["read", "write"]).await;
    let (cookie, token, set_cookie) = session(&server, &secret).await;
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"),
        "{set_cookie}"
    );
    assert!(!set_cookie.contains("Secure"), "plain HTTP: {set_cookie}");
    let origin = server.base_url.clone();

    // Reads need neither token nor origin.
    let response = with_cookie(&server, Method::GET, "/v1/canvases", &cookie)
        .answer()
        .await;
    assert_eq!(response.status(), 200);

    let create = |headers: &[(&str, &str)]| {
        let mut request =
            with_cookie(&server, Method::POST, "/v1/canvases", &cookie).json(&json!({"name": "x"}));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request
    };
    for (headers, reason) in [
        (vec![("origin", origin.as_str())], "missing_token"),
        (
            vec![
                ("origin", origin.as_str()),
                ("x-csrf-token", "not-the-token"),
            ],
            "wrong_token",
        ),
        (
            vec![
                ("origin", "http://evil.example"),
                ("x-csrf-token", token.as_str()),
            ],
            "foreign_origin",
        ),
        (vec![("x-csrf-token", token.as_str())], "missing_origin"),
        (
            vec![("origin", "null"), ("x-csrf-token", token.as_str())],
            "missing_origin",
        ),
    ] {
        let response = create(&headers).answer().await;
        let error = expect_error(response, 403, "csrf_failed").await;
        assert_eq!(error["details"]["reason"], reason, "{headers:?}");
    }
    let (_, page) = server.get("/v1/canvases").json_answer().await;
    let before = page["items"].as_array().map(Vec::len);

    // Right token and origin; or the Referer when there is no Origin.
    let response = create(&[("origin", &origin), ("x-csrf-token", &token)])
        .answer()
        .await;
    assert_eq!(response.status(), 201);
    let referer = format!("{origin}/editor/canvas?id=1");
    let response = create(&[("referer", &referer), ("x-csrf-token", &token)])
        .answer()
        .await;
    assert_eq!(response.status(), 201);
    let (_, page) = server.get("/v1/canvases").json_answer().await;
    assert_eq!(
        page["items"].as_array().map(Vec::len),
        before.map(|n| n + 2),
        "only the two good requests made one"
    );

    // Bearer requests need neither.
    let response = bare(&server, Method::POST, "/v1/canvases")
        .bearer_auth(&secret)
        .json(&json!({"name": "y"}))
        .answer()
        .await;
    assert_eq!(response.status(), 201);

    // A session has its key's scopes.
    let response = with_cookie(&server, Method::GET, "/v1/keys", &cookie)
        .answer()
        .await;
    expect_error(response, 403, "forbidden").await;

    // Ending the session needs the token too, then the cookie is dead.
    let response = with_cookie(&server, Method::DELETE, "/v1/session", &cookie)
        .header("origin", &origin)
        .answer()
        .await;
    expect_error(response, 403, "csrf_failed").await;
    let response = with_cookie(&server, Method::DELETE, "/v1/session", &cookie)
        .header("origin", &origin)
        .header("x-csrf-token", &token)
        .answer()
        .await;
    assert_eq!(response.status(), 204);
    let cleared = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let response = with_cookie(&server, Method::GET, "/v1/canvases", &cookie)
        .answer()
        .await;
    expect_error(response, 401, "unauthorized").await;
    // Ending it again clears the cookie all the same; without one there is nothing to end.
    let response = with_cookie(&server, Method::DELETE, "/v1/session", &cookie)
        .answer()
        .await;
    assert_eq!(response.status(), 204);
    let response = bare(&server, Method::DELETE, "/v1/session").answer().await;
    expect_error(response, 401, "unauthorized").await;
}

#[tokio::test]
async fn sessions_are_made_only_for_valid_keys_and_end_with_them() {
    let server = Server::start();
    let (id, secret) = server.key("viewer", &["read"]).await;
    // The key as a bearer header instead of a body.
    let response = bare(&server, Method::POST, "/v1/session")
        .bearer_auth(&secret)
        .answer()
        .await;
    assert_eq!(response.status(), 201);
    let (cookie, _, _) = session(&server, &secret).await;

    let response = bare(&server, Method::POST, "/v1/session")
        .json(&json!({"key": format!("rg_{}", "1".repeat(64))}))
        .answer()
        .await;
    expect_error(response, 401, "unauthorized").await;
    let response = bare(&server, Method::POST, "/v1/session")
        .json(&json!({"key": secret, "remember": true}))
        .answer()
        .await;
    expect_error(response, 422, "unknown_field").await;
    let response = bare(&server, Method::POST, "/v1/session")
        .body("key")
        .answer()
        .await;
    expect_error(response, 415, "unsupported_media_type").await;

    // Revoking the key ends its sessions, and no new one is made.
    let response = server.delete(&format!("/v1/keys/{id}")).answer().await;
    assert_eq!(response.status(), 200);
    let response = with_cookie(&server, Method::GET, "/v1/canvases", &cookie)
        .answer()
        .await;
    expect_error(response, 401, "unauthorized").await;
    let response = bare(&server, Method::POST, "/v1/session")
        .json(&json!({"key": secret}))
        .answer()
        .await;
    expect_error(response, 401, "unauthorized").await;
}

#[tokio::test]
async fn the_cookie_is_secure_behind_tls_and_other_origins_can_be_allowed() {
    let server = Server::start_with(&["--behind-tls", "--allowed-origin", "http://localhost:5173"]);
    let (_, secret) = server.key("editor", &["write"]).await;
    let (cookie, token, set_cookie) = session(&server, &secret).await;
    assert!(set_cookie.contains("; Secure"), "{set_cookie}");
    let response = with_cookie(&server, Method::POST, "/v1/canvases", &cookie)
        .header("origin", "http://localhost:5173")
        .header("x-csrf-token", &token)
        .json(&json!({"name": "x"}))
        .answer()
        .await;
    assert_eq!(response.status(), 201);
    let allowed = |response: &Response| {
        let get = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        (
            get("access-control-allow-origin"),
            get("access-control-allow-credentials"),
        )
    };
    assert_eq!(
        allowed(&response),
        (
            Some("http://localhost:5173".to_owned()),
            Some("true".to_owned())
        )
    );
    // The browser's preflight of a PATCH with the token passes for that origin only.
    let preflight = |origin: &'static str| {
        bare(&server, Method::OPTIONS, "/v1/canvases/film")
            .header("origin", origin)
            .header("access-control-request-method", "PATCH")
            .header(
                "access-control-request-headers",
                "content-type,if-match,x-csrf-token",
            )
    };
    let response = preflight("http://localhost:5173").answer().await;
    assert!(response.status().is_success(), "{}", response.status());
    assert_eq!(
        allowed(&response).0.as_deref(),
        Some("http://localhost:5173")
    );
    let methods = response
        .headers()
        .get("access-control-allow-methods")
        .and_then(|v| v.to_str().ok());
    assert!(methods.is_some_and(|m| m.contains("PATCH")), "{methods:?}");
    let response = preflight("http://evil.example").answer().await;
    assert_eq!(allowed(&response).0, None);
    // Behind TLS the server's own origin is https://.
    let response = with_cookie(&server, Method::POST, "/v1/canvases", &cookie)
        .header("origin", &server.base_url)
        .header("x-csrf-token", &token)
        .json(&json!({"name": "x"}))
        .answer()
        .await;
    expect_error(response, 403, "csrf_failed").await;

    let proxied = Server::start_with(&["--trust-forwarded-proto"]);
    let (_, secret) = proxied.key("editor", &["write"]).await;
    let forwarded = |proto: &'static str| {
        bare(&proxied, Method::POST, "/v1/session")
            .header("x-forwarded-proto", proto)
            .json(&json!({"key": secret}))
    };
    let response = forwarded("https").answer().await;
    let set_cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(set_cookie.contains("; Secure"), "{set_cookie}");
    let response = forwarded("http").answer().await;
    let set_cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(!set_cookie.contains("Secure"), "{set_cookie}");
}

#[tokio::test]
async fn a_key_over_its_rate_gets_429_with_retry_after() {
    let server = Server::start_with(&["--rate-limit", "1", "--rate-burst", "3"]);
    let (_, other) = server.key("other", &["read"]).await;
    let limited = until_limited(|| server.get("/v1/canvases")).await;
    let retry: u64 = limited
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After in seconds");
    assert!(retry >= 1);
    let error = expect_error(limited, 429, "rate_limited").await;
    assert_eq!(error["details"]["retry_after"], retry);

    // Another key has a bucket of its own.
    let response = bare(&server, Method::GET, "/v1/canvases")
        .bearer_auth(&other)
        .answer()
        .await;
    assert_eq!(response.status(), 200);

    // Requests without a valid key are limited per address: 401s, then 429.
    let limited =
        until_limited(|| bare(&server, Method::GET, "/v1/canvases").bearer_auth("rg_guess")).await;
    assert!(limited.headers().contains_key("retry-after"));
    expect_error(limited, 429, "rate_limited").await;
}

/// Sends `request` until one is answered 429 (a burst of 3 at 1 a second
/// runs out long before 50 requests, however slow the machine).
async fn until_limited(request: impl Fn() -> RequestBuilder) -> Response {
    for _ in 0..50 {
        let response = request().answer().await;
        if response.status() == 429 {
            return response;
        }
        assert!(
            matches!(response.status().as_u16(), 200 | 401),
            "{}",
            response.status()
        );
    }
    panic!("50 requests and no 429");
}

fn assert_security_headers(headers: &HeaderMap, what: &str) {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    assert_eq!(
        get("content-security-policy"),
        "default-src 'none'; frame-ancestors 'none'",
        "{what}"
    );
    assert_eq!(get("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(get("referrer-policy"), "no-referrer", "{what}");
    assert_eq!(get("x-frame-options"), "DENY", "{what}");
}

#[tokio::test]
async fn every_response_carries_the_security_headers_and_hsts_only_when_asked() {
    let server = Server::start();
    for (request, what) in [
        (
            server
                .get("/v1/canvases")
                .header("origin", "http://localhost:5173"),
            "a read",
        ),
        (bare(&server, Method::GET, "/v1/canvases"), "a 401"),
        (server.get("/v1/no-such-route"), "a 404"),
        (server.post("/v1/canvases").body("{"), "a 415"),
    ] {
        let response = request.answer().await;
        assert_security_headers(response.headers(), what);
        assert!(
            !response.headers().contains_key("strict-transport-security"),
            "{what}"
        );
        assert!(
            !response
                .headers()
                .contains_key("access-control-allow-origin"),
            "no CORS without --allowed-origin: {what}"
        );
    }
    let server = Server::start_with(&["--hsts-max-age", "600"]);
    let response = server.get("/v1/canvases").answer().await;
    assert_security_headers(response.headers(), "with HSTS");
    let hsts = response
        .headers()
        .get("strict-transport-security")
        .and_then(|v| v.to_str().ok());
    assert_eq!(hsts, Some("max-age=600; includeSubDomains"));
}
