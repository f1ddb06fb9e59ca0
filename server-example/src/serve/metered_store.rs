//! A canvas store that times every call into the server's metrics
//! (`reelgraph_store_operation_duration_seconds{operation}`), around any store.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use reelgraph::store::{CanvasStore, ListQuery, Page, Prune, VersionInfo};
use reelgraph::{Canvas, CanvasDocument, Delta, Result};

use super::metrics::Metrics;

/// Wraps a store; answers exactly as it does.
pub struct MeteredStore {
    inner: Arc<dyn CanvasStore>,
    metrics: Metrics,
}

impl std::fmt::Debug for MeteredStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Stores need not be `Debug`; what it wraps is not shown.
        f.debug_struct("MeteredStore").finish_non_exhaustive()
    }
}

impl MeteredStore {
    pub fn new(inner: Arc<dyn CanvasStore>, metrics: Metrics) -> Self {
        MeteredStore { inner, metrics }
    }

    async fn timed<T>(&self, operation: &'static str, call: impl Future<Output = T>) -> T {
        let started = Instant::now();
        let result = call.await;
        self.metrics.record_store(operation, started.elapsed());
        result
    }
}

#[async_trait]
impl CanvasStore for MeteredStore {
    async fn create(&self, doc: &CanvasDocument) -> Result<VersionInfo> {
        self.timed("create", self.inner.create(doc)).await
    }

    async fn get(&self, id: &str) -> Result<CanvasDocument> {
        self.timed("get", self.inner.get(id)).await
    }

    async fn get_revision(&self, id: &str, revision: u64) -> Result<CanvasDocument> {
        self.timed("get_revision", self.inner.get_revision(id, revision))
            .await
    }

    async fn list(&self, query: &ListQuery) -> Result<Page> {
        self.timed("list", self.inner.list(query)).await
    }

    async fn save(&self, doc: &CanvasDocument, expected_revision: u64) -> Result<VersionInfo> {
        self.timed("save", self.inner.save(doc, expected_revision))
            .await
    }

    async fn save_delta(
        &self,
        canvas: &Canvas,
        delta: &Delta,
        expected_revision: u64,
    ) -> Result<VersionInfo> {
        self.timed(
            "save_delta",
            self.inner.save_delta(canvas, delta, expected_revision),
        )
        .await
    }

    async fn delete(&self, id: &str, expected_revision: Option<u64>) -> Result<()> {
        self.timed("delete", self.inner.delete(id, expected_revision))
            .await
    }

    async fn history(&self, id: &str) -> Result<Vec<VersionInfo>> {
        self.timed("history", self.inner.history(id)).await
    }

    async fn prune(&self, id: &str, policy: Prune) -> Result<usize> {
        self.timed("prune", self.inner.prune(id, policy)).await
    }
}
