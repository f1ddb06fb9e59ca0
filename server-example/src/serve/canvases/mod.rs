//! Canvases: the core's SQLite store, with each canvas's latest version
//! kept in memory as the bytes a GET answers with, and edits serialised
//! per canvas.
//!
//! Each canvas the server has touched gets a [`Slot`]: its latest version
//! as JSON with its ETag (a read answers from it without the store), and
//! behind an async mutex the loaded [`Canvas`] that PATCHes apply ops to.
//! Every write of a canvas holds its mutex from the revision check to the
//! store's acknowledgement, so two PATCHes of one canvas never interleave
//! and none is lost; writes of different canvases run side by side (and
//! the store commits them together). The store's own revision check stays
//! the last word (another process on the same file is a `conflict`, and the
//! slot is dropped and read again).
//!
//! An edit saves only its delta (see `CanvasStore::save_delta`), once the
//! canvas was saved whole since it was loaded, and does not serialise the
//! document: the bytes a GET answers with are made on the next GET. Its
//! ETag is the hash of the ETag before and the edit's answer, so a PATCH
//! can name the ETag the next GET gives.

pub mod feed;
mod handlers;

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use axum::body::Bytes;
use reelgraph::format::comfyui;
use reelgraph::store::{CanvasStore, ListQuery, Page, VersionInfo};
use reelgraph::{Applied, Canvas, CanvasDocument, Catalog, Op};

use self::feed::Feed;
use super::content_coding::{self, Coding};
use super::etag;
use super::metered_store::MeteredStore;

pub use self::handlers::{encode_segment, register};

/// The one id no canvas may have.
const RESERVED_ID: &str = "import";

/// A canvas's latest version as a GET answers it.
#[derive(Debug)]
pub struct Latest {
    pub revision: u64,
    /// A strong ETag, quoted: the revision and a hash of the bytes (a
    /// canvas deleted and made again starts at revision 0 again).
    pub etag: String,
    pub json: Bytes,
    /// `json` gzipped and brotli-compressed, each made by the first GET
    /// that asks for it (the others wait for it).
    gzip: tokio::sync::OnceCell<Bytes>,
    brotli: tokio::sync::OnceCell<Bytes>,
}

impl Latest {
    fn new(revision: u64, etag: String, json: Bytes) -> Arc<Latest> {
        Arc::new(Latest {
            revision,
            etag,
            json,
            gzip: tokio::sync::OnceCell::new(),
            brotli: tokio::sync::OnceCell::new(),
        })
    }

    fn of(revision: u64, json: Vec<u8>) -> Arc<Latest> {
        let etag = etag::of(&revision.to_string(), &json);
        Latest::new(revision, etag, Bytes::from(json))
    }

    /// `json` compressed with `coding`.
    pub async fn compressed(&self, coding: Coding) -> Bytes {
        let cell = match coding {
            Coding::Gzip => &self.gzip,
            Coding::Brotli => &self.brotli,
        };
        cell.get_or_init(|| async {
            // A large canvas takes milliseconds: off the async workers.
            let json = self.json.clone();
            tokio::task::spawn_blocking(move || content_coding::compress(&json, coding))
                .await
                .unwrap_or_else(|_| content_coding::compress(&self.json, coding))
        })
        .await
        .clone()
    }
}

/// A canvas loaded for editing.
#[derive(Debug)]
struct Loaded {
    canvas: Canvas,
    /// The ETag of the canvas's current revision.
    etag: String,
    /// The store holds the current revision as this canvas writes it (it
    /// saved it whole, or deltas since): an edit may save just its delta.
    in_step: bool,
}

/// The answer to an edit.
#[derive(Debug)]
pub struct Edit {
    pub applied: Applied,
    /// `applied` as JSON.
    pub json: Bytes,
    /// The canvas's ETag after the edit.
    pub etag: String,
}

/// One canvas's place in memory.
#[derive(Debug, Default)]
struct Slot {
    /// Held by every write of this canvas; holds the canvas once an edit
    /// loaded it.
    write: tokio::sync::Mutex<Option<Loaded>>,
    latest: RwLock<Option<Arc<Latest>>>,
}

