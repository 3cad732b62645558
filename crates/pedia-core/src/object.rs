//! Kubernetes objects as raw JSON bytes plus the metadata the storage layers index.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use bytes::Bytes;
use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};

use crate::error::ObjectError;
use crate::selector::{validate_label_key, validate_label_value};
use crate::time::Timestamp;

/// The parts of `metadata` storage layers filter, order and index by.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct ObjectMeta {
    /// Empty for cluster-scoped objects.
    pub namespace: String,
    pub name: String,
    pub uid: String,
    /// The member cluster's resourceVersion, opaque (may be empty).
    pub resource_version: String,
    /// `creationTimestamp`, if the object has one.
    pub created_at: Option<Timestamp>,
    /// Sorted by key.
    pub labels: Vec<(String, String)>,
    /// The uid of the controller owner reference (`controller: true`), or empty.
    pub owner_uid: String,
}

impl ObjectMeta {
    /// The resourceVersion as an integer, when it is one. Kubernetes calls resource
    /// versions opaque, but every real API server uses etcd revisions; storage layers use
    /// this only to order listings by `resource_version`. Writes never compare versions
    /// (a re-created cluster starts them again).
    pub fn resource_version_number(&self) -> Option<u64> {
        parse_resource_version(&self.resource_version)
    }

    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
            .ok()
            .map(|i| self.labels[i].1.as_str())
    }
}

/// `Some(n)` when `rv` is a plain unsigned integer.
pub fn parse_resource_version(rv: &str) -> Option<u64> {
    if rv.is_empty() || !rv.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    rv.parse().ok()
}

/// A Kubernetes object ready for storage: its raw JSON and the metadata extracted from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub meta: ObjectMeta,
    pub raw: Bytes,
}

impl Object {
    /// Parses the metadata out of `raw` without building a full JSON tree. Validates what
    /// storage relies on: a name and namespace that are non-empty (name) ASCII of at most
    /// 253 bytes without `/`, label keys and values valid per Kubernetes.
    pub fn from_json(raw: Bytes) -> Result<Self, ObjectError> {
        let doc: Obj<Document> = from_slice(&raw)?;
        let meta = extract(doc.0.metadata.map(|m| m.0))?;
        Ok(Self { meta, raw })
    }
}

/// Names are path segments in the search API and keys in storage, so they must be
/// printable ASCII without `/`. Kubernetes' own rules are stricter per kind; this is what
/// storage itself relies on.
const MAX_NAME_BYTES: usize = 253;

fn check_name(what: &str, value: &str) -> Result<(), String> {
    if value.len() > MAX_NAME_BYTES {
        return Err(format!(
            "{what} is {} bytes long, more than {MAX_NAME_BYTES}",
            value.len()
        ));
    }
    if let Some(c) = value
        .chars()
        .find(|c| !c.is_ascii() || c.is_ascii_control() || *c == '/')
    {
        return Err(format!("{what} {value:?} contains {c:?}"));
    }
    Ok(())
}

fn extract(metadata: Option<RawMeta>) -> Result<ObjectMeta, ObjectError> {
    let Some(m) = metadata else {
        return Err(ObjectError::MissingName);
    };
    let name = m.name.unwrap_or_default();
    if name.is_empty() {
        return Err(ObjectError::MissingName);
    }
    let invalid = |reason: String| ObjectError::Invalid {
        name: name.clone(),
        reason,
    };
    check_name("metadata.name", &name).map_err(invalid)?;
    let namespace = m.namespace.unwrap_or_default();
    check_name("metadata.namespace", &namespace).map_err(invalid)?;

    let mut labels = Vec::new();
    for (key, value) in m.labels.unwrap_or_default() {
        validate_label_key(&key).map_err(|e| invalid(format!("label key {key:?}: {e}")))?;
        validate_label_value(&value)
            .map_err(|e| invalid(format!("label {key:?} has value {value:?}: {e}")))?;
        labels.push((key, value));
    }

    let created_at = match m.creation_timestamp.as_deref() {
        // Kubernetes writes an unset time as null; treat an empty string the same way.
        None | Some("") => None,
        Some(t) => Some(
            Timestamp::parse_rfc3339(t)
                .map_err(|e| invalid(format!("metadata.creationTimestamp: {e}")))?,
        ),
    };

    let owner_uid = m
        .owner_references
        .unwrap_or_default()
        .into_iter()
        .map(|r| r.0)
        .find(|r| r.controller == Some(true))
        .and_then(|r| r.uid)
        .unwrap_or_default();

    Ok(ObjectMeta {
        namespace,
        name,
        uid: m.uid.unwrap_or_default(),
        resource_version: m.resource_version.unwrap_or_default(),
        created_at,
        labels,
        owner_uid,
    })
}

