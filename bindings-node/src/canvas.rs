//! `Canvas`: one canvas, shared as `Arc<Mutex<_>>` so a run or an autosaver
//! can hold it while JavaScript keeps editing, with the undo history of the
//! applies made through it. Each method locks for one synchronous step. Documents, ops and reports cross as JSON text
//! (see `convert.rs`); `index.js` adds the object-taking methods.

use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};

use napi::ValueType;
use napi::bindgen_prelude::{ClassInstance, Unknown};
use napi_derive::napi;
use reelgraph::{Op, PortRef, Quality, UndoStack};

use crate::applied::{self, Kept};
use crate::catalog::Catalog;
use crate::convert::{describe, optional_string_arg, string_arg, to_text};
use crate::errors::{js, type_error};

#[napi]
#[derive(Debug)]
pub struct Canvas {
    pub(crate) inner: Arc<Mutex<reelgraph::Canvas>>,
    /// Locked after `inner`, never before.
    history: Mutex<UndoStack>,
    /// What the applies returned, until JavaScript lets go of it (`applied.rs`).
    /// Locked after `history`, never before.
    kept: Mutex<Kept>,
}

#[napi]
impl Canvas {
    /// A new, empty canvas with the built-in catalogue or the given one.
    #[napi(
        constructor,
        ts_args_type = "id: string, name: string, catalog?: Catalog | null"
    )]
    pub fn new(
        id: Unknown<'_>,
        name: Unknown<'_>,
        catalog: Option<Unknown<'_>>,
    ) -> napi::Result<Self> {
        let id = string_arg(id, "id")?;
        let name = string_arg(name, "name")?;
        let catalog = catalog_arg(catalog)?;
        Ok(Canvas::wrap(js(reelgraph::Canvas::try_new(
            catalog, &id, &name,
        ))?))
    }

    /// Loads a canvas document from JSON text (migrations run, limits hold).
    #[napi(
        factory,
        configurable = true,
        ts_args_type = "text: string, catalog?: Catalog | null"
    )]
    pub fn from_json(text: Unknown<'_>, catalog: Option<Unknown<'_>>) -> napi::Result<Self> {
        let text = string_arg(text, "text")?;
        let catalog = catalog_arg(catalog)?;
        Ok(Canvas::wrap(js(reelgraph::Canvas::from_json(
            catalog, &text,
        ))?))
    }

    /// The canvas document as compact JSON text.
    #[napi]
    pub fn to_json(&self) -> String {
        self.lock().to_json()
    }

    /// The migrations loading ran (`[{node, from_version, to_version}]`), as JSON text.
    #[napi]
    pub fn migrations_json(&self) -> napi::Result<String> {
        to_text(self.lock().migrations_applied())
    }

    #[napi(getter)]
    pub fn id(&self) -> String {
        self.lock().id().to_owned()
    }

    #[napi(getter)]
    pub fn name(&self) -> String {
        self.lock().name().to_owned()
    }

    /// Goes up by one with every apply that changes something.
    #[napi(getter)]
    pub fn revision(&self) -> i64 {
        // Revisions count applies: far below 2^53, so a plain number.
        i64::try_from(self.lock().revision()).unwrap_or(i64::MAX)
    }

    /// Applies ops given as JSON text (an array), all or none; keeps the
    /// core's `Applied` under `serial` (see `applied.rs`) and returns the
    /// revision after it.
    #[napi(ts_args_type = "ops: string, serial: number")]
    pub fn apply_json(&self, ops: Unknown<'_>, serial: f64) -> napi::Result<i64> {
        let serial = applied::serial(serial)?;
        let ops = js(Op::parse_list(&string_arg(ops, "ops")?))?;
        let mut canvas = self.lock();
        let applied = js(self.history().apply(&mut canvas, ops))?;
        Ok(self.kept().keep(serial, applied))
    }

    /// Undoes the last apply made through this object (an apply itself),
    /// kept under `serial`; its revision, or `null` when there is nothing
    /// to undo.
    #[napi]
    pub fn undo_applied(&self, serial: f64) -> napi::Result<Option<i64>> {
        let serial = applied::serial(serial)?;
        let mut canvas = self.lock();
        let undone = js(self.history().undo(&mut canvas))?;
        Ok(undone.map(|applied| self.kept().keep(serial, applied)))
    }

    /// Applies again the last undone apply, kept under `serial`; its
    /// revision, or `null` when there is nothing to redo.
    #[napi]
    pub fn redo_applied(&self, serial: f64) -> napi::Result<Option<i64>> {
        let serial = applied::serial(serial)?;
        let mut canvas = self.lock();
        let redone = js(self.history().redo(&mut canvas))?;
        Ok(redone.map(|applied| self.kept().keep(serial, applied)))
    }

    /// The ops that undo the apply kept under `serial`, as JSON text.
    #[napi]
    pub fn applied_inverse_json(&self, serial: f64) -> napi::Result<String> {
        self.kept().inverse_json(applied::serial(serial)?)
    }

    /// The change event of the apply kept under `serial`, as JSON text.
    #[napi]
    pub fn applied_event_json(&self, serial: f64) -> napi::Result<String> {
        self.kept().event_json(applied::serial(serial)?)
    }

    /// Forgets the apply kept under `serial` (its object is gone).
    #[napi]
    pub fn forget_applied(&self, serial: f64) -> napi::Result<()> {
        self.kept().forget(applied::serial(serial)?);
        Ok(())
    }

    #[napi(getter)]
    pub fn can_undo(&self) -> bool {
        self.history().can_undo()
    }

    #[napi(getter)]
    pub fn can_redo(&self) -> bool {
        self.history().can_redo()
    }

    /// Checks whether an edge from `source` to `target` (`{node, port}` as
    /// JSON text) would be accepted, without changing the canvas.
    #[napi(ts_args_type = "source: string, target: string")]
    pub fn can_connect_json(&self, source: Unknown<'_>, target: Unknown<'_>) -> napi::Result<bool> {
        let source: PortRef = js(reelgraph::from_json(&string_arg(source, "source")?))?;
        let target: PortRef = js(reelgraph::from_json(&string_arg(target, "target")?))?;
        js(self.lock().can_connect(&source, &target))?;
        Ok(true)
    }

    /// The validation report as JSON text.
    #[napi]
    pub fn validate_json(&self) -> napi::Result<String> {
        to_text(&self.lock().validate())
    }

    /// The node ids in an order where every edge points forward.
    #[napi]
    pub fn topological_order(&self) -> Vec<String> {
        self.lock().topological_order()
    }

    /// The task of every node that has one, at a quality tier (default
    /// `standard`), as JSON text.
    #[napi(ts_args_type = "quality?: Quality | null")]
    pub fn task_previews_json(&self, quality: Option<Unknown<'_>>) -> napi::Result<String> {
        let quality = quality_arg(quality)?;
        to_text(&self.lock().task_previews(quality))
    }

    /// The task one node would send, as JSON text.
    #[napi(ts_args_type = "node: string, quality?: Quality | null")]
    pub fn task_preview_json(
        &self,
        node: Unknown<'_>,
        quality: Option<Unknown<'_>>,
    ) -> napi::Result<String> {
        let node = string_arg(node, "node")?;
        let quality = quality_arg(quality)?;
        to_text(&js(self.lock().task_preview(&node, quality))?)
    }
}

