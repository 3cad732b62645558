//! Syncing one resource of one cluster: the changes a [`ChangeSource`] reads (a paginated
//! list, then watches; a relist on `410 Gone`) turned into batched storage writes. Reading
//! goes on while a batch is written: at most one write is in flight and one batch fills
//! behind it, so batches are large while the initial list streams in and small when
//! changes trickle (a change waits for at most the write before it). Objects whose stored
//! uid and resourceVersion already match are not rewritten (after a restart or a relist; a
//! re-created cluster reuses versions, so the uid counts too), and objects that disappeared
//! while nobody watched are deleted when a list completes. Deletes name the incarnation
//! (uid) they delete. A write refused by the fence stops the synchro.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use pedia_core::ResourceType;
use pedia_storage::{ErrorKind, StoredVersion, WriteOp};
use synchro_writer::{BatchWriter, Pruning};
use tokio::sync::mpsc;

use crate::progress::ResourceProgress;
use crate::resolve::SyncTarget;
use crate::synchro::changes::{Change, ChangeSource, Item};

/// How many changes one storage transaction carries at most.
pub const BATCH_SIZE: usize = 500;
/// Page size of the initial list.
const PAGE_SIZE: u32 = 500;
/// How many list pages or watch events the source may read ahead of the writes.
const READ_AHEAD: usize = 4;

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

/// What a batch leaves behind in `known` once it is stored.
type Effects = Vec<(String, Option<StoredVersion>)>;

/// Changes waiting for a write, with the versions they leave behind.
#[derive(Default)]
struct Pending {
    ops: Vec<WriteOp>,
    effects: Effects,
}

impl Pending {
    fn push(&mut self, op: WriteOp, key: String, rv: Option<StoredVersion>) {
        self.ops.push(op);
        self.effects.push((key, rv));
    }

    fn is_full(&self) -> bool {
        self.ops.len() >= BATCH_SIZE
    }
}

/// The batch being written.
struct InFlight {
    write: Pin<Box<dyn Future<Output = Result<(), FencedOut>> + Send>>,
    effects: Effects,
}

/// Aborts the source task when the synchro ends (it is aborted by its caller).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What a write needs, owned, so that it runs while the synchro goes on reading.
#[derive(Clone)]
struct WriteContext {
    writer: BatchWriter,
    resource: ResourceType,
    label: String,
    progress: Arc<ResourceProgress>,
    fenced: Arc<tokio::sync::watch::Sender<Option<String>>>,
}

