//! Strategic merge patch for built-in kinds, as much of it as `kubectl apply`, `label`,
//! `annotate`, `set image`, `scale` and `edit` send: lists of objects merge by their merge
//! key (containers by `name`, container ports by `containerPort`, volume mounts by
//! `mountPath`, ...), `finalizers` merge as a set, every other list is replaced; the
//! directives `$patch` (`delete`, `replace`, `merge`), `$retainKeys`,
//! `$setElementOrder/<field>` and `$deleteFromPrimitiveList/<field>` are honoured.
//!
//! The merge keys come from the `patchMergeKey`/`patchStrategy` tags of the Kubernetes Go
//! types, written down here for the fields that carry them (no OpenAPI schema is loaded).

use serde_json::{Map, Value};

/// How a list field merges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    /// Objects merged by these key fields (`patchStrategy:"merge"`, `patchMergeKey`).
    Keyed(&'static [&'static str]),
    /// Primitives merged as a set (`patchStrategy:"merge"` on a list of strings).
    Set,
    /// Replaced as a whole.
    Atomic,
}

const NAME: &[&str] = &["name"];

/// Where a kind nests its `PodSpec`.
fn pod_spec_root(kind: &str) -> &'static [&'static str] {
    match kind {
        "Pod" => &["spec"],
        "PodTemplate" => &["template", "spec"],
        "Deployment"
        | "ReplicaSet"
        | "StatefulSet"
        | "DaemonSet"
        | "Job"
        | "ReplicationController" => &["spec", "template", "spec"],
        "CronJob" => &["spec", "jobTemplate", "spec", "template", "spec"],
        _ => &[],
    }
}

fn pod_spec_list(rest: &[&str]) -> ListKind {
    const CONTAINERS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];
    match rest {
        [c] if CONTAINERS.contains(c) => ListKind::Keyed(NAME),
        [c, field] if CONTAINERS.contains(c) => match *field {
            "env" => ListKind::Keyed(NAME),
            "ports" => ListKind::Keyed(&["containerPort"]),
            "volumeMounts" => ListKind::Keyed(&["mountPath"]),
            "volumeDevices" => ListKind::Keyed(&["devicePath"]),
            _ => ListKind::Atomic,
        },
        ["volumes" | "imagePullSecrets" | "resourceClaims" | "schedulingGates"] => {
            ListKind::Keyed(NAME)
        }
        ["hostAliases"] => ListKind::Keyed(&["ip"]),
        ["topologySpreadConstraints"] => ListKind::Keyed(&["topologyKey"]),
        _ => ListKind::Atomic,
    }
}

/// How the list at `path` (object keys from the root, list positions left out) of a
/// `kind` object merges.
pub fn list_kind(kind: &str, path: &[&str]) -> ListKind {
    match path {
        [.., "metadata", "ownerReferences"] => return ListKind::Keyed(&["uid"]),
        [.., "metadata", "finalizers"] => return ListKind::Set,
        _ => {}
    }
    let root = pod_spec_root(kind);
    if !root.is_empty()
        && let Some(rest) = path.strip_prefix(root)
    {
        return pod_spec_list(rest);
    }
    match (kind, path) {
        ("Service", ["spec", "ports"]) => ListKind::Keyed(&["port"]),
        ("Node", ["status", "addresses"]) => ListKind::Keyed(&["type"]),
        ("Node", ["spec", "podCIDRs"]) => ListKind::Set,
        ("Pod", ["status", "podIPs" | "hostIPs"]) => ListKind::Keyed(&["ip"]),
        ("ServiceAccount", ["secrets"]) => ListKind::Keyed(NAME),
        (_, ["status", "conditions"]) => ListKind::Keyed(&["type"]),
        _ => ListKind::Atomic,
    }
}

const PATCH: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ORDER: &str = "$setElementOrder/";
const DELETE_FROM: &str = "$deleteFromPrimitiveList/";

