//! How to run: the options a run starts with.

use serde::de::{Error as _, Unexpected};
use serde::{Deserialize, Deserializer, Serialize};

use crate::quality::Quality;

/// What happens to the rest of a run when a node fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum FailurePolicy {
    /// Cancel what is running, skip the rest, fail the run.
    FailFast,
    /// Skip what depends on the failure; finish every other branch.
    #[default]
    ContinueIndependent,
}

/// Which nodes run even though their result is cached. On the wire:
/// `"none"`, `"all"` or `{"nodes": ["img", "vid"]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Force {
    #[default]
    None,
    All,
    Nodes(Vec<String>),
}

impl Force {
    pub(super) fn covers(&self, node: &str) -> bool {
        match self {
            Force::None => false,
            Force::All => true,
            Force::Nodes(nodes) => nodes.iter().any(|n| n == node),
        }
    }
}

/// How to run. As JSON every field may be left out:
/// `{"quality": "draft", "targets": ["img"], "force": "all",
/// "failure_policy": "fail_fast", "concurrency": 2, "run_id": "run_1"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct RunOptions {
    pub quality: Quality,
    /// Nodes whose results are wanted (and what they need); empty: all.
    pub targets: Vec<String>,
    pub force: Force,
    pub failure_policy: FailurePolicy,
    /// Most tasks of this run at once, below the executor's own cap; at least 1.
    #[serde(deserialize_with = "at_least_one")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub concurrency: Option<usize>,
    /// The run's id; generated when absent.
    pub run_id: Option<String>,
}

impl RunOptions {
    pub fn new() -> Self {
        RunOptions::default()
    }
    pub fn quality(mut self, quality: Quality) -> Self {
        self.quality = quality;
        self
    }
    pub fn targets<S: Into<String>>(mut self, targets: impl IntoIterator<Item = S>) -> Self {
        self.targets = targets.into_iter().map(Into::into).collect();
        self
    }
    pub fn force<S: Into<String>>(mut self, nodes: impl IntoIterator<Item = S>) -> Self {
        self.force = Force::Nodes(nodes.into_iter().map(Into::into).collect());
        self
    }
    pub fn force_all(mut self) -> Self {
        self.force = Force::All;
        self
    }
    pub fn failure_policy(mut self, policy: FailurePolicy) -> Self {
        self.failure_policy = policy;
        self
    }
    pub fn concurrency(mut self, tasks: usize) -> Self {
        self.concurrency = Some(tasks.max(1));
        self
    }
    pub fn run_id(mut self, id: impl Into<String>) -> Self {
        self.run_id = Some(id.into());
        self
    }
}

/// A concurrency of 0 would start nothing: refused, as the builder raises it to 1.
fn at_least_one<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    match Option::<usize>::deserialize(d)? {
        Some(0) => Err(D::Error::invalid_value(
            Unexpected::Unsigned(0),
            &"at least 1 task",
        )),
        tasks => Ok(tasks),
    }
}
