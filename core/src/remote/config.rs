//! Options of the `HttpRunner` and the `Worker`, and what a worker did.
//!
//! Plain data, outside the `remote` feature, so their schemas (and the
//! bindings' types made from them) need no HTTP client.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How an `HttpRunner` reaches a task service.
///
/// ```
/// use std::time::Duration;
/// use reelgraph::remote::HttpRunnerConfig;
///
/// let config = HttpRunnerConfig::new("http://farm.local:8080", "rg_...")
///     .with_priority(10)
///     .with_give_up_after(Duration::from_secs(120));
/// assert_eq!(config.request_timeout, Duration::from_secs(30));
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct HttpRunnerConfig {
    /// The server's base URL, such as `http://farm.local:8080` (without `/v1`).
    pub server: String,
    /// An API key with the `run` scope.
    pub key: String,
    /// The priority of every task submitted, -1000 to 1000 (higher first).
    #[serde(default)]
    pub priority: i32,
    /// How long one request may take. Default 30 s.
    #[serde(
        default = "thirty_seconds",
        rename = "request_timeout_ms",
        with = "crate::wire::millis"
    )]
    #[cfg_attr(feature = "schema", schemars(with = "u64"))]
    pub request_timeout: Duration,
    /// How long a task keeps trying a server that cannot be reached (down,
    /// 5xx, 429) before it fails as `transient`. Default 60 s.
    #[serde(
        default = "one_minute",
        rename = "give_up_after_ms",
        with = "crate::wire::millis"
    )]
    #[cfg_attr(feature = "schema", schemars(with = "u64"))]
    pub give_up_after: Duration,
}

impl HttpRunnerConfig {
    pub fn new(server: impl Into<String>, key: impl Into<String>) -> Self {
        HttpRunnerConfig {
            server: server.into(),
            key: key.into(),
            priority: 0,
            request_timeout: thirty_seconds(),
            give_up_after: one_minute(),
        }
    }

    pub fn with_priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    pub fn with_request_timeout(mut self, limit: Duration) -> Self {
        self.request_timeout = limit;
        self
    }

    pub fn with_give_up_after(mut self, limit: Duration) -> Self {
        self.give_up_after = limit;
        self
    }
}

// The key stays out of logs.
impl fmt::Debug for HttpRunnerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRunnerConfig")
            .field("server", &self.server)
            .field("priority", &self.priority)
            .field("request_timeout", &self.request_timeout)
            .field("give_up_after", &self.give_up_after)
            .finish_non_exhaustive()
    }
}

/// How a `Worker` takes tasks from a server.
///
/// ```
/// use reelgraph::remote::WorkerConfig;
///
/// let config = WorkerConfig::new("http://farm.local:8080", "rg_...")
///     .with_functions(["image.generate"])
///     .with_concurrency(2);
/// assert_eq!(config.concurrency, 2);
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct WorkerConfig {
    /// The server's base URL, such as `http://farm.local:8080` (without `/v1`).
    pub server: String,
    /// An API key with the `run` scope.
    pub key: String,
    /// Shown in each attempt the worker makes; default `HOST-PID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The functions to claim tasks of; default every function the runner
    /// lists (a runner that cannot list them needs this).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub functions: Option<Vec<String>>,
    /// Most tasks at once, 1 to 64. Default 1.
    #[serde(default = "one")]
    pub concurrency: u32,
    /// How long a claim waits on the server for a task (long poll), at
    /// most 30 s. Default 20 s.
    #[serde(
        default = "twenty_seconds",
        rename = "claim_wait_ms",
        with = "crate::wire::millis"
    )]
    #[cfg_attr(feature = "schema", schemars(with = "u64"))]
    pub claim_wait: Duration,
    /// After `stop`: how long running tasks may take to finish before they
    /// are cancelled and handed back to the queue. Default 10 s.
    #[serde(
        default = "ten_seconds",
        rename = "grace_ms",
        with = "crate::wire::millis"
    )]
    #[cfg_attr(feature = "schema", schemars(with = "u64"))]
    pub grace: Duration,
    /// How long one request may take (a claim: this on top of its wait).
    /// Default 30 s.
    #[serde(
        default = "thirty_seconds",
        rename = "request_timeout_ms",
        with = "crate::wire::millis"
    )]
    #[cfg_attr(feature = "schema", schemars(with = "u64"))]
    pub request_timeout: Duration,
}

impl WorkerConfig {
    pub fn new(server: impl Into<String>, key: impl Into<String>) -> Self {
        WorkerConfig {
            server: server.into(),
            key: key.into(),
            name: None,
            functions: None,
            concurrency: one(),
            claim_wait: twenty_seconds(),
            grace: ten_seconds(),
            request_timeout: thirty_seconds(),
        }
    }

    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    pub fn with_functions<S: Into<String>>(
        mut self,
        functions: impl IntoIterator<Item = S>,
    ) -> Self {
        self.functions = Some(functions.into_iter().map(Into::into).collect());
        self
    }

    pub fn with_concurrency(mut self, concurrency: u32) -> Self {
        self.concurrency = concurrency;
        self
    }

    pub fn with_claim_wait(mut self, wait: Duration) -> Self {
        self.claim_wait = wait;
        self
    }

    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    pub fn with_request_timeout(mut self, limit: Duration) -> Self {
        self.request_timeout = limit;
        self
    }
}

impl fmt::Debug for WorkerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerConfig")
            .field("server", &self.server)
            .field("name", &self.name)
            .field("functions", &self.functions)
            .field("concurrency", &self.concurrency)
            .field("claim_wait", &self.claim_wait)
            .field("grace", &self.grace)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

/// What a worker did, counted from its start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct WorkerStats {
    /// Tasks leased to this worker.
    pub claimed: u64,
    pub completed: u64,
    /// Tasks this worker reported failed (cancelled ones included).
    pub failed: u64,
    /// Tasks whose lease the server took back (expired, or the task ended
    /// elsewhere) before this worker finished them: their result was dropped.
    pub lost: u64,
    /// Tasks handed back to the queue because the worker stopped.
    pub returned: u64,
}

fn one() -> u32 {
    1
}

fn ten_seconds() -> Duration {
    Duration::from_secs(10)
}

fn twenty_seconds() -> Duration {
    Duration::from_secs(20)
}

fn thirty_seconds() -> Duration {
    Duration::from_secs(30)
}

fn one_minute() -> Duration {
    Duration::from_secs(60)
}
