//! `metadata.managedFields` as kube-apiserver records them for non-apply writes: one
//! `Update` entry per (manager, subresource) with the `FieldsV1` set of fields that manager
//! last set. A write gives its manager the fields it changed and takes them from every
//! other manager; fields that disappear leave every set.
//!
//! Without OpenAPI schemas the shape is an approximation: list items are keyed by the
//! strategic-merge keys the simulator knows for built-ins (`k:{"name":"app"}`), primitive
//! sets are `v:` entries, every other list is atomic, and `.` marks maps below the top
//! level, as real servers mark most of them.

use serde_json::{Map, Value, json};

use crate::patch::strategic::{ListKind, list_kind};

/// Who writes, as recorded in a managedFields entry.
#[derive(Debug, Clone)]
pub(crate) struct Owner<'a> {
    pub manager: &'a str,
    /// `Some("status")` for writes through the status subresource.
    pub subresource: Option<&'a str>,
    pub api_version: &'a str,
    pub time: &'a str,
    /// The object's kind, for list keys of built-ins.
    pub kind: &'a str,
    /// Custom resources have no strategic-merge keys: their lists are atomic.
    pub custom: bool,
}

/// Metadata fields the server owns; never part of a field set.
const SYSTEM_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
    "generateName",
];

fn skipped(path: &[String], key: &str) -> bool {
    match path {
        [] => key == "apiVersion" || key == "kind",
        [m] if m == "metadata" => SYSTEM_METADATA.contains(&key),
        _ => false,
    }
}

/// Maps get `.` below the top level, except the plain structs every object nests.
fn wants_dot(path: &[String]) -> bool {
    path.len() > 1
        && !matches!(
            path.last().map(String::as_str),
            Some("metadata" | "spec" | "template" | "status" | "jobTemplate")
        )
}

struct Ctx<'a> {
    kind: &'a str,
    custom: bool,
}

impl Ctx<'_> {
    fn list(&self, path: &[String]) -> ListKind {
        if self.custom {
            return ListKind::Atomic;
        }
        let parts: Vec<&str> = path.iter().map(String::as_str).collect();
        list_kind(self.kind, &parts)
    }
}

/// `k:{"name":"app"}` for an item of a keyed list.
fn item_key(item: &Value, keys: &[&str]) -> Option<String> {
    let mut key = Map::new();
    for k in keys {
        key.insert((*k).to_owned(), item.get(*k)?.clone());
    }
    Some(format!("k:{}", Value::Object(key)))
}

/// The field set of everything in `value` (an object).
fn fields_of(ctx: &Ctx<'_>, value: &Value, path: &mut Vec<String>) -> Map<String, Value> {
    let mut set = Map::new();
    let Value::Object(map) = value else {
        return set;
    };
    for (k, child) in map {
        if skipped(path, k) {
            continue;
        }
        path.push(k.clone());
        set.insert(format!("f:{k}"), node_of(ctx, child, path));
        path.pop();
    }
    set
}

fn node_of(ctx: &Ctx<'_>, value: &Value, path: &mut Vec<String>) -> Value {
    match value {
        Value::Object(m) if !m.is_empty() => {
            let mut inner = fields_of(ctx, value, path);
            if wants_dot(path) {
                inner.insert(".".into(), json!({}));
            }
            Value::Object(inner)
        }
        Value::Array(items) if !items.is_empty() => match ctx.list(path) {
            ListKind::Keyed(keys) => {
                let mut inner = Map::new();
                for item in items {
                    if let Some(key) = item_key(item, keys) {
                        let mut node = fields_of(ctx, item, path);
                        node.insert(".".into(), json!({}));
                        inner.insert(key, Value::Object(node));
                    }
                }
                Value::Object(inner)
            }
            ListKind::Set => Value::Object(
                items
                    .iter()
                    .map(|i| (format!("v:{i}"), json!({})))
                    .collect(),
            ),
            ListKind::Atomic => json!({}),
        },
        _ => json!({}),
    }
}

