//! `reelgraph run`: execute a canvas with the demo functions, a result cache
//! on disk and the resilience middleware.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use clap::ValueEnum;
use reelgraph::cache::{CacheStats, ResultCache, SqliteCache};
use reelgraph::exec::{
    ContentKey, DEFAULT_CONCURRENCY, Executor, FailurePolicy, RunOptions, RunReport, RunStatus,
    ThreadPoolBuilder,
};
use reelgraph::remote::{HttpRunner, HttpRunnerConfig};
use reelgraph::render::{SvgOptions, to_svg};
use reelgraph::runner::{
    CircuitConfig, FunctionRunner, Outputs, Resilience, Resilient, RetryPolicy,
};
use reelgraph::{Canvas, Quality};
use serde_json::Value;

use crate::fail::{Failure, error_line};
use crate::progress::{self, Mode, Tracker};
use crate::report::plural;
use crate::{CmdResult, exit};

/// Run a canvas: every task node, or the ones --targets need.
///
/// Tasks run in-process with the demo functions (or, with --remote, on a
/// server's workers), which write real files into the output folder: storyboard frame PNGs, WAVs, a CMX3600 EDL and a
/// contact sheet PNG. Results are cached by content in
/// `<out>/.cache.sqlite`, so a second run of an unchanged canvas executes
/// nothing, and after an edit only what changed runs again (--no-cache runs
/// without it; a cache file that cannot be used is warned about and the
/// run goes on without it). Transient
/// failures are retried with backoff, each attempt has a time limit, a
/// function that keeps failing trips a circuit breaker, and a node out of
/// resources may fall back to a lower quality tier.
///
/// On a terminal the run shows progress bars; otherwise one line per event
/// (--json: one JSON event per line). Ctrl-C cancels the run cleanly.
/// Writes `<out>/run-report.json` and `<out>/canvas.svg`.
///
/// Exit codes: 0 completed, 1 a node failed, 2 refused before anything ran
/// (invalid canvas, unknown node or function, bad arguments), 130 cancelled.
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The canvas document.
    pub canvas: PathBuf,
    /// Run only these nodes and what they need (comma-separated node ids).
    #[arg(long, value_delimiter = ',', value_name = "NODE,...")]
    pub targets: Vec<String>,
    /// The quality tier of every task.
    #[arg(long, value_enum, default_value_t = QualityArg::Standard)]
    pub quality: QualityArg,
    /// Where the files, the cache and the report go [default: out/<canvas id>].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Run these nodes even when their results are cached (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "NODE,...")]
    pub force: Vec<String>,
    /// Run every node, ignoring cached results.
    #[arg(long, conflicts_with = "force")]
    pub force_all: bool,
    /// Run without the result cache: nothing is looked up or stored, and
    /// the cache file is left as it is.
    #[arg(long)]
    pub no_cache: bool,
    /// Stop at the first failure (default: finish every branch that does not
    /// depend on it).
    #[arg(long)]
    pub fail_fast: bool,
    /// Most tasks at once.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_CONCURRENCY, value_parser = at_least_one)]
    pub concurrency: usize,
    /// Print one JSON event per line on stdout (NDJSON) instead of progress.
    #[arg(long)]
    pub json: bool,
    /// Run the tasks on a server's workers (its task service) instead of
    /// in this process, e.g. http://farm.local:8080. The files the workers
    /// write (into the server's results folder) are downloaded into --out.
    #[arg(long, value_name = "URL", requires = "key")]
    pub remote: Option<String>,
    /// The API key for --remote, with the `run` scope.
    #[arg(
        long,
        env = "REELGRAPH_KEY",
        value_name = "KEY",
        hide_env_values = true
    )]
    pub key: Option<String>,
}

fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("`{text}` is not a whole number of at least 1")),
    }
}

/// Quality tiers, as the command line spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QualityArg {
    Draft,
    Standard,
    High,
    Ultra,
}

impl From<QualityArg> for Quality {
    fn from(q: QualityArg) -> Quality {
        match q {
            QualityArg::Draft => Quality::Draft,
            QualityArg::Standard => Quality::Standard,
            QualityArg::High => Quality::High,
            QualityArg::Ultra => Quality::Ultra,
        }
    }
}