fn is_directive(key: &str) -> bool {
    key == PATCH || key == RETAIN_KEYS || key.starts_with(SET_ORDER) || key.starts_with(DELETE_FROM)
}

struct Merger<'a> {
    kind: &'a str,
}

impl Merger<'_> {
    /// `original` with `patch` merged in; `None` when the patch deletes the map.
    fn map(
        &self,
        path: &mut Vec<String>,
        original: &Map<String, Value>,
        patch: &Map<String, Value>,
    ) -> Result<Option<Map<String, Value>>, String> {
        match patch.get(PATCH).map(|d| d.as_str()) {
            None | Some(Some("merge")) => {}
            Some(Some("delete")) => return Ok(None),
            Some(Some("replace")) => {
                let mut replaced = Map::new();
                for (k, v) in patch.iter().filter(|(k, _)| !is_directive(k)) {
                    if let Some(v) = self.fresh(path, k, v)? {
                        replaced.insert(k.clone(), v);
                    }
                }
                return Ok(Some(replaced));
            }
            Some(other) => return Err(format!("unknown patch type {other:?}")),
        }
        let mut result = original.clone();
        if let Some(retain) = patch.get(RETAIN_KEYS) {
            let keys = retain
                .as_array()
                .ok_or_else(|| format!("{RETAIN_KEYS} must be a list"))?;
            result.retain(|k, _| keys.iter().any(|r| r.as_str() == Some(k)));
        }
        for (k, pv) in patch {
            if is_directive(k) {
                continue;
            }
            if pv.is_null() {
                result.remove(k);
                continue;
            }
            path.push(k.clone());
            let merged = match (result.get(k), pv) {
                (Some(Value::Object(o)), Value::Object(p)) => {
                    self.map(path, o, p)?.map(Value::Object)
                }
                (None | Some(Value::Null), Value::Object(p)) => {
                    self.map(path, &Map::new(), p)?.map(Value::Object)
                }
                (current, Value::Array(p)) => {
                    let empty = Vec::new();
                    let original = current.and_then(Value::as_array).unwrap_or(&empty);
                    Some(Value::Array(self.list(path, original, p)?))
                }
                (_, other) => Some(other.clone()),
            };
            path.pop();
            match merged {
                Some(v) => {
                    result.insert(k.clone(), v);
                }
                None => {
                    result.remove(k);
                }
            }
        }
        for (k, values) in patch {
            if let Some(field) = k.strip_prefix(DELETE_FROM) {
                let values = values
                    .as_array()
                    .ok_or_else(|| format!("{k} must be a list"))?;
                if let Some(Value::Array(items)) = result.get_mut(field) {
                    items.retain(|i| !values.contains(i));
                }
            }
        }
        for (k, order) in patch {
            if let Some(field) = k.strip_prefix(SET_ORDER) {
                let order = order
                    .as_array()
                    .ok_or_else(|| format!("{k} must be a list"))?;
                path.push(field.to_owned());
                let kind = self.list_kind(path);
                path.pop();
                if let Some(Value::Array(items)) = result.get_mut(field) {
                    reorder(items, order, kind);
                }
            }
        }
        Ok(Some(result))
    }

    /// A value the original does not have, with directives processed against nothing.
    fn fresh(
        &self,
        path: &mut Vec<String>,
        key: &str,
        value: &Value,
    ) -> Result<Option<Value>, String> {
        path.push(key.to_owned());
        let out = match value {
            Value::Object(p) => self.map(path, &Map::new(), p)?.map(Value::Object),
            Value::Array(p) => Some(Value::Array(self.list(path, &[], p)?)),
            Value::Null => None,
            other => Some(other.clone()),
        };
        path.pop();
        Ok(out)
    }

    fn list_kind(&self, path: &[String]) -> ListKind {
        let parts: Vec<&str> = path.iter().map(String::as_str).collect();
        list_kind(self.kind, &parts)
    }

    fn list(
        &self,
        path: &mut Vec<String>,
        original: &[Value],
        patch: &[Value],
    ) -> Result<Vec<Value>, String> {
        match self.list_kind(path) {
            ListKind::Atomic => patch
                .iter()
                .map(|item| match item {
                    Value::Object(p) => Ok(Value::Object(
                        self.map(path, &Map::new(), p)?.unwrap_or_default(),
                    )),
                    other => Ok(other.clone()),
                })
                .collect(),
            ListKind::Set => {
                let mut result = original.to_vec();
                for item in patch {
                    if !result.contains(item) {
                        result.push(item.clone());
                    }
                }
                Ok(result)
            }
            ListKind::Keyed(keys) => {
                let replace = patch.iter().any(|i| {
                    i.get(PATCH).and_then(Value::as_str) == Some("replace")
                        && i.as_object().is_some_and(|m| m.len() == 1)
                });
                let mut result: Vec<Value> = if replace {
                    Vec::new()
                } else {
                    original.to_vec()
                };
                for item in patch {
                    let Value::Object(p) = item else {
                        return Err(format!("list items of {} must be objects", path.join(".")));
                    };
                    if p.len() == 1 && p.contains_key(PATCH) {
                        continue;
                    }
                    let same = |o: &Value| keys.iter().all(|k| o.get(*k) == p.get(*k));
                    if p.get(PATCH).and_then(Value::as_str) == Some("delete") {
                        result.retain(|o| !same(o));
                        continue;
                    }
                    match result.iter().position(same) {
                        Some(i) => {
                            let current = result[i].as_object().cloned().unwrap_or_default();
                            match self.map(path, &current, p)? {
                                Some(m) => result[i] = Value::Object(m),
                                None => {
                                    result.remove(i);
                                }
                            }
                        }
                        None => {
                            if let Some(m) = self.map(path, &Map::new(), p)? {
                                result.push(Value::Object(m));
                            }
                        }
                    }
                }
                Ok(result)
            }
        }
    }
}

