//! The function-runner protocol: tasks submitted to a server, claimed by
//! remote workers under a lease, and their events.
//!
//! [`wire`] holds the request and answer bodies every side shares (the
//! reference server's `/v1/tasks` and `/v1/workers/*` routes, the
//! `HttpRunner` that submits tasks, and the workers that claim them), so
//! the three can't drift. `docs/server-tasks.md` describes the protocol.
//!
//! With the feature `remote`: [`HttpRunner`], a runner whose tasks go to a
//! server, and [`Worker`], which claims a server's tasks and runs them
//! through any runner (`docs/workers.md`).

#[cfg(feature = "remote")]
mod client;
mod config;
#[cfg(feature = "remote")]
mod http_runner;
#[cfg(feature = "remote")]
mod lease;
#[cfg(feature = "remote")]
mod sse;
pub mod wire;
#[cfg(feature = "remote")]
mod worker;

pub use config::{HttpRunnerConfig, WorkerConfig, WorkerStats};
#[cfg(feature = "remote")]
pub use http_runner::HttpRunner;
pub use wire::{
    AttemptOutcome, ClaimRequest, Claimed, Completion, Failure, Heartbeat, LeaseState, LeasedTask,
    ProgressReport, TaskAttempt, TaskEvent, TaskRecord, TaskState, TaskSubmission,
};
#[cfg(feature = "remote")]
pub use worker::Worker;
