//! Response bodies assembled from stored object bytes: lists and collections are the
//! stored items joined into an envelope without parsing them (whole lists streamed as the
//! storage delivers them), watch events wrap one object each.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use bytes::{BufMut, Bytes, BytesMut};
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use pedia_core::ResourceType;
use pedia_storage::ListStream;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::respond::json_response;

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

/// `{"kind":..,"apiVersion":..,"metadata":..,"items":[` : a list up to its first item.
fn list_head(kind: &str, api_version: &str, meta: &ListMeta) -> String {
    let head = json!({"kind": kind, "apiVersion": api_version, "metadata": meta.to_json()});
    let mut head = head.to_string();
    // `head` is `{...}`: reopen it to append the items array.
    head.pop();
    head.push_str(",\"items\":[");
    head
}

/// `{"kind":..,"apiVersion":..,"metadata":..,"items":[<item>,<item>...]}` with the items
/// copied in as they were stored.
pub fn list(kind: &str, api_version: &str, meta: &ListMeta, items: &[Bytes]) -> Bytes {
    let head = list_head(kind, api_version, meta);
    let size = head.len() + items.iter().map(|i| i.len() + 1).sum::<usize>() + 16;
    let mut out = BytesMut::with_capacity(size);
    out.put_slice(head.as_bytes());
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.put_u8(b',');
        }
        out.put_slice(item);
    }
    out.put_slice(b"]}");
    out.freeze()
}

/// A `clusterpedia.io/v1beta1` `CollectionResource` holding `items` as they were stored.
/// As in Clusterpedia, `continue` and `remainingItemCount` are top-level fields.
pub fn collection<'a>(
    name: &str,
    meta: &ListMeta,
    resource_types: Vec<Value>,
    items: impl Iterator<Item = &'a [u8]>,
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
    let mut head = head.to_string();
    head.pop();
    head.push_str(",\"items\":[");
    let items: Vec<&[u8]> = items.collect();
    let size = head.len() + items.iter().map(|i| i.len() + 1).sum::<usize>() + 2;
    let mut out = BytesMut::with_capacity(size);
    out.put_slice(head.as_bytes());
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.put_u8(b',');
        }
        out.put_slice(item);
    }
    out.put_slice(b"]}");
    out.freeze()
}

/// The `200` response of a whole JSON list of `rt` streamed from `list`, each item passed
/// through `map` (redaction). A failing item is logged and cuts the body off.
pub fn streamed_response(
    rt: &ResourceType,
    list: ListStream,
    map: impl Fn(Bytes) -> ApiResult<Bytes> + Send + 'static,
) -> Response {
    let meta = ListMeta {
        resource_version: list.revision,
        continue_token: list.continue_token,
        remaining_count: list.remaining_count,
    };
    let resource = rt.gvr.resource.clone();
    let items = list
        .items
        .map(move |item| {
            item.map_err(ApiError::from).and_then(&map).map_err(|err| {
                tracing::warn!(%resource, error = %err.message(), "a streamed list failed; the response is cut off");
                std::io::Error::other(err.message().to_owned())
            })
        })
        .boxed();
    let body = list_stream(
        &format!("{}List", rt.kind),
        &rt.gvr.api_version(),
        &meta,
        items,
    );
    json_response(StatusCode::OK, "application/json", Body::from_stream(body))
}

/// Bytes a streamed list gathers into one body chunk while items are ready.
const CHUNK_BYTES: usize = 64 << 10;

/// The same document as [`list`], as a stream of body chunks while `items` delivers the
/// items: small items ready at once are gathered into chunks of about [`CHUNK_BYTES`],
/// and whatever is gathered is sent as soon as the storage makes the stream wait, so the
/// client receives the list as it is read and the body is never held whole. An item
/// error ends the body with that error: the client sees a broken response, never a
/// complete-looking but partial list.
pub fn list_stream<E>(
    kind: &str,
    api_version: &str,
    meta: &ListMeta,
    items: BoxStream<'static, Result<Bytes, E>>,
) -> impl Stream<Item = Result<Bytes, E>> + Send + 'static
where
    E: Send + 'static,
{
    StreamedList {
        head: Some(list_head(kind, api_version, meta)),
        items: Some(items),
        first: true,
        buf: BytesMut::new(),
    }
}

struct StreamedList<E> {
    /// Not sent yet.
    head: Option<String>,
    /// `None` once the items ended (the closing `]}` is then in `buf` or sent).
    items: Option<BoxStream<'static, Result<Bytes, E>>>,
    first: bool,
    buf: BytesMut,
}

impl<E> StreamedList<E> {
    fn take(&mut self) -> Option<Result<Bytes, E>> {
        (!self.buf.is_empty()).then(|| Ok(self.buf.split().freeze()))
    }
}

impl<E> Stream for StreamedList<E> {
    type Item = Result<Bytes, E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(head) = this.head.take() {
            this.buf.put_slice(head.as_bytes());
        }
        loop {
            let Some(items) = this.items.as_mut() else {
                return Poll::Ready(this.take());
            };
            match items.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(item))) => {
                    if !this.first {
                        this.buf.put_u8(b',');
                    }
                    this.first = false;
                    this.buf.put_slice(&item);
                    if this.buf.len() >= CHUNK_BYTES {
                        return Poll::Ready(this.take());
                    }
                }
                Poll::Ready(Some(Err(err))) => {
                    this.items = None;
                    this.buf.clear();
                    return Poll::Ready(Some(Err(err)));
                }
                Poll::Ready(None) => {
                    this.items = None;
                    this.buf.put_slice(b"]}");
                }
                // The storage is not ready: send what is gathered meanwhile.
                Poll::Pending => {
                    return match this.take() {
                        Some(chunk) => Poll::Ready(Some(chunk)),
                        None => Poll::Pending,
                    };
                }
            }
        }
    }
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

    #[tokio::test]
    async fn streamed_list_is_the_same_document() {
        use futures::StreamExt;
        let big = Bytes::from(format!(
            r#"{{"kind":"Pod","pad":"{}"}}"#,
            "x".repeat(CHUNK_BYTES)
        ));
        let meta = ListMeta {
            resource_version: 9,
            continue_token: None,
            remaining_count: Some(0),
        };
        for items in [
            vec![],
            vec![Bytes::from_static(br#"{"a":1}"#)],
            vec![
                Bytes::from_static(br#"{"a":1}"#),
                big.clone(),
                Bytes::from_static(br#"{"b":2}"#),
                big,
            ],
        ] {
            let whole = list("PodList", "v1", &meta, &items);
            let stream = futures::stream::iter(items.into_iter().map(Ok::<_, ()>)).boxed();
            let chunks: Vec<Bytes> = list_stream("PodList", "v1", &meta, stream)
                .map(|c| c.expect("no error"))
                .collect()
                .await;
            assert_eq!(chunks.concat(), whole.to_vec());
            // Ready items are gathered: a chunk is cut only once it passed the size.
            assert!(
                chunks[..chunks.len() - 1]
                    .iter()
                    .all(|c| c.len() >= CHUNK_BYTES)
            );
        }
    }

    #[tokio::test]
    async fn streamed_list_ends_with_the_items_error() {
        use futures::StreamExt;
        let items = futures::stream::iter(vec![Ok(Bytes::from_static(b"{}")), Err("broken")]);
        let out: Vec<Result<Bytes, &str>> =
            list_stream("PodList", "v1", &ListMeta::default(), items.boxed())
                .collect()
                .await;
        assert!(matches!(out.last(), Some(Err("broken"))), "{out:?}");
        assert_eq!(
            out.len(),
            1,
            "the gathered prefix is not sent before the error"
        );
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
