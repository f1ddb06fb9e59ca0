//! The server under load: started from its binary on a temporary data
//! directory, timed to ready, measured through `/proc`, stopped with SIGTERM.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hyper::{Method, StatusCode};
use reelgraph_benches::{cpu_time_of, memory_status_of};
use tempfile::TempDir;

use crate::client::Client;

/// A running server process.
#[derive(Debug)]
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub key: String,
    /// From spawn to the first `200` from `/readyz`.
    pub start_to_ready: Duration,
    _data: TempDir,
}

impl Server {
    /// Starts `binary serve` on 127.0.0.1 with a port the OS picks, no
    /// rate limit and `extra` flags, reads the URL and admin key it prints,
    /// and waits until `/readyz` answers 200.
    pub async fn start(binary: &Path, extra: &[String]) -> Result<Server, String> {
        let data = tempfile::tempdir().map_err(|e| e.to_string())?;
        let started = Instant::now();
        let mut child = Command::new(binary)
            .args(["serve", "--addr", "127.0.0.1:0", "--log-format", "text"])
            // One key makes all the load: the per-key limit would be the figure.
            .args(["--rate-limit", "0"])
            .args(extra)
            .arg("--data-dir")
            .arg(data.path())
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("could not start {}: {e}", binary.display()))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let (url, key) = read_url_and_key(stdout)?;
        let addr: SocketAddr = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .map_err(|e| format!("the server printed {url:?}, not http://ADDRESS: {e}"))?;
        let mut probe = Client::new(addr, &key);
        loop {
            if let Ok(answer) = probe.send(Method::GET, "/readyz", None, None).await
                && answer.status == StatusCode::OK
            {
                break;
            }
            if started.elapsed() > Duration::from_secs(30) {
                return Err("the server was not ready after 30 s".to_owned());
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Ok(Server {
            start_to_ready: started.elapsed(),
            child,
            addr,
            key,
            _data: data,
        })
    }

    /// Resident memory of the server now, in bytes.
    pub fn rss(&self) -> u64 {
        memory_status_of(&self.child.id().to_string()).1
    }

    /// CPU time the server used so far.
    pub fn cpu_time(&self) -> Duration {
        cpu_time_of(&self.child.id().to_string())
    }

    /// Peak resident memory of the server so far, in bytes.
    pub fn peak_rss(&self) -> u64 {
        memory_status_of(&self.child.id().to_string()).0
    }

    /// Sends SIGTERM and waits for the process to exit; returns its status.
    pub fn stop(mut self) -> Result<std::process::ExitStatus, String> {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .map_err(|e| format!("kill: {e}"))?;
        self.child.wait().map_err(|e| e.to_string())
    }
}

/// The server prints `admin key: rg_...` (first start) and then
/// `reelgraph serving on http://...`; the rest of stdout is drained so the
/// server never blocks on it.
fn read_url_and_key(stdout: std::process::ChildStdout) -> Result<(String, String), String> {
    let mut lines = BufReader::new(stdout).lines();
    let mut key = None;
    loop {
        let Some(Ok(line)) = lines.next() else {
            return Err("the server exited before printing its URL".to_owned());
        };
        if let Some(secret) = line.strip_prefix("admin key: ") {
            key = Some(secret.to_owned());
        } else if let Some(url) = line.strip_prefix("reelgraph serving on ") {
            let key = key.ok_or("the server printed no admin key")?;
            std::thread::spawn(move || lines.for_each(drop));
            return Ok((url.to_owned(), key));
        }
    }
}
