//! Syncing one resource of one cluster: a paginated initial list then a watch (kube-rs'
//! watcher, which relists on `410 Gone`), turned into batched storage writes. Objects whose
//! stored uid and resourceVersion already match are not rewritten (after a restart or a
//! relist; a re-created cluster reuses versions, so the uid counts too), and objects that
//! disappeared while nobody watched are deleted when a list completes. Deletes name the
//! incarnation (uid) they delete. A write refused by the fence stops the synchro.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, DynamicObject, TypeMeta};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use pedia_core::ResourceType;
use pedia_storage::{ErrorKind, StoredVersion, WriteOp, object_key};
use synchro_writer::{BatchWriter, Pruning, prepare_typed};
use tokio::time::Instant;

use crate::progress::ResourceProgress;
use crate::resolve::SyncTarget;

/// How many changes one storage transaction carries at most.
pub const BATCH_SIZE: usize = 500;
/// How long a change may wait for its batch to fill.
const BATCH_DELAY: Duration = Duration::from_millis(100);
/// Page size of the initial list.
const PAGE_SIZE: u32 = 500;

/// The synchro of one resource.
#[allow(missing_debug_implementations)]
pub struct ResourceSynchro {
    pub client: kube::Client,
    pub target: SyncTarget,
    pub writer: BatchWriter,
    pub pruning: Pruning,
    pub progress: Arc<ResourceProgress>,
    /// Stored versions of this resource's objects (`ns/name` -> uid and rv).
    pub known: HashMap<String, StoredVersion>,
    /// Told why, when storage refuses this manager's writes because a later leader writes
    /// the cluster (the cluster synchro then stops every resource).
    pub fenced: Arc<tokio::sync::watch::Sender<Option<String>>>,
}

/// The synchro must stop: a later leader writes the cluster.
struct FencedOut;

/// Pending writes with the version each leaves behind in `known`.
#[derive(Default)]
struct Pending {
    ops: Vec<WriteOp>,
    effects: Vec<(String, Option<StoredVersion>)>,
    since: Option<Instant>,
}

impl Pending {
    fn push(&mut self, op: WriteOp, key: String, rv: Option<StoredVersion>) {
        if self.ops.is_empty() {
            self.since = Some(Instant::now());
        }
        self.ops.push(op);
        self.effects.push((key, rv));
    }

    fn due(&self) -> bool {
        self.ops.len() >= BATCH_SIZE || self.since.is_some_and(|s| s.elapsed() >= BATCH_DELAY)
    }
}

fn key_of(obj: &DynamicObject) -> String {
    object_key(
        obj.metadata.namespace.as_deref().unwrap_or(""),
        obj.metadata.name.as_deref().unwrap_or(""),
    )
}

impl ResourceSynchro {
    fn resource(&self) -> ResourceType {
        self.target.resource_type()
    }

    fn upsert(&self, pending: &mut Pending, mut obj: DynamicObject) {
        let key = key_of(&obj);
        let version = StoredVersion {
            uid: obj.metadata.uid.clone().unwrap_or_default(),
            resource_version: obj.metadata.resource_version.clone().unwrap_or_default(),
        };
        // List items come without apiVersion and kind.
        obj.types = Some(TypeMeta {
            api_version: self.target.api.api_version.clone(),
            kind: self.target.api.kind.clone(),
        });
        match prepare_typed(
            &mut obj,
            |o| &mut o.metadata,
            self.writer.cluster(),
            self.pruning,
        ) {
            Ok(object) => pending.push(WriteOp::Upsert(object), key, Some(version)),
            Err(err) => {
                tracing::warn!(cluster = self.writer.cluster(), resource = %self.target.label(), object = %key, error = %err, "skipping an object that cannot be stored");
            }
        }
    }

    /// Deletes the incarnation `uid` of `namespace/name` (whatever is stored if unknown).
    fn delete(pending: &mut Pending, key: String, namespace: &str, name: &str, uid: &str) {
        pending.push(WriteOp::delete_uid(namespace, name, uid), key, None);
    }

