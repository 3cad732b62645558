//! Shared by the manager's integration tests: the resources most of them sync, and the
//! PediaCluster manifests that point the manager at a simulator.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use kube_sim::KubeSim;
use pedia_core::{GroupVersionResource, ResourceType};
use pedia_storage::StorageFactory;
use pedia_testkit::converge::wait_converged;

/// Core pods and configmaps: what [`write_cluster`] syncs.
pub(crate) fn pods_and_configmaps() -> Vec<ResourceType> {
    vec![
        ResourceType::new(GroupVersionResource::new("", "v1", "pods"), "Pod", true),
        ResourceType::new(
            GroupVersionResource::new("", "v1", "configmaps"),
            "ConfigMap",
            true,
        ),
    ]
}

/// Writes `<name>.yaml` into a clusters directory: a PediaCluster syncing the simulator's
/// pods and configmaps.
pub(crate) fn write_cluster(dir: &Path, sim: &KubeSim) {
    let manifest =
        sim.pediacluster("  syncResources:\n  - group: \"\"\n    resources: [pods, configmaps]\n");
    std::fs::write(dir.join(format!("{}.yaml", sim.name())), manifest).expect("write");
}

/// Waits until storage holds exactly each simulator's pods and configmaps.
pub(crate) async fn wait_all_converged(
    storage: &Arc<dyn StorageFactory>,
    sims: &[Arc<KubeSim>],
    timeout: Duration,
) {
    for sim in sims {
        wait_converged(storage, sim.name(), sim, &pods_and_configmaps(), timeout).await;
    }
}
