//! `LocalRunner`: JavaScript functions as runner functions.
//!
//! Tasks reach their function in batches through a thread-safe function,
//! which the event loop runs when it is free (see `task_calls.rs`); the
//! outcome comes back by the task's number (`resolveTask` / `rejectTask`),
//! so neither the event loop nor a runtime thread ever waits on the other.
//! `lib/run.js` wraps the user's function: it builds `ctx`, awaits the
//! result and turns a thrown error into the JSON `rejectTask` reads.

use std::sync::{Arc, Mutex};

use napi::ValueType;
use napi::bindgen_prelude::{Function, Unknown};
use napi::threadsafe_function::{ThreadsafeFunctionCallMode, UnknownReturnValue};
use napi_derive::napi;
use reelgraph::runner::{Outputs, TaskError, TaskErrorKind};
use serde::Deserialize;
use serde_json::Value;

use crate::convert::{describe, optional_string_arg, string_arg};
use crate::errors::type_error;
use crate::task_calls::{Inbox, Running, take_ready};

/// Runs tasks with functions registered in this process: JavaScript
/// functions (`register`) and the demo functions of the Rust demo
/// (`LocalRunner.demo(outDir)`). Registering works at any time, also while a
/// run goes: a task looks its function up when it starts.
#[napi]
pub struct LocalRunner {
    pub(crate) inner: reelgraph::runner::LocalRunner,
    running: Arc<Running>,
}

impl std::fmt::Debug for LocalRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalRunner")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

#[napi]
impl LocalRunner {
    #[napi(constructor)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        LocalRunner::of(reelgraph::runner::LocalRunner::new())
    }

    /// A runner with the demo functions (storyboard frames, WAVs, EDL,
    /// contact sheet), writing under `outDir`.
    #[napi(factory)]
    pub fn demo(out_dir: Unknown<'_>) -> napi::Result<Self> {
        let out_dir = string_arg(out_dir, "outDir")?;
        Ok(LocalRunner::of(reelgraph_demo::runner(out_dir)))
    }

    /// Registers `call` under `name`; `call(batchJson)` is the wrapper
    /// `lib/run.js` made around the user's function, and gets the ready
    /// tasks as a JSON array of `[number, task]`.
    #[napi]
    pub fn register(&self, name: Unknown<'_>, call: Unknown<'_>) -> napi::Result<()> {
        let name = string_arg(name, "name")?;
        if call.get_type()? != ValueType::Function {
            return Err(type_error("fn", "a function", describe(call.get_type()?)));
        }
        // SAFETY: checked to be a function of this env just above.
        let call: Function<'_, String, UnknownReturnValue> = unsafe { call.cast()? };
        let ready = Arc::new(Mutex::new(Vec::new()));
        let taken = Arc::clone(&ready);
        let caller = call
            .build_threadsafe_function::<()>()
            .weak::<true>()
            .build_callback(move |_| take_ready(&taken))?;
        let inbox = Arc::new(Inbox { ready, caller });
        let running = Arc::clone(&self.running);
        self.inner.register(&name, move |task, ctx| {
            let (inbox, running) = (Arc::clone(&inbox), Arc::clone(&running));
            async move { running.call(&inbox, task, ctx).await }
        });
        Ok(())
    }

    /// Names of the registered functions, sorted.
    #[napi]
    pub fn functions(&self) -> Vec<String> {
        self.inner.functions()
    }

    /// Reports progress of task `id`, 0 to 1 (values outside are clamped by
    /// the core).
    #[napi]
    pub fn task_progress(
        &self,
        id: i64,
        fraction: f64,
        message: Option<Unknown<'_>>,
    ) -> napi::Result<()> {
        let message = optional_string_arg(message, "message")?;
        self.running
            .progress(task_id(id), fraction, message.as_deref());
        Ok(())
    }

    /// Whether the run or the node of task `id` was cancelled (a task that
    /// is over counts as cancelled).
    #[napi]
    pub fn task_cancelled(&self, id: i64) -> bool {
        self.running.cancelled(task_id(id))
    }

    /// Calls `abort` once when the run or the node of task `id` is
    /// cancelled while the task runs.
    #[napi]
    #[allow(
        clippy::needless_pass_by_value,
        reason = "napi hands arguments over by value"
    )]
    pub fn on_task_cancel(
        &self,
        id: i64,
        abort: Function<'_, (), UnknownReturnValue>,
    ) -> napi::Result<()> {
        let Some((cancel, done)) = self.running.tokens(task_id(id)) else {
            return Ok(());
        };
        // Strong: a queued abort is delivered even when the run ended meanwhile.
        let abort = abort.build_threadsafe_function::<()>().build()?;
        napi::bindgen_prelude::spawn(async move {
            tokio::select! {
                // A cancel also ends the task's wait, which sets `done`: when
                // both are set, the abort must still reach JavaScript.
                biased;
                () = cancel.cancelled() => {
                    abort.call((), ThreadsafeFunctionCallMode::NonBlocking);
                }
                () = done.cancelled() => {}
            }
        });
        Ok(())
    }

    /// The value of task `id`'s function as JSON text (`undefined` when it
    /// returned nothing JSON can write): it must be an object of outputs by
    /// port name.
    #[napi]
    #[allow(
        clippy::needless_pass_by_value,
        reason = "napi hands arguments over by value"
    )]
    pub fn resolve_task(&self, id: i64, outputs: Option<String>) {
        self.running.answer_with(task_id(id), |function| {
            outputs_of(function, outputs.as_deref())
        });
    }

    /// What task `id`'s function threw, as `lib/run.js` wrote it.
    #[napi]
    #[allow(
        clippy::needless_pass_by_value,
        reason = "napi hands arguments over by value"
    )]
    pub fn reject_task(&self, id: i64, thrown: String) {
        self.running.answer(task_id(id), Err(task_error(&thrown)));
    }
}

