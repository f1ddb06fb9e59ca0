//! `Autosaver`: the core's autosaver for a canvas and a store, its task on
//! the binding's runtime. It saves after a quiet period and at least every
//! `max_interval_ms` while changes come, flushes on `close()`, and reports
//! each save, conflict or failure to `onEvent` (the core's `AutosaveEvent`).

use std::sync::Mutex;

use napi::Env;
use napi::bindgen_prelude::{Either3, PromiseRaw, Unknown};
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi_derive::napi;
use reelgraph::store::{AutosaveOptions, autosave};
use tokio::task::JoinHandle;

use crate::canvas::Canvas;
use crate::convert::{optional_string_arg, to_text};
use crate::errors::js;
use crate::events::event_callback;
use crate::executor::whole;
use crate::stores::{FileStore, MemoryStore, SqliteStore};

#[napi]
#[derive(Debug)]
pub struct Autosaver {
    inner: reelgraph::store::Autosaver,
    task: Mutex<Option<JoinHandle<()>>>,
}

#[napi]
impl Autosaver {
    /// Saves `canvas` to `store`, which holds it at `storedRevision`;
    /// `optionsJson` is the core's `AutosaveOptions`.
    #[napi(constructor)]
    pub fn new(
        canvas: &Canvas,
        store: Either3<&MemoryStore, &FileStore, &SqliteStore>,
        stored_revision: f64,
        options_json: Option<Unknown<'_>>,
        on_event: Option<Unknown<'_>>,
    ) -> napi::Result<Self> {
        let store = match store {
            Either3::A(s) => s.store(),
            Either3::B(s) => s.store(),
            Either3::C(s) => s.store(),
        };
        let revision = whole(stored_revision, "storedRevision", 0.0)? as u64;
        let options: AutosaveOptions = match optional_string_arg(options_json, "options")? {
            Some(text) => js(reelgraph::from_json(&text))?,
            None => AutosaveOptions::default(),
        };
        let callback = event_callback(on_event)?;
        let (inner, saving, mut events) = autosave(canvas.inner.clone(), store, revision, options);
        let task = napi::bindgen_prelude::spawn(async move {
            let reporting = async move {
                while let Some(event) = events.recv().await {
                    if let (Some(callback), Ok(text)) = (&callback, to_text(&[event])) {
                        callback.call(Some(text), ThreadsafeFunctionCallMode::NonBlocking);
                    }
                }
                if let Some(callback) = &callback {
                    // Every event was delivered once the marker is.
                    let _ = callback.call_async(None).await;
                }
            };
            tokio::join!(saving, reporting);
        });
        Ok(Autosaver {
            inner,
            task: Mutex::new(Some(task)),
        })
    }

    /// The canvas changed: call after each successful `apply`.
    #[napi]
    pub fn touch(&self) {
        self.inner.touch();
    }

    /// After a conflict: the canvas now builds on stored revision `revision`.
    #[napi]
    pub fn rebased(&self, revision: f64) -> napi::Result<()> {
        self.inner.rebased(whole(revision, "revision", 0.0)? as u64);
        Ok(())
    }

    /// Saves what is pending and stops; resolves once it is saved and
    /// `onEvent` has seen every event.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        self.inner.close();
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
        env.spawn_future(async move {
            if let Some(task) = task {
                task.await
                    .map_err(|e| napi::Error::from_reason(format!("the autosaver failed: {e}")))?;
            }
            Ok(())
        })
    }
}