    /// Writes the pending batch, retrying until it is stored (storage outages must not lose
    /// changes) or the task is cancelled. `FencedOut` when a later leader writes the
    /// cluster: nothing is retried then.
    async fn flush(&mut self, pending: &mut Pending) -> Result<(), FencedOut> {
        if pending.ops.is_empty() {
            return Ok(());
        }
        let ops = std::mem::take(&mut pending.ops);
        let effects = std::mem::take(&mut pending.effects);
        pending.since = None;
        let resource = self.resource();
        let mut backoff = Duration::from_millis(200);
        loop {
            match self.writer.write(&resource, ops.clone()).await {
                Ok(out) => {
                    self.progress
                        .written
                        .fetch_add(out.written + out.deleted, Ordering::Relaxed);
                    self.progress
                        .synced
                        .fetch_add(out.written + out.unchanged, Ordering::Relaxed);
                    self.progress.set_error(None);
                    break;
                }
                Err(err) if err.kind() == ErrorKind::Conflict => {
                    let message = err.message().to_owned();
                    tracing::error!(
                        cluster = self.writer.cluster(),
                        resource = %self.target.label(),
                        error = %message,
                        "storage refuses this manager's writes; stopping"
                    );
                    self.progress.set_error(Some(format!("storage: {message}")));
                    self.fenced.send_replace(Some(message));
                    return Err(FencedOut);
                }
                Err(err) => {
                    tracing::warn!(
                        cluster = self.writer.cluster(),
                        resource = %self.target.label(),
                        error = %err.detail(),
                        "storage write failed; retrying"
                    );
                    self.progress
                        .set_error(Some(format!("storage: {}", err.message())));
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
        for (key, version) in effects {
            match version {
                Some(version) => {
                    self.known.insert(key, version);
                }
                None => {
                    self.known.remove(&key);
                }
            }
        }
        Ok(())
    }

    /// Runs until cancelled (the caller aborts the task).
    pub async fn run(mut self) {
        let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &self.target.api);
        let config = watcher::Config::default().page_size(PAGE_SIZE);
        let mut events = watcher::watcher(api, config).default_backoff().boxed();
        let mut pending = Pending::default();
        // Keys seen by the list in progress, if one is.
        let mut listing: Option<HashSet<String>> = None;
        loop {
            let next = if pending.ops.is_empty() {
                events.next().await
            } else {
                match tokio::time::timeout(BATCH_DELAY, events.next()).await {
                    Ok(event) => event,
                    Err(_) => {
                        if self.flush(&mut pending).await.is_err() {
                            return;
                        }
                        continue;
                    }
                }
            };
            let Some(event) = next else { break };
            match event {
                Ok(Event::Init) => {
                    listing = Some(HashSet::new());
                    self.progress.listed.store(0, Ordering::Relaxed);
                }
                Ok(Event::InitApply(obj)) => {
                    self.progress.received.fetch_add(1, Ordering::Relaxed);
                    self.progress.listed.fetch_add(1, Ordering::Relaxed);
                    let key = key_of(&obj);
                    let unchanged = self.known.get(&key).is_some_and(|k| {
                        obj.metadata.resource_version.as_deref() == Some(&k.resource_version)
                            && obj.metadata.uid.as_deref() == Some(&k.uid)
                    });
                    if let Some(seen) = listing.as_mut() {
                        seen.insert(key);
                    }
                    if unchanged {
                        self.progress.synced.fetch_add(1, Ordering::Relaxed);
                    } else {
                        self.upsert(&mut pending, obj);
                    }
                }
                Ok(Event::InitDone) => {
                    if let Some(seen) = listing.take() {
                        let gone: Vec<String> = self
                            .known
                            .keys()
                            .filter(|k| !seen.contains(*k))
                            .cloned()
                            .collect();
                        for key in gone {
                            let (ns, name) = key.split_once('/').unwrap_or(("", key.as_str()));
                            let (ns, name) = (ns.to_owned(), name.to_owned());
                            let uid = self.known.get(&key).map(|k| k.uid.clone());
                            Self::delete(
                                &mut pending,
                                key.clone(),
                                &ns,
                                &name,
                                uid.as_deref().unwrap_or(""),
                            );
                        }
                    }
                    if self.flush(&mut pending).await.is_err() {
                        return;
                    }
                    self.progress.set_error(None);
                    if !self.progress.initial_done.swap(true, Ordering::Relaxed) {
                        tracing::info!(
                            cluster = self.writer.cluster(),
                            resource = %self.target.label(),
                            objects = self.progress.listed.load(Ordering::Relaxed),
                            rate = format!("{:.0}/s", self.progress.rate()),
                            "initial sync done"
                        );
                    }
                }
                Ok(Event::Apply(obj)) => {
                    self.progress.received.fetch_add(1, Ordering::Relaxed);
                    self.upsert(&mut pending, obj);
                }
                Ok(Event::Delete(obj)) => {
                    self.progress.received.fetch_add(1, Ordering::Relaxed);
                    let key = key_of(&obj);
                    let ns = obj.metadata.namespace.clone().unwrap_or_default();
                    let name = obj.metadata.name.clone().unwrap_or_default();
                    let uid = obj.metadata.uid.clone().unwrap_or_default();
                    Self::delete(&mut pending, key, &ns, &name, &uid);
                }
                Err(err) => {
                    tracing::warn!(cluster = self.writer.cluster(), resource = %self.target.label(), error = %err, "watch failed; retrying");
                    self.progress.set_error(Some(err.to_string()));
                }
            }
            if pending.due() && self.flush(&mut pending).await.is_err() {
                return;
            }
        }
    }
}
