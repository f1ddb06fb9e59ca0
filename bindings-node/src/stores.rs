//! Stores: `MemoryStore`, `FileStore`, `SqliteStore`, one set of Promise
//! methods over the core's `CanvasStore`. Each call copies what it needs
//! (the document of a canvas, ids) on the JS thread and runs the store's
//! future on napi's tokio runtime, so the event loop never waits for a disk.

use std::sync::Arc;

use napi::Env;
use napi::bindgen_prelude::{PromiseRaw, Unknown};
use napi_derive::napi;
use reelgraph::store::{CanvasStore, ListQuery, Prune};
use serde_json::Value;

use crate::canvas::{Canvas, canvas_arg, catalog_arg};
use crate::convert::{optional_revision_arg, revision_arg, string_arg, to_value};
use crate::errors::{core_error, js};

/// The methods every store class has; `$store` is the class.
macro_rules! store_methods {
    ($store:ident) => {
        #[napi]
        impl $store {
            /// Stores a new canvas; `duplicate_id` if one with its id exists.
            #[napi(
                ts_args_type = "canvas: Canvas",
                ts_return_type = "Promise<VersionInfo>"
            )]
            pub fn create<'env>(
                &self,
                env: &'env Env,
                canvas: Unknown<'_>,
            ) -> napi::Result<PromiseRaw<'env, Value>> {
                let doc = canvas_arg(canvas, "canvas")?.lock().to_document();
                let store = self.inner.clone();
                env.spawn_future(async move { to_value(&js(store.create(&doc).await)?) })
            }

            /// The current version as a canvas with the given catalogue (default:
            /// built-in); `not_found` if there is none.
            #[napi(
                ts_args_type = "id: string, catalog?: Catalog | null",
                ts_return_type = "Promise<Canvas>"
            )]
            pub fn get<'env>(
                &self,
                env: &'env Env,
                id: Unknown<'_>,
                catalog: Option<Unknown<'_>>,
            ) -> napi::Result<PromiseRaw<'env, Canvas>> {
                let (store, id) = (self.inner.clone(), string_arg(id, "id")?);
                let catalog = catalog_arg(catalog)?;
                env.spawn_future(async move {
                    let doc = js(store.get(&id).await)?;
                    Ok(Canvas::wrap(js(reelgraph::Canvas::from_document(
                        catalog, doc,
                    ))?))
                })
            }

            /// A saved revision as a canvas; `not_found` if it was never saved or was pruned.
            #[napi(
                ts_args_type = "id: string, revision: number, catalog?: Catalog | null",
                ts_return_type = "Promise<Canvas>"
            )]
            pub fn get_version<'env>(
                &self,
                env: &'env Env,
                id: Unknown<'_>,
                revision: Unknown<'_>,
                catalog: Option<Unknown<'_>>,
            ) -> napi::Result<PromiseRaw<'env, Canvas>> {
                let (store, id) = (self.inner.clone(), string_arg(id, "id")?);
                let revision = revision_arg(revision, "revision")?;
                let catalog = catalog_arg(catalog)?;
                env.spawn_future(async move {
                    let doc = js(store.get_revision(&id, revision).await)?;
                    Ok(Canvas::wrap(js(reelgraph::Canvas::from_document(
                        catalog, doc,
                    ))?))
                })
            }

            /// A page of canvases ordered by id; `query` is a `ListQuery` as JSON text.
            #[napi(ts_args_type = "query: string", ts_return_type = "Promise<Page>")]
            pub fn list_json<'env>(
                &self,
                env: &'env Env,
                query: Unknown<'_>,
            ) -> napi::Result<PromiseRaw<'env, Value>> {
                let query: ListQuery = js(reelgraph::from_json(&string_arg(query, "query")?))?;
                let store = self.inner.clone();
                env.spawn_future(async move { to_value(&js(store.list(&query).await)?) })
            }

            /// Saves a canvas over revision `expectedRevision`; a store holding
            /// another revision answers `conflict`, never a silent overwrite.
            #[napi(
                ts_args_type = "canvas: Canvas, expectedRevision: number",
                ts_return_type = "Promise<VersionInfo>"
            )]
            pub fn save<'env>(
                &self,
                env: &'env Env,
                canvas: Unknown<'_>,
                expected_revision: Unknown<'_>,
            ) -> napi::Result<PromiseRaw<'env, Value>> {
                let doc = canvas_arg(canvas, "canvas")?.lock().to_document();
                let expected = revision_arg(expected_revision, "expectedRevision")?;
                let store = self.inner.clone();
                env.spawn_future(async move { to_value(&js(store.save(&doc, expected).await)?) })
            }

            /// Deletes a canvas and its history; with `expectedRevision`, only
            /// while that is still the current revision.
            #[napi(
                ts_args_type = "id: string, expectedRevision?: number | null",
                ts_return_type = "Promise<void>"
            )]
            pub fn delete<'env>(
                &self,
                env: &'env Env,
                id: Unknown<'_>,
                expected_revision: Option<Unknown<'_>>,
            ) -> napi::Result<PromiseRaw<'env, ()>> {
                let (store, id) = (self.inner.clone(), string_arg(id, "id")?);
                let expected = optional_revision_arg(expected_revision, "expectedRevision")?;
                env.spawn_future(async move { js(store.delete(&id, expected).await) })
            }

            /// Saved versions of a canvas, newest first.
            #[napi(ts_args_type = "id: string", ts_return_type = "Promise<VersionInfo[]>")]
            pub fn versions<'env>(
                &self,
                env: &'env Env,
                id: Unknown<'_>,
            ) -> napi::Result<PromiseRaw<'env, Value>> {
                let (store, id) = (self.inner.clone(), string_arg(id, "id")?);
                env.spawn_future(async move { to_value(&js(store.history(&id).await)?) })
            }

            /// Removes old versions (`policy` is a `Prune` as JSON text); resolves
            /// to how many went. The current version is always kept.
            #[napi(
                ts_args_type = "id: string, policy: string",
                ts_return_type = "Promise<number>"
            )]
            pub fn prune_json<'env>(
                &self,
                env: &'env Env,
                id: Unknown<'_>,
                policy: Unknown<'_>,
            ) -> napi::Result<PromiseRaw<'env, u32>> {
                let (store, id) = (self.inner.clone(), string_arg(id, "id")?);
                let policy: Prune = js(reelgraph::from_json(&string_arg(policy, "policy")?))?;
                env.spawn_future(async move {
                    let removed = js(store.prune(&id, policy).await)?;
                    Ok(u32::try_from(removed).unwrap_or(u32::MAX))
                })
            }
        }

        impl $store {
            /// The store as the core's trait object (an autosaver holds one).
            pub fn store(&self) -> Arc<dyn CanvasStore> {
                self.inner.clone()
            }
        }

        impl std::fmt::Debug for $store {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($store)).finish_non_exhaustive()
            }
        }
    };
}

