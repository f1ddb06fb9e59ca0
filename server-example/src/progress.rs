//! Showing a run while it goes: progress bars on a terminal, one plain line
//! per event otherwise, or one JSON event per line (NDJSON).

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::time::{Duration, SystemTime};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use reelgraph::exec::{RunEvent, RunEventKind, RunSnapshot, SkipReason};
use reelgraph::runner::{CircuitState, TaskError, TaskErrorKind};

/// How a run is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Progress bars (stdout and stderr are a terminal).
    Bars,
    /// One line per event, no escape codes.
    Plain,
    /// One JSON event per line on stdout; people's lines go to stderr.
    Json,
}

/// What the events said so far, for the lines and the summary: the core's
/// fold of a run's events.
pub type Tracker = RunSnapshot;

/// How long a node ran: from its start to `end`, or `fallback` when its
/// start was not seen (a node's `duration_ms` also counts the time it
/// waited for a free slot; this is the time it ran).
fn ran_for(tracker: &Tracker, node: &str, end: SystemTime, fallback: Duration) -> Duration {
    tracker
        .nodes
        .get(node)
        .and_then(|n| n.started_at)
        .and_then(|start| end.duration_since(start.0).ok())
        .unwrap_or(fallback)
}

/// Shows events as they come, and lines for people.
pub trait Display {
    /// One event (the tracker has already seen it).
    fn event(&mut self, event: &RunEvent, tracker: &Tracker);
    /// A line for people (above the bars, or on stderr in JSON mode).
    fn say(&mut self, line: &str);
    /// The run is over: take the bars away.
    fn finish(&mut self);
}

/// The display for `mode`.
pub fn display(mode: Mode) -> Box<dyn Display> {
    match mode {
        Mode::Bars => Box::new(Bars::new()),
        Mode::Plain => Box::new(Plain),
        Mode::Json => Box::new(Json),
    }
}

/// Writes a line to stdout; a closed stdout (a pipe whose reader left) does
/// not stop the run.
pub fn out(line: &str) {
    let _ = writeln!(io::stdout().lock(), "{line}");
}

/// Writes a line to stderr.
pub fn err(line: &str) {
    let _ = writeln!(io::stderr().lock(), "{line}");
}

/// `120 ms`, `4.2 s`, `3 min 05 s`.
pub fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1_000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{} min {:02} s", ms / 60_000, (ms / 1_000) % 60)
    }
}

fn percent(overall: f64) -> String {
    format!("{:>3.0}%", overall * 100.0)
}

/// A task error on one line: `kind: message`.
fn error_text(error: &TaskError) -> String {
    format!("{}: {}", error.kind, error.message)
}