impl LocalRunner {
    fn of(inner: reelgraph::runner::LocalRunner) -> Self {
        LocalRunner {
            inner,
            running: Arc::default(),
        }
    }
}

/// A task number as JavaScript gives it back (numbers the runner made).
fn task_id(id: i64) -> u64 {
    // A negative number names no task: it maps to one never handed out.
    u64::try_from(id).unwrap_or(u64::MAX)
}

fn outputs_of(function: &str, text: Option<&str>) -> Result<Outputs, TaskError> {
    let value = match text.map(serde_json::from_str::<Value>) {
        Some(Ok(value)) => value,
        Some(Err(e)) => {
            return Err(TaskError::permanent(format!(
                "the JavaScript function `{function}` returned a value that is not JSON: {e}"
            )));
        }
        None => Value::Null,
    };
    match value {
        Value::Object(outputs) => Ok(outputs),
        other => Err(TaskError::permanent(format!(
            "the JavaScript function `{function}` returned {}, not an object of outputs",
            match (text, &other) {
                (None, _) => "undefined".to_owned(),
                (_, Value::Array(_)) => "an array".to_owned(),
                (_, v) => v.to_string(),
            }
        ))
        .with_hint("return (or resolve to) an object with one entry per output port")),
    }
}

/// A thrown value as `lib/runner.js` writes it.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Thrown {
    kind: Option<Value>,
    message: Option<String>,
    hint: Option<String>,
    name: Option<String>,
    stack: Option<String>,
}

/// `err.kind` naming a task error kind gives that kind, with `err.message`
/// and `err.hint`; anything else is `permanent`, its name and stack in the
/// details.
fn task_error(thrown: &str) -> TaskError {
    let thrown: Thrown = serde_json::from_str(thrown).unwrap_or_default();
    let message = thrown
        .message
        .unwrap_or_else(|| "the function failed without a message".to_owned());
    let kind = thrown
        .kind
        .clone()
        .and_then(|k| serde_json::from_value::<TaskErrorKind>(k).ok());
    match kind {
        Some(kind) => TaskError::new(kind, message).with_hint(thrown.hint.unwrap_or_default()),
        None => {
            // Only what the thrown value had: a missing name or stack stays absent.
            let details: serde_json::Map<String, Value> = [
                ("name", thrown.name.map(Value::String)),
                ("stack", thrown.stack.map(Value::String)),
                ("kind", thrown.kind),
            ]
            .into_iter()
            .filter_map(|(key, value)| Some((key.to_owned(), value?)))
            .collect();
            TaskError::permanent(message)
                .with_hint(thrown.hint.unwrap_or_else(|| {
                    "fix the function, or throw an error with `kind` set to a task error kind"
                        .into()
                }))
                .with_details(Value::Object(details))
        }
    }
}