/// Orders `items` as `order` lists them; items it does not list keep their relative
/// order after those it does.
fn reorder(items: &mut Vec<Value>, order: &[Value], kind: ListKind) {
    let position = |item: &Value| {
        order.iter().position(|o| match kind {
            ListKind::Keyed(keys) => keys.iter().all(|k| o.get(*k) == item.get(*k)),
            _ => o == item,
        })
    };
    let mut keyed: Vec<(usize, usize, Value)> = items
        .drain(..)
        .enumerate()
        .map(|(i, item)| (position(&item).unwrap_or(usize::MAX), i, item))
        .collect();
    keyed.sort_by_key(|(p, i, _)| (*p, *i));
    items.extend(keyed.into_iter().map(|(_, _, item)| item));
}

/// `original` (an object of `kind`) with the strategic merge patch `patch` applied.
pub fn strategic_merge(kind: &str, original: &Value, patch: &Value) -> Result<Value, String> {
    let Value::Object(p) = patch else {
        return Err("the patch is not a JSON object".to_owned());
    };
    let empty = Map::new();
    let o = original.as_object().unwrap_or(&empty);
    let merged = Merger { kind }.map(&mut Vec::new(), o, p)?;
    Ok(Value::Object(merged.unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web", "tier": "front"}, "finalizers": ["a"]},
            "spec": {
                "replicas": 2,
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
                "template": {"spec": {
                    "containers": [
                        {"name": "app", "image": "nginx:1.25", "ports": [{"containerPort": 80, "protocol": "TCP"}],
                         "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
                        {"name": "sidecar", "image": "envoy:1"},
                    ],
                    "volumes": [{"name": "data", "emptyDir": {}}],
                    "tolerations": [{"key": "x"}],
                }},
            },
        })
    }

    #[test]
    fn kubectl_apply_image_change() {
        // What kubectl apply sends after editing the image of one container.
        let patch = json!({
            "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
            "spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
                "containers": [{"image": "nginx:1.26", "name": "app"}],
            }}},
        });
        let out = strategic_merge("Deployment", &deployment(), &patch).expect("merges");
        let containers = &out["spec"]["template"]["spec"]["containers"];
        assert_eq!(containers[0]["image"], "nginx:1.26");
        assert_eq!(
            containers[0]["ports"][0]["containerPort"], 80,
            "untouched fields stay"
        );
        assert_eq!(containers[1]["image"], "envoy:1");
        assert_eq!(
            out["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"],
            "{}"
        );
    }

    #[test]
    fn directives() {
        let patch = json!({
            "metadata": {"labels": {"tier": null}, "$deleteFromPrimitiveList/finalizers": ["a"], "finalizers": ["b"]},
            "spec": {
                "strategy": {"$retainKeys": ["type"], "type": "Recreate"},
                "template": {"spec": {
                    "containers": [
                        {"name": "sidecar", "$patch": "delete"},
                        {"name": "app", "env": [{"name": "A", "$patch": "delete"}, {"name": "C", "value": "3"}]},
                        {"name": "new", "image": "busybox"},
                    ],
                    "$setElementOrder/containers": [{"name": "new"}, {"name": "app"}],
                    "volumes": [{"$patch": "replace"}, {"name": "cache", "emptyDir": {}}],
                    "tolerations": [{"key": "y"}],
                }},
            },
        });
        let out = strategic_merge("Deployment", &deployment(), &patch).expect("merges");
        assert_eq!(out["metadata"]["labels"], json!({"app": "web"}));
        assert_eq!(out["metadata"]["finalizers"], json!(["b"]));
        assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
        let spec = &out["spec"]["template"]["spec"];
        let names: Vec<&str> = spec["containers"]
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|c| c["name"].as_str())
            .collect();
        assert_eq!(names, ["new", "app"]);
        assert_eq!(
            spec["containers"][1]["env"],
            json!([{"name": "B", "value": "2"}, {"name": "C", "value": "3"}])
        );
        assert_eq!(spec["volumes"], json!([{"name": "cache", "emptyDir": {}}]));
        assert_eq!(spec["tolerations"], json!([{"key": "y"}]));
    }

    #[test]
    fn map_directives() {
        let original = json!({"spec": {"selector": {"a": "1", "b": "2"}, "gone": {"x": 1}}});
        let patch = json!({"spec": {"selector": {"$patch": "replace", "c": "3"}, "gone": {"$patch": "delete"}}});
        assert_eq!(
            strategic_merge("Service", &original, &patch).expect("merges"),
            json!({"spec": {"selector": {"c": "3"}}})
        );
    }

    #[test]
    fn service_ports_merge_by_port() {
        let original = json!({"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}});
        let patch = json!({"spec": {"ports": [{"port": 443, "targetPort": 8443}]}});
        let out = strategic_merge("Service", &original, &patch).expect("merges");
        assert_eq!(
            out["spec"]["ports"][1],
            json!({"port": 443, "name": "https", "targetPort": 8443})
        );
        assert_eq!(out["spec"]["ports"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn list_kinds() {
        assert_eq!(
            list_kind("Pod", &["spec", "containers"]),
            ListKind::Keyed(&["name"])
        );
        assert_eq!(
            list_kind(
                "CronJob",
                &[
                    "spec",
                    "jobTemplate",
                    "spec",
                    "template",
                    "spec",
                    "initContainers",
                    "volumeMounts"
                ]
            ),
            ListKind::Keyed(&["mountPath"])
        );
        assert_eq!(
            list_kind("ConfigMap", &["metadata", "finalizers"]),
            ListKind::Set
        );
        assert_eq!(
            list_kind("Pod", &["spec", "containers", "args"]),
            ListKind::Atomic
        );
    }
}
