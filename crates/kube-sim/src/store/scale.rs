//! The `/scale` subresource of Deployments, ReplicaSets, StatefulSets and
//! ReplicationControllers (what `kubectl scale` reads and patches): an `autoscaling/v1`
//! `Scale` view of `spec.replicas`, `status.replicas` and the label selector.

use std::sync::Arc;

use serde_json::{Value, json};

use super::write::WriteOptions;
use super::{GroupResource, ObjKey, State, parse};
use crate::error::{FieldError, StatusError};
use crate::registry::ResourceDef;

/// The `Scale` of an object.
pub(crate) fn scale_of(obj: &Value) -> Value {
    let meta = &obj["metadata"];
    let mut metadata = serde_json::Map::new();
    for k in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(v) = meta.get(k) {
            metadata.insert(k.to_owned(), v.clone());
        }
    }
    let selector = obj
        .pointer("/spec/selector/matchLabels")
        .or_else(|| obj.pointer("/spec/selector"))
        .and_then(Value::as_object)
        .map(|labels| {
            labels
                .iter()
                .filter_map(|(k, v)| v.as_str().map(|v| format!("{k}={v}")))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": metadata,
        "spec": {"replicas": obj.pointer("/spec/replicas").cloned().unwrap_or(json!(0))},
        "status": {
            "replicas": obj.pointer("/status/replicas").cloned().unwrap_or(json!(0)),
            "selector": selector,
        },
    })
}

impl State {
    /// The current `Scale` of an object.
    pub(crate) fn get_scale(
        &self,
        def: &ResourceDef,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, StatusError> {
        let key = ObjKey::new(namespace.unwrap_or_default(), name);
        let raw = self
            .object(&GroupResource::of(def), &key)
            .ok_or_else(|| StatusError::not_found(def.subject(), name))?;
        Ok(scale_of(&parse(raw)?))
    }

    /// Changes `spec.replicas` through a new `Scale` computed from the current one (a
    /// `resourceVersion` in it must be current). Returns the resulting `Scale`.
    pub(crate) fn write_scale(
        &mut self,
        def: &Arc<ResourceDef>,
        version: &str,
        namespace: Option<&str>,
        name: &str,
        change: impl FnOnce(Value) -> Result<Value, StatusError>,
        opts: &WriteOptions,
    ) -> Result<Value, StatusError> {
        let key = ObjKey::new(namespace.unwrap_or_default(), name);
        let raw = self
            .object(&GroupResource::of(def), &key)
            .ok_or_else(|| StatusError::not_found(def.subject(), name))?;
        let mut obj = parse(raw)?;
        let wanted = change(scale_of(&obj))?;
        let current_rv = obj.pointer("/metadata/resourceVersion").cloned();
        match wanted
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
        {
            Some(rv) if !rv.is_empty() && Some(&json!(rv)) != current_rv.as_ref() => {
                return Err(StatusError::conflict(
                    def.subject(),
                    name,
                    StatusError::MODIFIED,
                ));
            }
            _ => {}
        }
        let replicas = wanted
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .filter(|r| *r >= 0)
            .ok_or_else(|| {
                StatusError::invalid(
                    "autoscaling",
                    "Scale",
                    name,
                    &[FieldError::invalid_raw(
                        "spec.replicas",
                        &wanted
                            .pointer("/spec/replicas")
                            .map(Value::to_string)
                            .unwrap_or_default(),
                        "must be greater than or equal to 0",
                    )],
                )
            })?;
        obj["spec"]["replicas"] = json!(replicas);
        let opts = WriteOptions {
            unconditional: true,
            ..opts.clone()
        };
        let (updated, _) = self.update(def, version, namespace, name, obj, false, &opts)?;
        Ok(scale_of(&updated))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn scale_view_and_write() {
        let store = Store::new(100);
        store
            .create(json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                           "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                                    "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "x:1"}]}}}}))
            .expect("created");
        let def = store
            .read()
            .registry
            .resolve("apps", "v1", "deployments")
            .expect("def");
        let scale = store
            .read()
            .get_scale(&def, Some("default"), "web")
            .expect("scale");
        assert_eq!(scale["spec"]["replicas"], 2);
        assert_eq!(scale["status"]["selector"], "app=web");
        let opts = WriteOptions::manager("kubectl");
        let out = store
            .write(|s| {
                s.write_scale(
                    &def,
                    "v1",
                    Some("default"),
                    "web",
                    |mut sc| {
                        sc["spec"]["replicas"] = json!(5);
                        Ok(sc)
                    },
                    &opts,
                )
            })
            .expect("scaled");
        assert_eq!(out["spec"]["replicas"], 5);
        let stale = store.write(|s| {
            s.write_scale(
                &def,
                "v1",
                Some("default"),
                "web",
                |mut sc| {
                    sc["metadata"]["resourceVersion"] = json!("1");
                    Ok(sc)
                },
                &opts,
            )
        });
        assert_eq!(stale.map_err(|e| e.code).err(), Some(409));
    }
}
