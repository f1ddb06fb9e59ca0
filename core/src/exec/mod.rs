//! Execution: plan a canvas into tasks with content keys, then run them
//! through a function runner with a cache, events and failure policies.

mod event;
mod hub;
mod key;
mod plan;
mod prepare;
mod run;

pub use event::{Reason, RunEvent, RunEventKind, RunStats, SkipReason, Timestamp};
pub use hub::{
    Counts, EventBatch, HubOptions, NodeSnapshot, NodeState, Publisher, RunHub, RunSnapshot,
    RunState, Subscription,
};
pub use key::ContentKey;
pub use plan::{Plan, PlanOptions, Planner, Step};
pub use run::{
    Batch, DEFAULT_CACHE_BYTES, DEFAULT_CONCURRENCY, Executor, Explanation, FailurePolicy, Force,
    Run, RunEvents, RunHandle, RunOptions, RunReport, RunStatus,
};
