//! `loadgen`: load on a live `reelgraph serve` from many keep-alive clients.
//!
//! ```text
//! cargo run --release -p reelgraph-benches --bin loadgen -- \
//!     --server target/release/reelgraph --scenario mixed --clients 100 --seconds 60
//! ```
//!
//! With `--server` it starts that binary on a temporary data directory
//! (timing start to ready and reading its idle memory), loads it, and stops
//! it with SIGTERM; with `--url` and `--key` it loads a server already
//! running. It prints p50/p95/p99/max latency, throughput and errors per
//! kind of request, lost updates of the edits, and the server's memory.
//! It exits 1 when any request failed or any update was lost.
//! `make loadtest SCENARIO=...` runs it; see `docs/ops/load.md`.

mod client;
mod scenario;
mod server;
mod stats;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;

use crate::scenario::{Scenario, Tallies};
use crate::server::Server;
use crate::stats::Summary;

#[derive(Debug, Parser)]
#[command(about = "Load a reelgraph server and report latency, throughput, errors and memory")]
struct Args {
    #[arg(long, value_enum, default_value = "mixed")]
    scenario: Scenario,
    /// Concurrent clients, each with one keep-alive connection.
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// How long the load lasts.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Start this `reelgraph` binary on a temporary data directory.
    #[arg(long, conflicts_with_all = ["url", "key"])]
    server: Option<PathBuf>,
    /// A running server's address (`http://127.0.0.1:8080`), with `--key`.
    #[arg(long, requires = "key")]
    url: Option<String>,
    /// An API key with the read, write and run scopes.
    #[arg(long, env = "REELGRAPH_KEY")]
    key: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
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

/// Runs the load; `Ok(false)` when a request failed or an update was lost.
async fn load(args: Args) -> Result<bool, String> {
    let server = match &args.server {
        Some(binary) => Some(Server::start(binary).await?),
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
    scenario::prepare(addr, &key).await?;

    // Every user makes its own canvas before the clock starts.
    let start = Instant::now() + Duration::from_secs(2);
    let deadline = start + Duration::from_secs(args.seconds);
    let users: Vec<_> = (0..args.clients)
        .map(|user| {
            tokio::spawn(scenario::user(
                args.scenario,
                user,
                addr,
                key.clone(),
                start,
                deadline,
            ))
        })
        .collect();
    let mut peak_rss = 0;
    while Instant::now() < deadline {
        if let Some(s) = &server {
            peak_rss = peak_rss.max(s.rss());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let mut tallies = Tallies::default();
    for user in users {
        tallies.merge(user.await.map_err(|e| e.to_string())??);
    }
    let elapsed = Duration::from_secs(args.seconds);

    println!(
        "{:?}: {} clients, {} s",
        args.scenario, args.clients, args.seconds
    );
    println!("{}", Summary::HEADER);
    let mut clean = tallies.lost_updates == 0;
    let mut all = stats::Tally::default();
    for (name, tally) in [
        ("read", tallies.read),
        ("edit", tallies.edit),
        ("run", tallies.run),
    ] {
        all.merge(tally.clone());
        let summary = tally.summary(elapsed);
        if summary.requests > 0 {
            println!("{name:<8} {summary}");
            if let Some(e) = &summary.first_error {
                println!("         first error: {e}");
            }
        }
        clean &= summary.errors == 0;
    }
    println!("{:<8} {}", "all", all.summary(elapsed));
    println!("lost updates: {}", tallies.lost_updates);
    if let Some(s) = server {
        println!(
            "server RSS: peak under load {:.1} MiB (sampled every 250 ms), process peak {:.1} MiB",
            mib(peak_rss),
            mib(s.peak_rss())
        );
        let status = s.stop()?;
        println!("server stopped with SIGTERM: {status}");
        clean &= status.success();
    }
    Ok(clean)
}

fn parse_url(url: &str) -> Result<SocketAddr, String> {
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .map_err(|e| format!("--url {url}: {e} (give http://IP:PORT)"))
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
