//! reelgraph: an embeddable engine for the node-based production canvas of AI
//! film pipelines.
//!
//! A [`Catalog`] holds node types (built-ins as data, plus your own); a
//! [`Canvas`] holds nodes and edges and changes only through [`Op`]s, applied
//! atomically with validation at the op; [`Canvas::validate`] reports what
//! keeps a canvas from running; [`Canvas::task_preview`] shows the request a
//! node would send to a function runner.
#![forbid(unsafe_code)]
#![doc = include_str!("../README.md")]

pub mod cache;
mod canvas;
pub mod catalog;
mod content_key;
mod delta;
mod error;
pub mod error_codes;
pub mod event;
pub mod exec;
pub mod format;
pub mod limits;
pub mod model;
pub mod ops;
mod params;
mod quality;
pub mod remote;
pub mod render;
mod report;
pub mod runner;
#[cfg(feature = "schema")]
pub mod schema;
#[cfg(feature = "sqlite")]
mod sqlite_conn;
pub mod store;
mod undo;
mod unique_keys;
pub mod validate;
mod wire;

pub use canvas::{Applied, Canvas, Migrated};
pub use catalog::{Catalog, NodeTypeBuilder, NodeTypeSpec, PropertyKind, PropertySpec, Template};
pub use content_key::ContentKey;
pub use delta::{Counts, Delta, Touched};
pub use error::{Error, ErrorBody, Result};
pub use event::Event;
pub use model::{
    CanvasDocument, DataType, Edge, Group, Node, PortRef, Position, Story, StoryStructure, Viewport,
};
pub use ops::{Op, SharedOps};
pub use params::TaskPreview;
pub use quality::Quality;
pub use report::{Diagnostic, Report, Severity};
pub use undo::UndoStack;
pub use wire::{from_json, from_value};
