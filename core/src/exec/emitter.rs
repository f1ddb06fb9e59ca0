//! The emitter: numbers a run's events, tracks overall progress and turns
//! tasks' notes into events.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::event::{RunEvent, RunEventKind, Timestamp};
use super::hub::Publisher;
use super::run::RunReport;
use super::stream::{EventSender, FLUSH_EVERY, Sent};
use crate::quality::Quality;
use crate::runner::{NoteTarget, TaskNote};

/// Sends events with gapless `seq`s and overall progress. Notes from tasks
/// arrive on other threads, so numbering and sending happen under one lock:
/// the stream order is the `seq` order. After the last event it is closed and
/// drops whatever a straggling task still reports.
#[derive(Debug)]
pub(super) struct Emitter {
    run_id: Arc<str>,
    /// Node id of each step, for task notes.
    nodes: Arc<[Arc<str>]>,
    /// The run's quality tier.
    quality: Quality,
    /// Steps whose result was made at a lower tier than asked, or built on
    /// one: passed on, not stored.
    pub(super) degraded: Vec<AtomicBool>,
    state: Mutex<EmitState>,
}

#[derive(Debug)]
struct EmitState {
    seq: u64,
    tx: Option<EventSender>,
    /// The hub's copy of the stream, when the executor has a hub.
    publisher: Option<Publisher>,
    /// Events numbered but not sent yet.
    pending: Vec<RunEvent>,
    total: usize,
    done: usize,
    partial: Vec<f64>,
    partial_sum: f64,
    retries: usize,
    clamped: usize,
    /// The tier each step fell back to, if it did.
    fallen_to: HashMap<usize, Quality>,
}

impl EmitState {
    fn overall(&self) -> f64 {
        if self.total == 0 {
            return 1.0;
        }
        ((self.done as f64 + self.partial_sum) / self.total as f64).clamp(0.0, 1.0)
    }
}