/// The line of an event, if it gets one; finished nodes start with a mark
/// (`✓`, `=`, `✗`, `-`). A failure's hint is on a second line.
fn line(event: &RunEvent, tracker: &Tracker) -> Option<String> {
    let text = match &event.kind {
        RunEventKind::RunStarted {
            canvas_id,
            quality,
            tasks,
        } => format!(
            "run {} of `{canvas_id}`: {tasks} tasks at {quality} quality",
            event.run_id
        ),
        RunEventKind::NodeQueued { node, reason } => {
            format!("  queued    {node} ({})", snake(&serde_name(reason)))
        }
        RunEventKind::NodeStarted {
            node,
            function,
            quality,
        } => format!("  started   {node} {function} ({quality})"),
        RunEventKind::NodeProgress {
            node,
            progress,
            message,
            overall,
        } => format!(
            "  progress  {node} {}{} [{}]",
            percent(*progress).trim_start(),
            message
                .as_deref()
                .map(|m| format!(" {m}"))
                .unwrap_or_default(),
            percent(*overall).trim_start()
        ),
        RunEventKind::NodeRetrying {
            node,
            attempt,
            delay_ms,
            quality,
            quality_fallback,
            error,
        } => {
            if *quality_fallback {
                format!(
                    "↻ {node} retrying at {quality} quality after {}",
                    error_text(error)
                )
            } else {
                format!(
                    "↻ {node} retrying (attempt {}) in {delay_ms} ms after {}",
                    attempt + 1,
                    error_text(error)
                )
            }
        }
        RunEventKind::NodeCompleted {
            node,
            duration_ms,
            overall,
            ..
        } => format!(
            "✓ {node} {} {} [{}]",
            tracker.function(node),
            duration(ran_for(tracker, node, event.ts.0, *duration_ms)),
            percent(*overall).trim_start()
        ),
        RunEventKind::NodeCached { node, overall, .. } => {
            format!("= {node} cached [{}]", percent(*overall).trim_start())
        }
        RunEventKind::NodeFailed {
            node,
            error,
            overall,
        } => {
            let mut text = if error.kind == TaskErrorKind::Cancelled {
                format!("✗ {node} cancelled")
            } else {
                format!("✗ {node} failed: {}", error_text(error))
            };
            text.push_str(&format!(" [{}]", percent(*overall).trim_start()));
            if !error.hint.is_empty() && error.kind != TaskErrorKind::Cancelled {
                text.push_str(&format!("\n    hint: {}", error.hint));
            }
            text
        }
        RunEventKind::NodeSkipped {
            node,
            reason,
            because,
            overall,
        } => {
            let why = match (reason, because) {
                (_, Some(failed)) if tracker.was_cancelled(failed) => {
                    format!("because {failed} was cancelled")
                }
                (_, Some(failed)) => format!("because {failed} failed"),
                (SkipReason::UpstreamFailed, None) => "because something upstream failed".into(),
                (SkipReason::RunStopped, None) => "because the run stopped".into(),
                (SkipReason::NotNeeded, None) => "(not needed: what it feeds is cached)".into(),
                (SkipReason::Cancelled, None) => {
                    "because it was cancelled before it started".into()
                }
                (_, None) => "".into(),
            };
            format!(
                "- {node} skipped {why} [{}]",
                percent(*overall).trim_start()
            )
        }
        RunEventKind::CircuitChanged { function, state } => match state {
            CircuitState::Open => {
                format!("! circuit for {function} is open: calls fail at once for a while")
            }
            CircuitState::HalfOpen => {
                format!("! circuit for {function} is half-open: trying a call")
            }
            CircuitState::Closed => format!("! circuit for {function} is closed again"),
        },
        RunEventKind::RunCompleted { .. } => "run completed".into(),
        RunEventKind::RunFailed { error, .. } => format!("run failed: {}", error.message),
        RunEventKind::RunCancelled { .. } => "run cancelled".into(),
        _ => return None,
    };
    Some(text)
}

/// The serde name of a unit enum value (`properties_changed`).
fn serde_name(value: &impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// `properties_changed` → `properties changed`.
fn snake(name: &str) -> String {
    name.replace('_', " ")
}

/// One plain line per event on stdout.
#[derive(Debug)]
struct Plain;

impl Display for Plain {
    fn event(&mut self, event: &RunEvent, tracker: &Tracker) {
        if let Some(line) = line(event, tracker) {
            out(&line);
        }
    }
    fn say(&mut self, line: &str) {
        out(line);
    }
    fn finish(&mut self) {}
}

/// The core's serde form of each event, one per line.
#[derive(Debug)]
struct Json;

impl Display for Json {
    fn event(&mut self, event: &RunEvent, _tracker: &Tracker) {
        match serde_json::to_string(event) {
            Ok(json) => out(&json),
            Err(e) => err(&format!("could not write event {} as JSON: {e}", event.seq)),
        }
    }
    fn say(&mut self, line: &str) {
        err(line);
    }
    fn finish(&mut self) {}
}

/// An overall bar and one bar per running node; finished nodes are printed
/// as lines above them.
struct Bars {
    multi: MultiProgress,
    overall: ProgressBar,
    nodes: BTreeMap<String, ProgressBar>,
    node_style: ProgressStyle,
}

impl std::fmt::Debug for Bars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bars").field("nodes", &self.nodes).finish()
    }
}