/// The result cache's file in the output folder.
const CACHE_FILE: &str = ".cache.sqlite";
const REPORT_FILE: &str = "run-report.json";
const SVG_FILE: &str = "canvas.svg";

pub fn main(args: Args) -> CmdResult {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::runtime("the async runtime", e))?;
    runtime.block_on(run(args))
}

/// The resilience stack around the demo functions, or around a server's
/// workers with --remote: retries of passing errors, a time limit per
/// attempt, a circuit breaker per function and a quality fallback for
/// nodes that allow it. The server's runner too, with --remote.
fn runner(args: &Args, out: &Path) -> Result<(Resilient, Option<HttpRunner>), Failure> {
    let remote = match (&args.remote, &args.key) {
        (Some(server), Some(key)) => Some(
            HttpRunner::new(HttpRunnerConfig::new(server, key)).map_err(|e| Failure::core(&e))?,
        ),
        _ => None,
    };
    let inner: Arc<dyn FunctionRunner> = match &remote {
        Some(remote) => Arc::new(remote.clone()),
        None => Arc::new(reelgraph_demo::runner(out)),
    };
    let resilient = Resilience::new()
        .retry(RetryPolicy::default())
        .timeout(Duration::from_secs(300))
        .circuit_breaker(CircuitConfig::default())
        .quality_fallback(true)
        .wrap(inner);
    Ok((resilient, remote))
}

async fn run(args: Args) -> CmdResult {
    let canvas = crate::input::load_native(&args.canvas)?;
    check_nodes(&canvas, &args.targets, "--targets")?;
    check_nodes(&canvas, &args.force, "--force")?;
    let out = args.out.clone().unwrap_or_else(|| default_out(&canvas));
    let options = options(&args);
    let mode = if args.json {
        Mode::Json
    } else if std::io::stdout().is_terminal() && std::io::stderr().is_terminal() {
        Mode::Bars
    } else {
        Mode::Plain
    };

    // Refusals come before anything is written, the cache file included.
    // A canvas just loaded is planned on a pool of one thread per core.
    let pool = ThreadPoolBuilder::new()
        .build()
        .map_err(|e| Failure::runtime("the planning threads", e))?;
    let (runner, remote) = runner(&args, &out)?;
    let executor = Executor::new(runner)
        .with_concurrency(args.concurrency)
        .with_plan_pool(Arc::new(pool));
    executor.check(&canvas, &options).map_err(|e| refused(&e))?;
    std::fs::create_dir_all(&out).map_err(|e| Failure::write(&out, e))?;
    let cache_path = out.join(CACHE_FILE);
    let cache = if args.no_cache {
        None
    } else {
        open_cache(&cache_path)
    };
    let executor = match &cache {
        Some(cache) => executor.with_cache(cache.clone()),
        None => executor,
    };
    let svg = out.join(SVG_FILE);
    std::fs::write(&svg, to_svg(&canvas, &SvgOptions::default()))
        .map_err(|e| Failure::write(&svg, e))?;

    let canvas = Arc::new(Mutex::new(canvas));
    let mut run = executor
        .start(&canvas, options)
        .await
        .map_err(|e| refused(&e))?;
    let handle = run.handle();
    let mut events = run.events();
    let mut interrupts = Interrupts::new()?;
    let driver = tokio::spawn(run.finish());

    let mut display = progress::display(mode);
    let mut tracker = Tracker::new(handle.run_id());
    let mut interrupted = false;
    if let Some(events) = events.as_mut() {
        loop {
            tokio::select! {
                event = events.next() => {
                    let Some(event) = event else { break };
                    tracker.see(&event);
                    display.event(&event, &tracker);
                }
                () = interrupts.next() => {
                    if interrupted {
                        display.finish();
                        progress::err("interrupted again: quitting without waiting for running tasks");
                        // Not a return: dropping the runtime would wait for
                        // the blocking threads of the running tasks.
                        std::process::exit(i32::from(exit::CANCELLED));
                    }
                    interrupted = true;
                    handle.cancel();
                    display.say("cancelling: waiting for running tasks to stop (Ctrl-C again to quit at once)");
                }
            }
        }
    }
    let report = driver.await.map_err(|e| {
        Failure::core(&reelgraph::Error::Internal {
            message: format!("the run stopped unexpectedly: {e}"),
        })
    })?;
    display.finish();
    if let Some(error) = cache.as_ref().and_then(|c| c.first_error()) {
        cache_warning(
            &cache_path,
            &format!("failed during the run ({error}); results were not reused or not stored"),
        );
    }

    let report_path = out.join(REPORT_FILE);
    let json = serde_json::to_string_pretty(&report).unwrap_or_default();
    std::fs::write(&report_path, json + "\n").map_err(|e| Failure::write(&report_path, e))?;

    let say = |line: &str| match mode {
        Mode::Json => progress::err(line),
        Mode::Bars | Mode::Plain => progress::out(line),
    };
    summary(&say, &report, &tracker);
    if let Some(remote) = &remote {
        crate::run_files::fetch(remote, &report, &out, &say).await;
    }
    let canvas = canvas.lock().unwrap_or_else(PoisonError::into_inner);
    where_things_are(&say, &canvas, &report, &out);
    Ok(match report.status {
        RunStatus::Completed => exit::OK,
        RunStatus::Failed => exit::FAILED,
        RunStatus::Cancelled => exit::CANCELLED,
    })
}

