//! The simulated etcd plus API machinery: every object as compact JSON bytes under one
//! global, strictly increasing revision, a bounded history of change events (what watches
//! and consistent paging read), and kube-apiserver's bookkeeping on every write.
//!
//! [`Store`] is the handle everything shares: the HTTP handlers, the load generator, the
//! update loop and tests (through its public, kubectl-like methods in [`api`]). All state
//! sits behind one lock; no lock is held across an `.await`.

pub mod api;
mod controllers;
mod defaults;
pub(crate) mod managed;
pub(crate) mod read;
mod scale;
mod validate;
pub(crate) mod write;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::error::StatusError;
use crate::registry::{Registry, ResourceDef};
use crate::rng::Rng;

pub use read::Selector;
pub use write::WriteOptions;

/// The namespaces a fresh cluster has.
pub const INITIAL_NAMESPACES: &[&str] =
    &["default", "kube-node-lease", "kube-public", "kube-system"];

/// A resource's storage identity: its group and plural (all versions share it).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupResource {
    pub group: String,
    pub resource: String,
}

impl GroupResource {
    pub fn of(def: &ResourceDef) -> Self {
        Self {
            group: def.group.clone(),
            resource: def.resource.clone(),
        }
    }
}

/// Where an object lives: namespace (empty for cluster-scoped objects) and name. Objects
/// list in this order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjKey {
    pub namespace: String,
    pub name: String,
}

impl ObjKey {
    pub fn new(namespace: &str, name: &str) -> Self {
        Self {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }
}

/// The kind of a change event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One change, at one revision.
#[derive(Debug)]
pub struct Event {
    pub revision: u64,
    pub resource: Arc<GroupResource>,
    pub key: ObjKey,
    pub kind: EventType,
    /// The object after the change; for `Deleted`, its last state with the deletion's
    /// resourceVersion, as kube sends it.
    pub object: Bytes,
    /// The object before the change (none for `Added`): watches with selectors need it to
    /// turn a change into `ADDED`/`DELETED` for objects entering or leaving the selection,
    /// and paging at an old revision reads it.
    pub prev: Option<Bytes>,
}

/// Objects of one resource.
#[derive(Debug)]
struct Table {
    resource: Arc<GroupResource>,
    objects: BTreeMap<ObjKey, Bytes>,
}

/// Everything behind the lock.
#[derive(Debug)]
pub(crate) struct State {
    /// The revision of the latest write.
    pub revision: u64,
    /// Events up to this revision may be gone: resourceVersions older than it are too old
    /// to watch from or to page at.
    pub compacted: u64,
    pub registry: Registry,
    tables: HashMap<GroupResource, Table>,
    history: VecDeque<Arc<Event>>,
    history_size: usize,
    pub rng: Rng,
    /// The CA (PEM) clients trust the server with: `ca.crt` of service-account token
    /// Secrets.
    pub(crate) cluster_ca: String,
    /// What the simulated controllers have to look at after the current write.
    pub(crate) dirty: Dirty,
}

/// Changes the simulated controllers react to (see `controllers`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Dirty {
    /// A ClusterRole changed: aggregated ClusterRoles may need new rules.
    pub cluster_roles: bool,
    /// The served resources changed (a CRD): the APIServices may need to follow.
    pub registry: bool,
    /// An APIService or a Service changed: APIService availability may have.
    pub availability: bool,
    /// A Secret of type `kubernetes.io/service-account-token` was written: the token
    /// controller may have to fill it.
    pub token_secrets: bool,
}

/// The type of Secrets that hold a (legacy) ServiceAccount token.
pub(crate) const SERVICE_ACCOUNT_TOKEN_TYPE: &str = "kubernetes.io/service-account-token";

pub(crate) fn mentions(raw: &[u8], needle: &str) -> bool {
    raw.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The shared simulator state.
#[derive(Debug)]
pub(crate) struct Shared {
    state: RwLock<State>,
    revision_tx: watch::Sender<u64>,
}

/// A handle on the simulator's objects; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    shared: Arc<Shared>,
}

