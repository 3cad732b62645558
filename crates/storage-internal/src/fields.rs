//! Indexed field values: the field paths Kubernetes itself offers to field selectors
//! (`status.phase`, `spec.nodeName`, `type`, `involvedObject.name`, ...) are copied at
//! write time into `pedia_fields`, so selectors on them (positive, negated, unmatched)
//! are index lookups instead of evaluating the stored JSON of every row. The values are
//! the text `FieldRequirement::matches` compares, read by one pass over the object that
//! skips everything else.

use std::fmt;
use std::sync::OnceLock;

use pedia_core::{FieldPath, PathSegment};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// The indexed paths: Kubernetes' own field selectors of pods, events, secrets, nodes,
/// namespaces, replica sets, jobs and certificate signing requests. Other paths (the
/// enhanced syntax reaches any field) are evaluated on the stored JSON.
pub(crate) const INDEXED_PATHS: &[&str] = &[
    "involvedObject.apiVersion",
    "involvedObject.fieldPath",
    "involvedObject.kind",
    "involvedObject.name",
    "involvedObject.namespace",
    "involvedObject.resourceVersion",
    "involvedObject.uid",
    "reason",
    "reportingComponent",
    "spec.hostNetwork",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.signerName",
    "spec.unschedulable",
    "status.nominatedNodeName",
    "status.phase",
    "status.podIP",
    "status.replicas",
    "status.successful",
    "type",
];

/// Longest value text stored in `pedia_fields.value` (the column width). Longer values,
/// and values containing NUL (which PostgreSQL text cannot hold), are stored as present
/// but not comparable; a selector value like that is evaluated on the JSON instead.
pub(crate) const MAX_VALUE_BYTES: usize = 1024;

/// Whether `value` can be compared through `pedia_fields.value`.
pub(crate) fn comparable(value: &str) -> bool {
    value.len() <= MAX_VALUE_BYTES && !value.contains('\0')
}

/// The name under which `path` is indexed, if it is.
pub(crate) fn indexed_path(path: &FieldPath) -> Option<&'static str> {
    let trie = trie();
    let mut node = &trie.root;
    for segment in &path.segments {
        let PathSegment::Key(key) = segment else {
            return None;
        };
        let Node::Inner(children) = node else {
            return None;
        };
        node = &children.iter().find(|(k, _)| *k == key.as_str())?.1;
    }
    match node {
        Node::Leaf(slot) => Some(INDEXED_PATHS[*slot]),
        Node::Inner(_) => None,
    }
}

/// One row of `pedia_fields`: the field is present and not null.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldValue {
    pub path: &'static str,
    /// The scalar's text; `None` for objects, lists and values that are not
    /// [`comparable`].
    pub value: Option<String>,
    /// The text as an integer, when it parses as `i64` (for `>` and `<`).
    pub num: Option<i64>,
}

