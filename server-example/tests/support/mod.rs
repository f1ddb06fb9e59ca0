//! The server under test: the real `reelgraph serve` binary on 127.0.0.1
//! with a free port and a temporary data directory.
//!
//! ```ignore
//! mod support;
//! let server = support::Server::start();
//! let (status, page) = server.get("/v1/canvases").json_answer().await;
//! ```
//!
//! `start` waits for the line `reelgraph serving on http://...` and reads
//! the admin key printed before it. The server's stderr (its logs) goes to
//! `server.log` beside the data directory ([`Server::log`]). Dropping the
//! server kills it; [`Server::restart`] starts it again on the same data.
#![allow(dead_code)]

pub mod fault_proxy;
pub mod sse;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use reqwest::{Client, Method, RequestBuilder};
use serde_json::Value;

/// How long a start may take before the test fails.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running server and what a test needs to talk to it.
#[derive(Debug)]
pub struct Server {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base_url: String,
    /// The admin key printed at the first start (all scopes).
    pub admin_key: String,
    /// A client with no default headers (tests choose what they send).
    pub client: Client,
    child: Child,
    dir: tempfile::TempDir,
}

impl Server {
    /// Starts a server on a new, empty data directory.
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// Starts a server on a new data directory with extra `serve` flags.
    pub fn start_with(args: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("a temp dir");
        let (child, base_url, key) = spawn(dir.path(), args);
        Server {
            base_url,
            admin_key: key.expect("the first start prints the admin key"),
            client: Client::new(),
            child,
            dir,
        }
    }

    /// Kills the server (SIGKILL: nothing is flushed on the way out) and
    /// starts it again on the same data directory with `args`.
    pub fn restart_with(&mut self, args: &[&str]) {
        self.stop();
        let (child, base_url, key) = spawn(self.dir.path(), args);
        assert_eq!(key, None, "a second start prints no key");
        self.child = child;
        self.base_url = base_url;
    }

    /// [`Server::restart_with`] no extra flags.
    pub fn restart(&mut self) {
        self.restart_with(&[]);
    }

    /// Kills the server and waits for it.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The server process, e.g. to signal it.
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Everything the server wrote on stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// `base_url` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// A request with the admin key.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(&self.admin_key)
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.request(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        self.request(Method::POST, path)
    }

    pub fn put(&self, path: &str) -> RequestBuilder {
        self.request(Method::PUT, path)
    }

    pub fn patch(&self, path: &str) -> RequestBuilder {
        self.request(Method::PATCH, path)
    }

    pub fn delete(&self, path: &str) -> RequestBuilder {
        self.request(Method::DELETE, path)
    }

    /// A new key with these scopes, made through the admin route: (id, secret).
    pub async fn key(&self, name: &str, scopes: &[&str]) -> (String, String) {
        let response = self
            .post("/v1/keys")
            .json(&serde_json::json!({"name": name, "scopes": scopes}))
            .answer()
            .await;
        let (status, body) = json(response).await;
        assert_eq!(status, 201, "{body}");
        (
            body["id"].as_str().expect("an id").to_owned(),
            body["key"].as_str().expect("a key").to_owned(),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts the binary on `root/data`; returns it, its URL and the key it printed.
fn spawn(root: &Path, args: &[&str]) -> (Child, String, Option<String>) {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(root.join("server.log"))
        .expect("the log file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_reelgraph"))
        .arg("serve")
        .args(["--addr", "127.0.0.1:0", "--data-dir"])
        .arg(root.join("data"))
        .args(args)
        .env_remove("REELGRAPH_ADDR")
        .env_remove("REELGRAPH_DATA_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("the server binary starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let (lines, seen) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // The test may be gone; the pipe is still drained.
            let _ = lines.send(line);
        }
    });
    let mut key = None;
    loop {
        let line = match seen.recv_timeout(START_TIMEOUT) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                let log = std::fs::read_to_string(root.join("server.log")).unwrap_or_default();
                panic!("the server did not print its URL in {START_TIMEOUT:?}; its log:\n{log}");
            }
        };
        if let Some(secret) = line.strip_prefix("admin key: ") {
            key = Some(secret.to_owned());
        } else if let Some(url) = line.strip_prefix("reelgraph serving on ") {
            return (child, url.to_owned(), key);
        }
    }
}

/// Sending a test's request: the answer, or a panic when there is none.
#[allow(async_fn_in_trait)]
pub trait Answer {
    /// The response.
    async fn answer(self) -> reqwest::Response;
    /// The response's status and JSON body.
    async fn json_answer(self) -> (u16, Value);
    /// Asserts the request is refused with `status` and error `code`
    /// ([`expect_error`]); the error body.
    async fn refused(self, status: u16, code: &str) -> Value;
}

impl Answer for RequestBuilder {
    async fn answer(self) -> reqwest::Response {
        self.send().await.expect("an answer")
    }
    async fn json_answer(self) -> (u16, Value) {
        json(self.answer().await).await
    }
    async fn refused(self, status: u16, code: &str) -> Value {
        expect_error(self.answer().await, status, code).await
    }
}

/// A response's status and JSON body.
pub async fn json(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("a body");
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, body)
}

/// Asserts an error response: the status, the code, and the envelope's shape.
pub async fn expect_error(response: reqwest::Response, status: u16, code: &str) -> Value {
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let (got, body) = json(response).await;
    assert_eq!(
        (got, body["error"]["code"].as_str()),
        (status, Some(code)),
        "{body}"
    );
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let error = &body["error"];
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(
        error["hint"].as_str().is_some_and(|h| !h.is_empty()),
        "{body}"
    );
    assert!(error["details"].is_object(), "{body}");
    body["error"].clone()
}
