//! The scenarios, and what each virtual user of the request scenarios does
//! in its loop, with the canvases they need, made before the clock starts.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::{Method, StatusCode};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use reelgraph::exec::{RunOptions, RunState};
use reelgraph::{CanvasDocument, Catalog, Op, Position, Quality};
use reelgraph_benches::{BATCH, Dag, SEED};
use serde::Deserialize;

use crate::client::Client;
use crate::stats::Tally;

/// Which mix of requests the users send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// GET the same 200-node canvas.
    Read,
    /// PATCH a move op with `If-Match` into each user's own canvas.
    Edit,
    /// 70 % read, 25 % edit, 5 % start a run.
    Mixed,
    /// WebSocket clients subscribed to one run, which reports progress at a
    /// steady rate: delivery latency per event (`fanout.rs`).
    WsFanout,
    /// Submitters and workers of the task service (`tasks.rs`).
    Tasks,
}

/// Nodes (and twice as many edges) of the canvases the users read and edit.
pub const CANVAS_NODES: usize = 200;
const SHARED: &str = "load-read";
/// The canvas the `mixed` users run: the generator's smallest, so a run is mostly the server's
/// own work (after the first, every task is a cache hit).
const RUN_NODES: usize = 100;
const RUN: &str = "load-run";

/// What every user of one kind of request saw.
#[derive(Debug, Default)]
pub struct Tallies {
    pub read: Tally,
    pub edit: Tally,
    pub run: Tally,
    /// Edit canvases whose final revision differs from the successful PATCHes.
    pub lost_updates: u64,
}

impl Tallies {
    pub fn merge(&mut self, other: Tallies) {
        self.read.merge(other.read);
        self.edit.merge(other.edit);
        self.run.merge(other.run);
        self.lost_updates += other.lost_updates;
    }
}

/// A canvas of `nodes` nodes (and twice as many edges) from the benches'
/// generator, as the JSON of its document, with id `id`.
fn canvas_json(id: &str, nodes: usize) -> Bytes {
    let mut doc = Dag::generate(nodes, 2 * nodes, SEED)
        .build(&Catalog::builtin(), BATCH)
        .to_document();
    doc.id = id.to_owned();
    doc.name = format!("Load test {id}");
    Bytes::from(serde_json::to_vec(&doc).expect("a document serialises"))
}

/// Creates the canvases every user shares: the one read, the one run.
/// For `mixed`, runs the run canvas once and waits for it, so that the
/// measured runs find every task in the cache, as a server that has run a
/// canvas before does.
pub async fn prepare(addr: SocketAddr, key: &str, scenario: Scenario) -> Result<(), String> {
    let mut client = Client::new(addr, key);
    for (id, nodes) in [(SHARED, CANVAS_NODES), (RUN, RUN_NODES)] {
        create(&mut client, id, nodes).await?;
    }
    if scenario == Scenario::Mixed {
        warm_up(&mut client).await?;
    }
    Ok(())
}

/// How long the first run of the run canvas may take (it renders every
/// node of it).
const WARM_UP_LIMIT: Duration = Duration::from_secs(300);