/// The indexed fields present in `raw` (a JSON object), in [`INDEXED_PATHS`] order.
/// Unparsable JSON yields no fields: such bytes never reach storage (the write path
/// parses every object's metadata first).
pub(crate) fn extract(raw: &[u8]) -> Vec<FieldValue> {
    let trie = trie();
    let mut slots: Vec<Option<serde_json::Value>> = vec![None; INDEXED_PATHS.len()];
    let mut de = serde_json::Deserializer::from_slice(raw);
    if (Seed {
        node: &trie.root,
        slots: &mut slots,
    })
    .deserialize(&mut de)
    .is_err()
    {
        return Vec::new();
    }
    slots
        .into_iter()
        .enumerate()
        .filter_map(|(i, v)| {
            let text = match v? {
                serde_json::Value::Null => return None,
                serde_json::Value::String(s) => Some(s),
                serde_json::Value::Bool(b) => Some(if b { "true" } else { "false" }.to_owned()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                serde_json::Value::Object(_) | serde_json::Value::Array(_) => None,
            };
            let num = text.as_deref().and_then(|t| t.parse::<i64>().ok());
            Some(FieldValue {
                path: INDEXED_PATHS[i],
                value: text.filter(|t| comparable(t)),
                num,
            })
        })
        .collect()
}

/// The indexed paths as a tree of keys; a leaf holds its index in [`INDEXED_PATHS`].
enum Node {
    Inner(Vec<(&'static str, Node)>),
    Leaf(usize),
}

struct Trie {
    root: Node,
}

fn trie() -> &'static Trie {
    static TRIE: OnceLock<Trie> = OnceLock::new();
    TRIE.get_or_init(|| {
        let mut root = Node::Inner(Vec::new());
        for (slot, path) in INDEXED_PATHS.iter().enumerate() {
            let keys: Vec<&'static str> = path.split('.').collect();
            let mut node = &mut root;
            for (i, key) in keys.iter().enumerate() {
                let Node::Inner(children) = node else {
                    unreachable!("an indexed path is a prefix of another");
                };
                let pos = match children.iter().position(|(k, _)| k == key) {
                    Some(pos) => pos,
                    None => {
                        let child = if i + 1 == keys.len() {
                            Node::Leaf(slot)
                        } else {
                            Node::Inner(Vec::new())
                        };
                        children.push((key, child));
                        children.len() - 1
                    }
                };
                node = &mut children[pos].1;
            }
        }
        Trie { root }
    })
}

/// The slots of every leaf under `node`.
fn clear(node: &Node, slots: &mut [Option<serde_json::Value>]) {
    match node {
        Node::Leaf(slot) => slots[*slot] = None,
        Node::Inner(children) => children.iter().for_each(|(_, c)| clear(c, slots)),
    }
}

/// Reads an object key as the child node it names, without allocating it.
struct Key<'a>(&'a [(&'static str, Node)]);

impl<'de, 'a> DeserializeSeed<'de> for Key<'a> {
    type Value = Option<&'a Node>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'a> Visitor<'_> for Key<'a> {
    type Value = Option<&'a Node>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().find(|(k, _)| *k == key).map(|(_, n)| n))
    }
}

/// Reads the value at an inner node: descends into the keys on an indexed path and skips
/// the rest. Any other JSON value is skipped: the paths below it are absent.
struct Seed<'a> {
    node: &'a Node,
    slots: &'a mut [Option<serde_json::Value>],
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Node::Inner(children) = self.node else {
            return Err(serde::de::Error::custom("a leaf is read whole"));
        };
        while let Some(child) = map.next_key_seed(Key(children))? {
            match child {
                // A repeated key replaces what the earlier one held, as in serde_json's
                // maps (and PostgreSQL's json operators).
                Some(Node::Leaf(slot)) => {
                    self.slots[*slot] = Some(map.next_value::<serde_json::Value>()?);
                }
                Some(child) => {
                    clear(child, self.slots);
                    map.next_value_seed(Seed {
                        node: child,
                        slots: self.slots,
                    })?;
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use pedia_core::FieldSelector;
    use serde_json::json;

    use super::*;

    fn path(key: &str) -> FieldPath {
        FieldSelector::parse(&format!("{key}=x"))
            .expect("selector")
            .requirements
            .remove(0)
            .path
    }

    #[test]
    fn indexed_paths_are_recognised() {
        assert_eq!(indexed_path(&path("status.phase")), Some("status.phase"));
        assert_eq!(indexed_path(&path("type")), Some("type"));
        assert_eq!(
            indexed_path(&path("involvedObject.name")),
            Some("involvedObject.name")
        );
        assert_eq!(indexed_path(&path("status")), None);
        assert_eq!(indexed_path(&path("status.phase.x")), None);
        assert_eq!(indexed_path(&path("spec.containers[0].image")), None);
        assert_eq!(indexed_path(&path("metadata.annotations['a']")), None);
    }

    #[test]
    fn values_are_the_text_selectors_compare() {
        let long = "v".repeat(MAX_VALUE_BYTES + 1);
        let raw = json!({
            "metadata": {"name": "p"},
            "spec": {"nodeName": "n1", "hostNetwork": true, "containers": [{"name": "c"}],
                     "schedulerName": null, "restartPolicy": {"a": 1}, "signerName": long},
            "status": {"phase": "Running", "replicas": 3, "podIP": "a\u{0}b"},
            "type": 1.5,
        })
        .to_string();
        let got = extract(raw.as_bytes());
        let row = |p: &'static str, v: Option<&str>, n: Option<i64>| FieldValue {
            path: p,
            value: v.map(str::to_owned),
            num: n,
        };
        assert_eq!(
            got,
            vec![
                row("spec.hostNetwork", Some("true"), None),
                row("spec.nodeName", Some("n1"), None),
                row("spec.restartPolicy", None, None),
                row("spec.signerName", None, None),
                row("status.phase", Some("Running"), None),
                row("status.podIP", None, None),
                row("status.replicas", Some("3"), Some(3)),
                row("type", Some("1.5"), None),
            ]
        );
    }

    #[test]
    fn a_repeated_key_keeps_the_last_value() {
        let raw = br#"{"status":{"phase":"A"},"spec":{"nodeName":"x","nodeName":"y"},"status":{"podIP":"ip"}}"#;
        let got = extract(raw);
        let paths: Vec<_> = got
            .iter()
            .map(|f| (f.path, f.value.as_deref().unwrap_or("-")))
            .collect();
        assert_eq!(paths, vec![("spec.nodeName", "y"), ("status.podIP", "ip")]);
    }

    #[test]
    fn agrees_with_the_reference_semantics() {
        // Every indexed field of these objects yields the text `FieldRequirement::matches`
        // compares: a requirement `path=text` matches exactly when the extracted value is
        // `text`, and `path` (exists) when a row is extracted.
        let objects = [
            json!({"status": {"phase": "Running", "replicas": -4}, "type": false}),
            json!({"status": "flat", "spec": [1, 2], "type": null}),
            json!({"status": {"phase": ["a"]}, "spec": {"unschedulable": 0}}),
        ];
        for object in &objects {
            let got = extract(object.to_string().as_bytes());
            for p in INDEXED_PATHS {
                let row = got.iter().find(|f| f.path == *p);
                let exists = FieldSelector::parse(p).expect("selector");
                assert_eq!(exists.matches(object), row.is_some(), "{p} in {object}");
                if let Some(text) = row.and_then(|f| f.value.as_deref()) {
                    let eq = FieldSelector::parse(&format!("{p}={text}")).expect("selector");
                    assert!(eq.matches(object), "{p}={text} in {object}");
                }
            }
        }
    }
}