impl Canvas {
    pub(crate) fn wrap(canvas: reelgraph::Canvas) -> Self {
        Canvas {
            inner: Arc::new(Mutex::new(canvas)),
            history: Mutex::new(UndoStack::default()),
            kept: Mutex::new(Kept::default()),
        }
    }

    fn history(&self) -> MutexGuard<'_, UndoStack> {
        self.history.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn kept(&self) -> MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The canvas for one synchronous step. A panic elsewhere cannot leave a
    /// half-applied canvas (apply rolls back), so a poisoned lock is taken back.
    pub(crate) fn lock(&self) -> MutexGuard<'_, reelgraph::Canvas> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The optional `catalog` argument: absent means the built-in catalogue.
pub(crate) fn catalog_arg(value: Option<Unknown<'_>>) -> napi::Result<reelgraph::Catalog> {
    let Some(value) = value else {
        return Ok(reelgraph::Catalog::builtin());
    };
    match value.get_type()? {
        ValueType::Undefined | ValueType::Null => Ok(reelgraph::Catalog::builtin()),
        ValueType::Object => {
            // SAFETY: an object; the conversion checks its class tag.
            let catalog = unsafe { value.cast::<ClassInstance<Catalog>>() }
                .map_err(|_| type_error("catalog", "a Catalog", "another object"))?;
            Ok(catalog.inner.clone())
        }
        other => Err(type_error("catalog", "a Catalog", describe(other))),
    }
}

/// A `Canvas` argument, or a `TypeError` naming it.
pub(crate) fn canvas_arg<'a>(
    value: Unknown<'a>,
    arg: &str,
) -> napi::Result<ClassInstance<'a, Canvas>> {
    match value.get_type()? {
        // SAFETY: an object; the conversion checks its class tag.
        ValueType::Object => unsafe { value.cast::<ClassInstance<Canvas>>() }
            .map_err(|_| type_error(arg, "a Canvas", "another object")),
        other => Err(type_error(arg, "a Canvas", describe(other))),
    }
}

/// The optional `quality` argument: absent means `standard`.
fn quality_arg(value: Option<Unknown<'_>>) -> napi::Result<Quality> {
    match optional_string_arg(value, "quality")? {
        None => Ok(Quality::default()),
        Some(q) => js(Quality::from_str(&q)),
    }
}