/// Parses a whole document, refusing trailing data.
fn from_slice<'de, T: Deserialize<'de>>(raw: &'de [u8]) -> Result<T, ObjectError> {
    let mut de = serde_json::Deserializer::from_slice(raw);
    let value = T::deserialize(&mut de).map_err(|e| ObjectError::InvalidJson(e.to_string()))?;
    de.end()
        .map_err(|e| ObjectError::InvalidJson(e.to_string()))?;
    Ok(value)
}

/// The top level of an object: only `metadata` is read, everything else is skipped
/// without being built. Strings are owned: they end up in [`ObjectMeta`] anyway.
#[derive(Deserialize)]
struct Document {
    metadata: Option<Obj<RawMeta>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMeta {
    name: Option<String>,
    namespace: Option<String>,
    uid: Option<String>,
    resource_version: Option<String>,
    creation_timestamp: Option<String>,
    labels: Option<BTreeMap<String, String>>,
    owner_references: Option<Vec<Obj<RawOwnerRef>>>,
}

#[derive(Deserialize)]
struct RawOwnerRef {
    uid: Option<String>,
    controller: Option<bool>,
}

/// A struct that must be written as a JSON object. serde's derived structs also accept
/// JSON arrays (fields by position), which would read `[..]` metadata as if it were valid.
struct Obj<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjVisitor<T> {
            type Value = Obj<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Obj<T>, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Obj)
            }
        }

        deserializer.deserialize_map(ObjVisitor(PhantomData))
    }
}

