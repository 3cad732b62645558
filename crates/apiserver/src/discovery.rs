//! Discovery documents for the synced resources, in the legacy form (`APIVersions`,
//! `APIGroupList`, `APIGroup`, `APIResourceList`) and the aggregated form kubectl asks for
//! first (`apidiscovery.k8s.io` `APIGroupDiscoveryList`, v2 and v2beta1).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use pedia_core::ResourceType;
use pedia_storage::StoredResource;
use serde_json::{Value, json};

/// The verbs this read-only API serves on every resource.
pub const VERBS: [&str; 3] = ["get", "list", "watch"];

/// Discovery facts about one served resource.
#[derive(Debug, Clone)]
pub struct ServedResource {
    pub resource: ResourceType,
    pub singular: String,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
}

impl ServedResource {
    pub fn new(resource: ResourceType) -> Self {
        let builtin = kube_builtin::catalog::lookup(&resource.gvr.group, &resource.gvr.resource);
        Self {
            singular: builtin
                .map(|b| b.singular.to_owned())
                .unwrap_or_else(|| resource.kind.to_ascii_lowercase()),
            short_names: builtin
                .map(|b| b.short_names.iter().map(|s| (*s).to_owned()).collect())
                .unwrap_or_default(),
            categories: builtin
                .map(|b| b.categories.iter().map(|s| (*s).to_owned()).collect())
                .unwrap_or_default(),
            resource,
        }
    }
}

/// Served resources by group, then version (versions in preference order).
#[derive(Debug, Default)]
pub struct Served {
    groups: BTreeMap<String, Vec<(String, Vec<ServedResource>)>>,
}

/// Kubernetes' version priority: GA over beta over alpha, then higher numbers first.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    fn key(v: &str) -> (u8, u64, u64, String) {
        let Some(rest) = v.strip_prefix('v') else {
            return (0, 0, 0, v.to_owned());
        };
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let Ok(major) = digits.parse::<u64>() else {
            return (0, 0, 0, v.to_owned());
        };
        let tail = &rest[digits.len()..];
        let (stability, minor) = if tail.is_empty() {
            (3, 0)
        } else if let Some(n) = tail.strip_prefix("beta") {
            (2, n.parse().unwrap_or(0))
        } else if let Some(n) = tail.strip_prefix("alpha") {
            (1, n.parse().unwrap_or(0))
        } else {
            (0, 0)
        };
        (stability, major, minor, String::new())
    }
    let (ka, kb) = (key(a), key(b));
    kb.0.cmp(&ka.0)
        .then(kb.1.cmp(&ka.1))
        .then(kb.2.cmp(&ka.2))
        .then(ka.3.cmp(&kb.3))
}

impl Served {
    /// The resources stored for `cluster` (all clusters when `None`). The control plane's
    /// own objects (published PediaClusters) are only served in the all-clusters view.
    pub fn from_stored(stored: &[StoredResource], cluster: Option<&str>) -> Self {
        let mut groups: BTreeMap<String, BTreeMap<String, Vec<ServedResource>>> = BTreeMap::new();
        for s in stored {
            let in_scope = match cluster {
                Some(c) => {
                    c != pedia_core::cluster::CONTROL_CLUSTER && s.clusters.iter().any(|x| x == c)
                }
                None => true,
            };
            if !in_scope {
                continue;
            }
            let gvr = &s.resource.gvr;
            groups
                .entry(gvr.group.clone())
                .or_default()
                .entry(gvr.version.clone())
                .or_default()
                .push(ServedResource::new(s.resource.clone()));
        }
        let groups = groups
            .into_iter()
            .map(|(g, versions)| {
                let mut versions: Vec<(String, Vec<ServedResource>)> = versions
                    .into_iter()
                    .map(|(v, mut rs)| {
                        rs.sort_by(|a, b| a.resource.gvr.resource.cmp(&b.resource.gvr.resource));
                        (v, rs)
                    })
                    .collect();
                versions.sort_by(|a, b| compare_versions(&a.0, &b.0));
                (g, versions)
            })
            .collect();
        Self { groups }
    }

    /// Every served resource.
    pub fn resources(&self) -> impl Iterator<Item = &ServedResource> {
        self.groups
            .values()
            .flat_map(|versions| versions.iter().flat_map(|(_, rs)| rs.iter()))
    }

    /// The served resource `group/version/resource`.
    pub fn find(&self, group: &str, version: &str, resource: &str) -> Option<&ServedResource> {
        self.groups
            .get(group)?
            .iter()
            .find(|(v, _)| v == version)?
            .1
            .iter()
            .find(|r| r.resource.gvr.resource == resource)
    }

    fn versions(&self, group: &str) -> Option<&Vec<(String, Vec<ServedResource>)>> {
        self.groups.get(group)
    }

    fn group_version(group: &str, version: &str) -> String {
        if group.is_empty() {
            version.to_owned()
        } else {
            format!("{group}/{version}")
        }
    }

