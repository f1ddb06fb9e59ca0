//! `loadgen`: load on a live `reelgraph serve` from many clients.
//!
//! ```text
//! cargo run --release -p reelgraph-benches --bin loadgen -- \
//!     --server target/release/reelgraph --scenario mixed --clients 100 --seconds 60
//! ```
//!
//! With `--server` it starts that binary on a temporary data directory
//! (timing start to ready and reading its idle memory), loads it, and stops
//! it with SIGTERM; with `--url` and `--key` it loads a server already
//! running. The request scenarios (`read`, `edit`, `mixed`; `requests.rs`)
//! print p50/p95/p99/max latency, throughput and errors per kind of
//! request, lost updates of the edits, and the server's memory;
//! `ws-fanout` (`fanout.rs`) prints delivery latency of progress events to
//! many WebSocket clients and memory per idle connection; `tasks`
//! (`tasks.rs`) prints the task service's throughput and claim latency.
//! It exits 1 when a request failed, an update or a task was lost, or a
//! WebSocket client was dropped.
//! `make loadtest SCENARIO=...` runs it; see `docs/ops/load.md`.

mod client;
mod fanout;
mod requests;
mod scenario;
mod server;
mod stats;
mod tasks;
mod ws_client;
mod ws_frames;
mod ws_wire;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use crate::scenario::Scenario;
use crate::server::Server;

#[derive(Debug, Parser)]
#[command(about = "Load a reelgraph server and report latency, throughput, errors and memory")]
struct Args {
    #[arg(long, value_enum, default_value = "mixed")]
    scenario: Scenario,
    /// Concurrent clients: keep-alive HTTP connections (`read`, `edit`,
    /// `mixed`), WebSocket connections (`ws-fanout`), or submitters (`tasks`).
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// How long the load lasts.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Send `Accept-Encoding: VALUE` with every request of `read`, `edit`
    /// and `mixed`, as browsers do (`gzip, deflate, br, zstd`); compressed
    /// answers are decoded. Without it, bodies come uncompressed.
    #[arg(long, value_name = "VALUE")]
    accept_encoding: Option<String>,
    #[command(flatten)]
    fanout: fanout::FanoutArgs,
    #[command(flatten)]
    tasks: tasks::TaskArgs,
    /// Start this `reelgraph` binary on a temporary data directory.
    #[arg(long, conflicts_with_all = ["url", "key"])]
    server: Option<PathBuf>,
    /// A flag for the server `--server` starts (repeat for more), e.g.
    /// `--server-arg=--ws-batch-window=20ms`.
    #[arg(long = "server-arg", requires = "server", allow_hyphen_values = true)]
    server_args: Vec<String>,
    /// A running server's address (`http://127.0.0.1:8080`), with `--key`.
    #[arg(long, requires = "key")]
    url: Option<String>,
    /// An API key with the read, write and run scopes.
    #[arg(long, env = "REELGRAPH_KEY")]
    key: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    // Every WebSocket client holds a socket: up to the hard limit.
    if let Err(e) = reelgraph_server::serve::open_files::raise() {
        eprintln!("loadgen: could not raise the open-file limit: {e}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts");
    match runtime.block_on(load(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("loadgen: {e}");
            ExitCode::from(2)
        }
    }
}

/// Runs the load; `Ok(false)` when the scenario saw a failure.
async fn load(args: Args) -> Result<bool, String> {
    let server = match &args.server {
        Some(binary) => Some(Server::start(binary, &args.server_args).await?),
        None => None,
    };
    let (addr, key) = match (&server, &args.url, &args.key) {
        (Some(s), _, _) => (s.addr, s.key.clone()),
        (None, Some(url), Some(key)) => (parse_url(url)?, key.clone()),
        _ => return Err("give --server BINARY, or --url and --key".to_owned()),
    };
    if let Some(s) = &server {
        // Idle: started, nothing asked of it yet but readiness.
        tokio::time::sleep(Duration::from_millis(500)).await;
        println!(
            "server: start to ready {:.1} ms, idle RSS {:.1} MiB",
            s.start_to_ready.as_secs_f64() * 1000.0,
            mib(s.rss())
        );
    }
    let load = Load {
        clients: args.clients,
        seconds: args.seconds,
        addr,
        key,
        accept_encoding: args.accept_encoding.clone(),
        server: server.as_ref(),
    };
    let mut clean = match args.scenario {
        Scenario::WsFanout => fanout::run(&load, &args.fanout).await?,
        Scenario::Tasks => tasks::run(&load, &args.tasks).await?,
        requests => requests::run(&load, requests).await?,
    };
    if let Some(s) = server {
        println!("server RSS: process peak {:.1} MiB", mib(s.peak_rss()));
        let status = s.stop()?;
        println!("server stopped with SIGTERM: {status}");
        clean &= status.success();
    }
    Ok(clean)
}

/// What every scenario is given: its size, and the server to load.
#[derive(Debug)]
pub struct Load<'a> {
    pub clients: usize,
    pub seconds: u64,
    pub addr: SocketAddr,
    pub key: String,
    /// The `Accept-Encoding` of the request scenarios' clients.
    pub accept_encoding: Option<String>,
    /// The server, when `loadgen` started it (so its memory can be read).
    pub server: Option<&'a Server>,
}

impl Load<'_> {
    pub fn duration(&self) -> Duration {
        Duration::from_secs(self.seconds)
    }

    /// The server's resident memory now, when `loadgen` started it.
    pub fn server_rss(&self) -> Option<u64> {
        self.server.map(Server::rss)
    }
}

fn parse_url(url: &str) -> Result<SocketAddr, String> {
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .map_err(|e| format!("--url {url}: {e} (give http://IP:PORT)"))
}

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
