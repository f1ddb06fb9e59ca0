//! The one tokio runtime of the binding.
//!
//! The core starts no runtime of its own (docs/embedding.md, "Runtimes"): the
//! binding makes one multi-thread runtime, the first time something needs it,
//! and every future of the core runs on it.
//!
//! Fork rule: after `fork()` only the forking thread lives on in the child, so
//! a runtime made before the fork has worker threads that are gone. Each call
//! to [`runtime`] compares the process id with the one the runtime was made
//! in; in a forked child it makes a new runtime and forgets the parent's
//! (dropping it would wait for threads that do not exist in the child). This
//! also covers forks that Python's `os.register_at_fork` does not see (a fork
//! from C). Fork from a quiet point: work the parent's runtime was doing is
//! not carried over, and a canvas lock held by another thread at the fork
//! stays locked in the child.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::runtime::{Builder, Runtime};

/// The runtime and the process it was made in.
struct Owned {
    pid: u32,
    runtime: Arc<Runtime>,
}

static RUNTIME: Mutex<Option<Owned>> = Mutex::new(None);

/// The binding's runtime, made on first use and again in a forked child;
/// the core's `runtime` error when the process cannot start its threads.
pub fn runtime() -> reelgraph::Result<Arc<Runtime>> {
    let pid = std::process::id();
    // The lock guards only this swap; a panic inside cannot leave it half done.
    let mut slot = RUNTIME.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(owned) = slot.as_ref().filter(|owned| owned.pid == pid) {
        return Ok(owned.runtime.clone());
    }
    let runtime = Arc::new(
        Builder::new_multi_thread()
            .enable_all()
            .thread_name("reelgraph")
            .build()
            .map_err(|e| reelgraph::Error::Runtime {
                what: "the tokio runtime of the Python binding".into(),
                message: e.to_string(),
            })?,
    );
    if let Some(parent) = slot.replace(Owned {
        pid,
        runtime: runtime.clone(),
    }) {
        // The parent's runtime, inherited by a forked child: its threads are gone.
        std::mem::forget(parent);
    }
    Ok(runtime)
}
