//! Turning a cluster's `syncResources` (groups, optional versions, resources with `*`
//! wildcards, `syncAllCustomResources`) into the concrete resources to sync, by discovery:
//! each resource is synced at one version — the first listed version the cluster serves,
//! or the cluster's preferred version. Core `secrets` are synced only when named: no
//! wildcard picks them up, so a `*` never copies credentials into the search index.

use std::collections::{BTreeMap, BTreeSet};

use kube::discovery::{ApiCapabilities, ApiResource, Discovery, Scope, verbs};
use pedia_core::cluster::ClusterGroupResources;
use pedia_core::{GroupVersionResource, ResourceType};

/// One resource to sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncTarget {
    pub api: ApiResource,
    pub namespaced: bool,
}

impl SyncTarget {
    pub fn resource_type(&self) -> ResourceType {
        ResourceType::new(
            GroupVersionResource::new(
                self.api.group.clone(),
                self.api.version.clone(),
                self.api.plural.clone(),
            ),
            self.api.kind.clone(),
            self.namespaced,
        )
    }

    /// `resource.group` (or `resource` for the core group), for logs and metrics.
    pub fn label(&self) -> String {
        if self.api.group.is_empty() {
            self.api.plural.clone()
        } else {
            format!("{}.{}", self.api.plural, self.api.group)
        }
    }
}

/// A `syncResources` entry that names nothing the cluster serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    pub group: String,
    pub resource: String,
    pub reason: String,
}

/// What discovery says a cluster serves: group -> version -> resources (listable and
/// watchable ones only), and each group's preferred version.
#[derive(Debug, Default, Clone)]
pub struct Served {
    groups: BTreeMap<String, (String, BTreeMap<String, Vec<SyncTarget>>)>,
}

fn syncable(caps: &ApiCapabilities) -> bool {
    caps.supports_operation(verbs::LIST) && caps.supports_operation(verbs::WATCH)
}

impl Served {
    /// Runs discovery against a cluster.
    pub async fn discover(client: kube::Client) -> Result<Self, kube::Error> {
        let discovery = Discovery::new(client).run().await?;
        let mut groups = BTreeMap::new();
        for group in discovery.groups() {
            let mut versions = BTreeMap::new();
            for version in group.versions() {
                let resources = group
                    .versioned_resources(version)
                    .into_iter()
                    .filter(|(ar, caps)| syncable(caps) && !ar.plural.contains('/'))
                    .map(|(api, caps)| SyncTarget {
                        api,
                        namespaced: matches!(caps.scope, Scope::Namespaced),
                    })
                    .collect();
                versions.insert(version.to_owned(), resources);
            }
            let preferred = group.preferred_version_or_latest().to_owned();
            groups.insert(group.name().to_owned(), (preferred, versions));
        }
        Ok(Self { groups })
    }

    /// Builds a view from explicit data (tests).
    pub fn from_parts(
        groups: BTreeMap<String, (String, BTreeMap<String, Vec<SyncTarget>>)>,
    ) -> Self {
        Self { groups }
    }

    fn pick(&self, group: &str, resource: &str, versions: &[String]) -> Result<SyncTarget, String> {
        let Some((preferred, by_version)) = self.groups.get(group) else {
            return Err(format!("group {group:?} is not served"));
        };
        let candidates: Vec<&String> = if versions.is_empty() {
            std::iter::once(preferred)
                .chain(by_version.keys().filter(|v| *v != preferred))
                .collect()
        } else {
            versions.iter().collect()
        };
        candidates
            .into_iter()
            .find_map(|v| by_version.get(v)?.iter().find(|t| t.api.plural == resource).cloned())
            .ok_or_else(|| {
                if versions.is_empty() {
                    format!("resource {resource:?} is not served in group {group:?}")
                } else {
                    format!("resource {resource:?} is not served in versions {versions:?} of group {group:?}")
                }
            })
    }

