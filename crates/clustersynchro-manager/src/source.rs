//! Where the clusters to sync come from: `PediaCluster` objects in a host cluster (with
//! `ClusterSyncResources` and the Secrets of `authenticationFrom`), or, in standalone mode,
//! YAML/JSON files in a directory holding the same kinds of objects.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use base64::Engine;
use kube::api::{Api, DynamicObject, ListParams};
use kube::discovery::ApiResource;
use pedia_core::cluster::{
    CLUSTER_API_GROUP, CLUSTER_API_VERSION, ClusterGroupResources, ClusterSyncResources,
    PediaCluster, SecretKeySelector,
};
use serde_json::Value;

use crate::credentials::{CredentialError, SecretSource};

/// A cluster to sync, with its resource list resolved against `syncResourcesRefName`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredCluster {
    pub object: PediaCluster,
    pub sync: Vec<ClusterGroupResources>,
}

/// Everything a source currently declares.
#[derive(Debug, Clone, Default)]
pub struct Desired {
    pub clusters: BTreeMap<String, DesiredCluster>,
}

/// Why the source could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{0}")]
    Read(String),
}

/// A source of clusters.
#[async_trait]
pub trait ClusterSource: Send + Sync {
    async fn desired(&self) -> Result<Desired, SourceError>;
    fn secrets(&self) -> Arc<dyn SecretSource>;
    /// Writes a cluster's status back where it came from (host mode), if anywhere.
    async fn write_status(&self, _cluster: &PediaCluster) -> Result<(), SourceError> {
        Ok(())
    }
    fn describe(&self) -> String;
}

/// Secrets by name: key -> decoded value.
#[derive(Debug, Default)]
pub struct SecretStore {
    secrets: RwLock<HashMap<String, HashMap<String, Vec<u8>>>>,
}

impl SecretStore {
    fn replace(&self, secrets: HashMap<String, HashMap<String, Vec<u8>>>) {
        *self.secrets.write().unwrap_or_else(|e| e.into_inner()) = secrets;
    }

    /// The `data` (base64) and `stringData` of a Secret object.
    fn decode(secret: &Value) -> HashMap<String, Vec<u8>> {
        let mut out = HashMap::new();
        if let Some(data) = secret["data"].as_object() {
            for (k, v) in data {
                if let Some(bytes) = v
                    .as_str()
                    .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
                {
                    out.insert(k.clone(), bytes);
                }
            }
        }
        if let Some(data) = secret["stringData"].as_object() {
            for (k, v) in data {
                if let Some(s) = v.as_str() {
                    out.insert(k.clone(), s.as_bytes().to_vec());
                }
            }
        }
        out
    }
}

#[async_trait]
impl SecretSource for SecretStore {
    async fn secret_value(&self, selector: &SecretKeySelector) -> Result<Vec<u8>, CredentialError> {
        self.secrets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&selector.name)
            .and_then(|s| s.get(&selector.key))
            .cloned()
            .ok_or_else(|| CredentialError::MissingSecret {
                name: selector.name.clone(),
                key: selector.key.clone(),
            })
    }
}

/// Merges `syncResourcesRefName` into each cluster's resource list.
fn assemble(clusters: Vec<PediaCluster>, refs: &HashMap<String, ClusterSyncResources>) -> Desired {
    let mut out = Desired::default();
    for c in clusters {
        let mut sync = c.spec.sync_resources.clone();
        if !c.spec.sync_resources_ref_name.is_empty() {
            match refs.get(&c.spec.sync_resources_ref_name) {
                Some(r) => sync.extend(r.spec.sync_resources.iter().cloned()),
                None => tracing::warn!(
                    cluster = c.name(),
                    reference = %c.spec.sync_resources_ref_name,
                    "syncResourcesRefName names no ClusterSyncResources"
                ),
            }
        }
        out.clusters
            .insert(c.metadata.name.clone(), DesiredCluster { object: c, sync });
    }
    out
}

/// Standalone mode: a directory of manifests.
#[derive(Debug)]
pub struct DirectorySource {
    dir: PathBuf,
    secrets: Arc<SecretStore>,
}

impl DirectorySource {
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            secrets: Arc::new(SecretStore::default()),
        }
    }
}

#[async_trait]
impl ClusterSource for DirectorySource {
    async fn desired(&self) -> Result<Desired, SourceError> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map_err(|e| SourceError::Read(format!("cannot read {}: {e}", self.dir.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("yaml" | "yml" | "json")
                )
            })
            .collect();
        files.sort();
        let objects =
            synchro_writer::read_objects(&files).map_err(|e| SourceError::Read(e.to_string()))?;
        let mut clusters = Vec::new();
        let mut refs = HashMap::new();
        let mut secrets = HashMap::new();
        for object in objects {
            let kind = object["kind"].as_str().unwrap_or_default().to_owned();
            match kind.as_str() {
                "PediaCluster" => {
                    clusters.push(serde_json::from_value::<PediaCluster>(object).map_err(|e| {
                        SourceError::Read(format!("a PediaCluster in {}: {e}", self.dir.display()))
                    })?)
                }
                "ClusterSyncResources" => {
                    let r: ClusterSyncResources = serde_json::from_value(object).map_err(|e| {
                        SourceError::Read(format!(
                            "a ClusterSyncResources in {}: {e}",
                            self.dir.display()
                        ))
                    })?;
                    refs.insert(r.metadata.name.clone(), r);
                }
                "Secret" => {
                    let name = object["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    secrets.insert(name, SecretStore::decode(&object));
                }
                other => {
                    tracing::debug!(kind = other, "ignoring an object in the clusters directory")
                }
            }
        }
        self.secrets.replace(secrets);
        Ok(assemble(clusters, &refs))
    }