/// The fields of `new` whose value differs from `old` (added or changed).
fn changed(
    ctx: &Ctx<'_>,
    old: Option<&Value>,
    new: &Value,
    path: &mut Vec<String>,
) -> Map<String, Value> {
    let mut set = Map::new();
    let Value::Object(map) = new else {
        return set;
    };
    for (k, nv) in map {
        if skipped(path, k) {
            continue;
        }
        let ov = old.and_then(|o| o.get(k));
        if ov == Some(nv) {
            continue;
        }
        path.push(k.clone());
        let node = match (ov, nv) {
            (Some(ov @ Value::Object(_)), Value::Object(m)) if !m.is_empty() => {
                let mut inner = changed(ctx, Some(ov), nv, path);
                if inner.is_empty() {
                    // Only server-owned fields differ below: nothing for the writer.
                    path.pop();
                    continue;
                }
                if wants_dot(path) && ov.as_object().is_some_and(Map::is_empty) {
                    inner.insert(".".into(), json!({}));
                }
                Value::Object(inner)
            }
            (Some(Value::Array(old_items)), Value::Array(items)) => match ctx.list(path) {
                ListKind::Keyed(keys) => {
                    let mut inner = Map::new();
                    for item in items {
                        let Some(key) = item_key(item, keys) else {
                            continue;
                        };
                        let before = old_items
                            .iter()
                            .find(|o| item_key(o, keys).as_ref() == Some(&key));
                        if before == Some(item) {
                            continue;
                        }
                        let mut node = changed(ctx, before, item, path);
                        if before.is_none() {
                            node.insert(".".into(), json!({}));
                        }
                        inner.insert(key, Value::Object(node));
                    }
                    if inner.is_empty() {
                        // Items removed only: `removed` accounts for them.
                        path.pop();
                        continue;
                    }
                    Value::Object(inner)
                }
                _ => node_of(ctx, nv, path),
            },
            _ => node_of(ctx, nv, path),
        };
        path.pop();
        set.insert(format!("f:{k}"), node);
    }
    set
}

/// Removes from `set` every field of `remove`; a leaf in `remove` takes the whole subtree.
fn subtract(set: &mut Map<String, Value>, remove: &Map<String, Value>) {
    for (k, r) in remove {
        let Some(Value::Object(r)) = Some(r) else {
            continue;
        };
        if r.is_empty() || k == "." {
            set.remove(k);
            continue;
        }
        if let Some(Value::Object(child)) = set.get_mut(k) {
            subtract(child, r);
            if child.keys().all(|c| c == ".") {
                set.remove(k);
            }
        }
    }
}

fn union(set: &mut Map<String, Value>, add: &Map<String, Value>) {
    for (k, a) in add {
        match (set.get_mut(k), a) {
            (Some(Value::Object(existing)), Value::Object(a)) if !a.is_empty() => {
                union(existing, a)
            }
            (Some(_), Value::Object(a)) if a.is_empty() => {}
            _ => {
                set.insert(k.clone(), a.clone());
            }
        }
    }
}

/// The fields of `old` that `new` no longer has.
fn removed(old: &Map<String, Value>, new: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, o) in old {
        match (new.get(k), o) {
            (None, _) => {
                out.insert(k.clone(), json!({}));
            }
            (Some(Value::Object(n)), Value::Object(o)) if !o.is_empty() => {
                let inner = removed(o, n);
                if !inner.is_empty() {
                    out.insert(k.clone(), Value::Object(inner));
                }
            }
            _ => {}
        }
    }
    out
}

fn entry(owner: &Owner<'_>, fields: Map<String, Value>) -> Value {
    let mut e = Map::new();
    e.insert("manager".into(), json!(owner.manager));
    e.insert("operation".into(), json!("Update"));
    e.insert("apiVersion".into(), json!(owner.api_version));
    e.insert("time".into(), json!(owner.time));
    e.insert("fieldsType".into(), json!("FieldsV1"));
    e.insert("fieldsV1".into(), Value::Object(fields));
    if let Some(sub) = owner.subresource {
        e.insert("subresource".into(), json!(sub));
    }
    Value::Object(e)
}

fn same_owner(e: &Value, owner: &Owner<'_>) -> bool {
    e.get("manager").and_then(Value::as_str) == Some(owner.manager)
        && e.get("operation").and_then(Value::as_str) == Some("Update")
        && e.get("subresource").and_then(Value::as_str) == owner.subresource
}

fn set_entries(obj: &mut Value, entries: Vec<Value>) {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        if entries.is_empty() {
            meta.remove("managedFields");
        } else {
            meta.insert("managedFields".into(), Value::Array(entries));
        }
    }
}

