//! The in-process runner: functions registered by name.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, PoisonError, RwLock};

use futures_util::FutureExt;

use super::{FunctionRunner, Outputs, Task, TaskContext, TaskError};

type BoxedFuture = Pin<Box<dyn Future<Output = Result<Outputs, TaskError>> + Send>>;
type Function = Arc<dyn Fn(Task, TaskContext) -> BoxedFuture + Send + Sync>;

/// Runs tasks with functions registered in this process. A function that
/// panics fails its task (`permanent`, with the panic message) and nothing
/// else.
///
/// Functions can be registered at any time, also after the runner went into
/// an [`Executor`](crate::exec::Executor): clones share one registry, as
/// clones of a [`Catalog`](crate::Catalog) share their types. A task looks
/// its function up when it starts, so a run sees functions registered while
/// it runs, and registering a name again replaces the function for the tasks
/// that start afterwards (a notebook cell run twice does no harm).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use reelgraph::runner::{FunctionRunner, LocalRunner, Outputs, TaskError};
/// use serde_json::json;
///
/// let runner = LocalRunner::new();
/// let executor = reelgraph::exec::Executor::new(runner.clone());
/// runner.register("text.upper", |task, _ctx| async move {
///     let text = task.params["text"].as_str().unwrap_or_default().to_uppercase();
///     Ok::<_, TaskError>(Outputs::from_iter([("text".to_owned(), json!(text))]))
/// });
/// assert!(runner.knows("text.upper"));
/// assert!(!runner.knows("text.lower"));
/// # drop(executor);
/// # });
/// ```
#[derive(Clone, Default)]
pub struct LocalRunner {
    functions: Arc<RwLock<BTreeMap<String, Function>>>,
}

impl LocalRunner {
    pub fn new() -> Self {
        LocalRunner::default()
    }

    /// Registers an async function under `name`, replacing one of that name.
    pub fn register<F, Fut>(&self, name: &str, function: F) -> &Self
    where
        F: Fn(Task, TaskContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Outputs, TaskError>> + Send + 'static,
    {
        // A panic, whether while making the future or while it runs, fails
        // the task with the panic's message.
        let function: Function = Arc::new(move |task, ctx| {
            match std::panic::catch_unwind(AssertUnwindSafe(|| function(task, ctx))) {
                Ok(future) => Box::pin(
                    AssertUnwindSafe(future)
                        .catch_unwind()
                        .map(|result| result.unwrap_or_else(|payload| Err(panicked(&*payload)))),
                ),
                Err(payload) => Box::pin(std::future::ready(Err(panicked(&*payload)))),
            }
        });
        self.write().insert(name.to_owned(), function);
        self
    }

    /// Registers a function that does blocking or CPU-heavy work; it runs on
    /// tokio's blocking pool so it never stalls other tasks. It should check
    /// `ctx.cancel` between steps of long work.
    pub fn register_blocking<F>(&self, name: &str, function: F) -> &Self
    where
        F: Fn(Task, &TaskContext) -> Result<Outputs, TaskError> + Send + Sync + 'static,
    {
        let function = Arc::new(function);
        self.register(name, move |task, ctx| {
            let function = Arc::clone(&function);
            async move {
                let cancel = ctx.cancel.clone();
                let work = tokio::task::spawn_blocking(move || function(task, &ctx));
                tokio::select! {
                    joined = work => match joined {
                        Ok(result) => result,
                        Err(e) if e.is_panic() => Err(panicked(&*e.into_panic())),
                        Err(e) => Err(TaskError::permanent(format!("the function's thread failed: {e}"))),
                    },
                    // The blocking thread cannot be stopped from outside; it
                    // sees the token itself. The task is over either way.
                    () = cancel.cancelled() => Err(TaskError::cancelled()),
                }
            }
        })
    }

    /// Names of the registered functions, sorted.
    pub fn functions(&self) -> Vec<String> {
        self.read().keys().cloned().collect()
    }

    /// The function registered as `name`, cloned out so no lock is held
    /// while it runs.
    fn function(&self, name: &str) -> Option<Function> {
        self.read().get(name).cloned()
    }

    // A panic while the lock is held can only come from a map insert, which
    // leaves the map whole: a poisoned lock is used as it is.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Function>> {
        self.functions
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Function>> {
        self.functions
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

// Written out rather than with `#[async_trait]`: the registered function's
// future is boxed already, and a second box per task costs every run.
impl FunctionRunner for LocalRunner {
    fn run<'runner, 'future>(
        &'runner self,
        task: Task,
        ctx: TaskContext,
    ) -> Pin<Box<dyn Future<Output = Result<Outputs, TaskError>> + Send + 'future>>
    where
        'runner: 'future,
        Self: 'future,
    {
        let Some(function) = self.function(&task.function) else {
            let known = self.functions();
            return Box::pin(std::future::ready(Err(TaskError::permanent(format!(
                "no function `{}` is registered with the local runner",
                task.function
            ))
            .with_hint(format!(
                "register it before running, or use one of: {}",
                known.join(", ")
            )))));
        };
        if ctx.cancel.is_cancelled() {
            return Box::pin(std::future::ready(Err(TaskError::cancelled())));
        }
        function(task, ctx)
    }

    fn knows(&self, function: &str) -> bool {
        self.read().contains_key(function)
    }

    fn known_functions(&self) -> Option<Vec<String>> {
        Some(self.functions())
    }
}

impl fmt::Debug for LocalRunner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalRunner")
            .field("functions", &self.functions())
            .finish()
    }
}

/// A panic as a task error carrying the panic message.
pub(crate) fn panicked(payload: &(dyn std::any::Any + Send)) -> TaskError {
    TaskError::permanent(format!("the function panicked: {}", panic_message(payload)))
        .with_hint("this is a bug in the function; fix it, the rest of the run is unaffected")
}

/// The message a panic was raised with.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}
