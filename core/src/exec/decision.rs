//! The decision a run makes before it starts: what is cached, what is
//! wanted, what runs and why.

use std::sync::Arc;

use super::event::Reason;
use super::options::Force;
use super::plan::Plan;
use super::work::Links;
use crate::cache::ResultCache;
use crate::content_key::ContentKey;
use crate::runner::{Outputs, outputs};

/// What a run does with each step, decided before it starts.
#[derive(Debug, Default)]
pub(super) struct Decision {
    /// Cached outputs, by step.
    pub(super) results: Vec<Option<Arc<Outputs>>>,
    /// A target, or feeds a step that runs.
    pub(super) wanted: Vec<bool>,
    /// Wanted and not cached (or forced).
    pub(super) runs: Vec<bool>,
    /// Its key was looked up (not forced).
    pub(super) looked_up: Vec<bool>,
    /// Why each step runs, if it does.
    pub(super) reasons: Vec<Reason>,
}

/// What looking a step's key up found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lookup {
    /// Forced: not looked up.
    Skipped,
    Hit,
    Miss,
    /// A stored result that does not fit the node: a miss.
    Invalid,
    /// The cache failed: a miss.
    Failed,
}

impl Decision {
    /// Looks every unforced key up at once (one round trip for a database)
    /// and decides, from the last step back, what runs. Cached outputs are
    /// checked as fresh ones are; one that does not fit its node is a miss,
    /// and so is every lookup of a cache that fails: neither fails a run.
    pub(super) async fn make(
        plan: &Plan,
        links: &Links,
        force: &Force,
        cache: &dyn ResultCache,
    ) -> Decision {
        let mut lookups: Vec<Lookup> = plan
            .steps
            .iter()
            .map(|s| {
                if force.covers(&s.node) {
                    Lookup::Skipped
                } else {
                    Lookup::Miss
                }
            })
            .collect();
        let keys: Vec<ContentKey> = plan
            .steps
            .iter()
            .zip(&lookups)
            .filter(|(_, l)| **l != Lookup::Skipped)
            .map(|(s, _)| s.key)
            .collect();
        let mut results: Vec<Option<Arc<Outputs>>> = vec![None; plan.steps.len()];
        let found = if keys.is_empty() {
            Ok(Vec::new())
        } else {
            cache.get_many(&keys).await
        };
        match found {
            Ok(found) => {
                let mut found = found.into_iter();
                for (i, step) in plan.steps.iter().enumerate() {
                    if lookups[i] == Lookup::Skipped {
                        continue;
                    }
                    let Some(outputs) = found.next().flatten() else {
                        continue;
                    };
                    match outputs::check(&step.function, &step.outputs, &outputs) {
                        Ok(()) => {
                            lookups[i] = Lookup::Hit;
                            results[i] = Some(outputs);
                        }
                        Err(problem) => {
                            tracing::warn!(
                                node = %step.node,
                                key = %step.key.short(),
                                problem = %problem.message,
                                "a cached result does not fit its node; the node runs again"
                            );
                            lookups[i] = Lookup::Invalid;
                        }
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "result cache lookup failed; running without it");
                for lookup in &mut lookups {
                    if *lookup == Lookup::Miss {
                        *lookup = Lookup::Failed;
                    }
                }
            }
        }
        let (wanted, runs) = wanted_and_runs(plan, links, force, |i| results[i].is_some());
        let reasons = plan
            .steps
            .iter()
            .zip(&lookups)
            .map(|(step, lookup)| match lookup {
                Lookup::Skipped => Reason::Forced,
                Lookup::Invalid => Reason::CacheInvalid,
                Lookup::Failed => Reason::CacheUnavailable,
                Lookup::Hit | Lookup::Miss => step.reason,
            })
            .collect();
        Decision {
            results,
            wanted,
            runs,
            looked_up: lookups.iter().map(|l| *l != Lookup::Skipped).collect(),
            reasons,
        }
    }
}

/// Decides from the last step back which steps a run wants and which it
/// runs. A step is wanted when it is a target (every step is, when the plan
/// has none), forced, or feeds a step that runs; it runs when it is wanted
/// and has no result.
fn wanted_and_runs(
    plan: &Plan,
    links: &Links,
    force: &Force,
    has_result: impl Fn(usize) -> bool,
) -> (Vec<bool>, Vec<bool>) {
    let n = plan.steps.len();
    let target = |node: &str| plan.targets.is_empty() || plan.targets.iter().any(|t| t == node);
    let mut runs = vec![false; n];
    let mut wanted = vec![false; n];
    for i in (0..n).rev() {
        let node = &plan.steps[i].node;
        wanted[i] =
            target(node) || force.covers(node) || links.dependents(i).iter().any(|&d| runs[d]);
        runs[i] = wanted[i] && !has_result(i);
    }
    (wanted, runs)
}
