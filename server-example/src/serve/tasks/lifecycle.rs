//! What each step of the protocol does to a task: the state changes of a
//! [`TaskRecord`] and the events they make, with no storage in sight. Every
//! [`TaskQueue`](super::queue::TaskQueue) loads a record, applies one of
//! these under its lock or transaction, and stores the result, so queues
//! differ in how they store and pick tasks, never in what a step means.

use std::time::Duration;

use reelgraph::event::Timestamp;
use reelgraph::remote::{
    AttemptOutcome, LeasedTask, ProgressReport, TaskAttempt, TaskEvent, TaskRecord, TaskState,
    TaskSubmission,
};
use reelgraph::runner::{Outputs, TaskError, TaskErrorKind};

/// One step on one task: the record, the seq its next event gets, the
/// time of the step, and the events made so far.
#[derive(Debug)]
pub struct Step<'a> {
    pub record: &'a mut TaskRecord,
    /// The seq of the task's next event; each event takes one.
    pub next_seq: &'a mut u64,
    pub now: Timestamp,
    pub events: Vec<TaskEvent>,
}

impl<'a> Step<'a> {
    pub fn new(record: &'a mut TaskRecord, next_seq: &'a mut u64, now: Timestamp) -> Step<'a> {
        Step {
            record,
            next_seq,
            now,
            events: Vec::new(),
        }
    }

    fn seq(&mut self) -> u64 {
        let seq = *self.next_seq;
        *self.next_seq += 1;
        seq
    }

    fn touch(&mut self) {
        self.record.updated_at = self.now;
    }

    /// The attempt running now (the last one), to end it.
    fn end_attempt(&mut self, outcome: AttemptOutcome, error: Option<TaskError>) {
        let now = self.now;
        if let Some(attempt) = self.record.attempts.last_mut()
            && attempt.outcome.is_none()
        {
            attempt.outcome = Some(outcome);
            attempt.ended_at = Some(now);
            attempt.error = error;
        }
    }

    /// Leases the task to `worker` as a new attempt under `lease`.
    pub fn lease(&mut self, worker: &str, lease: String, lease_for: Duration) -> LeasedTask {
        let attempt = u32::try_from(self.record.attempts.len() + 1).unwrap_or(u32::MAX);
        self.record.attempts.push(TaskAttempt {
            attempt,
            worker: worker.to_owned(),
            leased_at: self.now,
            ended_at: None,
            outcome: None,
            error: None,
        });
        self.record.state = TaskState::Leased;
        self.record.progress = None;
        self.touch();
        let seq = self.seq();
        self.events.push(TaskEvent::TaskLeased {
            task_id: self.record.id.clone(),
            seq,
            ts: self.now,
            worker: worker.to_owned(),
            attempt,
        });
        let record = &*self.record;
        LeasedTask {
            task_id: record.id.clone(),
            lease,
            attempt,
            function: record.function.clone(),
            params: record.params.clone(),
            quality: record.quality,
            idempotency_key: record.idempotency_key.clone(),
            outputs: record.outputs_declared.clone(),
            run_id: record.run_id.clone(),
            node: record.node.clone(),
            lease_for,
        }
    }

    pub fn progress(&mut self, report: ProgressReport) {
        self.record.progress = Some(report.progress);
        self.touch();
        let seq = self.seq();
        self.events.push(TaskEvent::TaskProgress {
            task_id: self.record.id.clone(),
            seq,
            ts: self.now,
            progress: report.progress,
            message: report.message,
        });
    }

    pub fn complete(&mut self, outputs: Outputs) {
        self.end_attempt(AttemptOutcome::Completed, None);
        self.record.state = TaskState::Completed;
        self.record.progress = Some(1.0);
        self.record.outputs = Some(outputs.clone());
        self.touch();
        let seq = self.seq();
        self.events.push(TaskEvent::TaskCompleted {
            task_id: self.record.id.clone(),
            seq,
            ts: self.now,
            outputs,
        });
    }

    /// The worker gave up on the attempt: back in the queue when the kind
    /// is retryable and attempts remain, `dead` when none remain, `failed`
    /// when retrying cannot help.
    pub fn fail(&mut self, error: TaskError) {
        self.end_attempt(AttemptOutcome::Failed, Some(error.clone()));
        if !error.kind.is_retryable() {
            self.record.state = TaskState::Failed;
            self.record.error = Some(error.clone());
            self.touch();
            let seq = self.seq();
            self.events.push(TaskEvent::TaskFailed {
                task_id: self.record.id.clone(),
                seq,
                ts: self.now,
                error,
            });
            return;
        }
        self.retry_or_bury(AttemptOutcome::Failed, error);
    }

    /// The lease ran out without a word from the worker.
    pub fn expire(&mut self) {
        let error = TaskError::new(
            TaskErrorKind::Timeout,
            "the worker stopped sending heartbeats and its lease expired",
        )
        .with_hint("check the worker's log; a worker must heartbeat well within the lease");
        self.end_attempt(AttemptOutcome::Expired, Some(error.clone()));
        self.retry_or_bury(AttemptOutcome::Expired, error);
    }

    fn retry_or_bury(&mut self, outcome: AttemptOutcome, error: TaskError) {
        let attempt = u32::try_from(self.record.attempts.len()).unwrap_or(u32::MAX);
        self.touch();
        let seq = self.seq();
        if attempt < self.record.max_attempts {
            self.record.state = TaskState::Queued;
            self.record.progress = None;
            self.events.push(TaskEvent::TaskRequeued {
                task_id: self.record.id.clone(),
                seq,
                ts: self.now,
                attempt,
                outcome,
                error: Some(error),
            });
            return;
        }
        let error = TaskError {
            message: format!("all {attempt} attempts failed; the last: {}", error.message),
            hint:
                "read `attempts` for each attempt's error, fix the cause, and submit the task again"
                    .to_owned(),
            ..error
        };
        self.record.state = TaskState::Dead;
        self.record.error = Some(error.clone());
        self.events.push(TaskEvent::TaskDead {
            task_id: self.record.id.clone(),
            seq,
            ts: self.now,
            error,
        });
    }

    /// A client cancelled the task (queued or leased; the caller checked it
    /// is not final). A worker holding it learns it from its next heartbeat.
    pub fn cancel(&mut self) {
        let error = TaskError::new(TaskErrorKind::Cancelled, "the task was cancelled")
            .with_hint("submit it again (with another idempotency key) to have it done");
        self.end_attempt(AttemptOutcome::Cancelled, Some(error.clone()));
        self.record.state = TaskState::Cancelled;
        self.record.error = Some(error);
        self.touch();
        let seq = self.seq();
        self.events.push(TaskEvent::TaskCancelled {
            task_id: self.record.id.clone(),
            seq,
            ts: self.now,
        });
    }
}