    /// `GET .../api`
    pub fn api_versions(&self) -> Value {
        let versions: Vec<&str> = self
            .versions("")
            .map(|vs| vs.iter().map(|(v, _)| v.as_str()).collect())
            .unwrap_or_default();
        json!({
            "kind": "APIVersions",
            "versions": versions,
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}],
        })
    }

    fn group_json(group: &str, versions: &[(String, Vec<ServedResource>)]) -> Value {
        let list: Vec<Value> = versions
            .iter()
            .map(|(v, _)| json!({"groupVersion": Self::group_version(group, v), "version": v}))
            .collect();
        json!({
            "name": group,
            "versions": list,
            "preferredVersion": list.first().cloned().unwrap_or(Value::Null),
        })
    }

    /// `GET .../apis`
    pub fn api_group_list(&self) -> Value {
        let groups: Vec<Value> = self
            .groups
            .iter()
            .filter(|(g, _)| !g.is_empty())
            .map(|(g, vs)| Self::group_json(g, vs))
            .collect();
        json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
    }

    /// `GET .../apis/<group>`
    pub fn api_group(&self, group: &str) -> Option<Value> {
        let versions = self.versions(group).filter(|_| !group.is_empty())?;
        let mut doc = Self::group_json(group, versions);
        doc["kind"] = json!("APIGroup");
        doc["apiVersion"] = json!("v1");
        Some(doc)
    }

    /// `GET .../api/v1` or `.../apis/<group>/<version>`
    pub fn api_resource_list(&self, group: &str, version: &str) -> Option<Value> {
        let (_, resources) = self.versions(group)?.iter().find(|(v, _)| v == version)?;
        let resources: Vec<Value> = resources
            .iter()
            .map(|r| {
                json!({
                    "name": r.resource.gvr.resource,
                    "singularName": r.singular,
                    "namespaced": r.resource.namespaced,
                    "kind": r.resource.kind,
                    "verbs": VERBS,
                    "shortNames": r.short_names,
                    "categories": r.categories,
                })
            })
            .collect();
        Some(json!({
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": Self::group_version(group, version),
            "resources": resources,
        }))
    }

    /// Aggregated discovery of the core group (`core == true`, for `.../api`) or of every
    /// other group (for `.../apis`).
    pub fn aggregated(&self, core: bool, version: &str) -> Value {
        let items: Vec<Value> = self
            .groups
            .iter()
            .filter(|(g, _)| g.is_empty() == core)
            .map(|(g, versions)| {
                let versions: Vec<Value> = versions
                    .iter()
                    .map(|(v, resources)| {
                        let resources: Vec<Value> = resources
                            .iter()
                            .map(|r| {
                                json!({
                                    "resource": r.resource.gvr.resource,
                                    "responseKind": {"group": g, "version": v, "kind": r.resource.kind},
                                    "scope": if r.resource.namespaced { "Namespaced" } else { "Cluster" },
                                    "singularResource": r.singular,
                                    "verbs": VERBS,
                                    "shortNames": r.short_names,
                                    "categories": r.categories,
                                })
                            })
                            .collect();
                        json!({"version": v, "resources": resources, "freshness": "Current"})
                    })
                    .collect();
                json!({"metadata": {"name": g, "creationTimestamp": null}, "versions": versions})
            })
            .collect();
        json!({
            "kind": "APIGroupDiscoveryList",
            "apiVersion": format!("apidiscovery.k8s.io/{version}"),
            "metadata": {},
            "items": items,
        })
    }
}

#[cfg(test)]
mod tests {
    use pedia_core::GroupVersionResource;

    use super::*;

    fn stored(
        group: &str,
        version: &str,
        resource: &str,
        kind: &str,
        clusters: &[&str],
    ) -> StoredResource {
        StoredResource {
            resource: ResourceType::new(
                GroupVersionResource::new(group, version, resource),
                kind,
                true,
            ),
            clusters: clusters.iter().map(|c| (*c).to_owned()).collect(),
        }
    }

    #[test]
    fn version_priority_follows_kubernetes() {
        let mut v = vec!["v1beta1", "v1", "v2alpha1", "v2", "v1beta2", "foo"];
        v.sort_by(|a, b| compare_versions(a, b));
        assert_eq!(v, vec!["v2", "v1", "v1beta2", "v1beta1", "v2alpha1", "foo"]);
    }

    #[test]
    fn documents_list_synced_resources() {
        let all = vec![
            stored("", "v1", "pods", "Pod", &["c1", "c2"]),
            stored("apps", "v1", "deployments", "Deployment", &["c1"]),
            stored("example.com", "v1", "widgets", "Widget", &["c2"]),
        ];
        let served = Served::from_stored(&all, None);
        assert_eq!(served.api_versions()["versions"], json!(["v1"]));
        let groups = served.api_group_list();
        let names: Vec<&str> = groups["groups"]
            .as_array()
            .expect("groups")
            .iter()
            .filter_map(|g| g["name"].as_str())
            .collect();
        assert_eq!(names, vec!["apps", "example.com"]);
        let apps = served.api_resource_list("apps", "v1").expect("apps/v1");
        assert_eq!(apps["resources"][0]["shortNames"], json!(["deploy"]));
        let widgets = served
            .api_resource_list("example.com", "v1")
            .expect("widgets");
        assert_eq!(widgets["resources"][0]["singularName"], "widget");
        assert!(served.api_resource_list("apps", "v2").is_none());

        let only_c1 = Served::from_stored(&all, Some("c1"));
        assert!(only_c1.api_group("example.com").is_none());
        let agg = only_c1.aggregated(false, "v2");
        assert_eq!(agg["items"][0]["metadata"]["name"], "apps");
        assert_eq!(
            agg["items"][0]["versions"][0]["resources"][0]["scope"],
            "Namespaced"
        );
        assert_eq!(
            only_c1.aggregated(true, "v2")["items"][0]["metadata"]["name"],
            ""
        );
    }
}