impl WriteContext {
    /// Writes `ops`, retrying until they are stored (storage outages must not lose
    /// changes) or the task is cancelled. `FencedOut` when a later leader writes the
    /// cluster: nothing is retried then.
    async fn write(self, ops: Vec<WriteOp>) -> Result<(), FencedOut> {
        let cluster = self.writer.cluster();
        let mut backoff = Duration::from_millis(200);
        loop {
            match self.writer.write(&self.resource, ops.clone()).await {
                Ok(out) => {
                    self.progress
                        .written
                        .fetch_add(out.written + out.deleted, Ordering::Relaxed);
                    self.progress
                        .synced
                        .fetch_add(out.written + out.unchanged, Ordering::Relaxed);
                    self.progress.set_error(None);
                    return Ok(());
                }
                Err(err) if err.kind() == ErrorKind::Conflict => {
                    let message = err.message().to_owned();
                    tracing::error!(cluster, resource = %self.label, error = %message, "storage refuses this manager's writes; stopping");
                    self.progress.set_error(Some(format!("storage: {message}")));
                    self.fenced.send_replace(Some(message));
                    return Err(FencedOut);
                }
                Err(err) => {
                    tracing::warn!(cluster, resource = %self.label, error = %err.detail(), "storage write failed; retrying");
                    self.progress
                        .set_error(Some(format!("storage: {}", err.message())));
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
    }
}

/// What woke the synchro up.
enum Wake {
    Written(Result<(), FencedOut>),
    Change(Option<Change>),
}

impl ResourceSynchro {
    fn upsert(&self, pending: &mut Pending, item: Item) {
        match (item.key, item.object) {
            (Some(key), Ok(object)) => {
                let version = StoredVersion {
                    uid: object.meta.uid.clone(),
                    resource_version: object.meta.resource_version.clone(),
                };
                pending.push(WriteOp::Upsert(object), key, Some(version));
            }
            (key, result) => {
                let error = result
                    .err()
                    .map_or_else(|| "no name".to_owned(), |e| e.to_string());
                tracing::warn!(cluster = self.writer.cluster(), resource = %self.target.label(), object = key.as_deref().unwrap_or("?"), error = %error, "skipping an object that cannot be stored");
            }
        }
    }

    fn context(&self) -> WriteContext {
        WriteContext {
            writer: self.writer.clone(),
            resource: self.target.resource_type(),
            label: self.target.label(),
            progress: Arc::clone(&self.progress),
            fenced: Arc::clone(&self.fenced),
        }
    }

    fn start_write(&self, pending: &mut Pending) -> InFlight {
        let ops = std::mem::take(&mut pending.ops);
        InFlight {
            write: Box::pin(self.context().write(ops)),
            effects: std::mem::take(&mut pending.effects),
        }
    }

    fn stored(&mut self, effects: Effects) {
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
    }

    /// Waits for the write in flight, and writes what is pending if `pending` is given.
    async fn drain(
        &mut self,
        in_flight: &mut Option<InFlight>,
        pending: Option<&mut Pending>,
    ) -> Result<(), FencedOut> {
        if let Some(batch) = in_flight.take() {
            batch.write.await?;
            self.stored(batch.effects);
        }
        if let Some(pending) = pending.filter(|p| !p.ops.is_empty()) {
            let batch = self.start_write(pending);
            batch.write.await?;
            self.stored(batch.effects);
        }
        Ok(())
    }

    /// Runs until cancelled (the caller aborts the task).
    pub async fn run(mut self) {
        let (tx, mut changes) = mpsc::channel(READ_AHEAD);
        let source = ChangeSource {
            client: self.client.clone(),
            api: self.target.api.clone(),
            cluster: self.writer.cluster().to_owned(),
            pruning: self.pruning,
            page_size: PAGE_SIZE,
        };
        let _source = AbortOnDrop(tokio::spawn(source.run(tx)));
        let mut pending = Pending::default();
        let mut in_flight: Option<InFlight> = None;
        // Keys seen by the list in progress, if one is.
        let mut listing: Option<HashSet<String>> = None;
        loop {
            // While a list streams in, batches fill up; afterwards every change is
            // written as soon as the write before it is done.
            if in_flight.is_none()
                && !pending.ops.is_empty()
                && (listing.is_none() || pending.is_full())
            {
                in_flight = Some(self.start_write(&mut pending));
            }
            let reading = !(pending.is_full() && in_flight.is_some());
            let wake = {
                let written = async {
                    match in_flight.as_mut() {
                        Some(batch) => batch.write.as_mut().await,
                        None => std::future::pending().await,
                    }
                };
                let next = async {
                    if reading {
                        changes.recv().await
                    } else {
                        std::future::pending().await
                    }
                };
                tokio::select! {
                    biased;
                    done = written => Wake::Written(done),
                    change = next => Wake::Change(change),
                }
            };
            let change = match wake {
                Wake::Written(Ok(())) => {
                    if let Some(batch) = in_flight.take() {
                        self.stored(batch.effects);
                    }
                    continue;
                }
                Wake::Written(Err(FencedOut)) => return,
                Wake::Change(None) => break,
                Wake::Change(Some(change)) => change,
            };
            match change {
                Change::ListStart => {
                    listing = Some(HashSet::new());
                    self.progress.listed.store(0, Ordering::Relaxed);
                }
                Change::Listed(items) => {
                    let count = items.len() as u64;
                    self.progress.received.fetch_add(count, Ordering::Relaxed);
                    self.progress.listed.fetch_add(count, Ordering::Relaxed);
                    for item in items {
                        let unchanged = match (&item.key, &item.object) {
                            (Some(key), Ok(object)) => self.known.get(key).is_some_and(|k| {
                                object.meta.resource_version == k.resource_version
                                    && object.meta.uid == k.uid
                            }),
                            _ => false,
                        };
                        if let (Some(seen), Some(key)) = (listing.as_mut(), &item.key) {
                            seen.insert(key.clone());
                        }
                        if unchanged {
                            self.progress.synced.fetch_add(1, Ordering::Relaxed);
                        } else {
                            self.upsert(&mut pending, item);
                        }
                    }
                }
                Change::ListDone => {
                    // `known` must hold what was written before it tells what disappeared
                    // (what is pending was listed, so it is in `seen`).
                    if self.drain(&mut in_flight, None).await.is_err() {
                        return;
                    }
                    if let Some(seen) = listing.take() {
                        let gone: Vec<(String, String)> = self
                            .known
                            .iter()
                            .filter(|(k, _)| !seen.contains(*k))
                            .map(|(k, v)| (k.clone(), v.uid.clone()))
                            .collect();
                        for (key, uid) in gone {
                            let (ns, name) = key.split_once('/').unwrap_or(("", key.as_str()));
                            let op = WriteOp::delete_uid(ns, name, &uid);
                            pending.push(op, key, None);
                        }
                    }
                    if self
                        .drain(&mut in_flight, Some(&mut pending))
                        .await
                        .is_err()
                    {
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
                Change::Applied(item) => {
                    self.progress.received.fetch_add(1, Ordering::Relaxed);
                    self.upsert(&mut pending, *item);
                }
                Change::Deleted(who) => {
                    self.progress.received.fetch_add(1, Ordering::Relaxed);
                    let key = pedia_storage::object_key(&who.namespace, &who.name);
                    pending.push(
                        WriteOp::delete_uid(&who.namespace, &who.name, &who.uid),
                        key,
                        None,
                    );
                }
                Change::Failed(message) => {
                    tracing::warn!(cluster = self.writer.cluster(), resource = %self.target.label(), error = %message, "watch failed; retrying");
                    self.progress.set_error(Some(message));
                }
            }
        }
    }
}