impl Emitter {
    pub(super) fn new(
        run_id: Arc<str>,
        tx: EventSender,
        nodes: Arc<[Arc<str>]>,
        quality: Quality,
    ) -> Self {
        let total = nodes.len();
        Emitter {
            run_id,
            degraded: (0..total).map(|_| AtomicBool::new(false)).collect(),
            nodes,
            quality,
            state: Mutex::new(EmitState {
                seq: 0,
                tx: Some(tx),
                publisher: None,
                pending: Vec::new(),
                total,
                done: 0,
                partial: vec![0.0; total],
                partial_sum: 0.0,
                retries: 0,
                clamped: 0,
                fallen_to: HashMap::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, EmitState> {
        // A poisoned lock only means a panic elsewhere; the counters are fine.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Numbers an event and holds it back until the next flush.
    fn send(&self, state: &mut EmitState, kind: RunEventKind) {
        let Some(tx) = &state.tx else { return };
        // Nobody can see it (the stream was dropped and there is no hub):
        // numbering it is all that is left to do.
        if state.publisher.is_none() && tx.is_closed() {
            state.seq += 1;
            return;
        }
        let event = RunEvent {
            run_id: self.run_id.clone(),
            seq: state.seq,
            ts: Timestamp::now(),
            kind,
        };
        state.seq += 1;
        state.pending.push(event);
        if state.pending.len() >= FLUSH_EVERY {
            Self::flush_locked(state);
        }
    }

    /// Sends an event now: for notes from tasks, which come while the
    /// engine may be waiting.
    fn send_now(&self, state: &mut EmitState, kind: RunEventKind) {
        self.send(state, kind);
        Self::flush_locked(state);
    }

    fn flush_locked(state: &mut EmitState) {
        let Some(tx) = &state.tx else { return };
        if let Some(publisher) = &state.publisher {
            // Nobody reads the run's own stream: the events move into the
            // hub's log, with no copy.
            if tx.is_closed() {
                publisher.publish_owned(&mut state.pending);
                return;
            }
            publisher.publish(&state.pending);
        }
        let sent = match state.pending.len() {
            0 => return,
            1 => Sent::One(state.pending.pop().expect("one event")),
            _ => Sent::Many(std::mem::replace(
                &mut state.pending,
                Vec::with_capacity(FLUSH_EVERY),
            )),
        };
        // The consumer may have dropped the stream; the run goes on.
        let _ = tx.send(sent);
    }

    /// Sends the events held back.
    pub(super) fn flush(&self) {
        Self::flush_locked(&mut self.lock());
    }

    pub(super) fn emit(&self, kind: RunEventKind) {
        let mut state = self.lock();
        self.send(&mut state, kind);
    }

    /// Emits the event that finishes step `step`, with overall progress.
    pub(super) fn finish_step(&self, step: usize, kind: impl FnOnce(f64) -> RunEventKind) {
        let mut state = self.lock();
        state.done += 1;
        let partial = std::mem::take(&mut state.partial[step]);
        state.partial_sum -= partial;
        let overall = state.overall();
        self.send(&mut state, kind(overall));
    }

    fn progress(
        &self,
        step: usize,
        node: &Arc<str>,
        progress: f64,
        message: Option<String>,
        clamped: bool,
    ) {
        let mut state = self.lock();
        if clamped {
            state.clamped += 1;
        }
        let before = std::mem::replace(&mut state.partial[step], progress);
        state.partial_sum += progress - before;
        let overall = state.overall();
        self.send_now(
            &mut state,
            RunEventKind::NodeProgress {
                node: node.clone(),
                progress,
                message,
                overall,
            },
        );
    }

    /// Also publishes every event to a run hub.
    pub(super) fn publishing_to(self, publisher: Option<Publisher>) -> Self {
        self.lock().publisher = publisher;
        self
    }

    /// Hands the run's report to the hub, if it has one.
    pub(super) fn publish_report(&self, report: &RunReport) {
        if let Some(publisher) = self.lock().publisher.take() {
            publisher.finish(report.clone());
        }
    }

    /// Sends the last event and closes the stream.
    pub(super) fn close(&self, kind: impl FnOnce(usize, usize) -> RunEventKind) {
        let mut state = self.lock();
        let (retries, clamped) = (state.retries, state.clamped);
        self.send(&mut state, kind(retries, clamped));
        Self::flush_locked(&mut state);
        state.tx = None;
    }
}

/// Turns tasks' notes into run events.
impl NoteTarget for Emitter {
    fn note(&self, step: usize, note: TaskNote) {
        let node = &self.nodes[step];
        match note {
            TaskNote::Progress {
                progress,
                message,
                clamped,
            } => self.progress(step, node, progress, message, clamped),
            TaskNote::Retrying {
                attempt,
                delay,
                error,
            } => {
                let mut state = self.lock();
                let quality = state.fallen_to.get(&step).copied().unwrap_or(self.quality);
                state.retries += 1;
                self.send_now(
                    &mut state,
                    RunEventKind::NodeRetrying {
                        node: node.clone(),
                        attempt,
                        delay_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        quality,
                        quality_fallback: false,
                        error,
                    },
                );
            }
            TaskNote::QualityFallback { to, error, .. } => {
                self.degraded[step].store(true, Ordering::Relaxed);
                let mut state = self.lock();
                state.fallen_to.insert(step, to);
                state.retries += 1;
                self.send_now(
                    &mut state,
                    RunEventKind::NodeRetrying {
                        node: node.clone(),
                        attempt: 0,
                        delay_ms: 0,
                        quality: to,
                        quality_fallback: true,
                        error,
                    },
                );
            }
            TaskNote::Circuit { function, state } => {
                let mut emit_state = self.lock();
                self.send_now(
                    &mut emit_state,
                    RunEventKind::CircuitChanged { function, state },
                );
            }
        }
    }
}
