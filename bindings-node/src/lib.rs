//! Node bindings of reelgraph: the package `reelgraph`. Thin: each class
//! wraps a core type, converts arguments and results, and maps core errors
//! to `ReelgraphError` (through `index.js`). napi-rs owns the tokio runtime.

mod applied;
mod autosave;
mod batch;
mod cache;
mod canvas;
mod catalog;
mod convert;
mod errors;
mod events;
mod executor;
mod formats;
mod http_runner;
mod run;
mod runner;
mod runner_arg;
mod stores;
mod task_calls;
mod worker;

pub use canvas::Canvas;
pub use catalog::Catalog;
pub use errors::error_table_json;
pub use formats::{detect_format, import_any_json, import_comfyui_json};
pub use stores::{FileStore, MemoryStore, SqliteStore};
