//! `storage-memory`: the `memory` storage layer. Objects are kept as their raw JSON bytes
//! with label, owner and key indexes; a bounded event history serves watches. Nothing is
//! persisted: a restart starts empty and the synchro manager re-lists.

mod query;
mod store;
mod watch;

use std::path::Path;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use pedia_core::{GroupVersionResource, ListOptions, ResourceType};
use pedia_storage::{
    BatchOutcome, CollectionItem, CollectionList, CollectionResource, Fence, ListResult,
    ListStream, ResourceStorage, ResourceVersions, Result, Revision, StorageError, StorageFactory,
    StorageLayer, StoredResource, StoredVersion, WatchStream, WriteOp, object_key,
};
use serde::Deserialize;

use crate::store::State;

/// The name this layer registers under.
pub const LAYER_NAME: &str = "memory";

/// Optional `--storage-config` of the memory layer.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MemoryConfig {
    /// How many change events watches can replay; older resource versions get `410 Gone`.
    #[serde(default = "MemoryConfig::default_watch_history")]
    pub watch_history: usize,
}

impl MemoryConfig {
    fn default_watch_history() -> usize {
        100_000
    }
}

impl Default for MemoryConfig {
    fn default() -> Self {
        Self {
            watch_history: Self::default_watch_history(),
        }
    }
}

/// State shared by the factory, its resource storages and their watches.
#[derive(Debug)]
pub(crate) struct Shared {
    state: RwLock<State>,
    /// The latest revision, to wake watchers.
    notify: tokio::sync::watch::Sender<Revision>,
}

impl Shared {
    // A panic while holding the lock cannot leave the maps half-updated in a way later
    // readers would misread (each write completes its index updates before the next), so a
    // poisoned lock is taken over rather than propagated.
    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// The `memory` layer's factory.
#[derive(Debug, Clone)]
pub struct MemoryStorage {
    shared: Arc<Shared>,
}

impl Default for MemoryStorage {
    fn default() -> Self {
        Self::new(MemoryConfig::default())
    }
}

impl MemoryStorage {
    pub fn new(config: MemoryConfig) -> Self {
        let (notify, _) = tokio::sync::watch::channel(0);
        Self {
            shared: Arc::new(Shared {
                state: RwLock::new(State::new(config.watch_history.max(1))),
                notify,
            }),
        }
    }
}

/// Storage of one resource in the memory layer.
#[derive(Debug)]
struct MemoryResourceStorage {
    shared: Arc<Shared>,
    resource: ResourceType,
}

fn scope_of(gvr: &GroupVersionResource) -> String {
    format!("{}/{}/{}", gvr.group, gvr.version, gvr.resource)
}

#[async_trait]
impl ResourceStorage for MemoryResourceStorage {
    fn resource_type(&self) -> &ResourceType {
        &self.resource
    }

    async fn get(&self, cluster: &str, namespace: &str, name: &str) -> Result<Bytes> {
        let state = self.shared.read();
        state
            .resources
            .get(&self.resource.gvr)
            .and_then(|s| s.get(cluster, namespace, name))
            .map(|e| e.obj.raw.clone())
            .ok_or_else(|| {
                StorageError::not_found(format!(
                    "{} {:?} not found in cluster {cluster:?}",
                    self.resource.gvr.resource,
                    object_key(namespace, name)
                ))
            })
    }

    async fn list(&self, opts: &ListOptions) -> Result<ListResult> {
        let state = self.shared.read();
        let stores: Vec<_> = state
            .resources
            .get(&self.resource.gvr)
            .into_iter()
            .collect();
        let page = query::list(&state, &stores, opts, &scope_of(&self.resource.gvr), false)?;
        drop(state);
        let (continue_token, remaining_count, revision) = (
            page.continue_token.clone(),
            page.remaining_count,
            page.revision,
        );
        Ok(ListResult {
            items: page.into_items()?.into_iter().map(|(_, raw)| raw).collect(),
            continue_token,
            remaining_count,
            revision,
        })
    }

    /// The page is a snapshot of shared handles on the stored versions, taken under the
    /// read lock; items are produced (and projected) one by one as the stream is read,
    /// so no copy of the listed bytes is ever made here.
    async fn list_stream(&self, opts: &ListOptions) -> Result<ListStream> {
        let page = {
            let state = self.shared.read();
            let stores: Vec<_> = state
                .resources
                .get(&self.resource.gvr)
                .into_iter()
                .collect();
            query::list(&state, &stores, opts, &scope_of(&self.resource.gvr), false)?
        };
        let only_metadata = page.only_metadata;
        Ok(ListStream {
            continue_token: page.continue_token,
            remaining_count: page.remaining_count,
            revision: page.revision,
            items: futures::stream::iter(page.items)
                .map(move |(_, stored)| query::Page::bytes(&stored, only_metadata))
                .boxed(),
        })
    }

