//! [`AppState`]: what every handler can reach, cheap to clone (one `Arc`).
//!
//! To add something of your module's: a field on [`Inner`], filled in
//! [`AppState::open`] (or in `mod.rs` before the server starts).

use std::path::Path;
use std::sync::Arc;

use reelgraph::Catalog;
use reelgraph::exec::{HubOptions, RunHub};
use reelgraph::store::SqliteStore;

use super::auth::KeyStore;
use super::auth::rate_limit::RateLimits;
use super::canvases::Canvases;
use super::config::{Args, RunnerArg};
use super::metered_store::MeteredStore;
use super::metrics::Metrics;
use super::node_types;
use super::runs::Runs;
use super::server_db::{self, ServerDb};
use super::tasks::{TaskSettings, Tasks};
use super::ws;

/// The canvases' database file in the data directory.
pub const CANVAS_FILE: &str = "canvases.sqlite";

/// How long before `--request-timeout` a long-polling claim answers.
const CLAIM_MARGIN: std::time::Duration = std::time::Duration::from_millis(500);

/// The shared state of the server.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

/// What [`AppState`] holds.
#[derive(Debug)]
pub struct Inner {
    pub config: Args,
    /// The node types canvases are read with: the built-ins and those
    /// registered through `/v1/node-types`.
    pub catalog: Catalog,
    /// Canvases: the store and the latest version of each in memory.
    pub canvases: Canvases,
    /// The server's own tables.
    pub db: ServerDb,
    pub keys: KeyStore,
    /// Runs of stored canvases, their hub, files and records.
    pub runs: Runs,
    /// The function-runner service: tasks, their queue and events.
    pub tasks: Tasks,
    /// Per-key and per-address request limits (`--rate-limit`).
    pub limits: RateLimits,
    /// Every figure `/metrics` shows; modules record into it.
    pub metrics: Metrics,
    /// What the WebSocket connections share (`/v1/ws`).
    pub ws: Arc<ws::Shared>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Opens (or makes) the data directory of `config`: its databases and
    /// their tables. Starts nothing.
    pub fn open(config: Args) -> reelgraph::Result<AppState> {
        let dir = config.data_dir.clone();
        std::fs::create_dir_all(&dir).map_err(|e| io_error(&dir, &e))?;
        let db = ServerDb::open(&dir.join(server_db::FILE))?;
        let keys = KeyStore::open(db.clone())?;
        let catalog = Catalog::builtin();
        node_types::load(&db, &catalog)?;
        let metrics = Metrics::new();
        let functions: Vec<String> = catalog
            .types()
            .iter()
            .filter_map(|spec| Some(spec.task.as_ref()?.function.clone()))
            .collect();
        metrics.expect_functions(functions.iter().map(String::as_str));
        let store =
            SqliteStore::open(dir.join(CANVAS_FILE))?.with_durability(config.durability.into())?;
        let store = Arc::new(MeteredStore::new(Arc::new(store), metrics.clone()));
        let tasks = Tasks::open(
            db.clone(),
            TaskSettings {
                lease_for: config.task_lease,
                max_attempts: config.task_max_attempts,
                // A claim answers before the request timeout would cut it.
                max_wait: config
                    .task_max_wait
                    .min(config.request_timeout.saturating_sub(CLAIM_MARGIN)),
            },
            metrics.clone(),
        )?;
        let runs = Runs::open(
            &dir,
            db.clone(),
            catalog.clone(),
            store.clone(),
            RunHub::new(
                HubOptions::new()
                    .max_finished(config.held_runs)
                    .keep_finished(config.held_runs_for),
            ),
            metrics.clone(),
            (config.runner == RunnerArg::Remote).then(|| tasks.clone()),
            config.max_active_runs as usize,
        )?;
        let limits = RateLimits::new(config.security.rate_limit, config.security.rate_burst);
        Ok(AppState(Arc::new(Inner {
            canvases: Canvases::new(store, catalog.clone()),
            runs,
            tasks,
            config,
            catalog,
            db,
            keys,
            limits,
            metrics,
            ws: Arc::default(),
        })))
    }
}

fn io_error(path: &Path, error: &std::io::Error) -> reelgraph::Error {
    reelgraph::Error::Io {
        action: "make the data directory",
        path: path.display().to_string(),
        message: error.to_string(),
    }
}
