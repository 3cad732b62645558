//! Response bodies assembled from stored object bytes: lists and collections are the
//! stored items joined into an envelope without parsing them, watch events wrap one object
//! each.

use bytes::{BufMut, Bytes, BytesMut};
use serde_json::{Value, json};

/// `metadata` of a list response.
#[derive(Debug, Clone, Default)]
pub struct ListMeta {
    pub resource_version: u64,
    pub continue_token: Option<String>,
    pub remaining_count: Option<u64>,
}

impl ListMeta {
    pub fn to_json(&self) -> Value {
        let mut meta = json!({ "resourceVersion": self.resource_version.to_string() });
        if let Some(c) = &self.continue_token {
            meta["continue"] = json!(c);
        }
        if let Some(n) = self.remaining_count {
            meta["remainingItemCount"] = json!(n);
        }
        meta
    }
}

/// `{"kind":..,"apiVersion":..,"metadata":..,"items":[<item>,<item>...]}` with the items
/// copied in as they were stored.
pub fn list(kind: &str, api_version: &str, meta: &ListMeta, items: &[Bytes]) -> Bytes {
    let head = json!({"kind": kind, "apiVersion": api_version, "metadata": meta.to_json()});
    with_items(&head, items.iter().map(|i| &i[..]))
}

/// A `clusterpedia.io/v1beta1` `CollectionResource` holding `items` as they were stored.
/// As in Clusterpedia, `continue` and `remainingItemCount` are top-level fields.
pub fn collection<'a>(
    name: &str,
    meta: &ListMeta,
    resource_types: Vec<Value>,
    items: impl Iterator<Item = &'a [u8]> + Clone,
) -> Bytes {
    let mut head = json!({
        "kind": "CollectionResource",
        "apiVersion": "clusterpedia.io/v1beta1",
        "metadata": {"name": name, "resourceVersion": meta.resource_version.to_string()},
        "resourceTypes": resource_types,
    });
    if let Some(c) = &meta.continue_token {
        head["continue"] = json!(c);
    }
    if let Some(n) = meta.remaining_count {
        head["remainingItemCount"] = json!(n);
    }
    with_items(&head, items)
}

/// `head` (a JSON object) with an `items` array of `items` appended verbatim.
fn with_items<'a>(head: &Value, items: impl Iterator<Item = &'a [u8]> + Clone) -> Bytes {
    let head = head.to_string();
    let size = head.len() + items.clone().map(|i| i.len() + 1).sum::<usize>() + 16;
    let mut out = BytesMut::with_capacity(size);
    // `head` is `{...}`: reopen it to append the items array.
    out.put_slice(&head.as_bytes()[..head.len() - 1]);
    if head.len() > 2 {
        out.put_u8(b',');
    }
    out.put_slice(b"\"items\":[");
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.put_u8(b',');
        }
        out.put_slice(item);
    }
    out.put_slice(b"]}");
    out.freeze()
}

/// One line of a watch stream: `{"type":"ADDED","object":<object>}\n`.
pub fn watch_event(event_type: &str, object: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(object.len() + 32);
    out.put_slice(b"{\"type\":\"");
    out.put_slice(event_type.as_bytes());
    out.put_slice(b"\",\"object\":");
    out.put_slice(object);
    out.put_slice(b"}\n");
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_envelope_is_valid_json_with_items_verbatim() {
        let items = vec![
            Bytes::from_static(br#"{"kind":"Pod","metadata":{"name":"a"}}"#),
            Bytes::from_static(br#"{"kind":"Pod","metadata":{"name":"b"},"x":"\u00e9"}"#),
        ];
        let meta = ListMeta {
            resource_version: 7,
            continue_token: Some("tok".into()),
            remaining_count: Some(3),
        };
        let body = list("PodList", "v1", &meta, &items);
        let v: Value = serde_json::from_slice(&body).expect("valid JSON");
        assert_eq!(v["kind"], "PodList");
        assert_eq!(v["metadata"]["resourceVersion"], "7");
        assert_eq!(v["metadata"]["continue"], "tok");
        assert_eq!(v["metadata"]["remainingItemCount"], 3);
        assert_eq!(v["items"][1]["metadata"]["name"], "b");
        // Items are copied byte for byte.
        let text = std::str::from_utf8(&body).expect("utf-8");
        assert!(text.contains(r#""x":"\u00e9""#));

        let empty = list("PodList", "v1", &ListMeta::default(), &[]);
        let v: Value = serde_json::from_slice(&empty).expect("valid JSON");
        assert_eq!(v["items"], json!([]));
    }

    #[test]
    fn collection_envelope_embeds_items_verbatim() {
        let items: Vec<&[u8]> = vec![
            br#"{"metadata":{"name":"a"},  "kind":"Pod"}"#,
            br#"{"kind":"Deployment","metadata":{"name":"\u00e9"}}"#,
        ];
        let meta = ListMeta {
            resource_version: 9,
            continue_token: Some("tok".into()),
            remaining_count: Some(1),
        };
        let types = vec![json!({"group": "", "version": "v1", "resource": "pods", "kind": "Pod"})];
        let body = collection("any", &meta, types, items.iter().copied());
        let v: Value = serde_json::from_slice(&body).expect("valid JSON");
        assert_eq!(v["kind"], "CollectionResource");
        assert_eq!(
            v["metadata"],
            json!({"name": "any", "resourceVersion": "9"})
        );
        assert_eq!(v["continue"], "tok");
        assert_eq!(v["remainingItemCount"], 1);
        assert_eq!(v["resourceTypes"][0]["resource"], "pods");
        assert_eq!(v["items"][1]["metadata"]["name"], "é");
        let text = std::str::from_utf8(&body).expect("utf-8");
        assert!(text.ends_with(r#""items":[{"metadata":{"name":"a"},  "kind":"Pod"},{"kind":"Deployment","metadata":{"name":"\u00e9"}}]}"#), "{text}");

        let empty = collection("any", &ListMeta::default(), Vec::new(), std::iter::empty());
        let v: Value = serde_json::from_slice(&empty).expect("valid JSON");
        assert_eq!(v["items"], json!([]));
        assert!(v.get("continue").is_none());
    }

    #[test]
    fn watch_lines() {
        let line = watch_event("ADDED", br#"{"a":1}"#);
        assert_eq!(&line[..], b"{\"type\":\"ADDED\",\"object\":{\"a\":1}}\n");
    }
}
