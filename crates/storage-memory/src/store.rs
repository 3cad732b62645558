//! The in-memory state: objects per resource with their key, label and owner indexes, the
//! cross-resource ownership graph, and the bounded event history watches read from.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use pedia_core::{GroupVersionResource, Object, ObjectMeta, ResourceType};
use pedia_storage::write_rules::{self, ChangeKind, ObjectState};
use pedia_storage::{BatchOutcome, Fence, Result, Revision, WatchEventType, WriteOp};

/// An object version: its bytes and indexed metadata, shared between the current state and
/// the event history.
#[derive(Debug)]
pub(crate) struct Stored {
    pub(crate) meta: ObjectMeta,
    pub(crate) raw: Bytes,
    content_hash: u64,
}

/// A stored object of one resource.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// The revision that created it; unique across the layer, so it doubles as an id.
    pub(crate) id: u64,
    pub(crate) cluster: Arc<str>,
    pub(crate) obj: Arc<Stored>,
}

/// Per cluster: owner uid -> uids of the objects it controls.
type OwnerGraph = HashMap<Arc<str>, HashMap<Box<str>, HashSet<Box<str>>>>;

/// (cluster, namespace, name): the default order of a listing.
pub(crate) type ObjKey = (Arc<str>, Box<str>, Box<str>);

/// The objects of one resource with their indexes.
#[derive(Debug)]
pub(crate) struct ResourceStore {
    pub(crate) resource: ResourceType,
    pub(crate) entries: HashMap<u64, Entry>,
    pub(crate) by_key: BTreeMap<ObjKey, u64>,
    /// label key -> value -> ids.
    labels: HashMap<Box<str>, HashMap<Box<str>, BTreeSet<u64>>>,
    /// (cluster, owner uid) -> ids of objects it controls.
    by_owner: HashMap<(Arc<str>, Box<str>), BTreeSet<u64>>,
    /// Clusters that wrote this resource (kept until cleaned).
    pub(crate) clusters: BTreeSet<Arc<str>>,
}

/// One change, as watches see it.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub(crate) revision: Revision,
    pub(crate) event_type: WatchEventType,
    pub(crate) gvr: Arc<GroupVersionResource>,
    pub(crate) cluster: Arc<str>,
    pub(crate) obj: Arc<Stored>,
}

/// Everything the layer holds, behind one lock.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) revision: Revision,
    pub(crate) resources: BTreeMap<GroupVersionResource, ResourceStore>,
    /// Per cluster: owner uid -> uids of the objects it controls, across all resources.
    children: OwnerGraph,
    clusters: HashMap<Box<str>, Arc<str>>,
    gvrs: HashMap<GroupVersionResource, Arc<GroupVersionResource>>,
    pub(crate) history: VecDeque<Event>,
    history_limit: usize,
    /// Events at or below this revision are no longer in `history`.
    pub(crate) compacted: Revision,
    /// Per cluster, the highest writer epoch that wrote it (the fence).
    epochs: HashMap<Box<str>, u64>,
}

impl ResourceStore {
    fn new(resource: ResourceType) -> Self {
        Self {
            resource,
            entries: HashMap::new(),
            by_key: BTreeMap::new(),
            labels: HashMap::new(),
            by_owner: HashMap::new(),
            clusters: BTreeSet::new(),
        }
    }

    fn key(cluster: &Arc<str>, namespace: &str, name: &str) -> ObjKey {
        (Arc::clone(cluster), namespace.into(), name.into())
    }

    pub(crate) fn get(&self, cluster: &str, namespace: &str, name: &str) -> Option<&Entry> {
        let key: ObjKey = (Arc::from(cluster), namespace.into(), name.into());
        self.by_key.get(&key).and_then(|id| self.entries.get(id))
    }

    /// Ids of objects with label `key` whose value satisfies `accept` (all values if
    /// `None`).
    pub(crate) fn ids_with_label(&self, key: &str, accept: Option<&[String]>) -> BTreeSet<u64> {
        let Some(values) = self.labels.get(key) else {
            return BTreeSet::new();
        };
        match accept {
            None => values.values().flatten().copied().collect(),
            Some(accept) => accept
                .iter()
                .filter_map(|v| values.get(v.as_str()))
                .flatten()
                .copied()
                .collect(),
        }
    }