/// The result cache in the output folder, or none when it cannot be
/// opened: the run goes on without it, and the file is left for the user.
fn open_cache(path: &Path) -> Option<Arc<Watched>> {
    match SqliteCache::open(path) {
        Ok(cache) => Some(Arc::new(Watched {
            inner: cache,
            first_error: Mutex::new(None),
        })),
        Err(e) => {
            cache_warning(
                path,
                &format!("cannot be used ({e}); this run goes without it"),
            );
            None
        }
    }
}

/// Says what is wrong with the cache file and what to do, on stderr.
fn cache_warning(path: &Path, what: &str) {
    progress::err(&format!(
        "warning: the result cache {} {what}",
        path.display()
    ));
    progress::err(&format!(
        "hint: delete {} to start a new cache (it holds only results that can be made again), or run with --no-cache",
        path.display()
    ));
}

/// The SQLite cache, keeping its first error: the executor goes on without
/// a cache that fails, and the user is told once, after the run.
#[derive(Debug)]
struct Watched {
    inner: SqliteCache,
    first_error: Mutex<Option<String>>,
}

impl Watched {
    fn note<T>(&self, result: reelgraph::Result<T>) -> reelgraph::Result<T> {
        if let Err(e) = &result {
            let mut first = self
                .first_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            first.get_or_insert_with(|| e.to_string());
        }
        result
    }

