//! `ws-fanout`: many WebSocket clients follow one run that reports
//! progress at a steady rate; the figure is delivery latency per event,
//! from its `ts` to the moment a client read the frame that carried it.
//!
//! In order: every client connects (the server's memory is read with all
//! of them idle); the run starts and every client subscribes to it; once all are following, a window of
//! `--seconds` starts a second later; at its end (plus two seconds for late
//! frames) the clients close and the run is cancelled.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::{Method, StatusCode};
use reelgraph::catalog::NodeTypeSpec;
use reelgraph::exec::RunOptions;
use reelgraph::{Canvas, Catalog, Op};
use serde::Deserialize;
use tokio::sync::{Semaphore, mpsc, watch};

use crate::client::Client;
use crate::stats::Tally;
use crate::ws_client::{self, Phase, Received, Step};
use crate::{Load, mib};

#[derive(Debug, Clone, clap::Args)]
pub struct FanoutArgs {
    /// ws-fanout: progress events a second of the run the clients follow.
    #[arg(long, default_value_t = 10)]
    pub event_rate: u32,
    /// ws-fanout: WebSocket handshakes in flight at once while connecting.
    #[arg(long, default_value_t = 256)]
    pub connect_at_once: usize,
}

/// The canvas the clients subscribe to, and its one chain of paced nodes.
const CANVAS: &str = "load-fanout";
/// The node type the scenario registers: `demo.pace` as a node.
const PACE_TYPE: &str = r#"{
    "type": "load_pace",
    "category": "load",
    "title": "Paced progress",
    "description": "Reports progress `steps` times, `interval_ms` apart (the demo function demo.pace).",
    "inputs": [{"name": "after", "type": "any"}],
    "outputs": [{"name": "done", "type": "any"}],
    "properties": [
        {"name": "steps", "type": "integer", "default": 10, "min": 1, "max": 100000},
        {"name": "interval_ms", "type": "integer", "default": 100, "min": 1, "max": 60000}
    ],
    "task": {
        "function": "demo.pace",
        "params": {"steps": {"property": "steps"}, "interval_ms": {"property": "interval_ms"}}
    }
}"#;
/// Each paced node lasts this long, well under the server's time limit
/// per task; a chain of them covers the whole scenario.
const NODE_SECONDS: u64 = 60;
/// Time allowed for every client to subscribe to the run.
const FOLLOW_TIMEOUT: Duration = Duration::from_secs(120);
/// Frames of the window's last events may arrive a little after it.
const LATE: Duration = Duration::from_secs(2);

