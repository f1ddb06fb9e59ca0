//! Results in memory within a byte budget, least recently used out first.
//!
//! Recency is a stamp per entry from a counter that only goes up; a
//! `BTreeMap` from stamp to key orders the entries by last use, so finding
//! the oldest and refreshing one are O(log n) and nothing ever scans.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use super::{CacheStats, ResultCache, entry_size, json_len, storable};
use crate::content_key::ContentKey;
use crate::error::Result;
use crate::runner::Outputs;

/// Results in memory, bounded by their total size in bytes (see
/// [`CacheStats::bytes`]); when a new result does not fit, the least
/// recently used ones (stored or read longest ago) make room. A result larger
/// than the whole budget is not stored, and evicts nothing.
///
/// Safe to share between tasks and threads (`Arc<MemoryCache>`); every call
/// takes a short lock and never waits while holding it.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use std::sync::Arc;
///
/// use reelgraph::cache::{MemoryCache, ResultCache};
/// use reelgraph::ContentKey;
/// use serde_json::json;
///
/// // Each entry is 32 bytes of key + 11 of JSON (`{"frame":1}`): two fit.
/// let cache = MemoryCache::new(2 * 43);
/// let frame = |n: u8| Arc::new(json!({"frame": n}).as_object().cloned().unwrap());
/// let (a, b, c) = (ContentKey([1; 32]), ContentKey([2; 32]), ContentKey([3; 32]));
/// cache.put(a, frame(1)).await?;
/// cache.put(b, frame(2)).await?;
/// cache.get(&a).await?; // `a` is now the most recently used...
/// cache.put(c, frame(3)).await?; // ...so `b` makes room.
/// assert!(cache.get(&b).await?.is_none());
/// assert!(cache.get(&a).await?.is_some());
/// assert_eq!(cache.stats().evictions, 1);
/// # Ok::<(), reelgraph::Error>(())
/// # }).unwrap();
/// ```
pub struct MemoryCache {
    max_bytes: u64,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Keys are BLAKE3 hashes already; foldhash spreads them at a fraction
    /// of SipHash's cost.
    entries: HashMap<ContentKey, Entry, foldhash::fast::RandomState>,
    /// Keys by their last use, oldest first.
    recency: BTreeMap<u64, ContentKey>,
    /// The last stamp handed out; stamps are unique, so `recency` loses
    /// no key to a tie.
    clock: u64,
    bytes: u64,
    hits: u64,
    misses: u64,
    evictions: u64,
}

struct Entry {
    outputs: Arc<Outputs>,
    size: u64,
    /// This entry's key in `recency`.
    used: u64,
}

impl MemoryCache {
    /// An empty cache that keeps at most `max_bytes` of results.
    pub fn new(max_bytes: usize) -> MemoryCache {
        MemoryCache {
            max_bytes: max_bytes as u64,
            state: Mutex::new(State::default()),
        }
    }

    /// The byte budget this cache was made with.
    pub fn max_bytes(&self) -> usize {
        usize::try_from(self.max_bytes).unwrap_or(usize::MAX)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while the lock is held, and every change to the
        // state is complete before the next begins, so a poisoned lock
        // still guards sound data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn next_stamp(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// A lookup that counts as a use: a hit becomes the most recent entry.
    fn lookup(&mut self, key: &ContentKey) -> Option<Arc<Outputs>> {
        let stamp = self.next_stamp();
        let Some(entry) = self.entries.get_mut(key) else {
            self.misses += 1;
            return None;
        };
        self.recency.remove(&entry.used);
        entry.used = stamp;
        self.recency.insert(stamp, *key);
        self.hits += 1;
        Some(entry.outputs.clone())
    }

    fn remove(&mut self, key: &ContentKey) -> Option<Entry> {
        let entry = self.entries.remove(key)?;
        self.recency.remove(&entry.used);
        self.bytes -= entry.size;
        Some(entry)
    }

    /// Evicts the least recently used entry; false when there is none.
    fn evict_oldest(&mut self) -> bool {
        let Some((_, key)) = self.recency.first_key_value() else {
            return false;
        };
        let key = *key;
        self.remove(&key);
        self.evictions += 1;
        true
    }

    fn insert(&mut self, key: ContentKey, outputs: Arc<Outputs>, size: u64) {
        let used = self.next_stamp();
        self.recency.insert(used, key);
        self.bytes += size;
        self.entries.insert(
            key,
            Entry {
                outputs,
                size,
                used,
            },
        );
    }
}

#[async_trait]
impl ResultCache for MemoryCache {
    async fn get(&self, key: &ContentKey) -> Result<Option<Arc<Outputs>>> {
        Ok(self.lock().lookup(key))
    }

    /// All lookups under one lock.
    async fn get_many(&self, keys: &[ContentKey]) -> Result<Vec<Option<Arc<Outputs>>>> {
        let mut state = self.lock();
        Ok(keys.iter().map(|key| state.lookup(key)).collect())
    }

    /// Stores `outputs` under `key` as the most recently used entry,
    /// evicting the least recently used ones until it fits. Outputs larger
    /// than the whole budget are not stored (and whatever `key` held before
    /// is dropped, so a later `get` never returns what was replaced).
    async fn put(&self, key: ContentKey, outputs: Arc<Outputs>) -> Result<()> {
        storable(&outputs)?;
        // Measured before locking: encoding is the slow part of a put.
        let size = entry_size(json_len(&outputs)?);
        let mut state = self.lock();
        // A replacement, not an eviction: it is not counted as one.
        state.remove(&key);
        if size > self.max_bytes {
            tracing::debug!(
                key = %key.short(),
                size,
                max_bytes = self.max_bytes,
                "result larger than the whole cache; not cached"
            );
            return Ok(());
        }
        while state.bytes + size > self.max_bytes && state.evict_oldest() {}
        state.insert(key, outputs, size);
        Ok(())
    }

    fn stats(&self) -> CacheStats {
        let state = self.lock();
        CacheStats {
            entries: state.entries.len() as u64,
            bytes: state.bytes,
            hits: state.hits,
            misses: state.misses,
            evictions: state.evictions,
        }
    }
}

impl fmt::Debug for MemoryCache {
    // The stored outputs can be large; the counters say what matters.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryCache")
            .field("max_bytes", &self.max_bytes)
            .field("stats", &self.stats())
            .finish()
    }
}