    fn secrets(&self) -> Arc<dyn SecretSource> {
        Arc::clone(&self.secrets) as Arc<dyn SecretSource>
    }

    fn describe(&self) -> String {
        format!("directory {}", self.dir.display())
    }
}

/// The `PediaCluster` resource.
pub fn pediaclusters_resource() -> ApiResource {
    ApiResource {
        group: CLUSTER_API_GROUP.into(),
        version: CLUSTER_API_VERSION.into(),
        api_version: format!("{CLUSTER_API_GROUP}/{CLUSTER_API_VERSION}"),
        kind: "PediaCluster".into(),
        plural: "pediaclusters".into(),
    }
}

fn clustersyncresources_resource() -> ApiResource {
    ApiResource {
        group: CLUSTER_API_GROUP.into(),
        version: CLUSTER_API_VERSION.into(),
        api_version: format!("{CLUSTER_API_GROUP}/{CLUSTER_API_VERSION}"),
        kind: "ClusterSyncResources".into(),
        plural: "clustersyncresources".into(),
    }
}

/// Host mode: objects in a host cluster.
pub struct HostSource {
    client: kube::Client,
    secret_namespace: String,
    secrets: Arc<SecretStore>,
}

impl std::fmt::Debug for HostSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostSource")
            .field("secret_namespace", &self.secret_namespace)
            .finish()
    }
}

impl HostSource {
    pub fn new(client: kube::Client, secret_namespace: String) -> Self {
        Self {
            client,
            secret_namespace,
            secrets: Arc::new(SecretStore::default()),
        }
    }
}

fn objects<T: serde::de::DeserializeOwned>(list: Vec<DynamicObject>, what: &str) -> Vec<T> {
    list.into_iter()
        .filter_map(|o| {
            let value = serde_json::to_value(o).ok()?;
            match serde_json::from_value(value) {
                Ok(v) => Some(v),
                Err(err) => {
                    tracing::warn!(kind = what, error = %err, "ignoring an object that cannot be read");
                    None
                }
            }
        })
        .collect()
}

#[async_trait]
impl ClusterSource for HostSource {
    async fn desired(&self) -> Result<Desired, SourceError> {
        let read = |e: kube::Error| SourceError::Read(format!("reading the host cluster: {e}"));
        let clusters: Api<DynamicObject> =
            Api::all_with(self.client.clone(), &pediaclusters_resource());
        let clusters = objects::<PediaCluster>(
            clusters
                .list(&ListParams::default())
                .await
                .map_err(read)?
                .items,
            "PediaCluster",
        );
        let refs_api: Api<DynamicObject> =
            Api::all_with(self.client.clone(), &clustersyncresources_resource());
        // ClusterSyncResources is optional: an older CRD set may lack it.
        let refs = match refs_api.list(&ListParams::default()).await {
            Ok(list) => objects::<ClusterSyncResources>(list.items, "ClusterSyncResources")
                .into_iter()
                .map(|r| (r.metadata.name.clone(), r))
                .collect(),
            Err(_) => HashMap::new(),
        };
        if clusters
            .iter()
            .any(|c| c.spec.authentication_from.is_some())
        {
            let secrets: Api<k8s_openapi::api::core::v1::Secret> =
                Api::namespaced(self.client.clone(), &self.secret_namespace);
            let list = secrets.list(&ListParams::default()).await.map_err(read)?;
            let store = list
                .items
                .into_iter()
                .filter_map(|s| {
                    let name = s.metadata.name.clone()?;
                    let value = serde_json::to_value(&s).ok()?;
                    Some((name, SecretStore::decode(&value)))
                })
                .collect();
            self.secrets.replace(store);
        }
        Ok(assemble(clusters, &refs))
    }

    fn secrets(&self) -> Arc<dyn SecretSource> {
        Arc::clone(&self.secrets) as Arc<dyn SecretSource>
    }

    async fn write_status(&self, cluster: &PediaCluster) -> Result<(), SourceError> {
        let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &pediaclusters_resource());
        let patch = serde_json::json!({ "status": cluster.status });
        api.patch_status(
            cluster.name(),
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .map(|_| ())
        .map_err(|e| SourceError::Read(format!("writing the status of {}: {e}", cluster.name())))
    }

    fn describe(&self) -> String {
        "host cluster".to_owned()
    }
}
