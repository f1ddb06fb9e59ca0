//! Tasks on their way to JavaScript functions, and the ones running there.
//!
//! A task handed over on its own cost the event loop a wake-up and a
//! callback scope, and its `ctx` a native object with a finalizer: more
//! than a short function itself. So the ready tasks of a function wait in
//! its inbox, and one call takes all of them to JavaScript as one JSON
//! array. JavaScript names a running task by its number when it answers,
//! reports progress or watches for a cancel (`LocalRunner.resolveTask`, ...).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use napi::Status;
use napi::threadsafe_function::{
    ThreadsafeFunction, ThreadsafeFunctionCallMode, UnknownReturnValue,
};
use reelgraph::runner::{Outputs, ProgressSink, Task, TaskContext, TaskError};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

type Reply = oneshot::Sender<Result<Outputs, TaskError>>;

/// Ready tasks by number, as the inbox hands them over.
pub(crate) type Ready = Arc<Mutex<Vec<(u64, Task)>>>;

/// Calls `lib/run.js`'s wrapper of one function with a JSON array of
/// `[number, task]`. Weak: a registered function does not keep the process
/// alive by itself.
pub(crate) type Caller = ThreadsafeFunction<(), UnknownReturnValue, String, Status, false, true>;

/// The ready tasks of one function, and how to wake JavaScript for them.
pub(crate) struct Inbox {
    pub(crate) ready: Ready,
    pub(crate) caller: Caller,
}

/// The ready tasks of `ready` as the JSON text the wrapper reads; called on
/// the JavaScript thread, which takes every task queued since the last call.
pub(crate) fn take_ready(ready: &Ready) -> napi::Result<String> {
    let batch = std::mem::take(&mut *lock(ready));
    serde_json::to_string(&batch).map_err(|e| napi::Error::from_reason(e.to_string()))
}

/// The tasks of one runner that JavaScript runs, by number.
#[derive(Default)]
pub(crate) struct Running {
    calls: Mutex<HashMap<u64, Call>>,
    next: AtomicU64,
}

/// One running task.
struct Call {
    function: Arc<str>,
    reply: Reply,
    progress: ProgressSink,
    cancel: CancellationToken,
    /// Cancelled when the task is over: ends a watch for its cancel.
    done: CancellationToken,
}

impl Running {
    /// Hands `task` to JavaScript through `inbox` and waits for its answer,
    /// or for a cancel.
    pub(crate) async fn call(
        &self,
        inbox: &Inbox,
        task: Task,
        ctx: TaskContext,
    ) -> Result<Outputs, TaskError> {
        let (reply, answer) = oneshot::channel();
        let function = task.function.clone();
        let cancel = ctx.cancel.clone();
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let call = Call {
            function: function.clone(),
            reply,
            progress: ctx.progress,
            cancel: ctx.cancel,
            done: CancellationToken::new(),
        };
        lock(&self.calls).insert(id, call);
        // However this future ends, the task is over: a late answer is ignored.
        let _over = Over { running: self, id };
        let first = {
            let mut ready = lock(&inbox.ready);
            ready.push((id, task));
            ready.len() == 1
        };
        // Only the first task of an empty inbox wakes JavaScript; the call
        // takes the ones queued after it too.
        if first {
            let status = inbox
                .caller
                .call((), ThreadsafeFunctionCallMode::NonBlocking);
            if status != Status::Ok {
                self.fail_ready(inbox, &function, status);
            }
        }
        tokio::select! {
            // The sender goes unanswered only when the runner could not call
            // JavaScript at all.
            answer = answer => answer.unwrap_or_else(|_| Err(TaskError::permanent(format!(
                "the JavaScript function `{function}` never settled"
            )).with_hint("make the function resolve or reject; a timeout (resilience.timeout_ms) ends such tasks sooner"))),
            () = cancel.cancelled() => Err(TaskError::cancelled()),
        }
    }

    /// JavaScript cannot be called (its environment is shutting down): the
    /// tasks waiting in `inbox` fail.
    fn fail_ready(&self, inbox: &Inbox, function: &str, status: Status) {
        let stranded = std::mem::take(&mut *lock(&inbox.ready));
        for (id, _) in stranded {
            self.answer(
                id,
                Err(TaskError::permanent(format!(
                    "could not call the JavaScript function `{function}`: {status}"
                ))
                .with_hint("the JavaScript environment is shutting down; run the canvas again")),
            );
        }
    }

    /// Ends task `id` with `result`; only the first answer counts.
    pub(crate) fn answer(&self, id: u64, result: Result<Outputs, TaskError>) {
        if let Some(call) = self.end(id) {
            // The task may be over already (cancelled, timed out): nobody listens.
            let _ = call.reply.send(result);
        }
    }

    /// Ends task `id` with what `outcome` makes of its function's name.
    pub(crate) fn answer_with(
        &self,
        id: u64,
        outcome: impl FnOnce(&str) -> Result<Outputs, TaskError>,
    ) {
        if let Some(call) = self.end(id) {
            let _ = call.reply.send(outcome(&call.function));
        }
    }

    pub(crate) fn progress(&self, id: u64, fraction: f64, message: Option<&str>) {
        if let Some(call) = lock(&self.calls).get(&id) {
            call.progress.progress(fraction, message);
        }
    }

    /// Whether task `id` was cancelled; a task that is over counts as
    /// cancelled, so its function stops.
    pub(crate) fn cancelled(&self, id: u64) -> bool {
        lock(&self.calls)
            .get(&id)
            .is_none_or(|call| call.cancel.is_cancelled())
    }

    /// The cancel and end tokens of task `id`, while it runs.
    pub(crate) fn tokens(&self, id: u64) -> Option<(CancellationToken, CancellationToken)> {
        lock(&self.calls)
            .get(&id)
            .map(|call| (call.cancel.clone(), call.done.clone()))
    }

    fn end(&self, id: u64) -> Option<Call> {
        let call = lock(&self.calls).remove(&id)?;
        call.done.cancel();
        Some(call)
    }
}

/// Ends a task when the future waiting for it ends.
struct Over<'a> {
    running: &'a Running,
    id: u64,
}

impl Drop for Over<'_> {
    fn drop(&mut self) {
        self.running.end(self.id);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