/// `2025-05-01T12:00:00Z`: kube's timestamps have second precision.
pub(crate) fn now_rfc3339() -> String {
    let now = jiff::Timestamp::now();
    let seconds = jiff::Timestamp::from_second(now.as_second()).unwrap_or(now);
    seconds.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub(crate) fn to_bytes(v: &Value) -> Bytes {
    // Serializing a `Value` cannot fail: its map keys are strings.
    Bytes::from(serde_json::to_vec(v).unwrap_or_default())
}

pub(crate) fn parse(raw: &[u8]) -> Result<Value, StatusError> {
    serde_json::from_slice(raw)
        .map_err(|e| StatusError::internal(format!("stored object is not JSON: {e}")))
}

impl State {
    fn new(history_size: usize, rng: Rng) -> Self {
        Self {
            revision: 0,
            compacted: 0,
            registry: Registry::builtin(),
            tables: HashMap::new(),
            history: VecDeque::new(),
            history_size: history_size.max(1),
            rng,
            cluster_ca: String::new(),
            dirty: Dirty::default(),
        }
    }

    pub(crate) fn object(&self, gr: &GroupResource, key: &ObjKey) -> Option<&Bytes> {
        self.tables.get(gr)?.objects.get(key)
    }

    pub(crate) fn len(&self, gr: &GroupResource) -> usize {
        self.tables.get(gr).map_or(0, |t| t.objects.len())
    }

    pub(crate) fn namespace_exists(&self, ns: &str) -> bool {
        let gr = GroupResource {
            group: String::new(),
            resource: "namespaces".to_owned(),
        };
        self.object(&gr, &ObjKey::new("", ns)).is_some()
    }

    fn record(&mut self, event: Event) {
        match (
            event.resource.group.as_str(),
            event.resource.resource.as_str(),
        ) {
            ("rbac.authorization.k8s.io", "clusterroles") => self.dirty.cluster_roles = true,
            ("apiregistration.k8s.io", "apiservices") | ("", "services") => {
                self.dirty.availability = true;
            }
            ("", "secrets")
                if event.kind != EventType::Deleted
                    && mentions(&event.object, SERVICE_ACCOUNT_TOKEN_TYPE) =>
            {
                self.dirty.token_secrets = true;
            }
            _ => {}
        }
        if self.history.len() >= self.history_size
            && let Some(old) = self.history.pop_front()
        {
            self.compacted = self.compacted.max(old.revision);
        }
        self.history.push_back(Arc::new(event));
    }

    /// Stores `obj` at the next revision (written into its `metadata.resourceVersion`)
    /// and records the event. Returns the revision.
    pub(crate) fn put(&mut self, gr: &GroupResource, key: ObjKey, obj: &mut Value) -> u64 {
        let revision = self.revision + 1;
        self.revision = revision;
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("resourceVersion".into(), json!(revision.to_string()));
        }
        let raw = to_bytes(obj);
        let table = self.tables.entry(gr.clone()).or_insert_with(|| Table {
            resource: Arc::new(gr.clone()),
            objects: BTreeMap::new(),
        });
        let resource = Arc::clone(&table.resource);
        let prev = table.objects.insert(key.clone(), raw.clone());
        let kind = if prev.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.record(Event {
            revision,
            resource,
            key,
            kind,
            object: raw,
            prev,
        });
        revision
    }

    /// Removes an object at the next revision; returns its last state with the deletion's
    /// resourceVersion.
    pub(crate) fn remove(&mut self, gr: &GroupResource, key: &ObjKey) -> Option<Value> {
        let table = self.tables.get_mut(gr)?;
        let prev = table.objects.remove(key)?;
        let resource = Arc::clone(&table.resource);
        let revision = self.revision + 1;
        self.revision = revision;
        let mut last: Value = serde_json::from_slice(&prev).unwrap_or(Value::Null);
        if let Some(meta) = last.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("resourceVersion".into(), json!(revision.to_string()));
        }
        self.record(Event {
            revision,
            resource,
            key: key.clone(),
            kind: EventType::Deleted,
            object: to_bytes(&last),
            prev: Some(prev),
        });
        Some(last)
    }

    /// Keys of the objects of `gr` (in `namespace`, if given).
    pub(crate) fn keys(&self, gr: &GroupResource, namespace: Option<&str>) -> Vec<ObjKey> {
        self.tables
            .get(gr)
            .map(|t| {
                t.objects
                    .keys()
                    .filter(|k| namespace.is_none_or(|ns| k.namespace == ns))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Drops the table of a resource whose definition is gone.
    fn drop_table(&mut self, gr: &GroupResource) {
        self.tables.remove(gr);
    }

    /// Every namespaced resource that has objects.
    fn namespaced_tables(&self) -> Vec<GroupResource> {
        self.tables
            .keys()
            .filter(|gr| {
                self.registry
                    .get(&gr.group, &gr.resource)
                    .is_some_and(|d| d.namespaced)
            })
            .cloned()
            .collect()
    }

    /// Forgets all history: advances the revision by one (as any write elsewhere in the
    /// cluster would) and makes every older resourceVersion too old.
    pub(crate) fn compact(&mut self) {
        self.revision += 1;
        self.compacted = self.revision;
        self.history.clear();
    }

    /// For reading `gr` as of revision `at`: every key changed since, with its value at
    /// `at` (`None`: absent then). Requires `at >= self.compacted`.
    pub(crate) fn changed_since(
        &self,
        gr: &GroupResource,
        at: u64,
    ) -> BTreeMap<ObjKey, Option<Bytes>> {
        let start = self.history.partition_point(|e| e.revision <= at);
        let mut out = BTreeMap::new();
        for e in self.history.range(start..) {
            if *e.resource == *gr {
                out.entry(e.key.clone()).or_insert_with(|| e.prev.clone());
            }
        }
        out
    }

    /// Events of `gr` after revision `after`.
    pub(crate) fn events_after(&self, gr: &GroupResource, after: u64) -> Vec<Arc<Event>> {
        let start = self.history.partition_point(|e| e.revision <= after);
        self.history
            .range(start..)
            .filter(|e| *e.resource == *gr)
            .cloned()
            .collect()
    }

    pub(crate) fn table_objects(&self, gr: &GroupResource) -> Option<&BTreeMap<ObjKey, Bytes>> {
        self.tables.get(gr).map(|t| &t.objects)
    }
}

impl Store {
    /// An empty cluster with its initial namespaces. `history_size` bounds the events
    /// kept for watches and consistent paging.
    pub(crate) fn new(history_size: usize) -> Self {
        let mut state = State::new(history_size, Rng::from_entropy());
        let def = state.registry.resolve("", "v1", "namespaces");
        if let Some(def) = def {
            for ns in INITIAL_NAMESPACES {
                let obj =
                    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
                // Creating the initial namespaces cannot fail: the names are valid.
                let _ = state.create(&def, "v1", None, obj, &WriteOptions::system());
            }
        }
        let (revision_tx, _) = watch::channel(state.revision);
        Self {
            shared: Arc::new(Shared {
                state: RwLock::new(state),
                revision_tx,
            }),
        }
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, State> {
        // A panic while holding the lock leaves consistent data: every write completes
        // its mutation before anything that could panic.
        self.shared
            .state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn lock(&self) -> RwLockWriteGuard<'_, State> {
        self.shared
            .state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `f` on the state, then wakes watchers if the revision moved.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let (out, revision) = {
            let mut state = self.lock();
            let before = state.revision;
            let out = f(&mut state);
            state.reconcile();
            (out, (state.revision != before).then_some(state.revision))
        };
        if let Some(revision) = revision {
            self.shared.revision_tx.send_replace(revision);
        }
        out
    }

    /// A receiver that changes whenever the revision does.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.shared.revision_tx.subscribe()
    }

    /// The revision of the latest write (the resourceVersion a list would report now).
    pub fn revision(&self) -> u64 {
        self.read().revision
    }

    /// Forgets the watch history: every resourceVersion older than now becomes too old, so
    /// the next watch or `continue` from one is answered `410 Gone`, and open watches get
    /// an `ERROR` event with a `410` `Status` (as when etcd compacts under them).
    pub fn compact(&self) {
        self.write(State::compact);
    }
}

/// The version of a resource to present stored objects in: custom resources are stored
/// once and served in every version, with `apiVersion` rewritten (no conversion).
pub(crate) fn present(def: &ResourceDef, version: &str, raw: &Bytes) -> Bytes {
    if version == def.storage_version {
        return raw.clone();
    }
    match serde_json::from_slice::<Value>(raw) {
        Ok(mut v) => {
            v["apiVersion"] = json!(def.api_version(version));
            to_bytes(&v)
        }
        Err(_) => raw.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_store_has_namespaces() {
        let store = Store::new(100);
        let state = store.read();
        assert_eq!(state.revision, 4);
        assert!(state.namespace_exists("default"));
        assert!(state.namespace_exists("kube-system"));
        assert!(!state.namespace_exists("nope"));
    }

    #[test]
    fn history_is_bounded() {
        let store = Store::new(2);
        let state = store.read();
        // Four namespaces were created; only the last two events are kept.
        assert_eq!(state.compacted, 2);
        let gr = GroupResource {
            group: String::new(),
            resource: "namespaces".into(),
        };
        assert_eq!(state.events_after(&gr, 2).len(), 2);
        assert_eq!(state.changed_since(&gr, 3).len(), 1);
    }
}
