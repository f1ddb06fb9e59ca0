//! `LocalRunner`: JavaScript functions as runner functions.
//!
//! A task reaches its function through a thread-safe function, which the
//! event loop runs when it is free; the outcome comes back through the
//! task's native handle (`TaskCall.resolve` / `reject`), so neither the event
//! loop nor a runtime thread ever waits on the other. `lib/runner.js` wraps
//! the user's function: it builds `ctx`, awaits the result and turns a thrown
//! error into the JSON `reject` reads.

use std::sync::{Arc, Mutex, PoisonError};

use napi::bindgen_prelude::{FnArgs, Function, Unknown};
use napi::threadsafe_function::{
    ThreadsafeFunction, ThreadsafeFunctionCallMode, UnknownReturnValue,
};
use napi::{Status, ValueType};
use napi_derive::napi;
use reelgraph::runner::{Outputs, ProgressSink, Task, TaskContext, TaskError, TaskErrorKind};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::convert::{describe, optional_string_arg, string_arg};
use crate::errors::type_error;

type Reply = oneshot::Sender<Result<Outputs, TaskError>>;

/// What travels to the JavaScript thread for one task.
struct Job {
    task: Task,
    ctx: TaskContext,
    reply: Reply,
    done: CancellationToken,
}

/// Weak: a registered function does not keep the process alive by itself.
type Caller =
    ThreadsafeFunction<Job, UnknownReturnValue, FnArgs<(String, TaskCall)>, Status, false, true>;

/// Runs tasks with functions registered in this process: JavaScript
/// functions (`register`) and the demo functions of the Rust demo
/// (`LocalRunner.demo(outDir)`). Registering works at any time, also while a
/// run goes: a task looks its function up when it starts.
#[napi]
#[derive(Debug)]
pub struct LocalRunner {
    pub(crate) inner: reelgraph::runner::LocalRunner,
}

#[napi]
impl LocalRunner {
    #[napi(constructor)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        LocalRunner {
            inner: reelgraph::runner::LocalRunner::new(),
        }
    }

    /// A runner with the demo functions (storyboard frames, WAVs, EDL,
    /// contact sheet), writing under `outDir`.
    #[napi(factory)]
    pub fn demo(out_dir: Unknown<'_>) -> napi::Result<Self> {
        let out_dir = string_arg(out_dir, "outDir")?;
        Ok(LocalRunner {
            inner: reelgraph_demo::runner(out_dir),
        })
    }

    /// Registers `call` under `name`; `call(taskJson, taskCall)` is the
    /// wrapper `lib/runner.js` made around the user's function.
    #[napi]
    pub fn register(&self, name: Unknown<'_>, call: Unknown<'_>) -> napi::Result<()> {
        let name = string_arg(name, "name")?;
        if call.get_type()? != ValueType::Function {
            return Err(type_error("fn", "a function", describe(call.get_type()?)));
        }
        // SAFETY: checked to be a function of this env just above.
        let call: Function<'_, FnArgs<(String, TaskCall)>, UnknownReturnValue> =
            unsafe { call.cast()? };
        let caller: Caller = call
            .build_threadsafe_function::<Job>()
            .weak::<true>()
            .build_callback(|cx| {
                let Job {
                    task,
                    ctx,
                    reply,
                    done,
                } = cx.value;
                let text = serde_json::to_string(&task)
                    .map_err(|e| napi::Error::from_reason(e.to_string()))?;
                Ok(FnArgs::from((text, TaskCall::new(&task, ctx, reply, done))))
            })?;
        let caller = Arc::new(caller);
        self.inner.register(&name, move |task, ctx| {
            let caller = Arc::clone(&caller);
            async move { call_js(&caller, task, ctx).await }
        });
        Ok(())
    }

    /// Names of the registered functions, sorted.
    #[napi]
    pub fn functions(&self) -> Vec<String> {
        self.inner.functions()
    }
}