/// Runs the scenario; `Ok(false)` when a client failed to connect, was
/// dropped, or missed events.
pub async fn run(load: &Load<'_>, args: &FanoutArgs) -> Result<bool, String> {
    let rate = args.event_rate.clamp(1, 1000);
    let mut http = Client::new(load.addr, &load.key);
    // Long enough for connecting and subscribing (at most FOLLOW_TIMEOUT), then the window.
    let lasts = FOLLOW_TIMEOUT.as_secs() + load.seconds + 10;
    prepare(&mut http, rate, lasts).await?;
    let idle_rss = load.server_rss();

    let (phase_tx, phases) = watch::channel(Phase::Idle);
    let (steps_tx, mut steps) = mpsc::unbounded_channel();
    let connecting = Arc::new(Semaphore::new(args.connect_at_once.max(1)));
    let started = Instant::now();
    let clients: Vec<_> = (0..load.clients)
        .map(|n| {
            let (key, phases, steps, connecting) = (
                load.key.clone(),
                phases.clone(),
                steps_tx.clone(),
                Arc::clone(&connecting),
            );
            let addr: SocketAddr = load.addr;
            tokio::spawn(async move {
                ws_client::client(n, addr, key, phases, steps, &connecting).await
            })
        })
        .collect();
    drop(steps_tx);

    let (connected, failed) = wait_for(&mut steps, load.clients, FOLLOW_TIMEOUT).await;
    let connect_took = started.elapsed();
    println!(
        "ws-fanout: {connected} of {} clients connected in {:.1} s ({failed} failed)",
        load.clients,
        connect_took.as_secs_f64()
    );
    // Idle: every connection open, nothing sent for a while.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let connected_rss = load.server_rss();
    if let (Some(idle), Some(with)) = (idle_rss, connected_rss) {
        let per = with.saturating_sub(idle) as f64 / connected.max(1) as f64;
        println!(
            "server RSS: idle {:.1} MiB, with {connected} idle connections {:.1} MiB: {:.1} KiB per idle connection",
            mib(idle),
            mib(with),
            per / 1024.0
        );
    }

    let run_id = start_run(&mut http).await?;
    let _ = phase_tx.send(Phase::Follow(run_id.clone()));
    let (following, _) = wait_for(&mut steps, connected, FOLLOW_TIMEOUT).await;
    println!("{following} clients follow run {run_id}");

    let from = ws_client::now_us() / 1000 + 1000;
    let to = from + load.seconds * 1000;
    let _ = phase_tx.send(Phase::Measure { from, to });
    let end = Instant::now() + Duration::from_millis(1000) + load.duration() + LATE;
    let mut peak_rss = 0;
    // CPU over the window itself, which starts a second from now.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let cpu_from = cpu_times(load);
    let window_end = Instant::now() + load.duration();
    let mut cpu_to = None;
    while Instant::now() < end {
        peak_rss = peak_rss.max(load.server_rss().unwrap_or(0));
        if cpu_to.is_none() && Instant::now() >= window_end {
            cpu_to = Some(cpu_times(load));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let cpu_to = cpu_to.unwrap_or_else(|| cpu_times(load));
    let share = |from: Duration, to: Duration| {
        100.0 * to.saturating_sub(from).as_secs_f64() / load.duration().as_secs_f64()
    };
    println!(
        "CPU in the window (100% = one core of {}): loadgen {:.0}%, server {}",
        std::thread::available_parallelism().map_or(0, usize::from),
        share(cpu_from.0, cpu_to.0),
        match (cpu_from.1, cpu_to.1) {
            (Some(from), Some(to)) => format!("{:.0}%", share(from, to)),
            _ => "not measured (started elsewhere)".to_owned(),
        }
    );
    let _ = phase_tx.send(Phase::Stop);
    let mut received = Vec::with_capacity(clients.len());
    for client in clients {
        received.push(client.await.map_err(|e| e.to_string())?);
    }
    cancel(&mut http, &run_id).await?;
    Ok(report(load, rate, connected, failed, peak_rss, received))
}

/// CPU time used so far by the load generator and, when it started it, the server.
fn cpu_times(load: &Load<'_>) -> (Duration, Option<Duration>) {
    (
        reelgraph_benches::cpu_time_of("self"),
        load.server.map(crate::server::Server::cpu_time),
    )
}

/// Registers the paced node type (once per server) and creates the canvas:
/// a chain of paced nodes that report `rate` events a second for `lasts`
/// seconds.
async fn prepare(http: &mut Client, rate: u32, lasts: u64) -> Result<(), String> {
    let spec: NodeTypeSpec =
        serde_json::from_str(PACE_TYPE).map_err(|e| format!("the paced node type: {e}"))?;
    let registered = http
        .send(
            Method::POST,
            "/v1/node-types",
            None,
            Some(Bytes::from(
                serde_json::to_vec(&spec).map_err(|e| e.to_string())?,
            )),
        )
        .await?;
    // 409: a server already loaded once has the type.
    if !registered.status.is_success() && registered.status != StatusCode::CONFLICT {
        return Err(format!(
            "registering the node type answered {}: {}",
            registered.status,
            String::from_utf8_lossy(&registered.body)
        ));
    }
    let catalog = Catalog::builtin();
    catalog.register(spec).map_err(|e| e.to_string())?;
    let mut canvas = Canvas::new(catalog, CANVAS, "Load test: WebSocket fan-out");
    let nodes = lasts.div_ceil(NODE_SECONDS);
    let steps = NODE_SECONDS * u64::from(rate);
    let interval_ms = 1000 / u64::from(rate);
    let mut ops = Vec::new();
    for n in 0..nodes {
        let id = format!("pace_{n}");
        let properties = serde_json::json!({"steps": steps, "interval_ms": interval_ms});
        ops.push(Op::add_node(&id, "load_pace", properties));
        if n > 0 {
            ops.push(Op::connect(
                (&format!("pace_{}", n - 1), "done"),
                (&id, "after"),
            ));
        }
    }
    canvas.apply(ops).map_err(|e| e.to_string())?;
    let document = canvas.to_document();
    crate::scenario::put_canvas(http, CANVAS, &document).await
}

#[derive(Deserialize)]
struct Started {
    run_id: String,
}

/// Starts a run of the canvas that runs every node, cached or not.
async fn start_run(http: &mut Client) -> Result<String, String> {
    let options = RunOptions::new().force_all();
    let answer = http
        .send(
            Method::POST,
            &format!("/v1/canvases/{CANVAS}/runs"),
            None,
            Some(Bytes::from(
                serde_json::to_vec(&options).map_err(|e| e.to_string())?,
            )),
        )
        .await?;
    if answer.status != StatusCode::ACCEPTED {
        return Err(format!(
            "starting the run answered {}: {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        ));
    }
    serde_json::from_slice::<Started>(&answer.body)
        .map(|s| s.run_id)
        .map_err(|e| format!("reading the run id: {e}"))
}

async fn cancel(http: &mut Client, run_id: &str) -> Result<(), String> {
    let answer = http
        .send(
            Method::POST,
            &format!("/v1/runs/{run_id}/cancel"),
            None,
            None,
        )
        .await?;
    // 409: the run had ended.
    if answer.status.is_success() || answer.status == StatusCode::CONFLICT {
        Ok(())
    } else {
        Err(format!("cancelling the run answered {}", answer.status))
    }
}

/// Waits until `wanted` clients took the next step (or failed), or the
/// time is up; returns how many took it and how many failed.
async fn wait_for(
    steps: &mut mpsc::UnboundedReceiver<Step>,
    wanted: usize,
    timeout: Duration,
) -> (usize, usize) {
    let (mut done, mut failed) = (0, 0);
    let until = tokio::time::Instant::now() + timeout;
    let mut first_failure = None;
    while done + failed < wanted {
        match tokio::time::timeout_at(until, steps.recv()).await {
            Ok(Some(Step::Failed(why))) => {
                failed += 1;
                first_failure.get_or_insert(why);
            }
            Ok(Some(_)) => done += 1,
            Ok(None) | Err(_) => break,
        }
    }
    if let Some(why) = first_failure {
        println!("first failure: {why}");
    }
    (done, failed)
}

/// Prints the figures; `false` when a client failed or missed events.
fn report(
    load: &Load<'_>,
    rate: u32,
    connected: usize,
    failed: usize,
    peak_rss: u64,
    received: Vec<Received>,
) -> bool {
    let mut latency = Tally::default();
    let mut per_client: Vec<u64> = Vec::with_capacity(received.len());
    let (mut dropped, mut gaps, mut first_drop) = (0, 0, None);
    for r in received {
        per_client.push(r.latencies_us.len() as u64);
        gaps += r.gaps;
        if let Some(why) = r.dropped {
            dropped += 1;
            first_drop.get_or_insert(why);
        }
        for us in r.latencies_us {
            latency.ok(Duration::from_micros(u64::from(us)));
        }
    }
    per_client.sort_unstable();
    let held = load.clients - dropped;
    let summary = latency.summary(load.duration());
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "ws-fanout: {} clients, {} s window, {rate} progress events/s, JSON",
        load.clients, load.seconds
    );
    println!(
        "connections: {held} held to the end, {connected} connected, {failed} failed, {dropped} dropped"
    );
    if let Some(why) = first_drop {
        println!("first drop: {why}");
    }
    println!(
        "delivery latency (event ts to frame read; ts has millisecond resolution, rounded down, so figures are up to 1 ms high): \
         p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {} deliveries ({:.0}/s)",
        ms(summary.p50),
        ms(summary.p95),
        ms(summary.p99),
        ms(summary.max),
        summary.requests,
        summary.per_second
    );
    let at = |q: f64| {
        per_client
            .get(((per_client.len().max(1) - 1) as f64 * q).round() as usize)
            .copied()
            .unwrap_or(0)
    };
    println!(
        "events per client in the window: min {}, median {}, max {}; {gaps} missing by seq",
        at(0.0),
        at(0.5),
        at(1.0)
    );
    if load.server.is_some() {
        println!(
            "server RSS: peak while fanning out {:.1} MiB (sampled every 250 ms)",
            mib(peak_rss)
        );
    }
    failed == 0 && dropped == 0 && gaps == 0 && at(0.0) == at(1.0) && at(1.0) > 0
}
