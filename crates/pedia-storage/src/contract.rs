//! The storage-layer traits: a factory per configured layer, a storage per resource.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use pedia_core::{GroupVersionResource, ListOptions, Object, ResourceType};

use crate::collection::CollectionResource;
use crate::error::Result;

/// A position in a layer's history. Every applied change (upsert, delete, clean) gets a
/// new, strictly larger revision. Lists report the revision they saw; watches start after
/// one.
pub type Revision = u64;

/// One change in a batch written by the synchro manager (or `pedia load`).
#[derive(Debug, Clone, PartialEq)]
pub enum WriteOp {
    /// Insert or replace an object. Skipped when the stored object has a newer numeric
    /// resourceVersion (stale), or the same resourceVersion and the same bytes (unchanged).
    Upsert(Object),
    /// Remove an object. `resource_version` is the deleted object's last version, if
    /// known; a stored object with a newer version is kept (the delete is stale).
    Delete {
        namespace: String,
        name: String,
        resource_version: String,
    },
}

/// What a batch did. `revision` is the layer's revision after the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct BatchOutcome {
    /// Upserts that inserted or replaced an object.
    pub written: u64,
    /// Deletes that removed an object.
    pub deleted: u64,
    /// Upserts of an object already stored with the same version and bytes.
    pub unchanged: u64,
    /// Writes skipped because the stored object is newer.
    pub stale: u64,
    /// Deletes of objects that were not stored.
    pub missing: u64,
    pub revision: Revision,
}

impl BatchOutcome {
    /// Number of changes that produced a watch event.
    pub fn applied(&self) -> u64 {
        self.written + self.deleted
    }
}

/// One page of a list.
#[derive(Debug, Clone, Default)]
pub struct ListResult {
    /// Stored object bytes, each a complete JSON object (or its metadata projection when
    /// `only_metadata` was asked).
    pub items: Vec<Bytes>,
    /// Set when the page was cut short by `limit` (unless `with_continue=false`).
    pub continue_token: Option<String>,
    /// Items after this page, when `with_remaining_count` was asked.
    pub remaining_count: Option<u64>,
    /// The revision the list reflects; pages of one listing all report the first page's.
    pub revision: Revision,
}

/// A list whose items arrive as a stream, so a whole list never has to be held in memory
/// at once. The metadata is known before the first item (a JSON list writes it first).
pub struct ListStream {
    /// As in [`ListResult`]: set when a `limit` cut the list short.
    pub continue_token: Option<String>,
    /// As in [`ListResult`].
    pub remaining_count: Option<u64>,
    /// The revision every item of the stream reflects.
    pub revision: Revision,
    /// The items in list order. An error ends the stream: the list is incomplete.
    pub items: BoxStream<'static, Result<Bytes>>,
}

impl fmt::Debug for ListStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListStream")
            .field("continue_token", &self.continue_token)
            .field("remaining_count", &self.remaining_count)
            .field("revision", &self.revision)
            .finish_non_exhaustive()
    }
}

impl ListStream {
    /// A page already in memory, as a stream.
    pub fn from_page(page: ListResult) -> Self {
        Self {
            continue_token: page.continue_token,
            remaining_count: page.remaining_count,
            revision: page.revision,
            items: futures::stream::iter(page.items.into_iter().map(Ok)).boxed(),
        }
    }

    /// Reads the whole stream into a page (for callers that need every item at once).
    pub async fn collect(self) -> Result<ListResult> {
        let items = self.items.try_collect().await?;
        Ok(ListResult {
            items,
            continue_token: self.continue_token,
            remaining_count: self.remaining_count,
            revision: self.revision,
        })
    }
}

/// An item of a collection listing, with the resource it belongs to.
#[derive(Debug, Clone)]
pub struct CollectionItem {
    pub resource: ResourceType,
    pub object: Bytes,
}

/// One page of a collection-resource listing.
#[derive(Debug, Clone, Default)]
pub struct CollectionList {
    pub items: Vec<CollectionItem>,
    pub continue_token: Option<String>,
    pub remaining_count: Option<u64>,
    pub revision: Revision,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum WatchEventType {
    Added,
    Modified,
    Deleted,
}

impl WatchEventType {
    /// The `type` of a Kubernetes `WatchEvent`.
    pub fn as_str(self) -> &'static str {
        match self {
            WatchEventType::Added => "ADDED",
            WatchEventType::Modified => "MODIFIED",
            WatchEventType::Deleted => "DELETED",
        }
    }
}

