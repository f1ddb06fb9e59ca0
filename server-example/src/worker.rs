//! `reelgraph worker`: takes tasks from a server's task service and runs
//! them with the demo functions, until SIGINT or SIGTERM.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use reelgraph::remote::{Worker, WorkerConfig};
use reelgraph_server::serve::config::{DEFAULT_DATA_DIR, LogFormat};
use tokio_util::sync::CancellationToken;

use crate::fail::Failure;
use crate::{CmdResult, exit};

/// Work for a server: claim its tasks and run them with the demo functions.
///
/// The worker asks the server (`reelgraph serve --runner remote`, or any
/// server whose task service gets tasks from `reelgraph run --remote`) for
/// tasks of the functions it serves, runs them, and reports progress and
/// results. Each task is held under a lease that heartbeats renew: if the
/// worker dies, the lease runs out and another worker takes the task.
///
/// The demo functions write their files into --out, which must be the
/// server's results folder (`<data dir>/results`) or a shared folder
/// mounted there: outputs name files relative to it.
///
/// SIGINT or SIGTERM: no more claims; running tasks get --grace to finish,
/// then are cancelled and handed back to the queue.
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The server, e.g. http://farm.local:8080.
    #[arg(long, env = "REELGRAPH_SERVER", value_name = "URL")]
    pub server: String,
    /// An API key with the `run` scope.
    #[arg(
        long,
        env = "REELGRAPH_KEY",
        value_name = "KEY",
        hide_env_values = true
    )]
    pub key: String,
    /// Most tasks at once (1 to 64).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub concurrency: u32,
    /// Claim tasks only of these functions (comma-separated) [default: every demo function].
    #[arg(long, value_delimiter = ',', value_name = "FUNCTION,...")]
    pub functions: Vec<String>,
    /// The name shown in each task's attempts [default: HOST-PID].
    #[arg(long)]
    pub name: Option<String>,
    /// Where the demo functions write their files: the server's results folder.
    #[arg(long, value_name = "DIR", default_value_os_t = PathBuf::from(DEFAULT_DATA_DIR).join("results"))]
    pub out: PathBuf,
    /// How long a claim waits on the server for a task (at most 30s).
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    pub claim_wait: Duration,
    /// After SIGINT or SIGTERM: how long running tasks may take to finish.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub grace: Duration,
    /// How log lines are written on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

pub fn main(args: Args) -> CmdResult {
    reelgraph_server::serve::logging::init(args.log_format);
    let runner = reelgraph_demo::runner(&args.out);
    let mut config = WorkerConfig::new(&args.server, &args.key)
        .with_concurrency(args.concurrency)
        .with_claim_wait(args.claim_wait)
        .with_grace(args.grace);
    if !args.functions.is_empty() {
        config = config.with_functions(&args.functions);
    }
    if let Some(name) = &args.name {
        config = config.with_name(name);
    }
    let worker = Worker::new(config, Arc::new(runner)).map_err(|e| Failure::core(&e))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::runtime("the async runtime", e))?;
    runtime.block_on(async {
        let stop = CancellationToken::new();
        let signal = stop.clone();
        tokio::spawn(async move {
            reelgraph_server::serve::shutdown::signal().await;
            signal.cancel();
        });
        tracing::info!(
            server = %args.server,
            worker = worker.name(),
            functions = %worker.functions().join(","),
            concurrency = args.concurrency,
            "worker started"
        );
        let stats = worker.run(stop).await.map_err(|e| Failure::core(&e))?;
        tracing::info!(
            claimed = stats.claimed,
            completed = stats.completed,
            failed = stats.failed,
            lost = stats.lost,
            returned = stats.returned,
            "worker stopped"
        );
        Ok(exit::OK)
    })
}