/// Builds `{"apiVersion":..,"kind":..,"metadata":..}` from a stored object, for
/// `onlyMetadata` and `PartialObjectMetadata` responses.
pub fn metadata_only(raw: &[u8]) -> Result<Bytes, ObjectError> {
    let mut object: serde_json::Map<String, serde_json::Value> = from_slice(raw)?;
    let mut projected = serde_json::Map::new();
    for key in ["apiVersion", "kind", "metadata"] {
        if let Some(value) = object.remove(key) {
            projected.insert(key.to_owned(), value);
        }
    }
    serde_json::to_vec(&projected)
        .map(Bytes::from)
        .map_err(|e| ObjectError::InvalidJson(e.to_string()))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    const POD: &str = include_str!("../tests/fixtures/pod.json");
    const DEPLOYMENT: &str = include_str!("../tests/fixtures/deployment.json");

    fn parse(value: &Value) -> Result<ObjectMeta, ObjectError> {
        Object::from_json(Bytes::from(value.to_string())).map(|o| o.meta)
    }

    fn invalid_reason(value: &Value) -> String {
        match parse(value) {
            Err(ObjectError::Invalid { reason, .. }) => reason,
            other => panic!("{value}: {other:?}"),
        }
    }

    #[test]
    fn realistic_pod() {
        let raw = Bytes::from_static(POD.as_bytes());
        let object = Object::from_json(raw.clone()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(object.raw, raw);
        let meta = object.meta;
        assert_eq!(meta.namespace, "default");
        assert_eq!(meta.name, "web-7d4b9c8f6d-x2x9q");
        assert_eq!(meta.uid, "f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9");
        assert_eq!(meta.resource_version, "123456");
        assert_eq!(meta.resource_version_number(), Some(123_456));
        assert_eq!(
            meta.created_at,
            Timestamp::parse_rfc3339("2024-05-01T10:00:05Z").ok()
        );
        assert_eq!(
            meta.labels,
            [
                ("app", "web"),
                ("app.kubernetes.io/name", "web"),
                ("pod-template-hash", "7d4b9c8f6d"),
                ("tier", "frontend"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
        assert_eq!(meta.label("tier"), Some("frontend"));
        assert_eq!(meta.label("missing"), None);
        // The controller, not the first owner reference.
        assert_eq!(meta.owner_uid, "6a3b1c2d-1111-4222-8333-444455556666");
    }

    #[test]
    fn realistic_deployment() {
        let meta = Object::from_json(Bytes::from_static(DEPLOYMENT.as_bytes()))
            .unwrap_or_else(|e| panic!("{e}"))
            .meta;
        assert_eq!(meta.namespace, "payments");
        assert_eq!(meta.name, "api");
        assert_eq!(meta.owner_uid, "");
        assert_eq!(
            meta.created_at.map(Timestamp::as_millis),
            Some(1_700_000_000_123)
        );
        assert_eq!(meta.labels.len(), 2);
    }

    #[test]
    fn minimal_and_null_fields() {
        let meta = parse(&json!({"metadata": {"name": "n"}})).unwrap_or_default();
        assert_eq!(
            meta,
            ObjectMeta {
                name: "n".into(),
                ..ObjectMeta::default()
            }
        );
        let meta = parse(&json!({"metadata": {
            "name": "n", "namespace": null, "labels": null, "uid": null,
            "resourceVersion": null, "creationTimestamp": null, "ownerReferences": null
        }}))
        .unwrap_or_default();
        assert_eq!(meta.name, "n");
        assert_eq!(meta.created_at, None);
        let meta =
            parse(&json!({"metadata": {"name": "n", "creationTimestamp": ""}})).unwrap_or_default();
        assert_eq!(meta.created_at, None);
        let meta = parse(&json!({"metadata": {"name": "n", "resourceVersion": "abc"}}))
            .unwrap_or_default();
        assert_eq!(meta.resource_version_number(), None);
    }

    #[test]
    fn owner_uid_needs_controller_true() {
        let owners = |refs: Value| {
            parse(&json!({"metadata": {"name": "n", "ownerReferences": refs}}))
                .map(|m| m.owner_uid)
                .unwrap_or_else(|e| panic!("{e}"))
        };
        assert_eq!(owners(json!([])), "");
        assert_eq!(owners(json!([{"uid": "a"}])), "");
        assert_eq!(owners(json!([{"uid": "a", "controller": false}])), "");
        assert_eq!(owners(json!([{"uid": "a", "controller": null}])), "");
        assert_eq!(
            owners(json!([{"uid": "a"}, {"uid": "b", "controller": true}])),
            "b"
        );
        assert_eq!(
            owners(json!([{"uid": "a", "controller": true}, {"uid": "b", "controller": true}])),
            "a"
        );
    }

    #[test]
    fn escaped_strings_are_decoded() {
        let raw = br#"{"metadata":{"name":"a\u0062c","labels":{"k\u0065y":"v"}}}"#;
        let meta = Object::from_json(Bytes::from_static(raw))
            .unwrap_or_else(|e| panic!("{e}"))
            .meta;
        assert_eq!(meta.name, "abc");
        assert_eq!(meta.label("key"), Some("v"));
    }

    #[test]
    fn not_json_or_not_an_object() {
        for raw in [
            &b""[..],
            b"   ",
            b"{",
            b"null",
            b"[]",
            b"\"pod\"",
            b"42",
            br#"[{"name":"x"}]"#,
            br#"{"metadata":{"name":"x"}} trailing"#,
            br#"{"metadata":{"name":"x"}}{}"#,
            br#"{"metadata":["x"]}"#,
            br#"{"metadata":"x"}"#,
            br#"{"metadata":{"name":5}}"#,
            br#"{"metadata":{"name":"x","labels":["a"]}}"#,
            br#"{"metadata":{"name":"x","labels":{"a":1}}}"#,
            br#"{"metadata":{"name":"x","ownerReferences":{}}}"#,
            br#"{"metadata":{"name":"x","ownerReferences":[["u",true]]}}"#,
            br#"{"metadata":{"name":"x","ownerReferences":[{"controller":"yes"}]}}"#,
            br#"{"metadata":{"name":"x"},"metadata":{"name":"y"}}"#,
            b"\xff\xfe",
        ] {
            match Object::from_json(Bytes::from_static(raw)) {
                Err(ObjectError::InvalidJson(_)) => {}
                other => panic!("{:?}: {other:?}", String::from_utf8_lossy(raw)),
            }
        }
    }

    #[test]
    fn missing_name() {
        for value in [
            json!({}),
            json!({"metadata": null}),
            json!({"metadata": {}}),
            json!({"metadata": {"name": null}}),
            json!({"metadata": {"name": ""}}),
            json!({"kind": "Pod", "spec": {"metadata": {"name": "nested"}}}),
        ] {
            assert_eq!(parse(&value), Err(ObjectError::MissingName), "{value}");
        }
    }

    #[test]
    fn bad_names_and_namespaces() {
        let long = "a".repeat(254);
        assert!(invalid_reason(&json!({"metadata": {"name": long}})).contains("254 bytes"));
        assert!(parse(&json!({"metadata": {"name": "a".repeat(253)}})).is_ok());
        for name in ["a/b", "ünï", "a\nb", "a\u{0}b", "tab\t", "\u{7f}"] {
            let reason = invalid_reason(&json!({"metadata": {"name": name}}));
            assert!(reason.starts_with("metadata.name"), "{name:?}: {reason}");
        }
        for ns in ["a/b", "ünï", "x\ry", &"n".repeat(300)] {
            let reason = invalid_reason(&json!({"metadata": {"name": "ok", "namespace": ns}}));
            assert!(reason.starts_with("metadata.namespace"), "{ns:?}: {reason}");
        }
        match parse(&json!({"metadata": {"name": "a/b"}})) {
            Err(ObjectError::Invalid { name, .. }) => assert_eq!(name, "a/b"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_labels_are_named() {
        let with_labels = |labels: Value| json!({"metadata": {"name": "n", "labels": labels}});
        let reason = invalid_reason(&with_labels(json!({"bad key": "v"})));
        assert!(reason.starts_with("label key \"bad key\": "), "{reason}");
        let reason = invalid_reason(&with_labels(json!({"app": "-web"})));
        assert!(
            reason.starts_with("label \"app\" has value \"-web\": "),
            "{reason}"
        );
        let reason = invalid_reason(&with_labels(json!({"app": "v".repeat(64)})));
        assert!(reason.contains("63"), "{reason}");
        assert!(parse(&with_labels(json!({"empty": ""}))).is_ok());
    }

    #[test]
    fn bad_creation_timestamp() {
        for t in [
            "yesterday",
            "2024-01-02",
            "1704164645",
            "2024-13-01T00:00:00Z",
        ] {
            let reason =
                invalid_reason(&json!({"metadata": {"name": "n", "creationTimestamp": t}}));
            assert!(
                reason.starts_with("metadata.creationTimestamp"),
                "{t}: {reason}"
            );
        }
        assert!(matches!(
            parse(&json!({"metadata": {"name": "n", "creationTimestamp": 5}})),
            Err(ObjectError::InvalidJson(_))
        ));
    }

    #[test]
    fn metadata_only_keeps_three_keys() {
        let out = metadata_only(POD.as_bytes()).unwrap_or_default();
        let value: Value = serde_json::from_slice(&out).unwrap_or_default();
        let full: Value = serde_json::from_str(POD).unwrap_or_default();
        assert_eq!(
            value,
            json!({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": full["metadata"].clone(),
            })
        );
        assert!(out.starts_with(br#"{"apiVersion":"v1","kind":"Pod","metadata":{"#));
    }

    #[test]
    fn metadata_only_tolerates_missing_keys_and_refuses_non_objects() {
        let out = metadata_only(br#"{"spec":{},"metadata":{"name":"x"}}"#).unwrap_or_default();
        assert_eq!(&out[..], br#"{"metadata":{"name":"x"}}"#);
        assert_eq!(
            metadata_only(b"{}").unwrap_or_default(),
            Bytes::from_static(b"{}")
        );
        for bad in [&b"[]"[..], b"null", b"{", b"{} {}"] {
            assert!(
                matches!(metadata_only(bad), Err(ObjectError::InvalidJson(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn resource_version_numbers() {
        assert_eq!(parse_resource_version("0"), Some(0));
        assert_eq!(
            parse_resource_version("18446744073709551615"),
            Some(u64::MAX)
        );
        for bad in ["", "-1", "+1", "1.0", " 1", "18446744073709551616", "abc"] {
            assert_eq!(parse_resource_version(bad), None, "{bad:?}");
        }
    }
}
