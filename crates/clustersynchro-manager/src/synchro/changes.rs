//! The changes of one resource of one cluster, read as bytes: a paginated list, then a
//! watch from the list's resourceVersion, again after each watch ends, and a relist when
//! the cluster answers `410 Gone`. List pages and watch lines are split into objects
//! without decoding them into typed values; each object is pruned and annotated
//! ([`synchro_writer::prepare_raw`]) here, on this task, while the synchro writes the
//! previous batch. The channel to the synchro is bounded, so a slow storage slows reading
//! instead of growing memory.

use std::borrow::Cow;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use http_body_util::BodyExt;
use kube::api::{ApiResource, DynamicObject, ListParams, WatchParams};
use kube::client::Body;
use kube::core::Request;
use pedia_core::{Object, ObjectError};
use pedia_storage::object_key;
use serde::Deserialize;
use serde_json::value::RawValue;
use synchro_writer::{Identity, Pruning, identity, prepare_raw};
use tokio::sync::mpsc;

/// How long a watch may stay silent: the server ends it after `WATCH_SECONDS` and sends
/// bookmarks before, so a longer silence is a cluster that stopped answering.
const WATCH_SECONDS: u32 = 290;
const WATCH_IDLE: Duration = Duration::from_secs(WATCH_SECONDS as u64 + 40);
/// How long one list page may take.
const PAGE_TIMEOUT: Duration = Duration::from_secs(120);
const BACKOFF_FIRST: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// One object as the cluster sent it, prepared for storage.
pub(crate) struct Item {
    /// `namespace/name`, or `name` for a cluster-scoped object; `None` when the object
    /// has no readable name.
    pub(crate) key: Option<String>,
    pub(crate) object: Result<Object, ObjectError>,
}

/// What the synchro of a resource is told, in the cluster's order.
pub(crate) enum Change {
    /// A list starts: what it lists replaces what is stored once it is done.
    ListStart,
    /// The objects of one list page.
    Listed(Vec<Item>),
    /// The list is complete.
    ListDone,
    /// An object was added or changed.
    Applied(Box<Item>),
    /// An object was deleted.
    Deleted(Identity),
    /// Reading failed; reading is retried with backoff.
    Failed(String),
}

/// Reads the changes of `api` (all namespaces) from `client` into `tx` until `tx` closes.
pub(crate) struct ChangeSource {
    pub(crate) client: kube::Client,
    pub(crate) api: ApiResource,
    pub(crate) cluster: String,
    pub(crate) pruning: Pruning,
    pub(crate) page_size: u32,
}

enum ReadError {
    /// The synchro is gone.
    Closed,
    /// The cluster no longer has the version asked for: list again.
    Gone,
    Failed(String),
    /// A watch broke off after `resume`: watch again from there.
    Interrupted {
        message: String,
        resume: String,
    },
}

impl From<ObjectError> for ReadError {
    fn from(e: ObjectError) -> Self {
        ReadError::Failed(e.to_string())
    }
}

#[derive(Deserialize)]
struct Page<'a> {
    #[serde(default)]
    metadata: PageMeta,
    #[serde(borrow, default)]
    items: Option<Vec<&'a RawValue>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PageMeta {
    #[serde(default)]
    resource_version: Option<String>,
    #[serde(rename = "continue", default)]
    continue_token: Option<String>,
}

#[derive(Deserialize)]
struct WatchLine<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    object: &'a RawValue,
}

/// The parts of a `Status` (an error response, or a watch's ERROR event) that matter here.
#[derive(Deserialize, Default)]
struct Status {
    #[serde(default)]
    code: u16,
    #[serde(default)]
    message: String,
}

