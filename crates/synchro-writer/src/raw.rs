//! Objects as the bytes a cluster sent: pruning, annotating and identifying one object's
//! JSON without building a tree of it. The synchro manager's hot path: every listed and
//! watched object goes through [`prepare_raw`], which copies each member's bytes once and
//! parses nothing but the object's top level, its `metadata` and its annotations.

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use pedia_core::{CLUSTER_NAME_ANNOTATION, Object, ObjectError};
use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::prepare::{LAST_APPLIED_ANNOTATION, Pruning};

/// A member name, borrowed from the document unless it holds escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// A JSON object's members in document order, their values unparsed.
struct Members<'a>(Vec<(Key<'a>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(member) = map.next_entry::<Key<'de>, &'de RawValue>()? {
                    members.push(member);
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(MembersVisitor)
    }
}

impl<'a> Members<'a> {
    fn parse(json: &'a str) -> Result<Self, ObjectError> {
        serde_json::from_str(json).map_err(|e| ObjectError::InvalidJson(e.to_string()))
    }

    fn get(&self, key: &str) -> Option<&'a RawValue> {
        // The last of duplicate members wins, as in every JSON decoder Kubernetes uses.
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k.0 == key)
            .map(|(_, v)| *v)
    }
}

fn push_str(out: &mut Vec<u8>, s: &str) {
    // Writing a string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn push_member(out: &mut Vec<u8>, first: &mut bool, key: &str, value: &[u8]) {
    if !std::mem::take(first) {
        out.push(b',');
    }
    push_str(out, key);
    out.push(b':');
    out.extend_from_slice(value);
}

/// What a delete needs: the object's namespace, name and incarnation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Identity {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub resource_version: String,
}

