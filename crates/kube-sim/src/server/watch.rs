//! Watch streams as kube-apiserver's watch cache serves them: newline-delimited JSON
//! events after a resourceVersion (synthetic `ADDED` events for the current objects when
//! none, `0`, or `sendInitialEvents=true` is given), selector semantics on changes
//! (objects entering the selection are `ADDED`, leaving it `DELETED`), periodic
//! `BOOKMARK`s, `timeoutSeconds`, and `410 Gone` delivered as an `ERROR` event when the
//! requested version, or the watch's own position, falls out of the kept history.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use super::negotiate::Representation;
use super::query::Query;
use super::table::{self, IncludeObject};
use crate::error::{FieldError, StatusError};
use crate::registry::ResourceDef;
use crate::store::{Event, EventType, GroupResource, Selector, Store, present};

/// How long a watch without `timeoutSeconds` lasts (kube picks 30-60 minutes).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// What a watch was asked for.
#[derive(Debug)]
pub(crate) struct WatchRequest {
    pub def: Arc<ResourceDef>,
    pub version: String,
    pub namespace: Option<String>,
    pub selector: Selector,
    pub repr: Representation,
    pub include: IncludeObject,
    pub bookmarks: bool,
    pub timeout: Duration,
}

/// kube's `validateWatchOptions`.
fn validate(query: &Query) -> Result<Option<bool>, StatusError> {
    let send_initial = match query.get("sendInitialEvents") {
        None => None,
        Some("true" | "1") => Some(true),
        Some("false" | "0") => Some(false),
        Some(other) => {
            return Err(StatusError::bad_request(format!(
                "sendInitialEvents: invalid boolean {other:?}"
            )));
        }
    };
    let matching = query.get("resourceVersionMatch").unwrap_or_default();
    let mut errors = Vec::new();
    if send_initial.is_some() && matching != "NotOlderThan" {
        errors.push(FieldError::forbidden(
            "resourceVersionMatch",
            "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
        ));
    }
    if !matching.is_empty() {
        if send_initial.is_none() {
            errors.push(FieldError::forbidden(
                "resourceVersionMatch",
                "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
            ));
        }
        if matching != "NotOlderThan" {
            errors.push(FieldError::not_supported(
                "resourceVersionMatch",
                matching,
                &["NotOlderThan"],
            ));
        }
    }
    if errors.is_empty() {
        Ok(send_initial)
    } else {
        Err(StatusError::invalid(
            "meta.k8s.io",
            "ListOptions",
            "",
            &errors,
        ))
    }
}

fn line(kind: &str, object: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(object.len() + 32);
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\",\"object\":");
    out.extend_from_slice(object);
    out.extend_from_slice(b"}\n");
    Bytes::from(out)
}

fn with_revision(raw: &[u8], revision: u64) -> Bytes {
    match serde_json::from_slice::<Value>(raw) {
        Ok(mut v) => {
            v["metadata"]["resourceVersion"] = json!(revision.to_string());
            crate::store::to_bytes(&v)
        }
        Err(_) => Bytes::copy_from_slice(raw),
    }
}

/// Renders the events of one watch, tracking whether the table header was sent.
struct Encoder {
    req: WatchRequest,
    headers_sent: bool,
}

impl Encoder {
    fn event(&mut self, kind: EventType, raw: &Bytes) -> Bytes {
        let raw = present(&self.req.def, &self.req.version, raw);
        match self.req.repr {
            Representation::Json | Representation::Discovery(_) => line(kind.as_str(), &raw),
            Representation::Metadata(v) => {
                let obj: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
                line(
                    kind.as_str(),
                    &crate::store::to_bytes(&table::partial_metadata(&obj, v)),
                )
            }
            Representation::Table(v) => {
                let obj: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
                let mut meta = Map::new();
                if let Some(rv) = obj.pointer("/metadata/resourceVersion") {
                    meta.insert("resourceVersion".into(), rv.clone());
                }
                let mut t = table::table(
                    &self.req.def,
                    &self.req.version,
                    v,
                    &[obj],
                    meta,
                    self.req.include,
                );
                // kube prints table headers only with the first event of a watch.
                if self.headers_sent {
                    t["columnDefinitions"] = Value::Null;
                }
                self.headers_sent = true;
                line(kind.as_str(), &crate::store::to_bytes(&t))
            }
        }
    }

    fn bookmark(&self, revision: u64, initial_end: bool) -> Bytes {
        let mut meta = json!({"resourceVersion": revision.to_string(), "creationTimestamp": null});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let obj = json!({
            "kind": self.req.def.kind,
            "apiVersion": self.req.def.api_version(&self.req.version),
            "metadata": meta,
        });
        line("BOOKMARK", &crate::store::to_bytes(&obj))
    }