/// A change seen by a watch. For deletes, `object` is the last stored state.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchEvent {
    pub event_type: WatchEventType,
    pub revision: Revision,
    pub object: Bytes,
}

/// A stream of watch events in strictly increasing revision order. It ends with an
/// `Expired` error when the watcher fell further behind than the layer keeps history.
pub type WatchStream = BoxStream<'static, Result<WatchEvent>>;

/// Stored resourceVersions of one cluster: per resource, `namespace/name` (or `name` for
/// cluster-scoped objects) to resourceVersion. Lets a restarted synchro skip unchanged
/// objects.
pub type ResourceVersions = BTreeMap<GroupVersionResource, HashMap<String, String>>;

/// The key of an object in [`ResourceVersions`].
pub fn object_key(namespace: &str, name: &str) -> String {
    if namespace.is_empty() {
        name.to_owned()
    } else {
        format!("{namespace}/{name}")
    }
}

/// A resource type that has objects stored, and the clusters they came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredResource {
    pub resource: ResourceType,
    pub clusters: Vec<String>,
}

/// Storage of one resource (one GVR) across all clusters.
#[async_trait]
pub trait ResourceStorage: Send + Sync + fmt::Debug {
    fn resource_type(&self) -> &ResourceType;

    /// The object `namespace/name` of `cluster`; `NotFound` if absent.
    async fn get(&self, cluster: &str, namespace: &str, name: &str) -> Result<Bytes>;

    /// One page of the objects matching `opts`, in the order of
    /// [`ListOptions::sort_keys`].
    async fn list(&self, opts: &ListOptions) -> Result<ListResult>;

    /// What [`list`](Self::list) returns, with the items as a stream: meant for whole
    /// lists (no `limit`), which a layer that can stream delivers in bounded chunks
    /// instead of holding every item. Errors about the request (a bad selector or
    /// token, an unreachable database) come from this call, not from the stream. The
    /// default streams the page `list` returns.
    async fn list_stream(&self, opts: &ListOptions) -> Result<ListStream> {
        Ok(ListStream::from_page(self.list(opts).await?))
    }

    /// Changes after revision `from` to objects matching the filters of `opts` (clusters,
    /// namespaces, names, label/field selectors, fuzzy names, since/before). Each event's
    /// object matches the filters at that event's revision. If an object changed several
    /// times before the watcher read them, a layer may deliver only its latest state.
    /// `Expired` if `from` is older than the history the layer keeps.
    async fn watch(&self, opts: &ListOptions, from: Revision) -> Result<WatchStream>;

    /// Applies the writes of one cluster atomically, in order.
    async fn apply_batch(&self, cluster: &str, ops: Vec<WriteOp>) -> Result<BatchOutcome>;
}

/// A configured storage layer: creates per-resource storages and runs cross-resource
/// operations.
#[async_trait]
pub trait StorageFactory: Send + Sync + fmt::Debug {
    /// The name the layer was registered under (`memory`, `internal`, a plugin's name).
    fn layer_name(&self) -> &str;

    /// The request verbs this layer serves (`get`, `list`, `watch`).
    fn supported_verbs(&self) -> &'static [&'static str] {
        &["get", "list", "watch"]
    }

    /// Called before a cluster's first sync.
    async fn prepare_cluster(&self, cluster: &str) -> Result<()>;

    /// The storage for one resource. Cheap; may be called per request.
    async fn resource_storage(&self, resource: &ResourceType) -> Result<Arc<dyn ResourceStorage>>;

    /// Every resource with stored objects, and from which clusters.
    async fn stored_resources(&self) -> Result<Vec<StoredResource>>;

    async fn resource_versions(&self, cluster: &str) -> Result<ResourceVersions>;

    /// The collection resources this layer can list.
    async fn collection_resources(&self) -> Result<Vec<CollectionResource>> {
        Ok(CollectionResource::builtin())
    }

    /// One page of objects across the resources of a collection, ordered like
    /// [`ListOptions::sort_keys`] with `multi_resource`.
    async fn list_collection(
        &self,
        collection: &CollectionResource,
        opts: &ListOptions,
    ) -> Result<CollectionList>;

    /// Removes every object of a cluster (watchers see them deleted).
    async fn clean_cluster(&self, cluster: &str) -> Result<()>;

    /// Removes every object of one resource of a cluster (watchers see them deleted).
    async fn clean_cluster_resource(&self, cluster: &str, gvr: &GroupVersionResource)
    -> Result<()>;

    /// The latest revision.
    async fn current_revision(&self) -> Result<Revision>;

    /// Releases connections and background tasks.
    async fn shutdown(&self) -> Result<()>;
}