    fn first_error(&self) -> Option<String> {
        self.first_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[async_trait::async_trait]
impl ResultCache for Watched {
    async fn get(&self, key: &ContentKey) -> reelgraph::Result<Option<Arc<Outputs>>> {
        self.note(self.inner.get(key).await)
    }

    async fn get_many(&self, keys: &[ContentKey]) -> reelgraph::Result<Vec<Option<Arc<Outputs>>>> {
        self.note(self.inner.get_many(keys).await)
    }

    async fn put(&self, key: ContentKey, outputs: Arc<Outputs>) -> reelgraph::Result<()> {
        self.note(self.inner.put(key, outputs).await)
    }

    fn stats(&self) -> CacheStats {
        self.inner.stats()
    }
}

fn options(args: &Args) -> RunOptions {
    // The run's own cap too, so tasks past it wait in the run (and are
    // skipped, not cancelled, when the run stops).
    let mut options = RunOptions::new()
        .concurrency(args.concurrency)
        .quality(args.quality.into())
        .targets(args.targets.iter().cloned())
        .failure_policy(if args.fail_fast {
            FailurePolicy::FailFast
        } else {
            FailurePolicy::ContinueIndependent
        });
    if args.force_all {
        options = options.force_all();
    } else if !args.force.is_empty() {
        options = options.force(args.force.iter().cloned());
    }
    options
}

/// `out/<canvas id>`, with the id made safe as one folder name.
fn default_out(canvas: &Canvas) -> PathBuf {
    let name: String = canvas
        .id()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let name = name.trim_matches('.');
    Path::new("out").join(if name.is_empty() { "canvas" } else { name })
}

/// Node ids given on the command line must exist.
fn check_nodes(canvas: &Canvas, nodes: &[String], flag: &str) -> Result<(), Failure> {
    for node in nodes {
        if canvas.node(node).is_none() {
            let tasks = task_nodes(canvas);
            let tasks: Vec<&str> = tasks.iter().map(String::as_str).collect();
            return Err(Failure::new(
                "unknown_node",
                format!(
                    "{flag}: there is no node `{node}` in canvas `{}`",
                    canvas.id()
                ),
                format!(
                    "node ids are case-sensitive; the task nodes of this canvas are: {}",
                    names(&tasks)
                ),
            ));
        }
    }
    Ok(())
}

/// Ids of the nodes that have a task, in canvas order.
fn task_nodes(canvas: &Canvas) -> Vec<String> {
    canvas
        .nodes()
        .filter(|n| {
            canvas
                .catalog()
                .get(&n.node_type)
                .is_some_and(|spec| spec.task.is_some())
        })
        .map(|n| n.id)
        .collect()
}

/// A refusal to start; an invalid canvas's report is printed first.
fn refused(error: &reelgraph::Error) -> Failure {
    let mut failure = Failure::core(error);
    if let reelgraph::Error::InvalidCanvas { canvas, report } = error {
        let mut err = std::io::stderr().lock();
        let _ = crate::report::write(&mut err, canvas, report);
        failure.hint =
            "fix the errors above (`reelgraph validate` shows the same), then run again".into();
    }
    failure
}

/// `completed in 1.2 s: 22 run, 0 cached, 0 failed, 0 skipped`, and what
/// went wrong.
fn summary(say: &dyn Fn(&str), report: &RunReport, tracker: &Tracker) {
    let stats = &report.stats;
    say("");
    if report.status == RunStatus::Cancelled {
        // Tasks stopped while running, and tasks that never started (skipped,
        // or cancelled while waiting for a slot) rather than "failed".
        let stopped = tracker.stopped();
        let not_started = tracker.not_started();
        say(&format!(
            "cancelled after {}: {} run, {} cached, {} stopped, {} did not start",
            progress::duration(stats.duration_ms),
            stats.executed,
            stats.cache_hits,
            stopped.len(),
            not_started.len(),
        ));
        if !stopped.is_empty() {
            say(&format!("stopped while running: {}", names(&stopped)));
        }
        if !not_started.is_empty() {
            say(&format!("did not start: {}", names(&not_started)));
        }
        if stats.executed > 0 {
            say("what finished is cached: run again to go on from there");
        }
        return;
    }
    let status = match report.status {
        RunStatus::Failed => "failed",
        _ => "completed",
    };
    say(&format!(
        "{status} in {}: {} run, {} cached, {} failed, {} skipped{}",
        progress::duration(stats.duration_ms),
        stats.executed,
        stats.cache_hits,
        stats.failed,
        stats.skipped,
        match stats.retries {
            0 => String::new(),
            1 => ", 1 retry".to_owned(),
            n => format!(", {n} retries"),
        }
    ));
    for (node, error) in &report.errors {
        say(&error_line(
            error.kind.as_str(),
            &format!("{node}: {}", error.message),
        ));
        if !error.hint.is_empty() {
            say(&format!("hint: {}", error.hint));
        }
    }
}

/// Node ids for a line: the first dozen, and how many more.
pub fn names(nodes: &[&str]) -> String {
    const SHOWN: usize = 12;
    if nodes.len() <= SHOWN {
        return nodes.join(", ");
    }
    format!(
        "{}, and {} more",
        nodes[..SHOWN].join(", "),
        nodes.len() - SHOWN
    )
}

/// Files the run's outputs point at.
#[derive(Debug, Default)]
struct Artifacts {
    contact_sheets: BTreeSet<String>,
    edls: BTreeSet<String>,
    frames: BTreeSet<String>,
    wavs: BTreeSet<String>,
}

impl Artifacts {
    fn collect(canvas: &Canvas, report: &RunReport) -> Self {
        let mut found = Artifacts::default();
        for (node, outputs) in &report.outputs {
            let export = canvas.node(node).is_some_and(|n| n.node_type == "export");
            for value in outputs.values() {
                found.walk(value, export);
            }
        }
        found
    }

    fn walk(&mut self, value: &Value, export: bool) {
        match value {
            Value::Array(items) => items.iter().for_each(|v| self.walk(v, export)),
            Value::Object(o) => {
                let path = o.get("path").and_then(Value::as_str);
                let media = o.get("media_type").and_then(Value::as_str);
                if let (Some(path), Some(media)) = (path, media) {
                    let set = match media {
                        "image/png" if export => &mut self.contact_sheets,
                        "image/png" => &mut self.frames,
                        "audio/wav" | "audio/x-wav" => &mut self.wavs,
                        "text/x-edl" => &mut self.edls,
                        _ => return,
                    };
                    set.insert(path.to_owned());
                }
            }
            _ => {}
        }
    }
}

/// The folder, the contact sheet, the EDL, how many frames and WAVs.
fn where_things_are(say: &dyn Fn(&str), canvas: &Canvas, report: &RunReport, out: &Path) {
    let found = Artifacts::collect(canvas, report);
    let mut missing = 0;
    let mut exists = |rel: &String| {
        let ok = out.join(rel).is_file();
        missing += usize::from(!ok);
        ok
    };
    let contact: Vec<&String> = found.contact_sheets.iter().filter(|p| exists(p)).collect();
    let edls: Vec<&String> = found.edls.iter().filter(|p| exists(p)).collect();
    let frames: Vec<&String> = found.frames.iter().filter(|p| exists(p)).collect();
    let wavs: Vec<&String> = found.wavs.iter().filter(|p| exists(p)).collect();

    say(&format!("output in {}", out.display()));
    for path in contact {
        say(&format!("  contact sheet  {}", out.join(path).display()));
    }
    for path in edls {
        say(&format!("  EDL            {}", out.join(path).display()));
    }
    if !frames.is_empty() {
        say(&format!(
            "  frames         {} in {}",
            plural(frames.len(), "PNG"),
            folders(out, &frames)
        ));
    }
    if !wavs.is_empty() {
        say(&format!(
            "  audio          {} in {}",
            plural(wavs.len(), "WAV"),
            folders(out, &wavs)
        ));
    }
    say(&format!(
        "  report         {}",
        out.join(REPORT_FILE).display()
    ));
    say(&format!(
        "  canvas         {}",
        out.join(SVG_FILE).display()
    ));
    if missing > 0 {
        say(&format!(
            "warning: {} that cached results point at {} missing; run with --force-all to make them again",
            plural(missing, "file"),
            if missing == 1 { "is" } else { "are" }
        ));
    }
}

/// The folders a set of files is in, joined.
fn folders(out: &Path, files: &[&String]) -> String {
    let dirs: BTreeSet<String> = files
        .iter()
        .map(|f| {
            let parent = Path::new(f.as_str()).parent().unwrap_or(Path::new(""));
            out.join(parent).display().to_string()
        })
        .collect();
    dirs.into_iter().collect::<Vec<_>>().join(", ")
}

/// Ctrl-C, as a stream of interrupts. The handler is in place from
/// [`Interrupts::new`] on, so no SIGINT after it is lost.
struct Interrupts {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
}

impl Interrupts {
    fn new() -> Result<Self, Failure> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let signal = signal(SignalKind::interrupt())
                .map_err(|e| Failure::runtime("listening for Ctrl-C", e))?;
            Ok(Interrupts { signal })
        }
        #[cfg(not(unix))]
        Ok(Interrupts {})
    }

    /// The next interrupt; never, if they can no longer be received.
    async fn next(&mut self) {
        #[cfg(unix)]
        let received = self.signal.recv().await.is_some();
        #[cfg(not(unix))]
        let received = tokio::signal::ctrl_c().await.is_ok();
        if !received {
            std::future::pending::<()>().await;
        }
    }
}
