//! What a check found: diagnostics with a severity, gathered in a report.
//! Canvas validation and the importers write them; an invalid canvas error
//! carries one.

use serde::{Deserialize, Serialize};

/// How bad a diagnostic is: errors keep a canvas from running, warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    /// The wire name: `error` or `warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One finding about a canvas.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edge: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
    pub hint: String,
}

impl Diagnostic {
    pub(crate) fn new(
        severity: Severity,
        code: &str,
        message: String,
        hint: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity,
            code: code.into(),
            message,
            node: None,
            edge: None,
            port: None,
            property: None,
            hint: hint.into(),
        }
    }

    pub(crate) fn node(mut self, id: &str) -> Self {
        self.node = Some(id.into());
        self
    }
    pub(crate) fn edge(mut self, id: &str) -> Self {
        self.edge = Some(id.into());
        self
    }
    pub(crate) fn port(mut self, port: &str) -> Self {
        self.port = Some(port.into());
        self
    }
    pub(crate) fn property(mut self, property: &str) -> Self {
        self.property = Some(property.into());
        self
    }
}

/// The findings of [`Canvas::validate`](crate::Canvas::validate), errors first, then in canvas order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Report {
    pub valid: bool,
    pub errors: usize,
    pub warnings: usize,
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    pub(crate) fn from_diagnostics(mut diagnostics: Vec<Diagnostic>) -> Self {
        // Stable sort: canvas order is kept within each severity.
        diagnostics.sort_by_key(|d| d.severity);
        let errors = diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        Report {
            valid: errors == 0,
            errors,
            warnings: diagnostics.len() - errors,
            diagnostics,
        }
    }
}
