//! Execution: plan a canvas into tasks with content keys, then run them
//! through a function runner with a cache, events and failure policies.

mod decision;
mod emitter;
mod engine;
mod event;
mod executor;
mod hub;
mod options;
mod plan;
mod run;
mod shared_work;
mod stream;
mod work;

/// Plans and run events carry content keys; their home is the crate root.
pub use crate::content_key::ContentKey;
pub use event::{Reason, RunEvent, RunEventKind, RunStats, SkipReason, Timestamp};
pub use executor::{DEFAULT_CACHE_BYTES, DEFAULT_CONCURRENCY, Executor, Explanation};
pub use hub::{
    Counts, EventBatch, HeldRun, HubOptions, NodeSnapshot, NodeState, Publisher, RunHub,
    RunSnapshot, RunState, Subscription,
};
pub use options::{FailurePolicy, Force, RunOptions};
pub use plan::{Plan, PlanOptions, Planner, Step};
/// The planner's thread pool is rayon's; re-exported so the pool an
/// embedder builds is of the version the planner uses.
pub use rayon::{ThreadPool, ThreadPoolBuilder};
pub use run::{Batch, Run, RunHandle, RunReport, RunStatus};
pub use stream::RunEvents;
