//! Clusterpedia's cluster API types (`cluster.clusterpedia.io/v1alpha2`): `PediaCluster`
//! (a member cluster to sync: credentials and the resources to sync) and
//! `ClusterSyncResources` (a reusable resource list), with Clusterpedia's JSON field
//! names. Byte fields (`kubeconfig`, `tokenData`, ...) are base64 strings in JSON, as Go's
//! `[]byte` encodes them.

use serde::{Deserialize, Serialize};

/// The API group and version of the types.
pub const CLUSTER_API_GROUP: &str = "cluster.clusterpedia.io";
pub const CLUSTER_API_VERSION: &str = "v1alpha2";

/// The storage "cluster" holding the control plane's own objects (the published
/// PediaClusters). Not a valid Kubernetes name, so no member cluster can take it.
pub const CONTROL_CLUSTER: &str = "_control";

/// Condition types of `PediaCluster.status.conditions`.
pub mod condition {
    pub const VALIDATED: &str = "Validated";
    pub const SYNCHRO_RUNNING: &str = "SynchroRunning";
    pub const CLUSTER_HEALTHY: &str = "ClusterHealthy";
    pub const READY: &str = "Ready";
}

/// Per-resource sync states of `status.syncResources[].resources[].syncConditions[].status`.
pub mod sync_status {
    pub const PENDING: &str = "Pending";
    pub const SYNCING: &str = "Syncing";
    pub const STOP: &str = "Stop";
    pub const UNKNOWN: &str = "Unknown";
    pub const ERROR: &str = "Error";
}

/// `metadata` as far as these types need it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// A member cluster to sync.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PediaCluster {
    #[serde(default = "PediaCluster::api_version")]
    pub api_version: String,
    #[serde(default = "PediaCluster::kind")]
    pub kind: String,
    pub metadata: Metadata,
    #[serde(default)]
    pub spec: ClusterSpec,
    #[serde(default)]
    pub status: ClusterStatus,
}

impl PediaCluster {
    pub fn api_version() -> String {
        format!("{CLUSTER_API_GROUP}/{CLUSTER_API_VERSION}")
    }

    pub fn kind() -> String {
        "PediaCluster".to_owned()
    }

    pub fn name(&self) -> &str {
        &self.metadata.name
    }
}

/// How to reach a cluster and what to sync from it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSpec {
    /// A whole kubeconfig (base64 of its bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub apiserver: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_data: Option<String>,
    #[serde(default, rename = "caData", skip_serializing_if = "Option::is_none")]
    pub ca_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_from: Option<ClusterAuthentication>,
    #[serde(default)]
    pub sync_resources: Vec<ClusterGroupResources>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sync_all_custom_resources: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sync_resources_ref_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sharding_name: String,
}

/// Credentials read from Secrets instead of the spec.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterAuthentication {
    #[serde(
        default,
        rename = "kubeconfig",
        skip_serializing_if = "Option::is_none"
    )]
    pub kube_config: Option<SecretKeySelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<SecretKeySelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<SecretKeySelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<SecretKeySelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<SecretKeySelector>,
}

/// A key of a Secret (in the manager's secret namespace).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretKeySelector {
    pub name: String,
    pub key: String,
}

/// Resources of one group to sync. `resources` may contain `*`; `group` may be `*`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterGroupResources {
    pub group: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
    pub resources: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events_involved_resources: Vec<String>,
}

/// What the synchro manager reports about a cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub apiserver: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sync_resources: Vec<ClusterGroupResourcesStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sharding_name: Option<String>,
}

/// A `metav1.Condition`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    #[serde(default)]
    pub observed_generation: i64,
    pub last_transition_time: String,
    pub reason: String,
    #[serde(default)]
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterGroupResourcesStatus {
    pub group: String,
    pub resources: Vec<ClusterResourceStatus>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterResourceStatus {
    pub name: String,
    pub kind: String,
    pub namespaced: bool,
    pub sync_conditions: Vec<ClusterResourceSyncCondition>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterResourceSyncCondition {
    pub version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sync_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub storage_version: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub initial_list_phase: bool,
    pub last_transition_time: String,
}

/// A named list of resources to sync, referenced by `syncResourcesRefName`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSyncResources {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    pub metadata: Metadata,
    #[serde(default)]
    pub spec: ClusterSyncResourcesSpec,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSyncResourcesSpec {
    #[serde(default)]
    pub sync_resources: Vec<ClusterGroupResources>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_clusterpedia_yaml_shapes() {
        let json = r#"{
          "apiVersion": "cluster.clusterpedia.io/v1alpha2", "kind": "PediaCluster",
          "metadata": {"name": "cluster-1"},
          "spec": {
            "apiserver": "https://10.0.0.1:6443", "caData": "Y2E=", "tokenData": "dG9r",
            "syncResources": [
              {"group": "apps", "resources": ["deployments", "*"]},
              {"group": "", "versions": ["v1"], "resources": ["pods"]}
            ],
            "syncAllCustomResources": true,
            "authenticationFrom": {"kubeconfig": {"name": "c1-secret", "key": "kubeconfig"}}
          }
        }"#;
        let c: PediaCluster = serde_json::from_str(json).expect("parses");
        assert_eq!(c.name(), "cluster-1");
        assert_eq!(c.spec.ca_data.as_deref(), Some("Y2E="));
        assert_eq!(c.spec.sync_resources[1].versions, vec!["v1"]);
        assert!(c.spec.sync_all_custom_resources);
        assert_eq!(
            c.spec
                .authentication_from
                .as_ref()
                .and_then(|a| a.kube_config.as_ref())
                .map(|s| s.name.as_str()),
            Some("c1-secret")
        );
        let back = serde_json::to_value(&c).expect("serialize");
        assert_eq!(back["spec"]["caData"], "Y2E=");
        assert!(back["spec"].get("kubeconfig").is_none());
    }
}
