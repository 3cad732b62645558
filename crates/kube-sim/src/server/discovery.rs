//! Discovery documents of the simulated cluster, built from the registry (built-ins plus
//! established CRDs): the legacy `APIVersions`, `APIGroupList`, `APIGroup` and
//! `APIResourceList` (subresources as `pods/status` entries), and the aggregated
//! `apidiscovery.k8s.io` `APIGroupDiscoveryList` (v2 and v2beta1) kubectl asks for first.

use std::net::SocketAddr;

use serde_json::{Map, Value, json};

use crate::registry::{Registry, ResourceDef};

/// Every verb the simulator serves on a resource.
const VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
const STATUS_VERBS: [&str; 3] = ["get", "patch", "update"];
const CREATE_ONLY: [&str; 1] = ["create"];

fn verbs(def: &ResourceDef) -> &'static [&'static str] {
    if def.create_only {
        &CREATE_ONLY
    } else {
        &VERBS
    }
}

fn group_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    }
}

fn cidrs(addr: SocketAddr) -> Value {
    json!([{"clientCIDR": "0.0.0.0/0", "serverAddress": addr.to_string()}])
}

/// `GET /api`
pub(crate) fn api_versions(addr: SocketAddr) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": cidrs(addr),
    })
}

fn group_json(group: &str, versions: &[String]) -> Value {
    let list: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": group_version(group, v), "version": v}))
        .collect();
    json!({
        "name": group,
        "versions": list,
        "preferredVersion": list.first().cloned().unwrap_or(Value::Null),
    })
}

/// `GET /apis`
pub(crate) fn api_group_list(registry: &Registry) -> Value {
    let groups: Vec<Value> = registry
        .groups()
        .iter()
        .filter(|(g, _)| !g.is_empty())
        .map(|(g, vs)| group_json(g, vs))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `GET /apis/<group>`
pub(crate) fn api_group(registry: &Registry, group: &str) -> Option<Value> {
    let groups = registry.groups();
    let versions = groups.get(group).filter(|_| !group.is_empty())?;
    let mut doc = group_json(group, versions);
    doc["kind"] = json!("APIGroup");
    doc["apiVersion"] = json!("v1");
    Some(doc)
}

fn put_names(entry: &mut Map<String, Value>, def: &ResourceDef) {
    if !def.short_names.is_empty() {
        entry.insert("shortNames".into(), json!(def.short_names));
    }
    if !def.categories.is_empty() {
        entry.insert("categories".into(), json!(def.categories));
    }
}

/// `GET /api/v1` or `/apis/<group>/<version>`
pub(crate) fn api_resource_list(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    let defs = registry.resources_in(group, version);
    if defs.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for def in &defs {
        let mut entry = Map::new();
        entry.insert("name".into(), json!(def.resource));
        entry.insert("singularName".into(), json!(def.singular));
        entry.insert("namespaced".into(), json!(def.namespaced));
        entry.insert("kind".into(), json!(def.kind));
        entry.insert("verbs".into(), json!(verbs(def)));
        put_names(&mut entry, def);
        resources.push(Value::Object(entry));
        if def.token_subresource {
            resources.push(json!({
                "name": format!("{}/token", def.resource),
                "singularName": "",
                "namespaced": def.namespaced,
                "group": "authentication.k8s.io",
                "version": "v1",
                "kind": "TokenRequest",
                "verbs": CREATE_ONLY,
            }));
        }
        if def.status_subresource {
            resources.push(json!({
                "name": format!("{}/status", def.resource),
                "singularName": "",
                "namespaced": def.namespaced,
                "kind": def.kind,
                "verbs": STATUS_VERBS,
            }));
        }
        if def.scale_subresource {
            resources.push(json!({
                "name": format!("{}/scale", def.resource),
                "singularName": "",
                "namespaced": def.namespaced,
                "group": "autoscaling",
                "version": "v1",
                "kind": "Scale",
                "verbs": STATUS_VERBS,
            }));
        }
    }
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version(group, version),
        "resources": resources,
    }))
}

fn aggregated_resource(def: &ResourceDef, version: &str) -> Value {
    let kind = json!({"group": def.group, "version": version, "kind": def.kind});
    let mut entry = Map::new();
    entry.insert("resource".into(), json!(def.resource));
    entry.insert("responseKind".into(), kind.clone());
    entry.insert(
        "scope".into(),
        json!(if def.namespaced {
            "Namespaced"
        } else {
            "Cluster"
        }),
    );
    entry.insert("singularResource".into(), json!(def.singular));
    entry.insert("verbs".into(), json!(verbs(def)));
    put_names(&mut entry, def);
    let mut subresources = Vec::new();
    if def.token_subresource {
        subresources.push(json!({
            "subresource": "token",
            "responseKind": {"group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest"},
            "verbs": CREATE_ONLY,
        }));
    }
    if def.status_subresource {
        subresources
            .push(json!({"subresource": "status", "responseKind": kind, "verbs": STATUS_VERBS}));
    }
    if def.scale_subresource {
        subresources.push(json!({
            "subresource": "scale",
            "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"},
            "verbs": STATUS_VERBS,
        }));
    }
    if !subresources.is_empty() {
        entry.insert("subresources".into(), Value::Array(subresources));
    }
    Value::Object(entry)
}

/// Aggregated discovery of the core group (`core`, for `/api`) or of every other group
/// (for `/apis`), as `apidiscovery.k8s.io/<version>`.
pub(crate) fn aggregated(registry: &Registry, core: bool, version: &str) -> Value {
    let items: Vec<Value> = registry
        .groups()
        .iter()
        .filter(|(g, _)| g.is_empty() == core)
        .map(|(g, versions)| {
            let versions: Vec<Value> = versions
                .iter()
                .map(|v| {
                    let resources: Vec<Value> = registry
                        .resources_in(g, v)
                        .iter()
                        .map(|d| aggregated_resource(d, v))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents() {
        let r = Registry::builtin();
        let core = api_resource_list(&r, "", "v1").expect("core");
        let names: Vec<&str> = core["resources"]
            .as_array()
            .expect("resources")
            .iter()
            .filter_map(|e| e["name"].as_str())
            .collect();
        assert!(names.contains(&"pods") && names.contains(&"pods/status"));
        assert!(!names.contains(&"configmaps/status"));
        let apps = api_group(&r, "apps").expect("apps");
        assert_eq!(apps["preferredVersion"]["groupVersion"], "apps/v1");
        assert!(api_group(&r, "").is_none());
        let agg = aggregated(&r, false, "v2");
        assert!(
            agg["items"]
                .as_array()
                .is_some_and(|i| i.iter().all(|g| g["metadata"]["name"] != ""))
        );
        let core = aggregated(&r, true, "v2beta1");
        assert_eq!(core["apiVersion"], "apidiscovery.k8s.io/v2beta1");
        let pods = core["items"][0]["versions"][0]["resources"]
            .as_array()
            .and_then(|rs| rs.iter().find(|x| x["resource"] == "pods"))
            .cloned()
            .expect("pods");
        assert_eq!(pods["shortNames"], json!(["po"]));
        assert_eq!(pods["subresources"][0]["subresource"], "status");
        assert!(
            api_group_list(&r)["groups"]
                .as_array()
                .is_some_and(|g| g.len() > 10)
        );
    }
}
