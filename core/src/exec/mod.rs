//! Execution: plan a canvas into tasks with content keys, then run them
//! through a function runner with a cache, events and failure policies.

mod decision;
mod emitter;
mod engine;
mod event;
mod executor;
mod key;
mod options;
mod plan;
mod run;
mod stream;
mod work;

pub use event::{Reason, RunEvent, RunEventKind, RunStats, SkipReason, Timestamp};
pub use executor::{DEFAULT_CACHE_BYTES, DEFAULT_CONCURRENCY, Executor, Explanation};
pub use key::ContentKey;
pub use options::{FailurePolicy, Force, RunOptions};
pub use plan::{Plan, PlanOptions, Planner, Step};
pub use run::{Batch, Run, RunHandle, RunReport, RunStatus};
pub use stream::RunEvents;