/// Bars count in thousandths.
const SCALE: u64 = 1_000;

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

impl Bars {
    fn new() -> Self {
        let multi = MultiProgress::new();
        let overall = multi.add(ProgressBar::new(SCALE));
        overall.set_style(style(
            "{spinner:.cyan} [{bar:30.cyan/blue}] {percent:>3}% {elapsed:>4} {wide_msg}",
        ));
        overall.enable_steady_tick(Duration::from_millis(120));
        Bars {
            multi,
            overall,
            nodes: BTreeMap::new(),
            node_style: style("  {prefix:<16} [{bar:20}] {percent:>3}% {wide_msg}"),
        }
    }

    fn print(&self, line: &str) {
        if self.multi.println(line).is_err() {
            err(line);
        }
    }

    fn counts(&self, tracker: &Tracker) {
        self.overall.set_message(format!(
            "{}/{} tasks · {} run · {} cached · {} failed · {} skipped",
            tracker.counts.done(),
            tracker.counts.tasks,
            tracker.counts.executed,
            tracker.counts.cached,
            tracker.counts.failed + tracker.counts.cancelled,
            tracker.counts.skipped
        ));
    }

    fn set_overall(&self, overall: f64) {
        self.overall
            .set_position((overall.clamp(0.0, 1.0) * SCALE as f64).round() as u64);
    }

    fn end_node(&mut self, node: &str) {
        if let Some(bar) = self.nodes.remove(node) {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
    }
}

impl Display for Bars {
    fn event(&mut self, event: &RunEvent, tracker: &Tracker) {
        match &event.kind {
            RunEventKind::RunStarted { .. } => {
                if let Some(line) = line(event, tracker) {
                    self.print(&line);
                }
                self.counts(tracker);
            }
            RunEventKind::NodeQueued { .. } => {}
            RunEventKind::NodeStarted { node, function, .. } => {
                let bar = self.multi.add(ProgressBar::new(SCALE));
                bar.set_style(self.node_style.clone());
                bar.set_prefix(node.to_string());
                bar.set_message(function.to_string());
                self.nodes.insert(node.to_string(), bar);
            }
            RunEventKind::NodeProgress {
                node,
                progress,
                message,
                overall,
            } => {
                if let Some(bar) = self.nodes.get(&**node) {
                    bar.set_position((progress.clamp(0.0, 1.0) * SCALE as f64).round() as u64);
                    let function = tracker.function(node);
                    bar.set_message(match message {
                        Some(m) => format!("{function}: {m}"),
                        None => function.to_owned(),
                    });
                }
                self.set_overall(*overall);
            }
            RunEventKind::NodeRetrying { node, .. } => {
                if let Some(bar) = self.nodes.get(&**node) {
                    bar.set_position(0);
                }
                if let Some(line) = line(event, tracker) {
                    self.print(&line);
                }
            }
            RunEventKind::NodeCompleted { node, overall, .. }
            | RunEventKind::NodeCached { node, overall, .. }
            | RunEventKind::NodeFailed { node, overall, .. }
            | RunEventKind::NodeSkipped { node, overall, .. } => {
                let node = node.to_string();
                self.end_node(&node);
                if let Some(line) = line(event, tracker) {
                    self.print(&line);
                }
                self.set_overall(*overall);
                self.counts(tracker);
            }
            RunEventKind::RunCompleted { .. }
            | RunEventKind::RunFailed { .. }
            | RunEventKind::RunCancelled { .. } => {
                self.counts(tracker);
            }
            _ => {
                if let Some(line) = line(event, tracker) {
                    self.print(&line);
                }
            }
        }
    }

    fn say(&mut self, line: &str) {
        self.print(line);
    }

    fn finish(&mut self) {
        let nodes = std::mem::take(&mut self.nodes);
        for bar in nodes.values() {
            bar.finish_and_clear();
        }
        self.overall.finish_and_clear();
        let _ = self.multi.clear();
    }
}