/// Canvases in memory, gone with the process: tests, previews, caches.
#[napi]
pub struct MemoryStore {
    inner: Arc<dyn CanvasStore>,
}

#[napi]
impl MemoryStore {
    #[napi(constructor)]
    pub fn new() -> Self {
        MemoryStore {
            inner: Arc::new(reelgraph::store::MemoryStore::new()),
        }
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new()
    }
}

store_methods!(MemoryStore);

/// One JSON document per canvas and version in a directory (atomic writes).
#[napi]
pub struct FileStore {
    inner: Arc<dyn CanvasStore>,
}

#[napi]
impl FileStore {
    /// Opens the store in directory `path`, creating it if needed.
    #[napi(constructor, ts_args_type = "path: string")]
    pub fn new(path: Unknown<'_>) -> napi::Result<Self> {
        let path = string_arg(path, "path")?;
        let store = reelgraph::store::FileStore::open(&path).map_err(|e| core_error(&e))?;
        Ok(FileStore {
            inner: Arc::new(store),
        })
    }
}

store_methods!(FileStore);

/// A SQLite database file (created if needed; `:memory:` for a private one).
#[napi]
pub struct SqliteStore {
    inner: Arc<dyn CanvasStore>,
}

#[napi]
impl SqliteStore {
    /// Opens (or creates) the database at `path`.
    #[napi(constructor, ts_args_type = "path: string")]
    pub fn new(path: Unknown<'_>) -> napi::Result<Self> {
        let path = string_arg(path, "path")?;
        let store = if path == ":memory:" {
            reelgraph::store::SqliteStore::open_in_memory()
        } else {
            reelgraph::store::SqliteStore::open(&path)
        };
        Ok(SqliteStore {
            inner: Arc::new(store.map_err(|e| core_error(&e))?),
        })
    }
}

store_methods!(SqliteStore);
