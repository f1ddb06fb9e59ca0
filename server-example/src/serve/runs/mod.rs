//! Runs over HTTP: start runs and batches of stored canvases with the demo
//! functions, follow them (snapshots, server-sent events), cancel them or
//! one node, download what they made, and find finished runs after a
//! restart. The routes are in `routes`, the work in `service`.

mod driver;
mod folders;
mod records;
mod routes;
mod service;
pub mod sse;
mod view;

pub use routes::register;
pub use service::{Events, Runs};