/// Records the creation of `obj` by `owner`: it owns every field it set.
pub(crate) fn on_create(obj: &mut Value, owner: &Owner<'_>) {
    let ctx = Ctx {
        kind: owner.kind,
        custom: owner.custom,
    };
    let fields = fields_of(&ctx, obj, &mut Vec::new());
    let entries = if fields.is_empty() {
        Vec::new()
    } else {
        vec![entry(owner, fields)]
    };
    set_entries(obj, entries);
}

/// Records an update from `old` to `new` by `owner`. `new` carries the entries it had
/// before the write (the caller keeps the old ones: clients cannot rewrite them).
pub(crate) fn on_update(old: &Value, new: &mut Value, owner: &Owner<'_>) {
    let ctx = Ctx {
        kind: owner.kind,
        custom: owner.custom,
    };
    let changed = changed(&ctx, Some(old), new, &mut Vec::new());
    let before = fields_of(&ctx, old, &mut Vec::new());
    let after = fields_of(&ctx, new, &mut Vec::new());
    let gone = removed(&before, &after);
    if changed.is_empty() && gone.is_empty() {
        return;
    }
    let mut entries: Vec<Value> = old
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut found = false;
    for e in &mut entries {
        let own = same_owner(e, owner);
        let Some(Value::Object(set)) = e.get_mut("fieldsV1") else {
            continue;
        };
        subtract(set, &gone);
        if own {
            union(set, &changed);
            found = true;
        } else {
            subtract(set, &changed);
        }
        if own && let Some(m) = e.as_object_mut() {
            m.insert("time".into(), json!(owner.time));
            m.insert("apiVersion".into(), json!(owner.api_version));
        }
    }
    if !found && !changed.is_empty() {
        entries.push(entry(owner, changed));
    }
    entries.retain(|e| {
        e.get("fieldsV1")
            .and_then(Value::as_object)
            .is_some_and(|s| !s.is_empty())
    });
    set_entries(new, entries);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner<'a>(manager: &'a str, sub: Option<&'a str>) -> Owner<'a> {
        Owner {
            manager,
            subresource: sub,
            api_version: "apps/v1",
            time: "2025-01-01T00:00:00Z",
            kind: "Deployment",
            custom: false,
        }
    }

    fn deployment(image: &str) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "uid": "u", "labels": {"app": "web"}},
            "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "app", "image": image}]}}},
        })
    }

    #[test]
    fn create_owns_everything_but_system_fields() {
        let mut d = deployment("nginx:1");
        on_create(&mut d, &owner("kubectl-client-side-apply", None));
        let entry = &d["metadata"]["managedFields"][0];
        assert_eq!(entry["manager"], "kubectl-client-side-apply");
        assert_eq!(entry["operation"], "Update");
        let f = &entry["fieldsV1"];
        assert_eq!(f["f:metadata"], json!({"f:labels": {".": {}, "f:app": {}}}));
        assert!(f["f:metadata"].get("f:name").is_none());
        assert_eq!(
            f["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"app\"}"],
            json!({".": {}, "f:image": {}, "f:name": {}})
        );
    }

    #[test]
    fn update_moves_changed_fields_to_the_writer() {
        let mut old = deployment("nginx:1");
        on_create(&mut old, &owner("kubectl", None));
        let mut new = deployment("nginx:2");
        new["metadata"]["managedFields"] = old["metadata"]["managedFields"].clone();
        on_update(&old, &mut new, &owner("kube-sim", None));
        let entries = new["metadata"]["managedFields"]
            .as_array()
            .expect("entries");
        assert_eq!(entries.len(), 2);
        let first = &entries[0]["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"app\"}"];
        assert!(first.get("f:image").is_none(), "{first}");
        assert_eq!(
            entries[1]["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"app\"}"],
            json!({"f:image": {}})
        );
    }

    #[test]
    fn removed_fields_leave_every_set() {
        let mut old = deployment("nginx:1");
        on_create(&mut old, &owner("kubectl", None));
        let mut new = old.clone();
        new["metadata"]
            .as_object_mut()
            .expect("metadata")
            .remove("labels");
        on_update(&old, &mut new, &owner("kubectl-label", None));
        let f = &new["metadata"]["managedFields"][0]["fieldsV1"];
        assert!(f.get("f:metadata").is_none(), "{f}");
        assert_eq!(
            new["metadata"]["managedFields"].as_array().map(Vec::len),
            Some(1)
        );
    }
}
