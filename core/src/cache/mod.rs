//! Result caches: node outputs stored by content key, so unchanged work is
//! never done twice.
//!
//! [`MemoryCache`] keeps results in memory within a byte budget (least
//! recently used first out); [`SqliteCache`] keeps them in a SQLite file so a
//! second process reuses what the first computed.
//!
//! Both measure an entry the same way — the length of its outputs' JSON
//! encoding plus the 32 bytes of its key — so a byte budget means the same
//! thing in memory and on disk.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::sync::Arc;
//!
//! use reelgraph::cache::{MemoryCache, ResultCache};
//! use reelgraph::ContentKey;
//! use serde_json::json;
//!
//! let cache = MemoryCache::new(64 * 1024 * 1024);
//! let key = ContentKey([7; 32]);
//! assert!(cache.get(&key).await?.is_none());
//!
//! let outputs = json!({"image": "frames/shot_1.png"}).as_object().cloned().unwrap();
//! cache.put(key, Arc::new(outputs.clone())).await?;
//! assert_eq!(cache.get(&key).await?.as_deref(), Some(&outputs));
//!
//! let stats = cache.stats();
//! assert_eq!((stats.entries, stats.hits, stats.misses), (1, 1, 1));
//! # Ok::<(), reelgraph::Error>(())
//! # }).unwrap();
//! ```

mod memory_cache;
#[cfg(feature = "sqlite")]
mod sqlite_cache;

use std::fmt;
use std::io;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::content_key::ContentKey;
use crate::error::Result;
use crate::runner::Outputs;

pub use memory_cache::MemoryCache;
#[cfg(feature = "sqlite")]
pub use sqlite_cache::SqliteCache;

/// Counters of one cache since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CacheStats {
    pub entries: u64,
    /// Bytes of stored results: per entry, its outputs' JSON size plus the
    /// 32-byte key.
    pub bytes: u64,
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
}

/// Where results are kept between runs.
#[async_trait]
pub trait ResultCache: Send + Sync + fmt::Debug {
    /// The outputs stored under `key`, if any.
    async fn get(&self, key: &ContentKey) -> Result<Option<Arc<Outputs>>>;

    /// Several lookups at once, in order; stores override this to answer in
    /// one round trip.
    async fn get_many(&self, keys: &[ContentKey]) -> Result<Vec<Option<Arc<Outputs>>>> {
        let mut found = Vec::with_capacity(keys.len());
        for key in keys {
            found.push(self.get(key).await?);
        }
        Ok(found)
    }

    /// Stores `outputs` under `key`, replacing what was there. Outputs
    /// nested deeper than [`crate::validate::MAX_VALUE_DEPTH`] are refused
    /// (`invalid_field`): a cache never takes what it may not read back.
    async fn put(&self, key: ContentKey, outputs: Arc<Outputs>) -> Result<()>;

    /// What the cache holds and how lookups went since it was opened.
    fn stats(&self) -> CacheStats;
}

/// Refuses outputs that could not be read back: JSON parsers stop at a
/// nesting depth (serde_json at 128), so a store takes none deeper than a
/// canvas value may be.
fn storable(outputs: &Outputs) -> Result<()> {
    match crate::runner::outputs::too_deep_port(outputs) {
        None => Ok(()),
        Some(problem) => Err(crate::Error::InvalidField {
            field: "outputs",
            message: format!("{problem}; a cache stores only what it can read back"),
        }),
    }
}

/// What the key adds to an entry's size.
const KEY_BYTES: u64 = 32;

/// The size an entry counts against a byte budget: the outputs' JSON
/// length plus the key.
fn entry_size(json_len: usize) -> u64 {
    json_len as u64 + KEY_BYTES
}

/// The length of `outputs` as JSON, measured without building the text.
fn json_len(outputs: &Outputs) -> Result<usize> {
    struct Count(usize);
    impl io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_json::to_writer(&mut count, outputs)?;
    Ok(count.0)
}
