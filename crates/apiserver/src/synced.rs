//! The resource types each member cluster syncs, read from the published PediaClusters'
//! `status.syncResources` (cached briefly), so discovery lists a synced type that has no
//! objects yet, as Clusterpedia's does: `kubectl get nodes` then answers "No resources
//! found" instead of "the server doesn't have a resource type".

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pedia_core::cluster::{CONTROL_CLUSTER, PediaCluster};
use pedia_core::{GroupVersionResource, ListOptions, ResourceType};
use pedia_storage::{StorageFactory, StoredResource};

use crate::render::is_pediacluster;

/// How long a reading of the PediaClusters is reused: discovery may lag a new resource
/// type by this much, while requests do not each list every PediaCluster.
const TTL: Duration = Duration::from_secs(2);

#[derive(Debug, Default)]
pub struct SyncedTypes {
    cache: Mutex<Option<(Instant, Arc<Vec<StoredResource>>)>>,
}

/// The (resource type, cluster) pairs a PediaCluster's status says are synced.
fn synced_by(cluster: &PediaCluster) -> Vec<StoredResource> {
    let name = &cluster.metadata.name;
    cluster
        .status
        .sync_resources
        .iter()
        .flat_map(|group| {
            group.resources.iter().flat_map(move |r| {
                r.sync_conditions.iter().map(move |c| {
                    let version = if c.storage_version.is_empty() {
                        &c.version
                    } else {
                        &c.storage_version
                    };
                    StoredResource {
                        resource: ResourceType::new(
                            GroupVersionResource::new(&group.group, version, &r.name),
                            &r.kind,
                            r.namespaced,
                        ),
                        clusters: vec![name.clone()],
                    }
                })
            })
        })
        .filter(|s| !s.resource.gvr.version.is_empty() && !s.resource.gvr.resource.is_empty())
        .collect()
}

/// `stored` plus every synced type of every cluster (a cluster added to an existing
/// type, a type added as a whole).
pub fn merge(mut stored: Vec<StoredResource>, synced: &[StoredResource]) -> Vec<StoredResource> {
    for s in synced {
        match stored.iter_mut().find(|x| x.resource.gvr == s.resource.gvr) {
            Some(existing) => {
                for c in &s.clusters {
                    if !existing.clusters.contains(c) {
                        existing.clusters.push(c.clone());
                    }
                }
            }
            None => stored.push(s.clone()),
        }
    }
    stored
}

impl SyncedTypes {
    /// The synced types, from the PediaClusters in `stored` (read at most every [`TTL`]).
    /// A PediaCluster that does not parse is skipped: discovery still serves what is stored.
    pub async fn get(
        &self,
        storage: &dyn StorageFactory,
        stored: &[StoredResource],
    ) -> pedia_storage::Result<Arc<Vec<StoredResource>>> {
        if let Some((at, types)) = &*self.cache.lock().unwrap_or_else(|e| e.into_inner())
            && at.elapsed() < TTL
        {
            return Ok(Arc::clone(types));
        }
        let mut types = Vec::new();
        if let Some(published) = stored.iter().find(|s| {
            is_pediacluster(&s.resource) && s.clusters.iter().any(|c| c == CONTROL_CLUSTER)
        }) {
            let opts = ListOptions {
                clusters: vec![CONTROL_CLUSTER.to_owned()],
                ..ListOptions::default()
            };
            let page = storage
                .resource_storage(&published.resource)
                .await?
                .list(&opts)
                .await?;
            for raw in &page.items {
                match serde_json::from_slice::<PediaCluster>(raw) {
                    Ok(cluster) => types = merge(types, &synced_by(&cluster)),
                    Err(e) => {
                        tracing::debug!(error = %e, "a published PediaCluster does not parse")
                    }
                }
            }
        }
        let types = Arc::new(types);
        *self.cache.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((Instant::now(), Arc::clone(&types)));
        Ok(types)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(group: &str, resource: &str, clusters: &[&str]) -> StoredResource {
        StoredResource {
            resource: ResourceType::new(
                GroupVersionResource::new(group, "v1", resource),
                "K",
                true,
            ),
            clusters: clusters.iter().map(|c| (*c).to_owned()).collect(),
        }
    }

    #[test]
    fn synced_types_join_the_stored_ones() {
        let cluster: PediaCluster = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "c2"},
            "status": {"syncResources": [{"group": "", "resources": [
                {"name": "nodes", "kind": "Node", "namespaced": false, "syncConditions": [
                    {"version": "v1", "storageVersion": "v1", "status": "Syncing", "lastTransitionTime": ""}]},
                {"name": "pods", "kind": "Pod", "namespaced": true, "syncConditions": [
                    {"version": "v1", "status": "Syncing", "lastTransitionTime": ""}]}
            ]}]}
        }))
        .expect("a PediaCluster");
        let merged = merge(vec![stored("", "pods", &["c1"])], &synced_by(&cluster));
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].clusters, vec!["c1", "c2"]);
        assert_eq!(merged[1].resource.gvr.resource, "nodes");
        assert!(!merged[1].resource.namespaced);
        assert_eq!(merged[1].clusters, vec!["c2"]);
    }
}
