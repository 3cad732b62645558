//! Cluster status: Clusterpedia's conditions (Validated, SynchroRunning, ClusterHealthy,
//! Ready) and per-resource sync states, computed from live progress and published to the
//! storage layer (so `kubectl get pediaclusters` works through the apiserver, standalone
//! mode included) and back to the host cluster in host mode.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use pedia_core::cluster::{
    CONTROL_CLUSTER, ClusterGroupResourcesStatus, ClusterResourceStatus,
    ClusterResourceSyncCondition, ClusterStatus, Condition, PediaCluster, condition, sync_status,
};
use pedia_core::{GroupVersionResource, ResourceType};
use pedia_storage::{Fence, StorageFactory, WriteOp};

use crate::progress::{ClusterHealth, ResourceProgress};

/// The resource PediaCluster objects are stored under (in the control cluster).
pub fn pediacluster_resource_type() -> ResourceType {
    ResourceType::new(
        GroupVersionResource::new(
            pedia_core::cluster::CLUSTER_API_GROUP,
            pedia_core::cluster::CLUSTER_API_VERSION,
            "pediaclusters",
        ),
        "PediaCluster",
        false,
    )
}

fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn condition(
    previous: &[Condition],
    type_: &str,
    ok: bool,
    reason: &str,
    message: &str,
) -> Condition {
    let status = if ok { "True" } else { "False" };
    // The transition time changes only when the status does.
    let since = previous
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or_else(now);
    Condition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        observed_generation: 0,
        last_transition_time: since,
        reason: reason.to_owned(),
        message: message.to_owned(),
    }
}

fn resource_status(
    p: &ResourceProgress,
    previous: &ClusterStatus,
) -> (String, ClusterResourceStatus) {
    let (group, name) = match p.resource.split_once('.') {
        Some((r, g)) => (g.to_owned(), r.to_owned()),
        None => (String::new(), p.resource.clone()),
    };
    let error = p.error();
    let initial = !p.initial_done.load(Ordering::Relaxed);
    let (status, reason, message) = match &error {
        Some(e) => (sync_status::ERROR, "SyncError", e.clone()),
        None => (
            sync_status::SYNCING,
            if initial { "WaitInit" } else { "Running" },
            String::new(),
        ),
    };
    let before = previous
        .sync_resources
        .iter()
        .filter(|g| g.group == group)
        .flat_map(|g| &g.resources)
        .find(|r| r.name == name)
        .and_then(|r| r.sync_conditions.first());
    let since = before
        .filter(|c| c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or_else(now);
    (
        group,
        ClusterResourceStatus {
            name,
            kind: p.kind.clone(),
            namespaced: p.namespaced,
            sync_conditions: vec![ClusterResourceSyncCondition {
                version: p.version.clone(),
                sync_version: String::new(),
                storage_version: p.version.clone(),
                status: status.to_owned(),
                reason: reason.to_owned(),
                message,
                initial_list_phase: initial,
                last_transition_time: since,
            }],
        },
    )
}

/// The status of a cluster from its health and resource progress.
pub fn compute(
    previous: &ClusterStatus,
    health: &ClusterHealth,
    resources: &[Arc<ResourceProgress>],
    sharding: &str,
) -> ClusterStatus {
    let prev = &previous.conditions;
    let running = !resources.is_empty();
    let initialized = running
        && resources
            .iter()
            .all(|r| r.initial_done.load(Ordering::Relaxed));
    let mut groups: BTreeMap<String, Vec<ClusterResourceStatus>> = BTreeMap::new();
    for p in resources {
        let (group, status) = resource_status(p, previous);
        groups.entry(group).or_default().push(status);
    }
    let mut validation = health.validation_message.clone();
    if validation.is_empty() && !health.unresolved.is_empty() {
        validation = health.unresolved.join("; ");
    }
    let ready = health.validated && health.healthy && running;
    ClusterStatus {
        apiserver: health.apiserver.clone(),
        version: health.version.clone(),
        conditions: vec![
            condition(
                prev,
                condition::VALIDATED,
                health.validated,
                if health.validated {
                    "Validated"
                } else {
                    "InvalidConfig"
                },
                &validation,
            ),
            condition(
                prev,
                condition::SYNCHRO_RUNNING,
                running,
                if !running {
                    "Pending"
                } else if initialized {
                    "Running"
                } else {
                    "WaitInit"
                },
                "",
            ),
            condition(
                prev,
                condition::CLUSTER_HEALTHY,
                health.healthy,
                if health.healthy {
                    "Healthy"
                } else {
                    "NotReachable"
                },
                &health.message,
            ),
            condition(
                prev,
                condition::READY,
                ready,
                if ready { "Ready" } else { "NotReady" },
                "",
            ),
        ],
        sync_resources: groups
            .into_iter()
            .map(|(group, resources)| ClusterGroupResourcesStatus { group, resources })
            .collect(),
        sharding_name: Some(sharding.to_owned()),
    }
}

/// The PediaCluster as published: the spec without credentials, with `status`.
pub fn published(object: &PediaCluster, status: ClusterStatus) -> PediaCluster {
    let mut c = object.clone();
    c.spec.kubeconfig = None;
    c.spec.token_data = None;
    c.spec.cert_data = None;
    c.spec.key_data = None;
    c.spec.ca_data = None;
    c.metadata.resource_version.clear();
    c.status = status;
    c
}

/// Stores published PediaClusters (and removes gone ones) in the control cluster, as the
/// writer `fence`.
pub async fn store(
    storage: &Arc<dyn StorageFactory>,
    fence: Fence,
    clusters: &[PediaCluster],
    removed: &[String],
) -> pedia_storage::Result<()> {
    let storage = storage
        .resource_storage(&pediacluster_resource_type())
        .await?;
    let mut ops = Vec::new();
    for c in clusters {
        let value = serde_json::to_value(c)
            .map_err(|e| pedia_storage::StorageError::internal("encoding a PediaCluster", e))?;
        let object = synchro_writer::prepare(value, CONTROL_CLUSTER, Default::default())?;
        ops.push(WriteOp::Upsert(object));
    }
    for name in removed {
        ops.push(WriteOp::delete("", name.clone()));
    }
    if !ops.is_empty() {
        storage.apply_batch(CONTROL_CLUSTER, fence, ops).await?;
    }
    Ok(())
}
