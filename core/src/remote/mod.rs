//! The function-runner protocol: tasks submitted to a server, claimed by
//! remote workers under a lease, and their events.
//!
//! [`wire`] holds the request and answer bodies every side shares (the
//! reference server's `/v1/tasks` and `/v1/workers/*` routes, the
//! `HttpRunner` that submits tasks, and the workers that claim them), so
//! the three can't drift. `docs/server-tasks.md` describes the protocol.

pub mod wire;

pub use wire::{
    AttemptOutcome, ClaimRequest, Claimed, Completion, Failure, Heartbeat, LeaseState, LeasedTask,
    ProgressReport, TaskAttempt, TaskEvent, TaskRecord, TaskState, TaskSubmission,
};