impl Slot {
    fn latest(&self) -> Option<Arc<Latest>> {
        self.latest
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_latest(&self, latest: Option<Arc<Latest>>) {
        *self.latest.write().unwrap_or_else(PoisonError::into_inner) = latest;
    }
}

/// The canvases of the server.
#[derive(Debug)]
pub struct Canvases {
    store: Arc<MeteredStore>,
    catalog: Catalog,
    slots: RwLock<HashMap<String, Arc<Slot>>>,
    /// Every stored change, for WebSocket followers.
    feed: Feed,
}

impl Canvases {
    pub fn new(store: Arc<MeteredStore>, catalog: Catalog) -> Canvases {
        Canvases {
            store,
            catalog,
            slots: RwLock::default(),
            feed: Feed::default(),
        }
    }

    /// `doc` as a canvas of the server's catalogue, with the ComfyUI node
    /// types it carries registered first (an imported canvas reads the same
    /// after a restart).
    pub fn load(&self, doc: CanvasDocument) -> reelgraph::Result<Canvas> {
        comfyui::restore_types(&self.catalog, &doc)?;
        Canvas::from_document(self.catalog.clone(), doc)
    }

    /// The change feed that WebSocket clients follow.
    pub fn feed(&self) -> &Feed {
        &self.feed
    }

    /// The store, for what this module does not wrap (readiness checks).
    pub fn store(&self) -> &Arc<MeteredStore> {
        &self.store
    }

    fn slot(&self, id: &str) -> Arc<Slot> {
        let slots = self.slots.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = slots.get(id) {
            return slot.clone();
        }
        drop(slots);
        let mut slots = self.slots.write().unwrap_or_else(PoisonError::into_inner);
        slots.entry(id.to_owned()).or_default().clone()
    }

    /// Forgets `slot` if it is still the one of `id`.
    fn forget(&self, id: &str, slot: &Arc<Slot>) {
        let mut slots = self.slots.write().unwrap_or_else(PoisonError::into_inner);
        if slots.get(id).is_some_and(|s| Arc::ptr_eq(s, slot)) {
            slots.remove(id);
        }
    }

    /// The latest version of canvas `id`.
    pub async fn get(&self, id: &str) -> reelgraph::Result<Arc<Latest>> {
        let slot = self.slot(id);
        if let Some(latest) = slot.latest() {
            return Ok(latest);
        }
        // A miss is read under the write lock, so it cannot put back a
        // version older than a write that finished meanwhile.
        let guard = slot.write.lock().await;
        if let Some(latest) = slot.latest() {
            return Ok(latest);
        }
        let latest = match guard.as_ref() {
            Some(loaded) => Latest::new(
                loaded.canvas.revision(),
                loaded.etag.clone(),
                Bytes::from(loaded.canvas.to_json()),
            ),
            None => match self.store.get(id).await {
                Ok(doc) => Latest::of(doc.revision, serde_json::to_vec(&doc)?),
                Err(e) => {
                    drop(guard);
                    self.forget(id, &slot);
                    return Err(e);
                }
            },
        };
        slot.set_latest(Some(latest.clone()));
        Ok(latest)
    }

    /// Makes an empty canvas.
    pub async fn create(&self, id: &str, name: &str) -> reelgraph::Result<Arc<Latest>> {
        let canvas = Canvas::try_new(self.catalog.clone(), id, name)?;
        self.create_canvas(canvas).await
    }

    /// Stores a whole document as a new canvas (read as a load reads it:
    /// old node-type versions migrated).
    pub async fn create_document(&self, doc: CanvasDocument) -> reelgraph::Result<Arc<Latest>> {
        let canvas = self.load(doc)?;
        self.create_canvas(canvas).await
    }

    async fn create_canvas(&self, canvas: Canvas) -> reelgraph::Result<Arc<Latest>> {
        // `/v1/canvases/import` is a route: a canvas of that id could not be read.
        if canvas.id() == RESERVED_ID {
            return Err(reelgraph::Error::InvalidId {
                id: RESERVED_ID.to_owned(),
                message: "it is reserved for the route POST /v1/canvases/import; choose another id"
                    .into(),
            });
        }
        let slot = self.slot(canvas.id());
        let mut guard = slot.write.lock().await;
        let doc = canvas.to_document();
        self.store.create(&doc).await?;
        let latest = Latest::of(doc.revision, serde_json::to_vec(&doc)?);
        *guard = Some(Loaded {
            canvas,
            etag: latest.etag.clone(),
            in_step: true,
        });
        slot.set_latest(Some(latest.clone()));
        Ok(latest)
    }

