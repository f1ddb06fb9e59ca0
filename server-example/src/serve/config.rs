//! `reelgraph serve` flags, each also read from a `REELGRAPH_*` environment
//! variable; the defaults run as they are.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::ValueEnum;
use reelgraph::store::Durability;

pub use super::auth::SecurityArgs;
pub use super::ws::WsArgs;

/// Serve canvases over HTTP: a REST API under /v1 with an OpenAPI document
/// at /v1/openapi.json.
///
/// Canvases are kept in SQLite in the data directory, which is made at the
/// first start together with the demo canvas and an admin API key. The key
/// is printed once and stored only as a hash: keep it.
#[derive(Debug, Clone, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Where to listen; port 0 picks a free port (printed at start).
    #[arg(long, env = "REELGRAPH_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Where canvases, keys and run outputs are kept.
    #[arg(long, env = "REELGRAPH_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// The largest request body, in bytes.
    #[arg(long, env = "REELGRAPH_BODY_LIMIT", default_value_t = DEFAULT_BODY_LIMIT)]
    pub body_limit: usize,
    /// How long a request may take, body included (e.g. `30s`, `500ms`).
    #[arg(long, env = "REELGRAPH_REQUEST_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,
    /// How long a client may take to send a request's head (request line
    /// and headers) before its connection is closed.
    #[arg(long, env = "REELGRAPH_HEADER_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub header_timeout: Duration,
    /// At SIGTERM or SIGINT: how long requests in flight, and then runs
    /// being cancelled, get to finish.
    #[arg(long, env = "REELGRAPH_DRAIN_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub drain_timeout: Duration,
    /// What an acknowledged edit survives: `power-cut` (an fsync per save)
    /// or `process-crash` (many more edits a second; a power cut or an OS
    /// crash may undo the last ones).
    #[arg(long, env = "REELGRAPH_DURABILITY", value_enum, default_value_t = DurabilityArg::PowerCut)]
    pub durability: DurabilityArg,
    /// How log lines are written on stderr.
    #[arg(long, env = "REELGRAPH_LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,
    /// How long a worker's lease on a task lasts; heartbeats and progress
    /// reports renew it, and a task whose lease runs out is requeued.
    #[arg(long, env = "REELGRAPH_TASK_LEASE", default_value = "30s", value_parser = humantime::parse_duration)]
    pub task_lease: Duration,
    /// Attempts of a task (failed with a retryable error, or expired)
    /// before it is dead-lettered, unless its submission says otherwise.
    #[arg(long, env = "REELGRAPH_TASK_MAX_ATTEMPTS", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub task_max_attempts: u32,
    /// The longest the server holds a worker's claim open when no task is
    /// queued (a claim asks for up to 30 s with `wait_ms`).
    #[arg(long, env = "REELGRAPH_TASK_MAX_WAIT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub task_max_wait: Duration,
    /// Where the server's own runs execute their tasks: `local` (the demo
    /// functions in this process) or `remote` (the task service: workers
    /// anywhere claim them, e.g. `reelgraph worker`).
    #[arg(long, env = "REELGRAPH_RUNNER", value_enum, default_value_t = RunnerArg::Local)]
    pub runner: RunnerArg,
    /// Finished runs held in memory for live readers, at most; the oldest
    /// go first. A run's row and events are stored when it ends, so reads
    /// of a run no longer held come from the database.
    #[arg(long, env = "REELGRAPH_HELD_RUNS", default_value_t = 64)]
    pub held_runs: usize,
    /// How long a finished run stays held in memory.
    #[arg(long, env = "REELGRAPH_HELD_RUNS_FOR", default_value = "60s", value_parser = humantime::parse_duration)]
    pub held_runs_for: Duration,
    /// Runs going at once, at most (a batch counts each of its runs); a
    /// start beyond it is refused with 503 `unavailable` until one ends.
    #[arg(long, env = "REELGRAPH_MAX_ACTIVE_RUNS", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_active_runs: u32,
    #[command(flatten)]
    pub security: SecurityArgs,
    #[command(flatten)]
    pub ws: WsArgs,
}

/// `--runner`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RunnerArg {
    Local,
    Remote,
}

/// The data directory unless `--data-dir` says otherwise (`reelgraph keys` too).
pub const DEFAULT_DATA_DIR: &str = "reelgraph-data";

/// 16 MiB: a canvas of several thousand nodes, well under the core's 64 MiB
/// document limit, so one request cannot hold much memory.
pub const DEFAULT_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// `--durability`, as the store's [`Durability`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DurabilityArg {
    PowerCut,
    ProcessCrash,
}

impl From<DurabilityArg> for Durability {
    fn from(arg: DurabilityArg) -> Durability {
        match arg {
            DurabilityArg::PowerCut => Durability::PowerCut,
            DurabilityArg::ProcessCrash => Durability::ProcessCrash,
        }
    }
}

/// The shape of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per line, with the request id.
    Json,
}

impl Args {
    /// The defaults, with this data directory and a free port on 127.0.0.1:
    /// what in-process tests start from.
    pub fn local(data_dir: PathBuf) -> Args {
        Args {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir,
            body_limit: DEFAULT_BODY_LIMIT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            header_timeout: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(10),
            durability: DurabilityArg::PowerCut,
            log_format: LogFormat::Json,
            task_lease: Duration::from_secs(30),
            task_max_attempts: 3,
            task_max_wait: Duration::from_secs(30),
            runner: RunnerArg::Local,
            held_runs: 64,
            held_runs_for: Duration::from_secs(60),
            max_active_runs: 1024,
            security: SecurityArgs::default(),
            ws: WsArgs::default(),
        }
    }
}

/// How long a request may take unless `--request-timeout` says otherwise.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
