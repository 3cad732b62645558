//! Test objects for the conformance suite: templates from `fixtures/*.json`, a builder to
//! vary them, resource types, and helpers to read results back.

use std::sync::Arc;

use bytes::Bytes;
use pedia_core::{
    CLUSTER_NAME_ANNOTATION, GroupVersionResource, ListOptions, Object, ResourceType,
};
use serde_json::{Value, json};

use crate::contract::{BatchOutcome, Fence, ListResult, ResourceStorage, StorageFactory, WriteOp};

const POD: &str = include_str!("../../fixtures/pod.json");
const DEPLOYMENT: &str = include_str!("../../fixtures/deployment.json");
const REPLICASET: &str = include_str!("../../fixtures/replicaset.json");
const STATEFULSET: &str = include_str!("../../fixtures/statefulset.json");
const CONFIGMAP: &str = include_str!("../../fixtures/configmap.json");
const NAMESPACE: &str = include_str!("../../fixtures/namespace.json");
const APPLICATION: &str = include_str!("../../fixtures/application.json");

fn rt(group: &str, version: &str, resource: &str, kind: &str, namespaced: bool) -> ResourceType {
    ResourceType::new(
        GroupVersionResource::new(group, version, resource),
        kind,
        namespaced,
    )
}

/// The resource types the cases use.
pub mod res {
    use super::rt;
    use pedia_core::ResourceType;

    pub fn pods() -> ResourceType {
        rt("", "v1", "pods", "Pod", true)
    }
    pub fn configmaps() -> ResourceType {
        rt("", "v1", "configmaps", "ConfigMap", true)
    }
    pub fn namespaces() -> ResourceType {
        rt("", "v1", "namespaces", "Namespace", false)
    }
    pub fn deployments() -> ResourceType {
        rt("apps", "v1", "deployments", "Deployment", true)
    }
    pub fn replicasets() -> ResourceType {
        rt("apps", "v1", "replicasets", "ReplicaSet", true)
    }
    pub fn statefulsets() -> ResourceType {
        rt("apps", "v1", "statefulsets", "StatefulSet", true)
    }
    /// A custom resource that owns Deployments, for three-level owner chains.
    pub fn applications() -> ResourceType {
        rt(
            "apps.example.com",
            "v1alpha1",
            "applications",
            "Application",
            true,
        )
    }
}

/// Builds a Kubernetes object from a fixture template.
#[derive(Debug, Clone)]
pub struct ObjectBuilder {
    value: Value,
}

fn template(json: &str, namespace: &str, name: &str) -> ObjectBuilder {
    let mut value: Value = serde_json::from_str(json).expect("fixture is valid JSON");
    let meta = &mut value["metadata"];
    meta["name"] = json!(name);
    if meta.get("namespace").is_some() {
        meta["namespace"] = json!(namespace);
    }
    meta["uid"] = json!(format!("uid-{namespace}-{name}"));
    ObjectBuilder { value }
}

pub fn pod(namespace: &str, name: &str) -> ObjectBuilder {
    template(POD, namespace, name)
}
pub fn deployment(namespace: &str, name: &str) -> ObjectBuilder {
    template(DEPLOYMENT, namespace, name)
}
pub fn replicaset(namespace: &str, name: &str) -> ObjectBuilder {
    template(REPLICASET, namespace, name)
}
pub fn statefulset(namespace: &str, name: &str) -> ObjectBuilder {
    template(STATEFULSET, namespace, name)
}
pub fn configmap(namespace: &str, name: &str) -> ObjectBuilder {
    template(CONFIGMAP, namespace, name)
}
pub fn namespace(name: &str) -> ObjectBuilder {
    template(NAMESPACE, "", name)
}
pub fn application(namespace: &str, name: &str) -> ObjectBuilder {
    template(APPLICATION, namespace, name)
}

impl ObjectBuilder {
    pub fn uid(mut self, uid: &str) -> Self {
        self.value["metadata"]["uid"] = json!(uid);
        self
    }

