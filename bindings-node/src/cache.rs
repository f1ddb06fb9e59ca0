//! Result caches: where an executor keeps node results between runs. One
//! native class holds either kind; `lib/run.js` shows it as `MemoryCache` or
//! `SqliteCache`.

use std::sync::Arc;

use napi::bindgen_prelude::Unknown;
use napi_derive::napi;
use reelgraph::cache::{MemoryCache, SqliteCache};
use reelgraph::exec::DEFAULT_CACHE_BYTES;

use crate::convert::{string_arg, to_text};
use crate::errors::js;

#[napi]
#[derive(Debug, Clone)]
pub struct ResultCache {
    pub(crate) inner: Arc<dyn reelgraph::cache::ResultCache>,
}

#[napi]
impl ResultCache {
    /// An in-memory cache keeping at most `maxBytes` of results (default 256 MiB).
    #[napi(factory)]
    pub fn memory(max_bytes: Option<f64>) -> napi::Result<Self> {
        let max_bytes = match max_bytes {
            None => DEFAULT_CACHE_BYTES,
            Some(n) => crate::executor::whole(n, "maxBytes", 0.0)?,
        };
        Ok(ResultCache {
            inner: Arc::new(MemoryCache::new(max_bytes)),
        })
    }

    /// A cache in the SQLite file at `path` (made when missing), which
    /// several processes may share.
    #[napi(factory)]
    pub fn sqlite(path: Unknown<'_>) -> napi::Result<Self> {
        let path = string_arg(path, "path")?;
        Ok(ResultCache {
            inner: Arc::new(js(SqliteCache::open(path))?),
        })
    }

    /// Entries, bytes, hits, misses and evictions (JSON text of `CacheStats`).
    #[napi]
    pub fn stats_json(&self) -> napi::Result<String> {
        to_text(&self.inner.stats())
    }
}
