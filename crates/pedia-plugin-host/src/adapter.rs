//! A loaded plugin seen through the storage traits: every call becomes a wire request to
//! the plugin's factory object, awaited on the host runtime while it runs on the plugin's.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use abi_stable::std_types::{ROption, RResult, RString};
use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use pedia_core::{GroupVersionResource, ListOptions, ResourceType};
use pedia_plugin_api::ffi::{
    FfiFactoryBox, FfiItemsBox, FfiListStream, FfiResponse, FfiWatchBox, PluginModuleRef,
};
use pedia_plugin_api::wire::{self, ListMeta, Request, WireOp};
use pedia_storage::{
    BatchOutcome, CollectionItem, CollectionList, CollectionResource, Fence, ListResult,
    ListStream, ResourceStorage, ResourceVersions, Result, Revision, StorageFactory, StorageLayer,
    StoredResource, StoredVersion, WatchEvent, WatchStream, WriteOp,
};
use serde::de::DeserializeOwned;

/// A loaded plugin, registered as a storage layer under its name.
pub struct PluginLayer {
    name: String,
    module: PluginModuleRef,
}

impl fmt::Debug for PluginLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginLayer")
            .field("name", &self.name)
            .finish()
    }
}

impl PluginLayer {
    pub fn new(name: String, module: PluginModuleRef) -> Self {
        Self { name, module }
    }
}

#[async_trait]
impl StorageLayer for PluginLayer {
    fn name(&self) -> &str {
        &self.name
    }

    async fn open(&self, config: Option<&Path>) -> Result<Arc<dyn StorageFactory>> {
        let config = match config {
            Some(p) => ROption::RSome(RString::from(p.to_string_lossy().into_owned())),
            None => ROption::RNone,
        };
        match self.module.open()(config).await {
            RResult::ROk(factory) => Ok(Arc::new(PluginFactory {
                name: self.name.clone(),
                inner: Arc::new(factory),
            })),
            RResult::RErr(err) => Err(wire::storage_error(err)),
        }
    }
}

/// The factory of an opened plugin layer.
#[derive(Clone)]
struct PluginFactory {
    name: String,
    inner: Arc<FfiFactoryBox>,
}

impl fmt::Debug for PluginFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginFactory")
            .field("name", &self.name)
            .finish()
    }
}

impl PluginFactory {
    async fn call(&self, request: &Request, blobs: Vec<Bytes>) -> Result<FfiResponse> {
        let request = wire::request(request, blobs)?;
        match self.inner.call(request).await {
            RResult::ROk(response) => Ok(response),
            RResult::RErr(err) => Err(wire::storage_error(err)),
        }
    }

    /// A call whose answer is only JSON.
    async fn call_json<T: DeserializeOwned>(&self, request: &Request) -> Result<T> {
        let response = self.call(request, Vec::new()).await?;
        wire::decode(response.json.as_str())
    }

    async fn list_call(&self, request: &Request) -> Result<(ListMeta, Vec<Bytes>)> {
        let response = self.call(request, Vec::new()).await?;
        let meta: ListMeta = wire::decode(response.json.as_str())?;
        let items = response.blobs.into_iter().map(wire::blob_bytes).collect();
        Ok((meta, items))
    }
}

#[async_trait]
impl StorageFactory for PluginFactory {
    fn layer_name(&self) -> &str {
        &self.name
    }

    async fn prepare_cluster(&self, cluster: &str) -> Result<()> {
        self.call_json(&Request::PrepareCluster {
            cluster: cluster.to_owned(),
        })
        .await
    }

    async fn resource_storage(&self, resource: &ResourceType) -> Result<Arc<dyn ResourceStorage>> {
        Ok(Arc::new(PluginResourceStorage {
            factory: self.clone(),
            resource: resource.clone(),
        }))
    }

    async fn stored_resources(&self) -> Result<Vec<StoredResource>> {
        self.call_json(&Request::StoredResources).await
    }

    async fn resource_versions(&self, cluster: &str) -> Result<ResourceVersions> {
        let entries: Vec<(
            GroupVersionResource,
            std::collections::HashMap<String, StoredVersion>,
        )> = self
            .call_json(&Request::ResourceVersions {
                cluster: cluster.to_owned(),
            })
            .await?;
        Ok(entries.into_iter().collect())
    }

    async fn collection_resources(&self) -> Result<Vec<CollectionResource>> {
        self.call_json(&Request::CollectionResources).await
    }

    async fn list_collection(
        &self,
        collection: &CollectionResource,
        opts: &ListOptions,
    ) -> Result<CollectionList> {
        let (meta, items) = self
            .list_call(&Request::ListCollection {
                collection: collection.clone(),
                options: opts.clone(),
            })
            .await?;
        if meta.resources.len() != items.len() {
            return Err(wire::protocol_error(
                "collection list",
                "item and resource counts differ",
            ));
        }
        Ok(CollectionList {
            items: meta
                .resources
                .into_iter()
                .zip(items)
                .map(|(resource, object)| CollectionItem { resource, object })
                .collect(),
            continue_token: meta.continue_token,
            remaining_count: meta.remaining_count,
            revision: meta.revision,
        })
    }

    async fn clean_cluster(&self, cluster: &str, fence: Fence) -> Result<()> {
        self.call_json(&Request::CleanCluster {
            cluster: cluster.to_owned(),
            fence,
        })
        .await
    }

