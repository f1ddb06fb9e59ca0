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

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::limits::too_deep;
use crate::report::{Diagnostic, Severity};

/// Whether `value` nests at most `levels` arrays and objects deep (a scalar
/// is 0 deep, `[1]` 1), counted as the canvas counts property, `ui` and
/// metadata values against [`MAX_VALUE_DEPTH`](crate::limits::MAX_VALUE_DEPTH).
pub(crate) fn fits_depth(value: &Value, levels: usize) -> bool {
    !too_deep(value, levels)
}

/// `text` cut to at most `max` bytes, at a character boundary.
pub(crate) fn cut_text(text: &str, max: usize) -> String {
    let mut cut = max.min(text.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text[..cut].to_owned()
}

/// Removes the entries of `map` nested deeper than `levels`, calling
/// `dropped` with the key of each.
pub(crate) fn drop_deep(
    map: &mut Map<String, Value>,
    levels: usize,
    mut dropped: impl FnMut(&str),
) {
    map.retain(|key, value| {
        let fits = fits_depth(value, levels);
        if !fits {
            dropped(key);
        }
        fits
    });
}

/// A coordinate computed from finite ones, kept finite: a sum or product
/// that overflows saturates at the largest finite value.
pub(crate) fn finite(x: f64) -> f64 {
    if x.is_nan() {
        0.0
    } else {
        x.clamp(-f64::MAX, f64::MAX)
    }
}

/// A map keyed by names read from a document. Names are the input's own, so
/// the hasher is seeded per map; foldhash rather than SipHash, because an
/// import hashes every name a few times.
pub(crate) type NameMap<V> = HashMap<String, V, foldhash::quality::RandomState>;

/// Names made unique with `#2`, `#3`, ... Each base remembers the last
/// number it tried, so n copies of one name cost n steps, not n².
#[derive(Debug, Default)]
pub(crate) struct UniqueNames {
    /// Every name in use, with the position it was claimed for.
    taken: NameMap<usize>,
    next: NameMap<usize>,
}

impl UniqueNames {
    /// Marks `name` as used.
    pub fn reserve(&mut self, name: &str) {
        self.taken.entry(name.to_owned()).or_insert(usize::MAX);
    }

    /// `base` when it is free, else the first free `base#n`; marked as used.
    pub fn claim(&mut self, base: &str) -> String {
        self.claim_at(base, usize::MAX)
    }

    /// [`claim`](Self::claim), remembering `position` for
    /// [`into_positions`](Self::into_positions).
    pub fn claim_at(&mut self, base: &str, position: usize) -> String {
        if !self.taken.contains_key(base) {
            self.taken.insert(base.to_owned(), position);
            return base.to_owned();
        }
        let n = self.next.entry(base.to_owned()).or_insert(2);
        loop {
            let candidate = format!("{base}#{n}");
            *n += 1;
            if !self.taken.contains_key(&candidate) {
                self.taken.insert(candidate.clone(), position);
                return candidate;
            }
        }
    }

    /// The claimed names with their positions.
    pub fn into_positions(self) -> NameMap<usize> {
        self.taken
    }
}

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