/// Runs the run canvas once, to its end.
async fn warm_up(client: &mut Client) -> Result<(), String> {
    let body = serde_json::to_vec(&RunOptions::new().quality(Quality::Draft))
        .map_err(|e| e.to_string())?;
    let started = client
        .send(
            Method::POST,
            &format!("/v1/canvases/{RUN}/runs"),
            None,
            Some(Bytes::from(body)),
        )
        .await?;
    let run: serde_json::Value = serde_json::from_slice(&started.body)
        .map_err(|e| format!("the warm-up run's answer: {e}"))?;
    let Some(id) = run["run_id"].as_str() else {
        return Err(format!(
            "the warm-up run was not started ({}): {}",
            started.status,
            String::from_utf8_lossy(&started.body)
        ));
    };
    let path = format!("/v1/runs/{id}");
    let give_up = Instant::now() + WARM_UP_LIMIT;
    while Instant::now() < give_up {
        let answer = client.send(Method::GET, &path, None, None).await?;
        let view: serde_json::Value = serde_json::from_slice(&answer.body)
            .map_err(|e| format!("the warm-up run's view: {e}"))?;
        // A run not yet started reads `pending` (a slow server shows it).
        match RunState::deserialize(&view["run"]["state"]) {
            Ok(RunState::Completed) => return Ok(()),
            Ok(state) if !state.is_over() => {}
            other => return Err(format!("the warm-up run ended {other:?}")),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(format!("the warm-up run took over {WARM_UP_LIMIT:?}"))
}

/// Creates canvas `id` with `nodes` nodes; returns its revision.
async fn create(client: &mut Client, id: &str, nodes: usize) -> Result<u64, String> {
    create_from(client, id, canvas_json(id, nodes)).await
}

/// Creates canvas `id` with the content of `document` (whose id it takes).
pub async fn put_canvas(
    client: &mut Client,
    id: &str,
    document: &CanvasDocument,
) -> Result<(), String> {
    let mut document = document.clone();
    document.id = id.to_owned();
    let body = serde_json::to_vec(&document).map_err(|e| e.to_string())?;
    create_from(client, id, Bytes::from(body)).await.map(drop)
}

/// Creates canvas `id` (`POST`, revision 0), then fills it with `document`
/// (`PUT` of the whole document); returns its revision.
async fn create_from(client: &mut Client, id: &str, document: Bytes) -> Result<u64, String> {
    let new = serde_json::json!({"id": id, "name": format!("Load test {id}")});
    let created = client
        .send(
            Method::POST,
            "/v1/canvases",
            None,
            Some(Bytes::from(new.to_string())),
        )
        .await?;
    let path = format!("/v1/canvases/{id}");
    let filled = client
        .send(Method::PUT, &path, Some(0), Some(document))
        .await?;
    for (what, answer) in [("POST /v1/canvases", &created), ("PUT", &filled)] {
        if !answer.status.is_success() {
            return Err(format!(
                "{what} of {id} answered {}: {}",
                answer.status,
                String::from_utf8_lossy(&answer.body)
            ));
        }
    }
    serde_json::from_slice::<Revision>(&filled.body)
        .map(|r| r.revision)
        .map_err(|e| format!("reading the revision of {id}: {e}"))
}

#[derive(Deserialize)]
struct Revision {
    revision: u64,
}

/// One user: its own canvas to edit (made before `start`), then requests
/// until `deadline`; at the end, its canvas's revision is checked against
/// the PATCHes that succeeded.
pub async fn user(
    scenario: Scenario,
    user: usize,
    addr: SocketAddr,
    key: String,
    accept_encoding: Option<String>,
    start: Instant,
    deadline: Instant,
) -> Result<Tallies, String> {
    let mut client = Client::new(addr, &key).accept_encoding(accept_encoding.as_deref());
    let mut rng = SmallRng::seed_from_u64(SEED ^ user as u64);
    let own = format!("load-edit-{user}");
    let edits = scenario != Scenario::Read;
    let created = if edits {
        create(&mut client, &own, CANVAS_NODES).await?
    } else {
        0
    };
    let own_path = format!("/v1/canvases/{own}");
    let shared_path = format!("/v1/canvases/{SHARED}");
    let run_path = format!("/v1/canvases/{RUN}/runs");
    let run_body = Bytes::from(
        serde_json::to_vec(&RunOptions::new().quality(Quality::Draft)).expect("options serialise"),
    );
    let node_ids: Vec<String> = {
        let dag = Dag::generate(CANVAS_NODES, 2 * CANVAS_NODES, SEED);
        (0..CANVAS_NODES).map(|i| dag.id(i)).collect()
    };
    let (mut revision, mut patched) = (created, 0_u64);
    let mut tallies = Tallies::default();
    tokio::time::sleep_until(start.into()).await;
    while Instant::now() < deadline {
        let pick: f64 = rng.random();
        let kind = match scenario {
            Scenario::Read => Kind::Read,
            Scenario::Edit => Kind::Edit,
            Scenario::Mixed if pick < 0.70 => Kind::Read,
            Scenario::Mixed if pick < 0.95 => Kind::Edit,
            Scenario::Mixed => Kind::Run,
            Scenario::WsFanout | Scenario::Tasks => {
                return Err(format!("{scenario:?} is not a request scenario"));
            }
        };
        let sent = Instant::now();
        match kind {
            Kind::Read => {
                let answer = client.send(Method::GET, &shared_path, None, None).await;
                expect(&mut tallies.read, sent, answer, StatusCode::OK);
            }
            Kind::Edit => {
                let node = &node_ids[rng.random_range(0..node_ids.len())];
                let op = Op::MoveNode {
                    id: node.clone(),
                    position: Position::new(
                        rng.random_range(0.0..5000.0),
                        rng.random_range(0.0..5000.0),
                    ),
                };
                let body =
                    serde_json::to_vec(&serde_json::json!({"ops": [op]})).expect("ops serialise");
                let answer = client
                    .send(Method::PATCH, &own_path, Some(revision), Some(body.into()))
                    .await;
                if let Ok(a) = &answer
                    && a.status == StatusCode::OK
                    && let Ok(r) = serde_json::from_slice::<Revision>(&a.body)
                {
                    revision = r.revision;
                    patched += 1;
                }
                expect(&mut tallies.edit, sent, answer, StatusCode::OK);
            }
            Kind::Run => {
                let answer = client
                    .send(Method::POST, &run_path, None, Some(run_body.clone()))
                    .await;
                expect(&mut tallies.run, sent, answer, StatusCode::ACCEPTED);
            }
        }
    }
    if edits {
        let answer = client.send(Method::GET, &own_path, None, None).await?;
        let final_revision = serde_json::from_slice::<Revision>(&answer.body)
            .map_err(|e| format!("reading {own}: {e}"))?
            .revision;
        if final_revision != created + patched {
            tallies.lost_updates += 1;
        }
    }
    Ok(tallies)
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Read,
    Edit,
    Run,
}

fn expect(
    tally: &mut Tally,
    sent: Instant,
    answer: Result<crate::client::Answer, String>,
    wanted: StatusCode,
) {
    let took: Duration = sent.elapsed();
    match answer {
        Ok(a) if a.status == wanted => tally.ok(took),
        Ok(a) => tally.error(took, || {
            format!(
                "{} {}",
                a.status,
                String::from_utf8_lossy(&a.body[..a.body.len().min(300)])
            )
        }),
        Err(e) => tally.error(took, || e),
    }
}
