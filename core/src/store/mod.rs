//! Persistence: the [`CanvasStore`] trait and its implementations.
//!
//! Every store keeps the same promises, checked by one conformance suite:
//! a save names the revision it expects to replace, and a stale one is a
//! `conflict` carrying the current revision — never a silent overwrite.
//! Nothing here assumes one process: the revision check is the only
//! coordination, so a shared database (PostgreSQL) fits the same trait.

mod autosave;
mod document_json;
mod files;
mod fingerprint;
mod memory_store;
#[cfg(feature = "sqlite")]
mod sqlite_group_commit;
#[cfg(feature = "sqlite")]
mod sqlite_journal;
#[cfg(feature = "sqlite")]
mod sqlite_store;
mod summary;

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use autosave::{AutosaveEvent, AutosaveOptions, Autosaver, autosave};
pub use files::{DamagedFile, FileStore, RebuiltIndex};
pub use memory_store::MemoryStore;
#[cfg(feature = "sqlite")]
pub use sqlite_store::{Durability, SqliteStore};
pub use summary::change_summary;

use self::fingerprint::Fingerprint;
use crate::canvas::Canvas;
use crate::delta::Delta;
use crate::error::{Error, Result};
use crate::model::CanvasDocument;

/// Most canvases one `list` call returns.
pub const MAX_PAGE_SIZE: usize = 1_000;
/// Largest canvas document a store accepts or loads, in bytes.
pub use crate::limits::MAX_DOCUMENT_BYTES;

/// A page request for [`CanvasStore::list`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct ListQuery {
    /// Where the previous page ended (its `next_cursor`); none for the first page.
    pub cursor: Option<String>,
    /// How many canvases, 1 to [`MAX_PAGE_SIZE`]; 0 means 100.
    pub limit: usize,
    /// Only canvases whose name starts with this.
    pub name_prefix: Option<String>,
}

impl ListQuery {
    /// The first page of `limit` canvases.
    pub fn first(limit: usize) -> Self {
        ListQuery {
            limit,
            ..ListQuery::default()
        }
    }

    /// The effective page size.
    pub fn page_size(&self) -> usize {
        match self.limit {
            0 => 100,
            n => n.min(MAX_PAGE_SIZE),
        }
    }
}

/// One canvas in a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CanvasSummary {
    pub id: String,
    pub name: String,
    pub revision: u64,
    pub updated_at: String,
    pub size_bytes: u64,
}

/// A page of canvases, ordered by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Page {
    pub items: Vec<CanvasSummary>,
    /// Pass this as the next query's cursor; none on the last page.
    pub next_cursor: Option<String>,
}

impl Page {
    /// A page of `items`; when `more` follow, the cursor is the last id.
    pub(crate) fn new(items: Vec<CanvasSummary>, more: bool) -> Self {
        let next_cursor = if more {
            items.last().map(|s| s.id.clone())
        } else {
            None
        };
        Page { items, next_cursor }
    }
}

/// One saved version of a canvas.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct VersionInfo {
    pub revision: u64,
    /// RFC 3339, when the store wrote it.
    pub saved_at: String,
    pub size_bytes: u64,
    /// What changed from the version before, e.g. "+2 nodes, 1 node changed".
    pub summary: String,
}

/// What [`CanvasStore::prune`] removes from a canvas's history.
/// The current version is always kept. On the wire, one key:
/// `{"keep_last": 10}` or `{"older_than_ms": 86400000}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Prune {
    /// Keep the newest N versions.
    KeepLast(usize),
    /// Remove versions saved longer ago than this.
    #[serde(rename = "older_than_ms", with = "crate::wire::millis")]
    #[cfg_attr(feature = "schema", schemars(with = "u64"))]
    OlderThan(Duration),
}

/// Where a canvas document is kept.
///
/// ```
/// # tokio_test_block(async {
/// use reelgraph::store::{CanvasStore, MemoryStore};
/// use reelgraph::{Canvas, Catalog, Op};
/// use serde_json::json;
///
/// let store = MemoryStore::new();
/// let mut canvas = Canvas::new(Catalog::builtin(), "teaser", "Teaser");
/// store.create(&canvas.to_document()).await?;
///
/// canvas.apply(vec![Op::add_node("s1", "shot", json!({"number": 1}))])?;
/// store.save(&canvas.to_document(), 0).await?;
///
/// // A writer still holding revision 0 is told, not overwritten.
/// let err = store.save(&canvas.to_document(), 0).await.unwrap_err();
/// assert_eq!(err.code(), "conflict");
/// # Ok::<(), reelgraph::Error>(())
/// # });
/// # fn tokio_test_block<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
/// # }
/// ```
#[async_trait]
pub trait CanvasStore: Send + Sync {
    /// Stores a new canvas; `duplicate_id` if one with its id exists.
    async fn create(&self, doc: &CanvasDocument) -> Result<VersionInfo>;