/// Reads `metadata.{namespace,name,uid,resourceVersion}` of one object.
pub fn identity(raw: &[u8]) -> Result<Identity, ObjectError> {
    #[derive(Deserialize)]
    struct Doc {
        metadata: Option<Meta>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Meta {
        #[serde(default)]
        namespace: Option<String>,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        uid: Option<String>,
        #[serde(default)]
        resource_version: Option<String>,
    }
    let doc: Doc =
        serde_json::from_slice(raw).map_err(|e| ObjectError::InvalidJson(e.to_string()))?;
    let m = doc.metadata.ok_or(ObjectError::MissingName)?;
    Ok(Identity {
        namespace: m.namespace.unwrap_or_default(),
        name: m
            .name
            .filter(|n| !n.is_empty())
            .ok_or(ObjectError::MissingName)?,
        uid: m.uid.unwrap_or_default(),
        resource_version: m.resource_version.unwrap_or_default(),
    })
}

/// [`crate::prepare`] on the bytes of one object: drops `metadata.managedFields` and the
/// last-applied annotation as `pruning` says, sets the cluster annotation, and writes
/// `apiVersion` and `kind` from `type_meta` first when the object has none (items of a
/// list response carry neither). Every other member is copied as sent.
pub fn prepare_raw(
    raw: &[u8],
    type_meta: Option<(&str, &str)>,
    cluster: &str,
    pruning: Pruning,
) -> Result<Object, ObjectError> {
    let text = std::str::from_utf8(raw).map_err(|e| ObjectError::InvalidJson(e.to_string()))?;
    let top = Members::parse(text)?;
    let meta = top.get("metadata").ok_or(ObjectError::MissingName)?;
    let meta = Members::parse(meta.get()).map_err(|_| ObjectError::MissingName)?;
    // Annotations that are not an object (null, or garbage) are replaced, as the tree path does.
    let annotations = meta
        .get("annotations")
        .and_then(|a| Members::parse(a.get()).ok());

    let mut out = Vec::with_capacity(raw.len() + cluster.len() + 96);
    out.push(b'{');
    let mut first = true;
    if let Some((api_version, kind)) = type_meta {
        for (key, value) in [("apiVersion", api_version), ("kind", kind)] {
            if top.get(key).is_none() {
                let mut quoted = Vec::with_capacity(value.len() + 2);
                push_str(&mut quoted, value);
                push_member(&mut out, &mut first, key, &quoted);
            }
        }
    }
    for (key, value) in &top.0 {
        if key.0 != "metadata" {
            push_member(&mut out, &mut first, &key.0, value.get().as_bytes());
            continue;
        }
        if !std::mem::take(&mut first) {
            out.push(b',');
        }
        out.extend_from_slice(br#""metadata":{"#);
        let mut first_meta = true;
        let mut wrote_annotations = false;
        for (key, value) in &meta.0 {
            match key.0.as_ref() {
                "managedFields" if pruning.managed_fields => {}
                "annotations" => {
                    if !std::mem::replace(&mut wrote_annotations, true) {
                        write_annotations(
                            &mut out,
                            &mut first_meta,
                            annotations.as_ref(),
                            cluster,
                            pruning,
                        );
                    }
                }
                _ => push_member(&mut out, &mut first_meta, &key.0, value.get().as_bytes()),
            }
        }
        if !wrote_annotations {
            write_annotations(&mut out, &mut first_meta, None, cluster, pruning);
        }
        out.push(b'}');
    }
    out.push(b'}');
    Object::from_json(Bytes::from(out))
}

fn write_annotations(
    out: &mut Vec<u8>,
    first: &mut bool,
    annotations: Option<&Members<'_>>,
    cluster: &str,
    pruning: Pruning,
) {
    if !std::mem::take(first) {
        out.push(b',');
    }
    out.extend_from_slice(br#""annotations":{"#);
    let mut first_annotation = true;
    for (key, value) in annotations.map(|a| a.0.as_slice()).unwrap_or_default() {
        let dropped = key.0 == CLUSTER_NAME_ANNOTATION
            || (pruning.last_applied_configuration && key.0 == LAST_APPLIED_ANNOTATION);
        if !dropped {
            push_member(out, &mut first_annotation, &key.0, value.get().as_bytes());
        }
    }
    let mut quoted = Vec::with_capacity(cluster.len() + 2);
    push_str(&mut quoted, cluster);
    push_member(out, &mut first_annotation, CLUSTER_NAME_ANNOTATION, &quoted);
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::prepare::prepare;

    fn fixture() -> Value {
        serde_json::from_str(include_str!(
            "../tests/fixtures/pod-with-managed-fields.json"
        ))
        .expect("fixture")
    }

    fn both(object: &Value, pruning: Pruning) -> (Value, Value) {
        let tree = prepare(object.clone(), "c1", pruning).expect("tree path");
        let raw = prepare_raw(
            &serde_json::to_vec(object).expect("bytes"),
            None,
            "c1",
            pruning,
        )
        .expect("raw path");
        assert_eq!(tree.meta, raw.meta);
        (
            serde_json::from_slice(&tree.raw).expect("json"),
            serde_json::from_slice(&raw.raw).expect("json"),
        )
    }

    /// The byte path stores what the tree path stores, for every pruning setting.
    #[test]
    fn agrees_with_the_tree_path() {
        for pruning in [
            Pruning::default(),
            Pruning {
                managed_fields: false,
                last_applied_configuration: false,
            },
            Pruning {
                managed_fields: true,
                last_applied_configuration: false,
            },
        ] {
            let (tree, raw) = both(&fixture(), pruning);
            assert_eq!(tree, raw, "{pruning:?}");
        }
    }

    #[test]
    fn annotations_missing_null_or_not_an_object() {
        for annotations in [None, Some(Value::Null), Some(json!("x")), Some(json!([1]))] {
            let mut pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}});
            if let Some(a) = annotations {
                pod["metadata"]["annotations"] = a;
            }
            let (tree, raw) = both(&pod, Pruning::default());
            assert_eq!(tree, raw);
            assert_eq!(
                raw["metadata"]["annotations"][CLUSTER_NAME_ANNOTATION],
                "c1"
            );
        }
    }

    /// A cluster annotation the object already has (a cluster synced from another
    /// Clusterpedia) is replaced, not duplicated.
    #[test]
    fn existing_cluster_annotation_is_replaced() {
        let pod =
            json!({"metadata": {"name": "p", "annotations": {CLUSTER_NAME_ANNOTATION: "other"}}});
        let object = prepare_raw(pod.to_string().as_bytes(), None, "c1", Pruning::default())
            .expect("prepared");
        let text = std::str::from_utf8(&object.raw).expect("utf-8");
        assert_eq!(text.matches(CLUSTER_NAME_ANNOTATION).count(), 1, "{text}");
        let v: Value = serde_json::from_str(text).expect("json");
        assert_eq!(v["metadata"]["annotations"][CLUSTER_NAME_ANNOTATION], "c1");
    }

    #[test]
    fn type_meta_fills_in_what_list_items_lack() {
        let item = br#"{"metadata":{"name":"p","namespace":"ns"},"spec":{}}"#;
        let object =
            prepare_raw(item, Some(("v1", "Pod")), "c1", Pruning::default()).expect("prepared");
        let v: Value = serde_json::from_slice(&object.raw).expect("json");
        assert_eq!(
            (v["apiVersion"].as_str(), v["kind"].as_str()),
            (Some("v1"), Some("Pod"))
        );
        // An object that has its own keeps them.
        let own = br#"{"apiVersion":"v2","kind":"Other","metadata":{"name":"p"}}"#;
        let object =
            prepare_raw(own, Some(("v1", "Pod")), "c1", Pruning::default()).expect("prepared");
        let v: Value = serde_json::from_slice(&object.raw).expect("json");
        assert_eq!(
            (v["apiVersion"].as_str(), v["kind"].as_str()),
            (Some("v2"), Some("Other"))
        );
    }

    /// Escapes in member names and values survive: escaped names are compared unescaped.
    #[test]
    fn escapes_are_kept() {
        let item = r#"{"meta\u0064ata":{"name":"p","labels":{"a\/b":"\u0063"},"managed\u0046ields":[]},"data":{"k\"ey":"\u00e9\n\\"}}"#;
        let object = prepare_raw(item.as_bytes(), None, "c1", Pruning::default()).expect("ok");
        let v: Value = serde_json::from_slice(&object.raw).expect("json");
        assert_eq!(v["data"]["k\"ey"], "é\n\\");
        assert!(v["metadata"].get("managedFields").is_none(), "{v}");
        assert_eq!(object.meta.label("a/b"), Some("c"));
    }

    #[test]
    fn refusals() {
        for bad in [
            &b"not json"[..],
            b"[1,2]",
            b"{}",
            br#"{"metadata":null}"#,
            br#"{"metadata":{}}"#,
            br#"{"metadata":{"name":"p"}"#,
            b"\xff\xfe",
        ] {
            assert!(
                prepare_raw(bad, None, "c1", Pruning::default()).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(
            identity(br#"{"metadata":{}}"#),
            Err(ObjectError::MissingName)
        );
        assert_eq!(
            identity(
                br#"{"metadata":{"name":"p","namespace":"n","uid":"u","resourceVersion":"7"}}"#
            ),
            Ok(Identity {
                namespace: "n".into(),
                name: "p".into(),
                uid: "u".into(),
                resource_version: "7".into()
            })
        );
    }
}
