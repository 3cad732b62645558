//! Preparing one object for storage: prune what Clusterpedia prunes (feature gates
//! `PruneManagedFields` and `PruneLastAppliedConfiguration`, on by default) and add the
//! `shadow.clusterpedia.io/cluster-name` annotation.

use bytes::Bytes;
use pedia_core::{CLUSTER_NAME_ANNOTATION, Object, ObjectError};
use serde_json::{Value, json};

/// The annotation `kubectl apply` keeps the previous configuration in.
pub const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// What to strip from objects before storing them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pruning {
    pub managed_fields: bool,
    pub last_applied_configuration: bool,
}

impl Default for Pruning {
    fn default() -> Self {
        Self {
            managed_fields: true,
            last_applied_configuration: true,
        }
    }
}

/// Prunes `object`, marks it as coming from `cluster`, and parses it for storage.
pub fn prepare(mut object: Value, cluster: &str, pruning: Pruning) -> Result<Object, ObjectError> {
    let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return Err(ObjectError::MissingName);
    };
    if pruning.managed_fields {
        meta.remove("managedFields");
    }
    let annotations = meta.entry("annotations").or_insert_with(|| json!({}));
    if !annotations.is_object() {
        *annotations = json!({});
    }
    if let Some(annotations) = annotations.as_object_mut() {
        if pruning.last_applied_configuration {
            annotations.remove(LAST_APPLIED_ANNOTATION);
        }
        annotations.insert(CLUSTER_NAME_ANNOTATION.to_owned(), json!(cluster));
    }
    let raw = serde_json::to_vec(&object).map_err(|e| ObjectError::InvalidJson(e.to_string()))?;
    Object::from_json(Bytes::from(raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prunes_and_annotates() {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": "p", "namespace": "ns",
                "managedFields": [{"manager": "kubectl"}],
                "annotations": {LAST_APPLIED_ANNOTATION: "{}", "keep": "me"}
            }
        });
        let object = prepare(pod.clone(), "c1", Pruning::default()).expect("prepared");
        let v: Value = serde_json::from_slice(&object.raw).expect("json");
        assert!(v["metadata"].get("managedFields").is_none());
        assert!(
            v["metadata"]["annotations"]
                .get(LAST_APPLIED_ANNOTATION)
                .is_none()
        );
        assert_eq!(v["metadata"]["annotations"]["keep"], "me");
        assert_eq!(v["metadata"]["annotations"][CLUSTER_NAME_ANNOTATION], "c1");

        let kept = prepare(
            pod,
            "c1",
            Pruning {
                managed_fields: false,
                last_applied_configuration: false,
            },
        )
        .expect("prepared");
        let v: Value = serde_json::from_slice(&kept.raw).expect("json");
        assert!(v["metadata"]["managedFields"].is_array());
        assert!(v["metadata"]["annotations"][LAST_APPLIED_ANNOTATION].is_string());
    }

    #[test]
    fn objects_without_metadata_are_refused() {
        assert!(prepare(json!({"kind": "Pod"}), "c1", Pruning::default()).is_err());
        assert!(
            prepare(
                json!({"kind": "Pod", "metadata": {}}),
                "c1",
                Pruning::default()
            )
            .is_err()
        );
    }
}
