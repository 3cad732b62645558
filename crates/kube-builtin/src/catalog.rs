//! The built-in resources of Kubernetes 1.33 as discovery describes them.
//!
//! The table lists what a default kube-apiserver 1.33 (with its aggregator and the
//! apiextensions server) advertises: every group-version enabled by default, at its
//! preferred version. Since 1.24 new beta APIs are off by default, so beta-only groups and
//! resources (`resource.k8s.io`, `storage.k8s.io` VolumeAttributesClass,
//! `coordination.k8s.io` LeaseCandidate, `certificates.k8s.io` ClusterTrustBundle,
//! MutatingAdmissionPolicy, ...) are absent. Create-only virtual resources (`bindings`,
//! `tokenreviews`, `selfsubjectreviews`, the `*accessreviews`, `selfsubjectrulesreviews`)
//! are left out as well: nothing can be listed, watched or stored for them, so a search
//! service has nothing to serve. Subresources (`pods/log`, `deployments/scale`) are not
//! resources of their own here.
//!
//! Short names and categories are what kubectl resolves `kubectl get deploy` and
//! `kubectl get all` from, so they follow the registry storage of 1.33 exactly, including
//! the one short name discovery really does advertise twice: `ev` for both `events` and
//! `events.events.k8s.io` (the same storage served under two groups).

/// One built-in resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltinResource {
    /// API group; empty for the core group.
    pub group: &'static str,
    /// The preferred version served (e.g. `v1`, `v2` for autoscaling).
    pub version: &'static str,
    /// Plural resource name, e.g. `deployments`.
    pub resource: &'static str,
    pub kind: &'static str,
    pub singular: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
}

const NAMESPACED: bool = true;
const CLUSTER: bool = false;

const NONE: &[&str] = &[];
const ALL: &[&str] = &["all"];
const API_EXTENSIONS: &[&str] = &["api-extensions"];

/// Keeps the table below one line per resource.
#[allow(clippy::too_many_arguments)]
const fn res(
    group: &'static str,
    version: &'static str,
    resource: &'static str,
    kind: &'static str,
    singular: &'static str,
    namespaced: bool,
    short_names: &'static [&'static str],
    categories: &'static [&'static str],
) -> BuiltinResource {
    BuiltinResource {
        group,
        version,
        resource,
        kind,
        singular,
        namespaced,
        short_names,
        categories,
    }
}