    pub fn rv(mut self, rv: u64) -> Self {
        self.value["metadata"]["resourceVersion"] = json!(rv.to_string());
        self
    }

    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.value["metadata"]["labels"][key] = json!(value);
        self
    }

    pub fn annotation(mut self, key: &str, value: &str) -> Self {
        self.value["metadata"]["annotations"][key] = json!(value);
        self
    }

    /// `creationTimestamp` in RFC 3339.
    pub fn created(mut self, rfc3339: &str) -> Self {
        self.value["metadata"]["creationTimestamp"] = json!(rfc3339);
        self
    }

    /// Adds a controller owner reference.
    pub fn owner(mut self, api_version: &str, kind: &str, name: &str, uid: &str) -> Self {
        self.value["metadata"]["ownerReferences"] = json!([{
            "apiVersion": api_version, "kind": kind, "name": name, "uid": uid,
            "controller": true, "blockOwnerDeletion": true
        }]);
        self
    }

    pub fn phase(mut self, phase: Option<&str>) -> Self {
        match phase {
            Some(p) => self.value["status"]["phase"] = json!(p),
            None => {
                if let Some(status) = self.value["status"].as_object_mut() {
                    status.remove("phase");
                }
            }
        }
        self
    }

    pub fn image(mut self, index: usize, image: &str) -> Self {
        self.value["spec"]["containers"][index]["image"] = json!(image);
        self
    }

    /// Sets `data[key]` (ConfigMaps) to `value`.
    pub fn data(mut self, key: &str, value: &str) -> Self {
        self.value["data"][key] = json!(value);
        self
    }

    pub fn json(&self) -> &Value {
        &self.value
    }

    /// The object as synced from `cluster`: with the cluster annotation, parsed for storage.
    pub fn build(&self, cluster: &str) -> Object {
        let mut value = self.value.clone();
        value["metadata"]["annotations"][CLUSTER_NAME_ANNOTATION] = json!(cluster);
        let raw = serde_json::to_vec(&value).expect("serialize fixture");
        Object::from_json(Bytes::from(raw)).expect("fixture is a valid object")
    }
}

/// `cluster/namespace/name` of a stored item (from its cluster annotation).
pub fn item_id(raw: &[u8]) -> String {
    let value: Value = serde_json::from_slice(raw).expect("stored item is JSON");
    let meta = &value["metadata"];
    let cluster = meta["annotations"][CLUSTER_NAME_ANNOTATION]
        .as_str()
        .expect("stored item has the cluster annotation");
    format!(
        "{}/{}/{}",
        cluster,
        meta["namespace"].as_str().unwrap_or(""),
        meta["name"].as_str().expect("stored item has a name")
    )
}

pub fn ids(result: &ListResult) -> Vec<String> {
    result.items.iter().map(|i| item_id(i)).collect()
}

/// Sorted ids, for comparing sets.
pub fn sorted_ids(result: &ListResult) -> Vec<String> {
    let mut v = ids(result);
    v.sort();
    v
}

pub fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

pub fn sorted(items: &[&str]) -> Vec<String> {
    let mut v = strings(items);
    v.sort();
    v
}

/// Opens the storage of `resource`.
pub async fn storage(
    factory: &Arc<dyn StorageFactory>,
    resource: ResourceType,
) -> Arc<dyn ResourceStorage> {
    factory
        .resource_storage(&resource)
        .await
        .expect("resource storage opens")
}

/// Upserts objects of one cluster in one unfenced batch.
pub async fn put(
    storage: &Arc<dyn ResourceStorage>,
    cluster: &str,
    objects: &[ObjectBuilder],
) -> BatchOutcome {
    let ops = objects
        .iter()
        .map(|o| WriteOp::Upsert(o.build(cluster)))
        .collect();
    storage
        .apply_batch(cluster, Fence::Unfenced, ops)
        .await
        .expect("batch applies")
}

/// Deletes whatever is stored at `namespace/name`.
pub fn delete(namespace: &str, name: &str) -> WriteOp {
    WriteOp::delete(namespace, name)
}

/// Deletes the incarnation `uid` of `namespace/name`.
pub fn delete_uid(namespace: &str, name: &str, uid: &str) -> WriteOp {
    WriteOp::delete_uid(namespace, name, uid)
}

/// Parses a query string into options (panics on a bad query: tests write good ones).
pub fn query(q: &str) -> ListOptions {
    ListOptions::from_query(q).unwrap_or_else(|e| panic!("query {q:?}: {e}"))
}

pub async fn list(storage: &Arc<dyn ResourceStorage>, q: &str) -> ListResult {
    storage
        .list(&query(q))
        .await
        .unwrap_or_else(|e| panic!("list {q:?}: {}", e.detail()))
}

/// Follows continue tokens from `opts` to the end; returns every page's ids.
pub async fn list_pages(
    storage: &Arc<dyn ResourceStorage>,
    opts: &ListOptions,
) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut opts = opts.clone();
    loop {
        let page = storage
            .list(&opts)
            .await
            .unwrap_or_else(|e| panic!("list page: {}", e.detail()));
        pages.push(ids(&page));
        match page.continue_token {
            Some(token) => opts.continue_token = Some(token),
            None => return pages,
        }
        assert!(pages.len() < 10_000, "pagination does not terminate");
    }
}