/// A bookmark's object has a resourceVersion and nothing else a synchro needs.
#[derive(Deserialize)]
struct Bookmark {
    metadata: BookmarkMeta,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BookmarkMeta {
    resource_version: String,
}

impl ChangeSource {
    pub(crate) async fn run(self, tx: mpsc::Sender<Change>) {
        let mut backoff = BACKOFF_FIRST;
        // The version to watch from; `None` lists first.
        let mut version: Option<String> = None;
        loop {
            let started = tokio::time::Instant::now();
            let step = match version.clone() {
                None => self.list(&tx).await.map(Some),
                Some(from) => self.watch(&tx, from).await,
            };
            let failure = match step {
                // A watch the server ends at once, again and again, must not spin.
                Ok(next) if version.is_some() && started.elapsed() < Duration::from_secs(1) => {
                    version = next;
                    None
                }
                Ok(next) => {
                    version = next;
                    backoff = BACKOFF_FIRST;
                    continue;
                }
                Err(ReadError::Closed) => return,
                Err(ReadError::Gone) => {
                    version = None;
                    continue;
                }
                Err(ReadError::Failed(message)) => Some(message),
                Err(ReadError::Interrupted { message, resume }) => {
                    version = Some(resume);
                    Some(message)
                }
            };
            if let Some(message) = failure
                && tx.send(Change::Failed(message)).await.is_err()
            {
                return;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }

    fn request(&self) -> Request {
        Request::new(<DynamicObject as kube::Resource>::url_path(&self.api, None))
    }

    fn type_meta(&self) -> Option<(&str, &str)> {
        Some((&self.api.api_version, &self.api.kind))
    }

    fn item(&self, raw: &[u8]) -> Item {
        let object = prepare_raw(raw, self.type_meta(), &self.cluster, self.pruning);
        let key = match &object {
            Ok(o) => Some(object_key(&o.meta.namespace, &o.meta.name)),
            Err(_) => identity(raw)
                .ok()
                .map(|i| object_key(&i.namespace, &i.name)),
        };
        Item { key, object }
    }

    /// Lists every object, page by page; returns the list's resourceVersion. A page token
    /// that expired (410) starts the list again.
    async fn list(&self, tx: &mpsc::Sender<Change>) -> Result<String, ReadError> {
        'list: loop {
            send(tx, Change::ListStart).await?;
            let mut token: Option<String> = None;
            loop {
                let mut params = ListParams::default().limit(self.page_size);
                if let Some(t) = &token {
                    params = params.continue_token(t);
                }
                let req = self
                    .request()
                    .list(&params)
                    .map_err(|e| ReadError::Failed(e.to_string()))?;
                let body = match tokio::time::timeout(PAGE_TIMEOUT, async {
                    let body = self.send(req).await?;
                    collect(body).await
                })
                .await
                {
                    Ok(Ok(body)) => body,
                    Ok(Err(ReadError::Gone)) if token.is_some() => continue 'list,
                    Ok(Err(e)) => return Err(e),
                    Err(_) => {
                        return Err(ReadError::Failed(format!(
                            "a list page took more than {}s",
                            PAGE_TIMEOUT.as_secs()
                        )));
                    }
                };
                let page: Page<'_> = serde_json::from_slice(&body)
                    .map_err(|e| ReadError::Failed(format!("unreadable list page: {e}")))?;
                let items: Vec<Item> = page
                    .items
                    .unwrap_or_default()
                    .iter()
                    .map(|raw| self.item(raw.get().as_bytes()))
                    .collect();
                send(tx, Change::Listed(items)).await?;
                token = page.metadata.continue_token.filter(|t| !t.is_empty());
                if token.is_none() {
                    send(tx, Change::ListDone).await?;
                    return Ok(page.metadata.resource_version.unwrap_or_default());
                }
            }
        }
    }

    /// Watches from `from` until the server ends the watch: `Some(version)` to watch on
    /// from, `Gone` to list again.
    async fn watch(
        &self,
        tx: &mpsc::Sender<Change>,
        mut from: String,
    ) -> Result<Option<String>, ReadError> {
        let req = self
            .request()
            .watch(&WatchParams::default().timeout(WATCH_SECONDS), &from)
            .map_err(|e| ReadError::Failed(e.to_string()))?;
        let mut body = self.send(req).await?.into_data_stream();
        let mut buffer = BytesMut::new();
        loop {
            let chunk = match tokio::time::timeout(WATCH_IDLE, body.next()).await {
                Ok(Some(Ok(chunk))) => chunk,
                Ok(None) => return Ok(Some(from)),
                Ok(Some(Err(e))) => {
                    return Err(ReadError::Interrupted {
                        message: format!("watch interrupted: {e}"),
                        resume: from,
                    });
                }
                Err(_) => {
                    return Err(ReadError::Interrupted {
                        message: format!("the watch was silent for {}s", WATCH_IDLE.as_secs()),
                        resume: from,
                    });
                }
            };
            buffer.extend_from_slice(&chunk);
            while let Some(line) = next_line(&mut buffer) {
                if let Some(version) = self.event(tx, &line).await? {
                    from = version;
                }
            }
        }
    }

    /// Handles one watch line; returns the resourceVersion it moves the watch to.
    async fn event(
        &self,
        tx: &mpsc::Sender<Change>,
        line: &Bytes,
    ) -> Result<Option<String>, ReadError> {
        let line = line.trim_ascii();
        if line.is_empty() {
            return Ok(None);
        }
        let event: WatchLine<'_> = serde_json::from_slice(line)
            .map_err(|e| ReadError::Failed(format!("unreadable watch event: {e}")))?;
        let raw = event.object.get().as_bytes();
        match event.kind.as_ref() {
            "ADDED" | "MODIFIED" => {
                let item = self.item(raw);
                let version = item
                    .object
                    .as_ref()
                    .ok()
                    .map(|o| o.meta.resource_version.clone());
                send(tx, Change::Applied(Box::new(item))).await?;
                Ok(version)
            }
            "DELETED" => {
                let who = identity(raw)?;
                let version = who.resource_version.clone();
                send(tx, Change::Deleted(who)).await?;
                Ok(Some(version))
            }
            "BOOKMARK" => {
                let mark: Bookmark = serde_json::from_slice(raw)
                    .map_err(|e| ReadError::Failed(format!("unreadable bookmark: {e}")))?;
                Ok(Some(mark.metadata.resource_version))
            }
            "ERROR" => {
                let status: Status = serde_json::from_slice(raw).unwrap_or_default();
                if status.code == 410 {
                    Err(ReadError::Gone)
                } else {
                    Err(ReadError::Failed(format!(
                        "watch error {}: {}",
                        status.code, status.message
                    )))
                }
            }
            other => Err(ReadError::Failed(format!(
                "unknown watch event type {other:?}"
            ))),
        }
    }

    /// Sends a request; a non-2xx answer becomes `Gone` (410) or `Failed` with its message.
    async fn send(&self, req: http::Request<Vec<u8>>) -> Result<Body, ReadError> {
        let res = self
            .client
            .send(req.map(Body::from))
            .await
            .map_err(|e| ReadError::Failed(e.to_string()))?;
        let code = res.status().as_u16();
        if res.status().is_success() {
            return Ok(res.into_body());
        }
        let body = collect(res.into_body()).await.unwrap_or_default();
        if code == 410 {
            return Err(ReadError::Gone);
        }
        let message = serde_json::from_slice::<Status>(&body)
            .ok()
            .filter(|s| !s.message.is_empty())
            .map_or_else(
                || String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
                |s| s.message,
            );
        Err(ReadError::Failed(format!("HTTP {code}: {message}")))
    }
}

/// The next complete line of a watch response (events are JSON lines; a chunk may end in
/// the middle of one, or hold several).
fn next_line(buffer: &mut BytesMut) -> Option<Bytes> {
    let end = buffer.iter().position(|b| *b == b'\n')?;
    Some(buffer.split_to(end + 1).freeze())
}

async fn collect(body: Body) -> Result<Bytes, ReadError> {
    body.collect()
        .await
        .map(|b| b.to_bytes())
        .map_err(|e| ReadError::Failed(format!("reading a response: {e}")))
}

async fn send(tx: &mpsc::Sender<Change>, change: Change) -> Result<(), ReadError> {
    tx.send(change).await.map_err(|_| ReadError::Closed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_across_and_within_chunks() {
        let events = b"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}\n{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"9\"}}}\n";
        for cut in 1..events.len() {
            let mut buffer = BytesMut::new();
            let mut lines = Vec::new();
            for chunk in [&events[..cut], &events[cut..]] {
                buffer.extend_from_slice(chunk);
                while let Some(line) = next_line(&mut buffer) {
                    lines.push(line);
                }
            }
            assert!(buffer.is_empty(), "cut at {cut}");
            let kinds: Vec<String> = lines
                .iter()
                .map(|l| {
                    let e: WatchLine<'_> = serde_json::from_slice(l.trim_ascii()).expect("event");
                    e.kind.into_owned()
                })
                .collect();
            assert_eq!(kinds, ["ADDED", "BOOKMARK"], "cut at {cut}");
        }
    }

    #[test]
    fn list_pages_and_statuses_parse() {
        let page: Page<'_> = serde_json::from_slice(
            br#"{"kind":"PodList","metadata":{"resourceVersion":"12","continue":"t"},"items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}}]}"#,
        )
        .expect("page");
        assert_eq!(page.items.as_ref().map(Vec::len), Some(2));
        assert_eq!(page.metadata.continue_token.as_deref(), Some("t"));
        // An empty list may say `items: null`.
        let empty: Page<'_> =
            serde_json::from_slice(br#"{"metadata":{"resourceVersion":"3"},"items":null}"#)
                .expect("empty page");
        assert!(empty.items.is_none());
        let status: Status = serde_json::from_slice(
            br#"{"kind":"Status","code":410,"reason":"Expired","message":"too old resource version"}"#,
        )
        .expect("status");
        assert_eq!(status.code, 410);
    }
}