#[rustfmt::skip]
static RESOURCES: &[BuiltinResource] = &[
    // Core group, /api/v1.
    res("", "v1", "componentstatuses", "ComponentStatus", "componentstatus", CLUSTER, &["cs"], NONE),
    res("", "v1", "configmaps", "ConfigMap", "configmap", NAMESPACED, &["cm"], NONE),
    // Discovery really names the singular of `endpoints` `endpoints`.
    res("", "v1", "endpoints", "Endpoints", "endpoints", NAMESPACED, &["ep"], NONE),
    res("", "v1", "events", "Event", "event", NAMESPACED, &["ev"], NONE),
    res("", "v1", "limitranges", "LimitRange", "limitrange", NAMESPACED, &["limits"], NONE),
    res("", "v1", "namespaces", "Namespace", "namespace", CLUSTER, &["ns"], NONE),
    res("", "v1", "nodes", "Node", "node", CLUSTER, &["no"], NONE),
    res("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", "persistentvolumeclaim", NAMESPACED, &["pvc"], NONE),
    res("", "v1", "persistentvolumes", "PersistentVolume", "persistentvolume", CLUSTER, &["pv"], NONE),
    res("", "v1", "pods", "Pod", "pod", NAMESPACED, &["po"], ALL),
    res("", "v1", "podtemplates", "PodTemplate", "podtemplate", NAMESPACED, NONE, NONE),
    res("", "v1", "replicationcontrollers", "ReplicationController", "replicationcontroller", NAMESPACED, &["rc"], ALL),
    res("", "v1", "resourcequotas", "ResourceQuota", "resourcequota", NAMESPACED, &["quota"], NONE),
    res("", "v1", "secrets", "Secret", "secret", NAMESPACED, NONE, NONE),
    res("", "v1", "serviceaccounts", "ServiceAccount", "serviceaccount", NAMESPACED, &["sa"], NONE),
    res("", "v1", "services", "Service", "service", NAMESPACED, &["svc"], ALL),
    // admissionregistration.k8s.io/v1 (MutatingAdmissionPolicy is still alpha in 1.33).
    res("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", "MutatingWebhookConfiguration", "mutatingwebhookconfiguration", CLUSTER, NONE, API_EXTENSIONS),
    res("admissionregistration.k8s.io", "v1", "validatingadmissionpolicies", "ValidatingAdmissionPolicy", "validatingadmissionpolicy", CLUSTER, NONE, API_EXTENSIONS),
    res("admissionregistration.k8s.io", "v1", "validatingadmissionpolicybindings", "ValidatingAdmissionPolicyBinding", "validatingadmissionpolicybinding", CLUSTER, NONE, API_EXTENSIONS),
    res("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations", "ValidatingWebhookConfiguration", "validatingwebhookconfiguration", CLUSTER, NONE, API_EXTENSIONS),
    // apiextensions.k8s.io/v1, served by the apiextensions server in the same process.
    res("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", "customresourcedefinition", CLUSTER, &["crd", "crds"], API_EXTENSIONS),
    // apiregistration.k8s.io/v1, served by the aggregator in the same process.
    res("apiregistration.k8s.io", "v1", "apiservices", "APIService", "apiservice", CLUSTER, NONE, API_EXTENSIONS),
    // apps/v1
    res("apps", "v1", "controllerrevisions", "ControllerRevision", "controllerrevision", NAMESPACED, NONE, NONE),
    res("apps", "v1", "daemonsets", "DaemonSet", "daemonset", NAMESPACED, &["ds"], ALL),
    res("apps", "v1", "deployments", "Deployment", "deployment", NAMESPACED, &["deploy"], ALL),
    res("apps", "v1", "replicasets", "ReplicaSet", "replicaset", NAMESPACED, &["rs"], ALL),
    res("apps", "v1", "statefulsets", "StatefulSet", "statefulset", NAMESPACED, &["sts"], ALL),
    // autoscaling: v2 is preferred over v1.
    res("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", "horizontalpodautoscaler", NAMESPACED, &["hpa"], ALL),
    // batch/v1
    res("batch", "v1", "cronjobs", "CronJob", "cronjob", NAMESPACED, &["cj"], ALL),
    res("batch", "v1", "jobs", "Job", "job", NAMESPACED, NONE, ALL),
    // certificates.k8s.io/v1 (ClusterTrustBundle is beta, off by default, in 1.33).
    res("certificates.k8s.io", "v1", "certificatesigningrequests", "CertificateSigningRequest", "certificatesigningrequest", CLUSTER, &["csr"], NONE),
    // coordination.k8s.io/v1 (LeaseCandidate is beta, off by default, in 1.33).
    res("coordination.k8s.io", "v1", "leases", "Lease", "lease", NAMESPACED, NONE, NONE),
    // discovery.k8s.io/v1
    res("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", "endpointslice", NAMESPACED, NONE, NONE),
    // events.k8s.io/v1 shares the core events storage, short name included.
    res("events.k8s.io", "v1", "events", "Event", "event", NAMESPACED, &["ev"], NONE),
    // flowcontrol.apiserver.k8s.io/v1
    res("flowcontrol.apiserver.k8s.io", "v1", "flowschemas", "FlowSchema", "flowschema", CLUSTER, NONE, NONE),
    res("flowcontrol.apiserver.k8s.io", "v1", "prioritylevelconfigurations", "PriorityLevelConfiguration", "prioritylevelconfiguration", CLUSTER, NONE, NONE),
    // networking.k8s.io/v1; ServiceCIDR and IPAddress went GA in 1.33.
    res("networking.k8s.io", "v1", "ingressclasses", "IngressClass", "ingressclass", CLUSTER, NONE, NONE),
    res("networking.k8s.io", "v1", "ingresses", "Ingress", "ingress", NAMESPACED, &["ing"], NONE),
    res("networking.k8s.io", "v1", "ipaddresses", "IPAddress", "ipaddress", CLUSTER, &["ip"], NONE),
    res("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", "networkpolicy", NAMESPACED, &["netpol"], NONE),
    res("networking.k8s.io", "v1", "servicecidrs", "ServiceCIDR", "servicecidr", CLUSTER, NONE, NONE),
    // node.k8s.io/v1
    res("node.k8s.io", "v1", "runtimeclasses", "RuntimeClass", "runtimeclass", CLUSTER, NONE, NONE),
    // policy/v1
    res("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", "poddisruptionbudget", NAMESPACED, &["pdb"], NONE),
    // rbac.authorization.k8s.io/v1
    res("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", "clusterrolebinding", CLUSTER, NONE, NONE),
    res("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", "clusterrole", CLUSTER, NONE, NONE),
    res("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", "rolebinding", NAMESPACED, NONE, NONE),
    res("rbac.authorization.k8s.io", "v1", "roles", "Role", "role", NAMESPACED, NONE, NONE),
    // scheduling.k8s.io/v1
    res("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", "priorityclass", CLUSTER, &["pc"], NONE),
    // storage.k8s.io/v1 (VolumeAttributesClass is beta, off by default, in 1.33).
    res("storage.k8s.io", "v1", "csidrivers", "CSIDriver", "csidriver", CLUSTER, NONE, NONE),
    res("storage.k8s.io", "v1", "csinodes", "CSINode", "csinode", CLUSTER, NONE, NONE),
    res("storage.k8s.io", "v1", "csistoragecapacities", "CSIStorageCapacity", "csistoragecapacity", NAMESPACED, NONE, NONE),
    res("storage.k8s.io", "v1", "storageclasses", "StorageClass", "storageclass", CLUSTER, &["sc"], NONE),
    res("storage.k8s.io", "v1", "volumeattachments", "VolumeAttachment", "volumeattachment", CLUSTER, NONE, NONE),
];