    /// The event a change becomes for this watch, if any.
    fn change(&mut self, e: &Event) -> Option<Bytes> {
        if let Some(ns) = &self.req.namespace
            && e.key.namespace != *ns
        {
            return None;
        }
        let selector = &self.req.selector;
        let was = e.prev.as_ref().is_some_and(|p| selector.matches(&e.key, p));
        let is = e.kind != EventType::Deleted && selector.matches(&e.key, &e.object);
        match (e.kind, was, is) {
            (EventType::Deleted, true, _) => Some(self.event(EventType::Deleted, &e.object)),
            (EventType::Added | EventType::Modified, false, true) => {
                Some(self.event(EventType::Added, &e.object))
            }
            (EventType::Modified, true, true) => Some(self.event(EventType::Modified, &e.object)),
            (EventType::Modified, true, false) => {
                // Leaving the selection: its previous state, at the change's version.
                let prev = e.prev.as_ref().map(|p| with_revision(p, e.revision))?;
                Some(self.event(EventType::Deleted, &prev))
            }
            _ => None,
        }
    }
}

fn error_line(err: &StatusError) -> Bytes {
    line("ERROR", &crate::store::to_bytes(&err.to_json()))
}

/// Starts a watch; the response streams until the timeout, the client leaving, or the
/// watch expiring.
pub(crate) fn start(
    store: &Store,
    bookmark_interval: Duration,
    req: WatchRequest,
    query: &Query,
) -> Result<Response, StatusError> {
    let send_initial = validate(query)?;
    let rv = query.get("resourceVersion").unwrap_or_default();
    let parsed_rv =
        if rv.is_empty() {
            None
        } else {
            Some(rv.parse::<u64>().map_err(|_| {
                StatusError::bad_request(format!("invalid resource version: {rv:?}"))
            })?)
        };
    let gr = GroupResource::of(&req.def);
    // Subscribe before reading the state, so no write between the two is missed.
    let mut revisions = store.subscribe();
    let (initial, cursor, expired) = {
        let state = store.read();
        match (parsed_rv, send_initial) {
            (Some(n), Some(true)) if n > state.revision => {
                return Err(StatusError::too_large(n, state.revision));
            }
            (_, Some(true)) | (None | Some(0), None) => {
                let ns = req.namespace.as_deref();
                (
                    state.snapshot(&req.def, ns, &req.selector),
                    state.revision,
                    None,
                )
            }
            (None | Some(0), Some(false)) => (Vec::new(), state.revision, None),
            (Some(n), _) => {
                let expired =
                    (n < state.compacted).then(|| StatusError::too_old(n, state.compacted));
                (Vec::new(), n, expired)
            }
        }
    };
    let content_type = req.repr.content_type(false);
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let timeout = req.timeout;
    let bookmarks = req.bookmarks;
    let store = store.clone();
    let mut encoder = Encoder {
        req,
        headers_sent: false,
    };
    tokio::spawn(async move {
        if let Some(err) = expired {
            let _ = tx.send(error_line(&err)).await;
            return;
        }
        for raw in &initial {
            if tx.send(encoder.event(EventType::Added, raw)).await.is_err() {
                return;
            }
        }
        let mut cursor = cursor;
        if send_initial == Some(true)
            && bookmarks
            && tx.send(encoder.bookmark(cursor, true)).await.is_err()
        {
            return;
        }
        let deadline = tokio::time::Instant::now() + timeout;
        let mut ticker = tokio::time::interval_at(
            tokio::time::Instant::now() + bookmark_interval,
            bookmark_interval,
        );
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            revisions.borrow_and_update();
            let feed = {
                let state = store.read();
                if cursor < state.compacted {
                    Err(StatusError::too_old(cursor, state.compacted))
                } else {
                    Ok((state.events_after(&gr, cursor), state.revision))
                }
            };
            match feed {
                Err(err) => {
                    let _ = tx.send(error_line(&err)).await;
                    return;
                }
                Ok((events, latest)) => {
                    for e in &events {
                        if let Some(l) = encoder.change(e)
                            && tx.send(l).await.is_err()
                        {
                            return;
                        }
                    }
                    cursor = cursor.max(latest);
                }
            }
            tokio::select! {
                changed = revisions.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                _ = ticker.tick(), if bookmarks => {
                    if tx.send(encoder.bookmark(cursor, false)).await.is_err() {
                        return;
                    }
                }
                () = tokio::time::sleep_until(deadline) => return,
                () = tx.closed() => return,
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, std::convert::Infallible>(chunk), rx))
    });
    let mut response = (StatusCode::OK, Body::from_stream(stream)).into_response();
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    Ok(response)
}

/// `timeoutSeconds` of a watch.
pub(crate) fn timeout(query: &Query) -> Result<Duration, StatusError> {
    match query.get("timeoutSeconds") {
        None | Some("") => Ok(DEFAULT_TIMEOUT),
        Some(t) => t
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| StatusError::bad_request(format!("timeoutSeconds: invalid value {t:?}"))),
    }
}
