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

/// One change in a batch written by the synchro manager (or `pedia load`). The rules that
/// decide what a change does are in [`write_rules`](crate::write_rules).
#[derive(Debug, Clone, PartialEq)]
pub enum WriteOp {
    /// Insert or replace an object. An object with another `uid` at the same name is a
    /// different object: the stored one is deleted first. Skipped when uid,
    /// resourceVersion and bytes all equal the stored object's (unchanged).
    Upsert(Object),
    /// Remove an object. With a `uid`, only that incarnation: a stored object with another
    /// uid (re-created since) is kept.
    Delete {
        namespace: String,
        name: String,
        uid: Option<String>,
    },
}

impl WriteOp {
    /// Deletes whatever object is stored at `namespace/name`.
    pub fn delete(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        WriteOp::Delete {
            namespace: namespace.into(),
            name: name.into(),
            uid: None,
        }
    }

    /// Deletes the object at `namespace/name` only if it is the incarnation `uid` (an
    /// empty uid deletes whatever is stored).
    pub fn delete_uid(
        namespace: impl Into<String>,
        name: impl Into<String>,
        uid: impl Into<String>,
    ) -> Self {
        let uid = uid.into();
        WriteOp::Delete {
            namespace: namespace.into(),
            name: name.into(),
            uid: (!uid.is_empty()).then_some(uid),
        }
    }

    /// `(namespace, name)` of the object the op writes.
    pub fn key(&self) -> (&str, &str) {
        match self {
            WriteOp::Upsert(o) => (&o.meta.namespace, &o.meta.name),
            WriteOp::Delete {
                namespace, name, ..
            } => (namespace, name),
        }
    }
}

/// Who writes: the fencing token that keeps a deposed writer (a manager that lost its
/// leader lease but has not noticed yet) from overwriting its successor's writes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
pub enum Fence {
    /// A writer without leader election (one manager, the demo, `pedia load`): never
    /// refused, records nothing.
    #[default]
    Unfenced,
    /// A leader's epoch. A layer records, per cluster, the highest epoch that wrote it and
    /// refuses writes of lower epochs with `Conflict`.
    Epoch(u64),
}

/// What a batch did. `revision` is the layer's revision after the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct BatchOutcome {
    /// Upserts that inserted or replaced an object.
    pub written: u64,
    /// Of the `written`, upserts whose object has another uid than the stored one: the
    /// stored object was deleted first (one more change, a `DELETED` before the `ADDED`).
    pub recreated: u64,
    /// Deletes that removed an object.
    pub deleted: u64,
    /// Upserts of an object already stored with the same uid, version and bytes.
    pub unchanged: u64,
    /// Deletes naming a uid other than the stored object's: the stored object (a later
    /// incarnation) was kept.
    pub superseded: u64,
    /// Deletes of objects that were not stored.
    pub missing: u64,
    pub revision: Revision,
}

impl BatchOutcome {
    /// Number of changes that produced a watch event (each took a revision).
    pub fn applied(&self) -> u64 {
        self.written + self.recreated + self.deleted
    }

    /// Adds `other`'s counts to these; the revision becomes `other`'s.
    pub fn add(&mut self, other: &BatchOutcome) {
        self.written += other.written;
        self.recreated += other.recreated;
        self.deleted += other.deleted;
        self.unchanged += other.unchanged;
        self.superseded += other.superseded;
        self.missing += other.missing;
        self.revision = other.revision;
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

/// The identity of a stored object: its uid and resourceVersion.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct StoredVersion {
    pub uid: String,
    pub resource_version: String,
}

/// Stored versions of one cluster: per resource, `namespace/name` (or `name` for
/// cluster-scoped objects) to uid and resourceVersion. Lets a restarted synchro skip
/// unchanged objects (same uid and version; a re-created cluster reuses versions).
pub type ResourceVersions = BTreeMap<GroupVersionResource, HashMap<String, StoredVersion>>;

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

    /// Applies the writes of one cluster atomically, in order, by the rules of
    /// [`write_rules`](crate::write_rules). A batch of `fence` lower than the highest epoch
    /// that wrote `cluster` is refused with `Conflict` and writes nothing. An empty batch
    /// writes nothing and is not checked.
    async fn apply_batch(
        &self,
        cluster: &str,
        fence: Fence,
        ops: Vec<WriteOp>,
    ) -> Result<BatchOutcome>;
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

    /// Removes every object of a cluster (watchers see a `DELETED` per object). Fenced
    /// like [`ResourceStorage::apply_batch`]; the cluster's recorded epoch stays.
    async fn clean_cluster(&self, cluster: &str, fence: Fence) -> Result<()>;

    /// Removes every object of one resource of a cluster (watchers see a `DELETED` per
    /// object). Fenced like [`ResourceStorage::apply_batch`].
    async fn clean_cluster_resource(
        &self,
        cluster: &str,
        gvr: &GroupVersionResource,
        fence: Fence,
    ) -> Result<()>;

    /// The latest revision.
    async fn current_revision(&self) -> Result<Revision>;

    /// Releases connections and background tasks.
    async fn shutdown(&self) -> Result<()>;
}