    pub(crate) fn ids_owned_by<'a>(
        &'a self,
        cluster: &str,
        owners: impl Iterator<Item = &'a str>,
    ) -> BTreeSet<u64> {
        let cluster: Arc<str> = Arc::from(cluster);
        owners
            .filter_map(|o| self.by_owner.get(&(Arc::clone(&cluster), o.into())))
            .flatten()
            .copied()
            .collect()
    }

    fn index(&mut self, entry: &Entry) {
        let meta = &entry.obj.meta;
        for (k, v) in &meta.labels {
            self.labels
                .entry(k.as_str().into())
                .or_default()
                .entry(v.as_str().into())
                .or_default()
                .insert(entry.id);
        }
        if !meta.owner_uid.is_empty() {
            self.by_owner
                .entry((Arc::clone(&entry.cluster), meta.owner_uid.as_str().into()))
                .or_default()
                .insert(entry.id);
        }
    }

    fn unindex(&mut self, entry: &Entry) {
        let meta = &entry.obj.meta;
        for (k, v) in &meta.labels {
            if let Some(values) = self.labels.get_mut(k.as_str()) {
                if let Some(ids) = values.get_mut(v.as_str()) {
                    ids.remove(&entry.id);
                    if ids.is_empty() {
                        values.remove(v.as_str());
                    }
                }
                if values.is_empty() {
                    self.labels.remove(k.as_str());
                }
            }
        }
        if !meta.owner_uid.is_empty() {
            let key = (
                Arc::clone(&entry.cluster),
                Box::<str>::from(meta.owner_uid.as_str()),
            );
            if let Some(ids) = self.by_owner.get_mut(&key) {
                ids.remove(&entry.id);
                if ids.is_empty() {
                    self.by_owner.remove(&key);
                }
            }
        }
    }
}

impl State {
    pub(crate) fn new(history_limit: usize) -> Self {
        Self {
            revision: 0,
            resources: BTreeMap::new(),
            children: HashMap::new(),
            clusters: HashMap::new(),
            gvrs: HashMap::new(),
            history: VecDeque::new(),
            history_limit,
            compacted: 0,
            epochs: HashMap::new(),
        }
    }

    /// Refuses a writer older than the latest that wrote `cluster`; records a newer one.
    fn fence(&mut self, cluster: &str, fence: Fence) -> Result<()> {
        let recorded = self.epochs.get(cluster).copied();
        if let Some(epoch) = write_rules::check_fence(cluster, recorded, fence)? {
            self.epochs.insert(cluster.into(), epoch);
        }
        Ok(())
    }

    fn cluster(&mut self, name: &str) -> Arc<str> {
        if let Some(c) = self.clusters.get(name) {
            return Arc::clone(c);
        }
        let c: Arc<str> = Arc::from(name);
        self.clusters.insert(name.into(), Arc::clone(&c));
        c
    }

    fn gvr(&mut self, gvr: &GroupVersionResource) -> Arc<GroupVersionResource> {
        Arc::clone(
            self.gvrs
                .entry(gvr.clone())
                .or_insert_with(|| Arc::new(gvr.clone())),
        )
    }

    /// The store of a resource, created on first use.
    pub(crate) fn store_mut(&mut self, resource: &ResourceType) -> &mut ResourceStore {
        self.resources
            .entry(resource.gvr.clone())
            .or_insert_with(|| ResourceStore::new(resource.clone()))
    }

    /// Uids of objects controlled by any of `owners` in `cluster`, across all resources.
    pub(crate) fn children_of(&self, cluster: &str, owners: &HashSet<String>) -> HashSet<String> {
        let Some(graph) = self.children.get(cluster) else {
            return HashSet::new();
        };
        owners
            .iter()
            .filter_map(|o| graph.get(o.as_str()))
            .flatten()
            .map(|c| c.to_string())
            .collect()
    }

    fn link(&mut self, cluster: &Arc<str>, meta: &ObjectMeta) {
        if meta.owner_uid.is_empty() || meta.uid.is_empty() {
            return;
        }
        self.children
            .entry(Arc::clone(cluster))
            .or_default()
            .entry(meta.owner_uid.as_str().into())
            .or_default()
            .insert(meta.uid.as_str().into());
    }

    fn unlink(&mut self, cluster: &Arc<str>, meta: &ObjectMeta) {
        if meta.owner_uid.is_empty() || meta.uid.is_empty() {
            return;
        }
        if let Some(graph) = self.children.get_mut(cluster) {
            if let Some(kids) = graph.get_mut(meta.owner_uid.as_str()) {
                kids.remove(meta.uid.as_str());
                if kids.is_empty() {
                    graph.remove(meta.owner_uid.as_str());
                }
            }
            if graph.is_empty() {
                self.children.remove(cluster);
            }
        }
    }

    fn record(&mut self, event: Event) {
        self.history.push_back(event);
        while self.history.len() > self.history_limit {
            if let Some(old) = self.history.pop_front() {
                self.compacted = old.revision;
            }
        }
    }