    fn resources_of(&self, group: &str) -> BTreeSet<String> {
        self.groups
            .get(group)
            .map(|(_, vs)| {
                vs.values()
                    .flatten()
                    .map(|t| t.api.plural.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Resolves `sync` (plus all custom resources when `all_custom`) to resources to sync.
    /// `is_custom_group` tells custom (CRD) groups from built-in ones.
    pub fn resolve(
        &self,
        sync: &[ClusterGroupResources],
        all_custom: bool,
        is_custom_group: impl Fn(&str) -> bool,
    ) -> (Vec<SyncTarget>, Vec<Unresolved>) {
        let mut targets: BTreeMap<(String, String), SyncTarget> = BTreeMap::new();
        let mut unresolved = Vec::new();
        let mut want =
            |group: &str,
             resource: &str,
             versions: &[String],
             targets: &mut BTreeMap<(String, String), SyncTarget>| {
                match self.pick(group, resource, versions) {
                    Ok(t) => {
                        targets
                            .entry((group.to_owned(), resource.to_owned()))
                            .or_insert(t);
                    }
                    Err(reason) => unresolved.push(Unresolved {
                        group: group.to_owned(),
                        resource: resource.to_owned(),
                        reason,
                    }),
                }
            };
        for entry in sync {
            let groups: Vec<String> = if entry.group == "*" {
                self.groups.keys().cloned().collect()
            } else {
                vec![entry.group.clone()]
            };
            for group in groups {
                for resource in &entry.resources {
                    if resource == "*" {
                        for r in self.resources_of(&group) {
                            if !needs_explicit_listing(&group, &r) {
                                want(&group, &r, &entry.versions, &mut targets);
                            }
                        }
                    } else {
                        want(&group, resource, &entry.versions, &mut targets);
                    }
                }
            }
        }
        if all_custom {
            let custom: Vec<String> = self
                .groups
                .keys()
                .filter(|g| is_custom_group(g))
                .cloned()
                .collect();
            for group in custom {
                for r in self.resources_of(&group) {
                    want(&group, &r, &[], &mut targets);
                }
            }
        }
        (targets.into_values().collect(), unresolved)
    }
}

/// Resources a wildcard never selects: they must be listed by name to be synced.
fn needs_explicit_listing(group: &str, resource: &str) -> bool {
    group.is_empty() && resource == "secrets"
}

/// Whether a group is one of Kubernetes' own (everything else counts as custom).
pub fn is_builtin_group(group: &str) -> bool {
    kube_builtin_groups().contains(&group)
}

fn kube_builtin_groups() -> &'static [&'static str] {
    &[
        "",
        "admissionregistration.k8s.io",
        "apiextensions.k8s.io",
        "apiregistration.k8s.io",
        "apps",
        "authentication.k8s.io",
        "authorization.k8s.io",
        "autoscaling",
        "batch",
        "certificates.k8s.io",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "events.k8s.io",
        "flowcontrol.apiserver.k8s.io",
        "internal.apiserver.k8s.io",
        "metrics.k8s.io",
        "networking.k8s.io",
        "node.k8s.io",
        "policy",
        "rbac.authorization.k8s.io",
        "resource.k8s.io",
        "scheduling.k8s.io",
        "storage.k8s.io",
        "storagemigration.k8s.io",
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(group: &str, version: &str, plural: &str, kind: &str) -> SyncTarget {
        SyncTarget {
            api: ApiResource {
                group: group.into(),
                version: version.into(),
                api_version: if group.is_empty() {
                    version.into()
                } else {
                    format!("{group}/{version}")
                },
                kind: kind.into(),
                plural: plural.into(),
            },
            namespaced: true,
        }
    }

    fn served() -> Served {
        let mut groups = BTreeMap::new();
        groups.insert(
            "".to_owned(),
            (
                "v1".to_owned(),
                BTreeMap::from([(
                    "v1".to_owned(),
                    vec![
                        target("", "v1", "pods", "Pod"),
                        target("", "v1", "configmaps", "ConfigMap"),
                        target("", "v1", "secrets", "Secret"),
                    ],
                )]),
            ),
        );
        groups.insert(
            "apps".to_owned(),
            (
                "v1".to_owned(),
                BTreeMap::from([(
                    "v1".to_owned(),
                    vec![
                        target("apps", "v1", "deployments", "Deployment"),
                        target("apps", "v1", "replicasets", "ReplicaSet"),
                    ],
                )]),
            ),
        );
        groups.insert(
            "autoscaling".to_owned(),
            (
                "v2".to_owned(),
                BTreeMap::from([
                    (
                        "v1".to_owned(),
                        vec![target(
                            "autoscaling",
                            "v1",
                            "horizontalpodautoscalers",
                            "HorizontalPodAutoscaler",
                        )],
                    ),
                    (
                        "v2".to_owned(),
                        vec![target(
                            "autoscaling",
                            "v2",
                            "horizontalpodautoscalers",
                            "HorizontalPodAutoscaler",
                        )],
                    ),
                ]),
            ),
        );
        groups.insert(
            "example.com".to_owned(),
            (
                "v1".to_owned(),
                BTreeMap::from([(
                    "v1".to_owned(),
                    vec![target("example.com", "v1", "widgets", "Widget")],
                )]),
            ),
        );
        Served::from_parts(groups)
    }

    fn gr(group: &str, resources: &[&str], versions: &[&str]) -> ClusterGroupResources {
        ClusterGroupResources {
            group: group.into(),
            versions: versions.iter().map(|v| (*v).to_owned()).collect(),
            resources: resources.iter().map(|r| (*r).to_owned()).collect(),
            events_involved_resources: vec![],
        }
    }

    fn labels(ts: &[SyncTarget]) -> Vec<String> {
        ts.iter()
            .map(|t| format!("{}@{}", t.label(), t.api.version))
            .collect()
    }

    #[test]
    fn wildcards_versions_and_custom_resources() {
        let s = served();
        let (t, u) = s.resolve(
            &[gr("apps", &["*"], &[]), gr("", &["pods"], &[])],
            false,
            |g| !is_builtin_group(g),
        );
        assert_eq!(
            labels(&t),
            vec!["pods@v1", "deployments.apps@v1", "replicasets.apps@v1"]
        );
        assert!(u.is_empty());

        let (t, _) = s.resolve(
            &[gr("autoscaling", &["horizontalpodautoscalers"], &[])],
            false,
            |_| false,
        );
        assert_eq!(
            labels(&t),
            vec!["horizontalpodautoscalers.autoscaling@v2"],
            "preferred version"
        );
        let (t, _) = s.resolve(
            &[gr("autoscaling", &["horizontalpodautoscalers"], &["v1"])],
            false,
            |_| false,
        );
        assert_eq!(
            labels(&t),
            vec!["horizontalpodautoscalers.autoscaling@v1"],
            "listed version"
        );

        let (t, _) = s.resolve(&[], true, |g| !is_builtin_group(g));
        assert_eq!(labels(&t), vec!["widgets.example.com@v1"]);

        let (t, _) = s.resolve(&[gr("*", &["*"], &[])], false, |_| false);
        assert_eq!(t.len(), 6, "every resource but secrets: {:?}", labels(&t));
        assert!(!labels(&t).iter().any(|l| l.starts_with("secrets")));
        let (t, _) = s.resolve(&[gr("", &["*"], &[])], false, |_| false);
        assert_eq!(labels(&t), vec!["configmaps@v1", "pods@v1"]);
        let (t, _) = s.resolve(&[gr("", &["secrets"], &[])], false, |_| false);
        assert_eq!(labels(&t), vec!["secrets@v1"], "named explicitly");

        let (t, u) = s.resolve(
            &[gr("apps", &["nothings"], &[]), gr("nope.io", &["x"], &[])],
            false,
            |_| false,
        );
        assert!(t.is_empty());
        assert_eq!(u.len(), 2);
        assert!(u[0].reason.contains("not served"), "{:?}", u[0]);
    }
}