    /// Applies `ops` to canvas `id` at revision `expected`: all of them or,
    /// on any error, none (nothing is stored).
    pub async fn apply(&self, id: &str, expected: u64, ops: Vec<Op>) -> reelgraph::Result<Edit> {
        let slot = self.slot(id);
        let mut guard = slot.write.lock().await;
        if guard.is_none() {
            match self.store.get(id).await {
                Ok(doc) => {
                    let latest = Latest::of(doc.revision, serde_json::to_vec(&doc)?);
                    *guard = Some(Loaded {
                        canvas: self.load(doc)?,
                        etag: latest.etag.clone(),
                        // Loading may have migrated nodes: the first save is whole.
                        in_step: false,
                    });
                    slot.set_latest(Some(latest));
                }
                Err(e) => {
                    drop(guard);
                    self.forget(id, &slot);
                    return Err(e);
                }
            }
        }
        let Some(loaded) = guard.as_mut() else {
            unreachable!("loaded above")
        };
        if loaded.canvas.revision() != expected {
            return Err(reelgraph::Error::Conflict {
                id: id.to_owned(),
                expected,
                current: loaded.canvas.revision(),
            });
        }
        let (applied, delta) = loaded.canvas.apply_recorded(ops)?;
        let json = Bytes::from(serde_json::to_vec(&applied)?);
        let Some(delta) = delta else {
            // No ops: nothing to store.
            let etag = loaded.etag.clone();
            return Ok(Edit {
                applied,
                json,
                etag,
            });
        };
        let saved = if loaded.in_step {
            self.store
                .save_delta(&loaded.canvas, &delta, expected)
                .await
        } else {
            self.store
                .save(&loaded.canvas.to_document(), expected)
                .await
        };
        if let Err(e) = saved {
            // The canvas in memory is ahead of the store: read it again next time.
            *guard = None;
            slot.set_latest(None);
            return Err(e);
        }
        loaded.in_step = true;
        loaded.etag = etag::of(
            &applied.revision.to_string(),
            &[loaded.etag.as_bytes(), &json].concat(),
        );
        slot.set_latest(None);
        self.feed.changed(&applied.event);
        Ok(Edit {
            etag: loaded.etag.clone(),
            applied,
            json,
        })
    }

    /// Replaces canvas `id`, which must be at revision `expected`, with
    /// `doc`; the new version gets revision `expected + 1`.
    pub async fn replace(
        &self,
        id: &str,
        expected: u64,
        mut doc: CanvasDocument,
    ) -> reelgraph::Result<Arc<Latest>> {
        if doc.id != id {
            return Err(reelgraph::Error::InvalidField {
                field: "id",
                message: format!("the document's id `{}` is not the canvas's `{id}`", doc.id),
            });
        }
        let slot = self.slot(id);
        let mut guard = slot.write.lock().await;
        doc.revision = expected.saturating_add(1);
        doc.updated_at = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
        let canvas = self.load(doc)?;
        let doc = canvas.to_document();
        if let Err(e) = self.store.save(&doc, expected).await {
            *guard = None;
            slot.set_latest(None);
            if e.code() == "not_found" {
                drop(guard);
                self.forget(id, &slot);
            }
            return Err(e);
        }
        let latest = Latest::of(doc.revision, serde_json::to_vec(&doc)?);
        *guard = Some(Loaded {
            canvas,
            etag: latest.etag.clone(),
            in_step: true,
        });
        slot.set_latest(Some(latest.clone()));
        self.feed.replaced(id, latest.revision);
        Ok(latest)
    }

    /// Deletes canvas `id` and its history; with `expected`, only if it is
    /// still at that revision.
    pub async fn delete(&self, id: &str, expected: Option<u64>) -> reelgraph::Result<()> {
        let slot = self.slot(id);
        let mut guard = slot.write.lock().await;
        let result = self.store.delete(id, expected).await;
        if result.is_ok() || result.as_ref().is_err_and(|e| e.code() == "not_found") {
            *guard = None;
            slot.set_latest(None);
            if result.is_ok() {
                self.feed.deleted(id);
            }
            drop(guard);
            self.forget(id, &slot);
        }
        result
    }

    /// A page of canvases ordered by id.
    pub async fn list(&self, query: &ListQuery) -> reelgraph::Result<Page> {
        self.store.list(query).await
    }

    /// Saved versions of canvas `id`, newest first.
    pub async fn history(&self, id: &str) -> reelgraph::Result<Vec<VersionInfo>> {
        self.store.history(id).await
    }

    /// Version `revision` of canvas `id`.
    pub async fn version(&self, id: &str, revision: u64) -> reelgraph::Result<CanvasDocument> {
        self.store.get_revision(id, revision).await
    }
}