/// A new task's record (`queued`) and its first event, seq 0.
pub fn submitted(
    id: String,
    task: TaskSubmission,
    max_attempts: u32,
    now: Timestamp,
) -> (TaskRecord, TaskEvent) {
    let event = TaskEvent::TaskQueued {
        task_id: id.clone(),
        seq: 0,
        ts: now,
    };
    let record = TaskRecord {
        id,
        function: task.function,
        params: task.params,
        quality: task.quality,
        priority: task.priority,
        idempotency_key: task.idempotency_key,
        outputs_declared: task.outputs,
        state: TaskState::Queued,
        max_attempts: task.max_attempts.unwrap_or(max_attempts),
        attempts: Vec::new(),
        progress: None,
        outputs: None,
        error: None,
        run_id: task.run_id,
        node: task.node,
        created_at: now,
        updated_at: now,
    };
    (record, event)
}

/// How completion outputs differ from the declared ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrongOutputs {
    pub missing: Vec<String>,
    pub unexpected: Vec<String>,
}

impl WrongOutputs {
    /// The error the attempt fails with.
    pub fn task_error(&self) -> TaskError {
        TaskError::new(
            TaskErrorKind::InvalidInput,
            format!(
                "the worker's outputs do not match the declared ports (missing: {:?}, not declared: {:?})",
                self.missing, self.unexpected
            ),
        )
        .with_hint("the function must return exactly the ports in the task's `outputs`")
    }
}

/// Whether `outputs` names exactly the `declared` ports (anything goes
/// when none are declared).
pub fn check_outputs(declared: Option<&[String]>, outputs: &Outputs) -> Result<(), WrongOutputs> {
    let Some(declared) = declared else {
        return Ok(());
    };
    let missing: Vec<String> = declared
        .iter()
        .filter(|name| !outputs.contains_key(name.as_str()))
        .cloned()
        .collect();
    let unexpected: Vec<String> = outputs
        .keys()
        .filter(|name| !declared.contains(name))
        .cloned()
        .collect();
    if missing.is_empty() && unexpected.is_empty() {
        Ok(())
    } else {
        Err(WrongOutputs {
            missing,
            unexpected,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn task(max_attempts: u32) -> (TaskRecord, u64) {
        let submission: TaskSubmission =
            serde_json::from_value(json!({"function": "image.generate", "outputs": ["image"]}))
                .expect("a submission");
        let (record, _) = submitted("tk_1".into(), submission, max_attempts, Timestamp::now());
        (record, 1)
    }

    #[test]
    fn retryable_failures_requeue_until_the_last_attempt_then_the_task_is_dead() {
        let (mut record, mut seq) = task(2);
        let mut step = Step::new(&mut record, &mut seq, Timestamp::now());
        step.lease("w1", "ls_1".into(), Duration::from_secs(1));
        step.fail(TaskError::new(TaskErrorKind::Transient, "busy"));
        assert_eq!(step.record.state, TaskState::Queued);
        step.lease("w2", "ls_2".into(), Duration::from_secs(1));
        step.expire();
        assert_eq!(step.record.state, TaskState::Dead);
        let outcomes: Vec<_> = step.record.attempts.iter().map(|a| a.outcome).collect();
        assert_eq!(
            outcomes,
            [Some(AttemptOutcome::Failed), Some(AttemptOutcome::Expired)]
        );
        let seqs: Vec<u64> = step.events.iter().map(TaskEvent::seq).collect();
        assert_eq!(seqs, [1, 2, 3, 4]);
        assert!(step.events.last().is_some_and(TaskEvent::is_final));
    }

    #[test]
    fn a_permanent_failure_ends_the_task_at_once() {
        let (mut record, mut seq) = task(3);
        let mut step = Step::new(&mut record, &mut seq, Timestamp::now());
        step.lease("w1", "ls_1".into(), Duration::from_secs(1));
        step.fail(TaskError::new(TaskErrorKind::Permanent, "no"));
        assert_eq!(step.record.state, TaskState::Failed);
    }

    #[test]
    fn outputs_must_name_exactly_the_declared_ports() {
        let declared = vec!["image".to_owned()];
        let good = json!({"image": "a.png"});
        let good = good.as_object().expect("an object");
        assert_eq!(check_outputs(Some(&declared), good), Ok(()));
        let bad = json!({"picture": "a.png"});
        let wrong = check_outputs(Some(&declared), bad.as_object().expect("an object"))
            .expect_err("wrong ports");
        assert_eq!(
            (wrong.missing, wrong.unexpected),
            (vec!["image".to_owned()], vec!["picture".to_owned()])
        );
        assert_eq!(check_outputs(None, good), Ok(()));
    }
}