    /// The current version; `not_found` if there is none.
    async fn get(&self, id: &str) -> Result<CanvasDocument>;

    /// A given revision from the history; `not_found` if it was never saved or was pruned.
    async fn get_revision(&self, id: &str, revision: u64) -> Result<CanvasDocument>;

    /// Canvases ordered by id, a page at a time.
    async fn list(&self, query: &ListQuery) -> Result<Page>;

    /// Replaces the current version, which must be `expected_revision`
    /// (else `conflict` with the current revision). The document's own
    /// revision must be above it.
    async fn save(&self, doc: &CanvasDocument, expected_revision: u64) -> Result<VersionInfo>;

    /// Saves the revision an apply made: `canvas` after
    /// [`Canvas::apply_recorded`] returned `delta`. The store must hold
    /// revision `expected_revision` (`delta.revision - 1`) as the canvas was
    /// before the apply, which a canvas saved whole once since it was loaded
    /// makes sure of. A store that keeps a journal writes the delta (and now
    /// and then the whole document, so reads stay quick); this default saves
    /// the whole document. The checks and errors are those of
    /// [`CanvasStore::save`].
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use reelgraph::store::{CanvasStore, SqliteStore};
    /// use reelgraph::{Canvas, Catalog, Op};
    /// use serde_json::json;
    ///
    /// let store = SqliteStore::open_in_memory()?;
    /// let mut canvas = Canvas::new(Catalog::builtin(), "teaser", "Teaser");
    /// store.create(&canvas.to_document()).await?;
    /// let (_, delta) = canvas.apply_recorded(vec![Op::add_node("s1", "shot", json!({"number": 1}))])?;
    /// let saved = store.save_delta(&canvas, &delta.expect("a change"), 0).await?;
    /// assert_eq!(saved.summary, "+1 node");
    /// assert_eq!(store.get("teaser").await?, canvas.to_document());
    /// # Ok::<(), reelgraph::Error>(())
    /// # }).unwrap();
    /// ```
    async fn save_delta(
        &self,
        canvas: &Canvas,
        delta: &Delta,
        expected_revision: u64,
    ) -> Result<VersionInfo> {
        // Without a journal, the delta is of no use.
        let _ = delta;
        self.save(&canvas.to_document(), expected_revision).await
    }

    /// Deletes a canvas and its history; with an expected revision, only if it
    /// is still current.
    async fn delete(&self, id: &str, expected_revision: Option<u64>) -> Result<()>;

    /// Saved versions, newest first.
    async fn history(&self, id: &str) -> Result<Vec<VersionInfo>>;

    /// Removes old versions; returns how many went.
    async fn prune(&self, id: &str, policy: Prune) -> Result<usize>;
}

/// Runs `work` on tokio's blocking pool, off the async threads. A panic in
/// it is a bug and is passed on as a panic; `location` names the file in
/// the error of a task that did not finish.
pub(crate) async fn blocking<T, F>(work: F, location: Option<&str>) -> Result<T>
where
    F: FnOnce() -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(Error::Storage {
            message: format!("the storage task did not finish: {e}"),
            path: location.map(str::to_owned),
        }),
    }
}

/// The current time as RFC 3339, as stores record it.
pub(crate) fn saved_now() -> (SystemTime, String) {
    let now = SystemTime::now();
    (now, humantime::format_rfc3339_millis(now).to_string())
}

/// The checks every store makes before saving revision `revision` of canvas
/// `id`, given the revision it holds now.
pub(crate) fn check_save(
    current: Option<u64>,
    id: &str,
    revision: u64,
    expected: u64,
) -> Result<()> {
    let Some(current) = current else {
        return Err(Error::NotFound {
            kind: "canvas",
            id: id.to_owned(),
        });
    };
    if current != expected {
        return Err(Error::Conflict {
            id: id.to_owned(),
            expected,
            current,
        });
    }
    if revision <= expected {
        return Err(Error::InvalidField {
            field: "revision",
            message: format!(
                "the document is at revision {revision}, not above the expected {expected}; apply ops before saving"
            ),
        });
    }
    Ok(())
}

/// What a save records as its change summary when the version it replaces
/// cannot be read.
pub(crate) const UNREADABLE_PREVIOUS: &str = "replaces an unreadable version";