    /// Applies one cluster's batch in order, as the write rules plan it; every change
    /// gets the next revision.
    pub(crate) fn apply(
        &mut self,
        resource: &ResourceType,
        cluster: &str,
        fence: Fence,
        ops: Vec<WriteOp>,
    ) -> Result<BatchOutcome> {
        if ops.is_empty() {
            return Ok(BatchOutcome {
                revision: self.revision,
                ..BatchOutcome::default()
            });
        }
        self.fence(cluster, fence)?;
        let cluster = self.cluster(cluster);
        let gvr = self.gvr(&resource.gvr);
        let store = self.store_mut(resource);
        store.clusters.insert(Arc::clone(&cluster));
        let store: &ResourceStore = store;
        let plan = write_rules::plan(&ops, |namespace, name| {
            store.get(&cluster, namespace, name).map(|e| ObjectState {
                uid: e.obj.meta.uid.clone(),
                resource_version: e.obj.meta.resource_version.clone(),
                content_hash: e.obj.content_hash,
            })
        });
        // Each upsert's object is taken by its one Add or Modify; a re-creating upsert's
        // Delete comes first and still finds the key.
        let mut ops: Vec<Option<WriteOp>> = ops.into_iter().map(Some).collect();
        for change in &plan.changes {
            match change.kind {
                ChangeKind::Delete { .. } => {
                    let Some(op) = &ops[change.op] else { continue };
                    let (namespace, name) = op.key();
                    let key = ResourceStore::key(&cluster, namespace, name);
                    if let Some(id) = self.store_mut(resource).by_key.get(&key).copied() {
                        self.remove(resource.gvr.clone(), &gvr, id);
                    }
                }
                ChangeKind::Add | ChangeKind::Modify { .. } => {
                    let Some(WriteOp::Upsert(object)) = ops[change.op].take() else {
                        continue;
                    };
                    let hash = plan.content_hashes[change.op];
                    self.put(resource, &gvr, &cluster, object, hash);
                }
            }
        }
        Ok(BatchOutcome {
            revision: self.revision,
            ..plan.outcome
        })
    }

    /// Stores `object`: replaces the object stored at its name (`MODIFIED`) or adds it
    /// (`ADDED`).
    fn put(
        &mut self,
        resource: &ResourceType,
        gvr: &Arc<GroupVersionResource>,
        cluster: &Arc<str>,
        object: Object,
        hash: u64,
    ) {
        let Object { meta, raw } = object;
        let key = ResourceStore::key(cluster, &meta.namespace, &meta.name);
        let store = self.store_mut(resource);
        let previous = store
            .by_key
            .get(&key)
            .and_then(|id| store.entries.get(id))
            .cloned();
        self.revision += 1;
        let revision = self.revision;
        let obj = Arc::new(Stored {
            meta,
            raw,
            content_hash: hash,
        });
        let entry = Entry {
            id: previous.as_ref().map_or(revision, |p| p.id),
            cluster: Arc::clone(cluster),
            obj: Arc::clone(&obj),
        };
        if let Some(prev) = &previous {
            self.unlink(cluster, &prev.obj.meta);
        }
        self.link(cluster, &obj.meta);
        let store = self.store_mut(resource);
        if let Some(prev) = &previous {
            store.unindex(prev);
        }
        store.index(&entry);
        store.by_key.insert(key, entry.id);
        store.entries.insert(entry.id, entry);
        self.record(Event {
            revision,
            event_type: if previous.is_some() {
                WatchEventType::Modified
            } else {
                WatchEventType::Added
            },
            gvr: Arc::clone(gvr),
            cluster: Arc::clone(cluster),
            obj,
        });
    }

    /// Removes one object by id and records its deletion.
    fn remove(&mut self, gvr_key: GroupVersionResource, gvr: &Arc<GroupVersionResource>, id: u64) {
        let Some(store) = self.resources.get_mut(&gvr_key) else {
            return;
        };
        let Some(entry) = store.entries.remove(&id) else {
            return;
        };
        let meta = &entry.obj.meta;
        store.by_key.remove(&ResourceStore::key(
            &entry.cluster,
            &meta.namespace,
            &meta.name,
        ));
        store.unindex(&entry);
        self.unlink(&entry.cluster, &entry.obj.meta);
        self.revision += 1;
        let revision = self.revision;
        self.record(Event {
            revision,
            event_type: WatchEventType::Deleted,
            gvr: Arc::clone(gvr),
            cluster: entry.cluster,
            obj: entry.obj,
        });
    }

    /// Removes every object of `cluster` in the resources `which` selects.
    pub(crate) fn clean(
        &mut self,
        cluster: &str,
        fence: Fence,
        which: impl Fn(&GroupVersionResource) -> bool,
    ) -> Result<()> {
        self.fence(cluster, fence)?;
        let targets: Vec<GroupVersionResource> = self
            .resources
            .keys()
            .filter(|g| which(g))
            .cloned()
            .collect();
        for gvr_key in targets {
            let gvr = self.gvr(&gvr_key);
            let Some(store) = self.resources.get_mut(&gvr_key) else {
                continue;
            };
            store.clusters.retain(|c| &**c != cluster);
            let ids: Vec<u64> = store
                .by_key
                .range::<ObjKey, _>((Arc::from(cluster), Box::from(""), Box::from(""))..)
                .take_while(|((c, _, _), _)| &**c == cluster)
                .map(|(_, id)| *id)
                .collect();
            for id in ids {
                self.remove(gvr_key.clone(), &gvr, id);
            }
        }
        Ok(())
    }
}