/// Every built-in resource (not subresources).
pub fn all() -> &'static [BuiltinResource] {
    RESOURCES
}

/// The built-in resource `group`/`resource`, if any.
pub fn lookup(group: &str, resource: &str) -> Option<&'static BuiltinResource> {
    all()
        .iter()
        .find(|r| r.group == group && r.resource == resource)
}

/// The built-in resource of `group`/`kind`, if any.
pub fn lookup_kind(group: &str, kind: &str) -> Option<&'static BuiltinResource> {
    all().iter().find(|r| r.group == group && r.kind == kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    #[track_caller]
    fn get(group: &str, resource: &str) -> &'static BuiltinResource {
        lookup(group, resource).unwrap_or_else(|| panic!("{group}/{resource} missing"))
    }

    #[test]
    fn core_lookups() {
        let pods = get("", "pods");
        assert_eq!(
            (pods.version, pods.kind, pods.singular, pods.namespaced),
            ("v1", "Pod", "pod", true)
        );
        assert_eq!(pods.short_names, ["po"]);
        assert_eq!(pods.categories, ["all"]);

        let svc = get("", "services");
        assert_eq!(
            (svc.kind, svc.short_names, svc.categories),
            ("Service", &["svc"][..], &["all"][..])
        );

        let ns = get("", "namespaces");
        assert_eq!(
            (ns.kind, ns.namespaced, ns.short_names),
            ("Namespace", false, &["ns"][..])
        );
        assert!(ns.categories.is_empty());

        let ep = get("", "endpoints");
        assert_eq!(
            (ep.kind, ep.singular, ep.short_names),
            ("Endpoints", "endpoints", &["ep"][..])
        );

        assert_eq!(get("", "limitranges").short_names, ["limits"]);
        assert_eq!(get("", "resourcequotas").short_names, ["quota"]);
        assert_eq!(get("", "componentstatuses").short_names, ["cs"]);
        assert_eq!(get("", "replicationcontrollers").categories, ["all"]);
        assert!(get("", "secrets").short_names.is_empty());
        assert!(!get("", "persistentvolumes").namespaced);
        assert!(get("", "persistentvolumeclaims").namespaced);
    }

    #[test]
    fn group_lookups() {
        let deploy = get("apps", "deployments");
        assert_eq!(
            (
                deploy.version,
                deploy.kind,
                deploy.short_names,
                deploy.categories
            ),
            ("v1", "Deployment", &["deploy"][..], &["all"][..])
        );
        assert_eq!(get("apps", "statefulsets").short_names, ["sts"]);
        assert!(get("apps", "controllerrevisions").categories.is_empty());

        let hpa = get("autoscaling", "horizontalpodautoscalers");
        assert_eq!(
            (hpa.version, hpa.short_names, hpa.categories),
            ("v2", &["hpa"][..], &["all"][..])
        );

        let jobs = get("batch", "jobs");
        assert!(jobs.short_names.is_empty());
        assert_eq!(jobs.categories, ["all"]);
        assert_eq!(get("batch", "cronjobs").short_names, ["cj"]);

        let crd = get("apiextensions.k8s.io", "customresourcedefinitions");
        assert_eq!(
            (crd.namespaced, crd.short_names, crd.categories),
            (false, &["crd", "crds"][..], &["api-extensions"][..])
        );
        assert_eq!(
            get("apiregistration.k8s.io", "apiservices").categories,
            ["api-extensions"]
        );
        assert_eq!(
            get(
                "admissionregistration.k8s.io",
                "validatingwebhookconfigurations"
            )
            .categories,
            ["api-extensions"]
        );

        assert_eq!(get("networking.k8s.io", "ingresses").short_names, ["ing"]);
        assert_eq!(
            get("networking.k8s.io", "networkpolicies").short_names,
            ["netpol"]
        );
        assert_eq!(get("networking.k8s.io", "ipaddresses").short_names, ["ip"]);
        assert_eq!(get("policy", "poddisruptionbudgets").short_names, ["pdb"]);
        assert_eq!(
            get("scheduling.k8s.io", "priorityclasses").short_names,
            ["pc"]
        );
        assert_eq!(get("storage.k8s.io", "storageclasses").short_names, ["sc"]);
        assert_eq!(
            get("certificates.k8s.io", "certificatesigningrequests").short_names,
            ["csr"]
        );
        assert!(!get("rbac.authorization.k8s.io", "clusterroles").namespaced);
    }

    #[test]
    fn kind_lookups() {
        assert_eq!(
            lookup_kind("apps", "ReplicaSet").map(|r| r.resource),
            Some("replicasets")
        );
        assert_eq!(lookup_kind("", "Event").map(|r| r.resource), Some("events"));
        assert_eq!(
            lookup_kind("events.k8s.io", "Event").map(|r| r.group),
            Some("events.k8s.io")
        );
        assert_eq!(lookup_kind("", "Deployment"), None);
    }

    #[test]
    fn absent_in_1_33() {
        // Create-only resources and beta APIs that are off by default.
        assert_eq!(lookup("", "bindings"), None);
        assert_eq!(lookup("authentication.k8s.io", "tokenreviews"), None);
        assert_eq!(lookup("authorization.k8s.io", "subjectaccessreviews"), None);
        assert_eq!(lookup("resource.k8s.io", "resourceclaims"), None);
        assert_eq!(lookup("storage.k8s.io", "volumeattributesclasses"), None);
        assert!(all().iter().all(|r| r.version == "v1" || r.version == "v2"));
    }

    #[test]
    fn no_duplicate_group_resource_or_kind() {
        let mut seen = BTreeSet::new();
        let mut kinds = BTreeSet::new();
        for r in all() {
            assert!(
                seen.insert((r.group, r.resource)),
                "duplicate {}/{}",
                r.group,
                r.resource
            );
            assert!(
                kinds.insert((r.group, r.kind)),
                "duplicate kind {}/{}",
                r.group,
                r.kind
            );
        }
    }

    #[test]
    fn names_are_lowercase() {
        for r in all() {
            for name in [r.resource, r.singular].iter().chain(r.short_names) {
                assert!(
                    name.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
                    "{name}"
                );
            }
            // Apart from `endpoints`, the singular is the lowercased kind.
            if r.resource != "endpoints" {
                assert_eq!(r.singular, r.kind.to_ascii_lowercase());
            }
        }
    }

    #[test]
    fn short_names_unique() {
        // A short name may only recur for the very same resource served by two groups,
        // which discovery does for `ev` (events and events.events.k8s.io).
        let mut owners: BTreeMap<&str, Vec<&BuiltinResource>> = BTreeMap::new();
        for r in all() {
            for short in r.short_names {
                owners.entry(short).or_default().push(r);
            }
        }
        for (short, rs) in owners {
            if rs.len() > 1 {
                assert_eq!(short, "ev");
                assert!(
                    rs.iter()
                        .all(|r| r.resource == "events" && r.kind == "Event")
                );
                assert_eq!(rs.len(), 2);
            }
            // A short name never shadows another resource's plural or singular name.
            assert!(
                all()
                    .iter()
                    .all(|r| r.resource != short && r.singular != short),
                "{short}"
            );
        }
    }

    #[test]
    fn all_category() {
        let mut members: Vec<_> = all()
            .iter()
            .filter(|r| r.categories.contains(&"all"))
            .map(|r| r.resource)
            .collect();
        members.sort_unstable();
        assert_eq!(
            members,
            [
                "cronjobs",
                "daemonsets",
                "deployments",
                "horizontalpodautoscalers",
                "jobs",
                "pods",
                "replicasets",
                "replicationcontrollers",
                "services",
                "statefulsets",
            ]
        );
    }
}
