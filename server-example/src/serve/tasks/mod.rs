//! The function-runner service: tasks that clients submit and remote
//! workers claim under a lease (`docs/server-tasks.md` is the protocol).
//!
//! - `lifecycle`: what each step does to a task (pure);
//! - `queue`: the [`TaskQueue`] trait, shaped for PostgreSQL too;
//! - `sqlite_queue`: the queue in the server's database, written through
//!   the server's group commit (`server_db_commit`: many writes, one fsync);
//! - `task_hub`: task events, live and replayed;
//! - `task_service`: [`Tasks`], which checks input, calls the queue and
//!   publishes each change (events, long-poll wake-ups, metrics);
//! - `task_routes` (clients) and `worker_routes` (workers).

mod lifecycle;
pub mod queue;
mod sqlite_queue;
mod task_hub;
mod task_routes;
mod task_service;
mod worker_routes;

use super::registry::Registry;

pub use queue::TaskQueue;
pub use task_hub::{TaskEvents, TaskItem, TaskItems};
pub use task_service::{TaskSettings, Tasks};

pub fn register(routes: &mut Registry) {
    task_routes::register(routes);
    worker_routes::register(routes);
}