    async fn watch(&self, opts: &ListOptions, from: Revision) -> Result<WatchStream> {
        if opts.owner.is_some() {
            return Err(StorageError::unsupported(
                "the memory storage layer cannot watch with an owner query",
            ));
        }
        pedia_storage::filter::reject_unknown_extra_labels(opts, LAYER_NAME, &[])?;
        Ok(watch::stream(
            Arc::clone(&self.shared),
            self.resource.gvr.clone(),
            opts.clone(),
            from,
        ))
    }

    async fn apply_batch(
        &self,
        cluster: &str,
        fence: Fence,
        ops: Vec<WriteOp>,
    ) -> Result<BatchOutcome> {
        let outcome = self
            .shared
            .write()
            .apply(&self.resource, cluster, fence, ops)?;
        if outcome.applied() > 0 {
            self.shared.notify.send_replace(outcome.revision);
        }
        Ok(outcome)
    }
}

#[async_trait]
impl StorageFactory for MemoryStorage {
    fn layer_name(&self) -> &str {
        LAYER_NAME
    }

    async fn prepare_cluster(&self, _cluster: &str) -> Result<()> {
        Ok(())
    }

    async fn resource_storage(&self, resource: &ResourceType) -> Result<Arc<dyn ResourceStorage>> {
        Ok(Arc::new(MemoryResourceStorage {
            shared: Arc::clone(&self.shared),
            resource: resource.clone(),
        }))
    }

    async fn stored_resources(&self) -> Result<Vec<StoredResource>> {
        let state = self.shared.read();
        Ok(state
            .resources
            .values()
            .filter(|s| !s.clusters.is_empty())
            .map(|s| StoredResource {
                resource: s.resource.clone(),
                clusters: s.clusters.iter().map(|c| c.to_string()).collect(),
            })
            .collect())
    }

    async fn resource_versions(&self, cluster: &str) -> Result<ResourceVersions> {
        let state = self.shared.read();
        let mut out = ResourceVersions::new();
        for store in state.resources.values() {
            let versions: std::collections::HashMap<String, StoredVersion> = store
                .entries
                .values()
                .filter(|e| &*e.cluster == cluster)
                .map(|e| {
                    let m = &e.obj.meta;
                    (
                        object_key(&m.namespace, &m.name),
                        StoredVersion {
                            uid: m.uid.clone(),
                            resource_version: m.resource_version.clone(),
                        },
                    )
                })
                .collect();
            if !versions.is_empty() {
                out.insert(store.resource.gvr.clone(), versions);
            }
        }
        Ok(out)
    }

    async fn list_collection(
        &self,
        collection: &CollectionResource,
        opts: &ListOptions,
    ) -> Result<CollectionList> {
        let state = self.shared.read();
        let stores: Vec<_> = state
            .resources
            .values()
            .filter(|s| collection.matches(&s.resource.gvr))
            .collect();
        let scope = format!("collection:{}", collection.name);
        let page = query::list(&state, &stores, opts, &scope, true)?;
        drop(state);
        let (continue_token, remaining_count, revision) = (
            page.continue_token.clone(),
            page.remaining_count,
            page.revision,
        );
        Ok(CollectionList {
            items: page
                .into_items()?
                .into_iter()
                .map(|(resource, object)| CollectionItem { resource, object })
                .collect(),
            continue_token,
            remaining_count,
            revision,
        })
    }

    async fn clean_cluster(&self, cluster: &str, fence: Fence) -> Result<()> {
        self.clean(cluster, fence, |_| true)
    }

    async fn clean_cluster_resource(
        &self,
        cluster: &str,
        gvr: &GroupVersionResource,
        fence: Fence,
    ) -> Result<()> {
        self.clean(cluster, fence, |g| g == gvr)
    }

    async fn current_revision(&self) -> Result<Revision> {
        Ok(self.shared.read().revision)
    }

    async fn shutdown(&self) -> Result<()> {
        Ok(())
    }
}

impl MemoryStorage {
    fn clean(
        &self,
        cluster: &str,
        fence: Fence,
        which: impl Fn(&GroupVersionResource) -> bool,
    ) -> Result<()> {
        let revision = {
            let mut state = self.shared.write();
            state.clean(cluster, fence, which)?;
            state.revision
        };
        self.shared.notify.send_replace(revision);
        Ok(())
    }
}

/// Registers as `memory`; the config file is optional.
#[derive(Debug, Default, Clone, Copy)]
pub struct MemoryLayer;

#[async_trait]
impl StorageLayer for MemoryLayer {
    fn name(&self) -> &str {
        LAYER_NAME
    }

    async fn open(&self, config: Option<&Path>) -> Result<Arc<dyn StorageFactory>> {
        let config = match config {
            None => MemoryConfig::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    StorageError::bad_request(format!(
                        "cannot read memory storage config {}: {e}",
                        path.display()
                    ))
                })?;
                if text.trim().is_empty() {
                    MemoryConfig::default()
                } else {
                    serde_yaml_ng::from_str(&text).map_err(|e| {
                        StorageError::bad_request(format!(
                            "invalid memory storage config {}: {e}",
                            path.display()
                        ))
                    })?
                }
            }
        };
        Ok(Arc::new(MemoryStorage::new(config)))
    }
}