    async fn clean_cluster_resource(
        &self,
        cluster: &str,
        gvr: &GroupVersionResource,
        fence: Fence,
    ) -> Result<()> {
        self.call_json(&Request::CleanClusterResource {
            cluster: cluster.to_owned(),
            gvr: gvr.clone(),
            fence,
        })
        .await
    }

    async fn current_revision(&self) -> Result<Revision> {
        self.call_json(&Request::CurrentRevision).await
    }

    async fn shutdown(&self) -> Result<()> {
        self.call_json(&Request::Shutdown).await
    }
}

/// One resource of a plugin layer.
struct PluginResourceStorage {
    factory: PluginFactory,
    resource: ResourceType,
}

impl fmt::Debug for PluginResourceStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginResourceStorage")
            .field("layer", &self.factory.name)
            .field("resource", &self.resource)
            .finish()
    }
}

#[async_trait]
impl ResourceStorage for PluginResourceStorage {
    fn resource_type(&self) -> &ResourceType {
        &self.resource
    }

    async fn get(&self, cluster: &str, namespace: &str, name: &str) -> Result<Bytes> {
        let response = self
            .factory
            .call(
                &Request::Get {
                    resource: self.resource.clone(),
                    cluster: cluster.to_owned(),
                    namespace: namespace.to_owned(),
                    name: name.to_owned(),
                },
                Vec::new(),
            )
            .await?;
        response
            .blobs
            .into_iter()
            .next()
            .map(wire::blob_bytes)
            .ok_or_else(|| wire::protocol_error("get", "no object in the answer"))
    }

    async fn list(&self, opts: &ListOptions) -> Result<ListResult> {
        let (meta, items) = self
            .factory
            .list_call(&Request::List {
                resource: self.resource.clone(),
                options: opts.clone(),
            })
            .await?;
        Ok(ListResult {
            items,
            continue_token: meta.continue_token,
            remaining_count: meta.remaining_count,
            revision: meta.revision,
        })
    }

    /// The plugin sends the items in bounded chunks, each taken over without a copy; the
    /// next chunk is asked for when the reader has consumed the current one.
    async fn list_stream(&self, opts: &ListOptions) -> Result<ListStream> {
        let request = wire::request(
            &Request::List {
                resource: self.resource.clone(),
                options: opts.clone(),
            },
            Vec::new(),
        )?;
        let list: FfiListStream = match self.factory.inner.list_stream(request).await {
            RResult::ROk(list) => list,
            RResult::RErr(err) => return Err(wire::storage_error(err)),
        };
        let meta: ListMeta = wire::decode(list.json.as_str())?;
        let chunks = futures::stream::unfold(Some(Arc::new(list.items)), |items| async move {
            let items: Arc<FfiItemsBox> = items?;
            match items.next().await {
                ROption::RNone => None,
                ROption::RSome(RResult::RErr(err)) => Some((Err(wire::storage_error(err)), None)),
                ROption::RSome(RResult::ROk(chunk)) => Some((Ok(chunk), Some(items))),
            }
        });
        let items = chunks
            .flat_map(|chunk| match chunk {
                Ok(chunk) => futures::stream::iter(
                    chunk
                        .into_vec()
                        .into_iter()
                        .map(|blob| Ok(wire::blob_bytes(blob))),
                )
                .left_stream(),
                Err(err) => futures::stream::iter(std::iter::once(Err(err))).right_stream(),
            })
            .boxed();
        Ok(ListStream {
            continue_token: meta.continue_token,
            remaining_count: meta.remaining_count,
            revision: meta.revision,
            items,
        })
    }

    async fn watch(&self, opts: &ListOptions, from: Revision) -> Result<WatchStream> {
        let request = wire::request(
            &Request::Watch {
                resource: self.resource.clone(),
                options: opts.clone(),
                from,
            },
            Vec::new(),
        )?;
        let watch: FfiWatchBox = match self.factory.inner.watch(request).await {
            RResult::ROk(w) => w,
            RResult::RErr(err) => return Err(wire::storage_error(err)),
        };
        let watch = Arc::new(watch);
        Ok(futures::stream::unfold(watch, |watch| async move {
            let next = match watch.next().await {
                ROption::RNone => return None,
                ROption::RSome(RResult::RErr(err)) => Err(wire::storage_error(err)),
                ROption::RSome(RResult::ROk(event)) => {
                    match wire::event_from_code(event.event_type) {
                        Some(event_type) => Ok(WatchEvent {
                            event_type,
                            revision: event.revision,
                            object: wire::blob_bytes(event.object),
                        }),
                        None => Err(wire::protocol_error("watch", "unknown event type")),
                    }
                }
            };
            Some((next, watch))
        })
        .boxed())
    }

    async fn apply_batch(
        &self,
        cluster: &str,
        fence: Fence,
        ops: Vec<WriteOp>,
    ) -> Result<BatchOutcome> {
        let mut blobs = Vec::new();
        let ops = ops
            .into_iter()
            .map(|op| match op {
                WriteOp::Upsert(object) => {
                    blobs.push(object.raw);
                    WireOp::Upsert {
                        blob: blobs.len() - 1,
                    }
                }
                WriteOp::Delete {
                    namespace,
                    name,
                    uid,
                } => WireOp::Delete {
                    namespace,
                    name,
                    uid,
                },
            })
            .collect();
        let response = self
            .factory
            .call(
                &Request::ApplyBatch {
                    resource: self.resource.clone(),
                    cluster: cluster.to_owned(),
                    fence,
                    ops,
                },
                blobs,
            )
            .await?;
        wire::decode(response.json.as_str())
    }
}