/// Hands one task to JavaScript and waits for its answer, or for a cancel.
async fn call_js(caller: &Caller, task: Task, ctx: TaskContext) -> Result<Outputs, TaskError> {
    let (reply, answer) = oneshot::channel();
    let done = CancellationToken::new();
    // Ends a waiting AbortSignal's watch however this future ends.
    let _over = done.clone().drop_guard();
    let cancel = ctx.cancel.clone();
    let function = task.function.clone();
    let status = caller.call(
        Job {
            task,
            ctx,
            reply,
            done,
        },
        ThreadsafeFunctionCallMode::NonBlocking,
    );
    if status != Status::Ok {
        return Err(TaskError::permanent(format!(
            "could not call the JavaScript function `{function}`: {status}"
        ))
        .with_hint("the JavaScript environment is shutting down; run the canvas again"));
    }
    tokio::select! {
        // The answer's sender goes only when JavaScript collected a task whose
        // promise can no longer settle.
        answer = answer => answer.unwrap_or_else(|_| Err(TaskError::permanent(format!(
            "the JavaScript function `{function}` never settled"
        )).with_hint("make the function resolve or reject; a timeout (resilience.timeout_ms) ends such tasks sooner"))),
        () = cancel.cancelled() => Err(TaskError::cancelled()),
    }
}

/// One task's native handle, the `ctx` behind the user's `ctx`: progress,
/// cancellation, and the answer.
#[napi]
#[derive(Debug)]
pub struct TaskCall {
    function: Arc<str>,
    reply: Mutex<Option<Reply>>,
    progress: ProgressSink,
    cancel: CancellationToken,
    done: CancellationToken,
}

impl TaskCall {
    fn new(task: &Task, ctx: TaskContext, reply: Reply, done: CancellationToken) -> Self {
        TaskCall {
            function: task.function.clone(),
            reply: Mutex::new(Some(reply)),
            progress: ctx.progress,
            cancel: ctx.cancel,
            done,
        }
    }

    /// Sends the answer; only the first counts.
    fn answer(&self, result: Result<Outputs, TaskError>) {
        let reply = self
            .reply
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(reply) = reply {
            // The task may be over already (cancelled, timed out): nobody listens.
            let _ = reply.send(result);
        }
        self.done.cancel();
    }
}

#[napi]
impl TaskCall {
    /// Reports progress, 0 to 1 (values outside are clamped by the core).
    #[napi]
    pub fn progress(&self, fraction: f64, message: Option<Unknown<'_>>) -> napi::Result<()> {
        let message = optional_string_arg(message, "message")?;
        self.progress.progress(fraction, message.as_deref());
        Ok(())
    }

    /// Whether the run or the node was cancelled.
    #[napi(getter)]
    pub fn cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Calls `abort` once when the run or the node is cancelled while the
    /// task runs.
    #[napi]
    #[allow(
        clippy::needless_pass_by_value,
        reason = "napi hands arguments over by value"
    )]
    pub fn on_cancel(&self, abort: Function<'_, (), UnknownReturnValue>) -> napi::Result<()> {
        // Strong: a queued abort is delivered even when the run ended meanwhile.
        let abort = abort.build_threadsafe_function::<()>().build()?;
        let (cancel, done) = (self.cancel.clone(), self.done.clone());
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

    /// The function's value as JSON text (`undefined` when it returned
    /// nothing JSON can write): it must be an object of outputs by port name.
    #[napi]
    #[allow(
        clippy::needless_pass_by_value,
        reason = "napi hands arguments over by value"
    )]
    pub fn resolve(&self, outputs: Option<String>) {
        self.answer(outputs_of(&self.function, outputs.as_deref()));
    }

    /// What the function threw, as `lib/runner.js` wrote it.
    #[napi]
    #[allow(
        clippy::needless_pass_by_value,
        reason = "napi hands arguments over by value"
    )]
    pub fn reject(&self, thrown: String) {
        self.answer(Err(task_error(&thrown)));
    }
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