/// What a store writes for a document: its JSON, refused over
/// [`MAX_DOCUMENT_BYTES`], and its fingerprint — a large document's on two
/// threads (see `document_json::write`). Both need only `&CanvasDocument`, so this
/// runs on the caller's thread, and a store's blocking work gets the results
/// instead of a copy of the document.
pub(crate) fn prepare(doc: &CanvasDocument) -> Result<(String, Fingerprint)> {
    // What the reader would refuse is refused before the store writes
    // anything: the canvas's own fields and groups here (the fingerprint
    // reads them), nodes and edges as they are written.
    crate::limits::check_canvas_fields(doc)?;
    doc.groups.iter().try_for_each(crate::limits::check_group)?;
    // The nodes' entries are taken from their JSON as it is written; the
    // rest of the fingerprint meanwhile, on this thread.
    let (text, nodes, mut fingerprint) =
        document_json::write(doc, || Fingerprint::with_nodes(doc, Vec::new()));
    fingerprint.set_nodes(nodes);
    Ok((checked_size(text?)?, fingerprint))
}

fn checked_size(text: String) -> Result<String> {
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(Error::TooLarge {
            size: text.len(),
            limit: MAX_DOCUMENT_BYTES,
        });
    }
    Ok(text)
}

/// Parses a stored document on this thread; a failure names where it came
/// from.
pub(crate) fn decode(location: &str, text: &str) -> Result<CanvasDocument> {
    check_stored_size(text)?;
    CanvasDocument::from_json(text).map_err(|e| stored_error(location, e))
}

fn check_stored_size(text: &str) -> Result<()> {
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(Error::TooLarge {
            size: text.len(),
            limit: MAX_DOCUMENT_BYTES,
        });
    }
    Ok(())
}

fn stored_error(location: &str, e: Error) -> Error {
    match e {
        Error::InvalidJson { message } => Error::Corrupt {
            location: location.to_owned(),
            message,
        },
        other => other,
    }
}

/// A stored document as a store's blocking work read it: a small one parsed
/// there, a large one cut in [`document_json::Halves`] that [`Read::parse`] parses on
/// two of tokio's blocking threads — after the store's lock or connection is
/// released.
#[derive(Debug)]
enum Read {
    Parsed(CanvasDocument),
    Halves {
        location: String,
        halves: document_json::Halves,
    },
}

impl Read {
    /// The document in `text`, read from `location`.
    fn of(location: &str, text: &str) -> Result<Read> {
        check_stored_size(text)?;
        match document_json::Halves::of(text) {
            Some(halves) => Ok(Read::Halves {
                location: location.to_owned(),
                halves,
            }),
            None => decode(location, text).map(Read::Parsed),
        }
    }

    /// The document; a failure names where it came from. Without a tokio
    /// runtime the halves are parsed here.
    async fn parse(self) -> Result<CanvasDocument> {
        let (location, halves) = match self {
            Read::Parsed(doc) => return Ok(doc),
            Read::Halves { location, halves } => (location, halves),
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Read::Halves { location, halves }.parse_here();
        };
        let halves = std::sync::Arc::new(halves);
        let (h, nodes) = (halves.clone(), halves.clone());
        let nodes = runtime.spawn_blocking(move || nodes.parse_nodes());
        let rest = runtime.spawn_blocking(move || h.parse_rest());
        if let Some(doc) = document_json::Halves::join(joined(rest.await)?, joined(nodes.await)?) {
            return Ok(doc);
        }
        // The one-thread parse says what is wrong; off this thread too.
        let text = halves.whole();
        drop(halves);
        let parsed = runtime.spawn_blocking(move || CanvasDocument::from_json(&text));
        joined(parsed.await)?.map_err(|e| stored_error(&location, e))
    }

    /// The document, parsed on this thread.
    fn parse_here(self) -> Result<CanvasDocument> {
        match self {
            Read::Parsed(doc) => Ok(doc),
            Read::Halves { location, halves } => {
                if let Some(doc) =
                    document_json::Halves::join(halves.parse_rest(), halves.parse_nodes())
                {
                    return Ok(doc);
                }
                CanvasDocument::from_json(&halves.whole()).map_err(|e| stored_error(&location, e))
            }
        }
    }
}

/// The result of blocking parse work; a panic in it is a bug and is passed on.
fn joined<T>(result: std::result::Result<T, tokio::task::JoinError>) -> Result<T> {
    match result {
        Ok(value) => Ok(value),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(Error::Storage {
            message: format!("the parsing task did not finish: {e}"),
            path: None,
        }),
    }
}
