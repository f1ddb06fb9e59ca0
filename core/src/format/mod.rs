//! Other formats a canvas is read from or written to.
//!
//! - [`react_flow`]: React Flow / Svelte Flow `{nodes, edges, viewport}`, both ways.
//! - [`comfyui`]: ComfyUI editor workflows (LiteGraph JSON, 0.4 and 1.x) in,
//!   with their node classes registered on the fly; ComfyUI API prompts out.
//! - [`detect`] and [`import_any`]: the format told from the content, and a
//!   document read from whichever it is.
//!
//! Importers never panic on bad input: what cannot be read at all is an
//! [`Error`](crate::Error) (`invalid_json`, `wrong_format`, ...); what can be
//! read in part comes back as [`Diagnostic`]s next to the document, with the
//! same codes that [`Canvas::validate`](crate::Canvas::validate) uses where
//! one fits.

pub mod comfyui;
pub mod react_flow;
mod sniff;

pub use sniff::{Format, Imported, detect, import_any};

use crate::validate::{Diagnostic, Severity};

/// Diagnostics collected while reading a document.
#[derive(Debug, Default)]
pub(crate) struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, severity: Severity, code: &str, message: String, hint: &str) {
        self.0.push(Diagnostic::new(severity, code, message, hint));
    }

    pub fn push_node(
        &mut self,
        severity: Severity,
        code: &str,
        message: String,
        hint: &str,
        node: &str,
    ) {
        self.0
            .push(Diagnostic::new(severity, code, message, hint).node(node));
    }

    pub fn push_edge(
        &mut self,
        severity: Severity,
        code: &str,
        message: String,
        hint: &str,
        edge: &str,
    ) {
        self.0
            .push(Diagnostic::new(severity, code, message, hint).edge(edge));
    }

    pub fn push_full(&mut self, d: Diagnostic) {
        self.0.push(d);
    }
}
