//! Writing a cluster's objects to storage in batches, one resource at a time.

use std::collections::BTreeMap;
use std::sync::Arc;

use pedia_core::ResourceType;
use pedia_storage::{BatchOutcome, Fence, Result, StorageError, StorageFactory, WriteOp};
use serde_json::Value;

use crate::prepare::{Pruning, prepare};
use crate::resources::resource_of;

/// Writes per resource in chunks of at most `batch_size` changes (one transaction each),
/// as the writer `fence` (unfenced unless [`BatchWriter::with_fence`] says otherwise).
#[derive(Debug, Clone)]
pub struct BatchWriter {
    factory: Arc<dyn StorageFactory>,
    cluster: String,
    batch_size: usize,
    fence: Fence,
}

impl BatchWriter {
    pub fn new(
        factory: Arc<dyn StorageFactory>,
        cluster: impl Into<String>,
        batch_size: usize,
    ) -> Self {
        Self {
            factory,
            cluster: cluster.into(),
            batch_size: batch_size.max(1),
            fence: Fence::Unfenced,
        }
    }

    /// Writes as the leader of `fence`: storage refuses the writes once a later leader
    /// wrote the cluster.
    pub fn with_fence(mut self, fence: Fence) -> Self {
        self.fence = fence;
        self
    }

    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    pub fn fence(&self) -> Fence {
        self.fence
    }

    /// Applies `ops` to `resource`, in order, chunk by chunk; returns the summed outcome.
    pub async fn write(&self, resource: &ResourceType, ops: Vec<WriteOp>) -> Result<BatchOutcome> {
        let storage = self.factory.resource_storage(resource).await?;
        let mut total = BatchOutcome::default();
        let mut ops = ops.into_iter().peekable();
        while ops.peek().is_some() {
            let chunk: Vec<WriteOp> = ops.by_ref().take(self.batch_size).collect();
            let out = storage
                .apply_batch(&self.cluster, self.fence, chunk)
                .await?;
            total.add(&out);
        }
        Ok(total)
    }
}

/// What a load wrote, per resource.
#[derive(Debug, Default, Clone)]
pub struct LoadSummary {
    pub resources: BTreeMap<ResourceType, BatchOutcome>,
}

impl LoadSummary {
    /// Objects stored, whether written or found unchanged.
    pub fn objects(&self) -> u64 {
        self.resources
            .values()
            .map(|o| o.written + o.unchanged)
            .sum()
    }
}

/// Writes `objects` as if synced from `cluster`: each is pruned and annotated like the
/// synchro manager does, grouped by resource, and written in batches.
pub async fn load_objects(
    factory: Arc<dyn StorageFactory>,
    cluster: &str,
    objects: Vec<Value>,
    pruning: Pruning,
) -> Result<LoadSummary> {
    factory.prepare_cluster(cluster).await?;
    let mut by_resource: BTreeMap<ResourceType, Vec<WriteOp>> = BTreeMap::new();
    for object in objects {
        let api_version = object["apiVersion"].as_str().unwrap_or_default().to_owned();
        let kind = object["kind"].as_str().unwrap_or_default().to_owned();
        let namespaced = object["metadata"]["namespace"]
            .as_str()
            .is_some_and(|n| !n.is_empty());
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let resource = resource_of(&api_version, &kind, namespaced);
        let prepared = prepare(object, cluster, pruning)
            .map_err(|e| StorageError::bad_request(format!("{kind} {name:?}: {e}")))?;
        by_resource
            .entry(resource)
            .or_default()
            .push(WriteOp::Upsert(prepared));
    }
    let writer = BatchWriter::new(factory, cluster, 500);
    let mut summary = LoadSummary::default();
    for (resource, ops) in by_resource {
        let out = writer.write(&resource, ops).await?;
        tracing::info!(
            cluster,
            resource = %resource.gvr,
            written = out.written,
            recreated = out.recreated,
            unchanged = out.unchanged,
            "loaded"
        );
        summary.resources.insert(resource, out);
    }
    Ok(summary)
}
