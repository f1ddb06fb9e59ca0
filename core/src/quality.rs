//! Quality tiers: one model of quality everywhere.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// How much effort a task spends, lowest first. One tier is chosen per run
/// and reaches every node's task; a `resource` error may retry one lower.
///
/// ```
/// use reelgraph::Quality;
///
/// let quality: Quality = "high".parse().unwrap();
/// assert_eq!(quality.lower(), Some(Quality::Standard));
/// assert_eq!(Quality::default().as_str(), "standard");
/// assert!("best".parse::<Quality>().is_err());
/// ```
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Quality {
    Draft,
    #[default]
    Standard,
    High,
    Ultra,
}

impl Quality {
    /// Every tier, lowest first.
    pub const ALL: [Quality; 4] = [
        Quality::Draft,
        Quality::Standard,
        Quality::High,
        Quality::Ultra,
    ];

    /// The tier one step lower, if any (for quality fallback).
    pub fn lower(self) -> Option<Quality> {
        match self {
            Quality::Draft => None,
            Quality::Standard => Some(Quality::Draft),
            Quality::High => Some(Quality::Standard),
            Quality::Ultra => Some(Quality::High),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Quality::Draft => "draft",
            Quality::Standard => "standard",
            Quality::High => "high",
            Quality::Ultra => "ultra",
        }
    }
}

impl fmt::Display for Quality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Quality {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Quality::ALL
            .into_iter()
            .find(|q| q.as_str() == s)
            .ok_or_else(|| Error::InvalidField {
                field: "quality",
                message: format!("{s:?} is not a quality tier; use draft, standard, high or ultra"),
            })
    }
}
