//! Collection resources: named sets of resources listed together (`any`, `workloads`,
//! `kuberesources`), as Clusterpedia defines them.

use pedia_core::GroupVersionResource;

/// One member pattern of a collection. Empty `version`/`resource` match any.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct CollectionResourceType {
    pub group: String,
    pub version: String,
    pub resource: String,
    pub kind: String,
}

impl CollectionResourceType {
    pub fn group(group: &str) -> Self {
        Self::group_resource(group, "")
    }

    pub fn group_resource(group: &str, resource: &str) -> Self {
        Self {
            group: group.to_owned(),
            version: String::new(),
            resource: resource.to_owned(),
            kind: String::new(),
        }
    }

    pub fn matches(&self, gvr: &GroupVersionResource) -> bool {
        self.group == gvr.group
            && (self.version.is_empty() || self.version == gvr.version)
            && (self.resource.is_empty() || self.resource == gvr.resource)
    }
}

/// A named collection. An empty `resource_types` (the `any` collection) matches every
/// resource.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CollectionResource {
    pub name: String,
    pub resource_types: Vec<CollectionResourceType>,
}

/// The API groups built into Kubernetes, members of `kuberesources`.
pub const KUBE_GROUPS: &[&str] = &[
    "",
    "admissionregistration.k8s.io",
    "apps",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "events.k8s.io",
    "flowcontrol.apiserver.k8s.io",
    "networking.k8s.io",
    "node.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "resource.k8s.io",
    "scheduling.k8s.io",
    "storage.k8s.io",
];

impl CollectionResource {
    pub const ANY: &'static str = "any";
    pub const WORKLOADS: &'static str = "workloads";
    pub const KUBE_RESOURCES: &'static str = "kuberesources";

    /// `any`, `workloads` (deployments, daemonsets, statefulsets) and `kuberesources`
    /// (every resource of a built-in Kubernetes group).
    pub fn builtin() -> Vec<CollectionResource> {
        vec![
            CollectionResource {
                name: Self::ANY.to_owned(),
                resource_types: Vec::new(),
            },
            CollectionResource {
                name: Self::WORKLOADS.to_owned(),
                resource_types: ["deployments", "daemonsets", "statefulsets"]
                    .into_iter()
                    .map(|r| CollectionResourceType::group_resource("apps", r))
                    .collect(),
            },
            CollectionResource {
                name: Self::KUBE_RESOURCES.to_owned(),
                resource_types: KUBE_GROUPS
                    .iter()
                    .map(|g| CollectionResourceType::group(g))
                    .collect(),
            },
        ]
    }

    pub fn matches(&self, gvr: &GroupVersionResource) -> bool {
        self.resource_types.is_empty() || self.resource_types.iter().any(|t| t.matches(gvr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_collections_match_their_members() {
        let all = CollectionResource::builtin();
        let find = |n: &str| all.iter().find(|c| c.name == n).cloned();
        let deploy = GroupVersionResource::new("apps", "v1", "deployments");
        let pods = GroupVersionResource::new("", "v1", "pods");
        let crd = GroupVersionResource::new("example.com", "v1", "widgets");

        let workloads = find("workloads").expect("workloads");
        assert!(workloads.matches(&deploy));
        assert!(!workloads.matches(&pods));

        let kube = find("kuberesources").expect("kuberesources");
        assert!(kube.matches(&deploy) && kube.matches(&pods));
        assert!(!kube.matches(&crd));

        assert!(find("any").expect("any").matches(&crd));
    }
}
