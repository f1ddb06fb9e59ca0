//! A store in process memory: for tests, previews and embedding without disk.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::fingerprint::Fingerprint;
use super::{
    CanvasStore, CanvasSummary, ListQuery, Page, Prune, Read, VersionInfo, check_save, decode,
    prepare, saved_now, summary,
};
use crate::error::{Error, Result};
use crate::model::CanvasDocument;

/// Keeps documents as their JSON text (so a get never shares state with the
/// caller), with every saved version.
#[derive(Debug, Default)]
pub struct MemoryStore {
    canvases: Mutex<BTreeMap<String, Vec<Version>>>,
}

#[derive(Debug, Clone)]
struct Version {
    info: VersionInfo,
    saved: std::time::SystemTime,
    name: String,
    text: String,
    /// The current version's fingerprint, for the next save's summary;
    /// dropped once a newer version is saved.
    fingerprint: Option<Fingerprint>,
}

impl MemoryStore {
    pub fn new() -> Self {
        MemoryStore::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<Version>>> {
        // Every mutation below is a single insert or truncate: a panic
        // elsewhere cannot leave the map half-changed.
        self.canvases.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn not_found(id: &str) -> Error {
    Error::NotFound {
        kind: "canvas",
        id: id.to_owned(),
    }
}

fn version(
    doc: &CanvasDocument,
    text: String,
    fingerprint: Fingerprint,
    summary: String,
) -> Version {
    let (saved, saved_at) = saved_now();
    Version {
        info: VersionInfo {
            revision: doc.revision,
            saved_at,
            size_bytes: text.len() as u64,
            summary,
        },
        saved,
        name: doc.name.clone(),
        text,
        fingerprint: Some(fingerprint),
    }
}

#[async_trait]
impl CanvasStore for MemoryStore {
    async fn create(&self, doc: &CanvasDocument) -> Result<VersionInfo> {
        let (text, fingerprint) = prepare(doc)?;
        let mut map = self.lock();
        if map.contains_key(&doc.id) {
            return Err(Error::DuplicateId {
                kind: "canvas",
                id: doc.id.clone(),
            });
        }
        let summary = summary::created(doc.nodes.len(), doc.edges.len());
        let v = version(doc, text, fingerprint, summary);
        let info = v.info.clone();
        map.insert(doc.id.clone(), vec![v]);
        Ok(info)
    }

    async fn get(&self, id: &str) -> Result<CanvasDocument> {
        let read = {
            let map = self.lock();
            let current = map
                .get(id)
                .and_then(|v| v.last())
                .ok_or_else(|| not_found(id))?;
            Read::of(id, &current.text)?
        };
        read.parse().await
    }

    async fn get_revision(&self, id: &str, revision: u64) -> Result<CanvasDocument> {
        let read = {
            let map = self.lock();
            let found = map
                .get(id)
                .and_then(|vs| vs.iter().find(|v| v.info.revision == revision))
                .ok_or_else(|| Error::NotFound {
                    kind: "revision",
                    id: format!("{id}@{revision}"),
                })?;
            Read::of(id, &found.text)?
        };
        read.parse().await
    }

    async fn list(&self, query: &ListQuery) -> Result<Page> {
        let map = self.lock();
        let limit = query.page_size();
        let after = query.cursor.as_deref().unwrap_or("");
        let mut items = Vec::with_capacity(limit);
        let mut more = false;
        let range =
            map.range::<str, _>((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded));
        for (id, versions) in range {
            let Some(current) = versions.last() else {
                continue;
            };
            if let Some(prefix) = &query.name_prefix
                && !current.name.starts_with(prefix.as_str())
            {
                continue;
            }
            if items.len() == limit {
                more = true;
                break;
            }
            items.push(CanvasSummary {
                id: id.clone(),
                name: current.name.clone(),
                revision: current.info.revision,
                updated_at: current.info.saved_at.clone(),
                size_bytes: current.info.size_bytes,
            });
        }
        Ok(Page::new(items, more))
    }

    async fn save(&self, doc: &CanvasDocument, expected_revision: u64) -> Result<VersionInfo> {
        let (text, fingerprint) = prepare(doc)?;
        let mut map = self.lock();
        let versions = map.get_mut(&doc.id).ok_or_else(|| not_found(&doc.id))?;
        let current = versions.last_mut().ok_or_else(|| not_found(&doc.id))?;
        check_save(
            Some(current.info.revision),
            &doc.id,
            doc.revision,
            expected_revision,
        )?;
        let previous = match current.fingerprint.take() {
            Some(previous) => previous,
            None => Fingerprint::of(&decode(&doc.id, &current.text)?),
        };
        let summary = fingerprint.summary_since(&previous);
        let v = version(doc, text, fingerprint, summary);
        let info = v.info.clone();
        versions.push(v);
        Ok(info)
    }

    async fn delete(&self, id: &str, expected_revision: Option<u64>) -> Result<()> {
        let mut map = self.lock();
        let current = map
            .get(id)
            .and_then(|v| v.last())
            .ok_or_else(|| not_found(id))?;
        if let Some(expected) = expected_revision
            && current.info.revision != expected
        {
            return Err(Error::Conflict {
                id: id.to_owned(),
                expected,
                current: current.info.revision,
            });
        }
        map.remove(id);
        Ok(())
    }

    async fn history(&self, id: &str) -> Result<Vec<VersionInfo>> {
        let map = self.lock();
        let versions = map.get(id).ok_or_else(|| not_found(id))?;
        Ok(versions.iter().rev().map(|v| v.info.clone()).collect())
    }

    async fn prune(&self, id: &str, policy: Prune) -> Result<usize> {
        let mut map = self.lock();
        let versions = map.get_mut(id).ok_or_else(|| not_found(id))?;
        let before = versions.len();
        let newest = versions.len().saturating_sub(1);
        match policy {
            Prune::KeepLast(n) => {
                let drop = versions.len().saturating_sub(n.max(1));
                versions.drain(..drop);
            }
            Prune::OlderThan(age) => {
                let cutoff = std::time::SystemTime::now().checked_sub(age);
                let mut i = 0;
                versions.retain(|v| {
                    let keep = i == newest || cutoff.is_none_or(|c| v.saved >= c);
                    i += 1;
                    keep
                });
            }
        }
        Ok(before - versions.len())
    }
}
