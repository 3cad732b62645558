//! The write side: applying a cluster's batch in one transaction (the shared write
//! rules of `pedia_storage::write_rules` plan it; one revision and one event per
//! change), the writer fence, cleaning clusters, and pruning the event log.

use std::collections::HashMap;

use pedia_plugin_api::pedia_core::{GroupVersionResource, Object, ResourceType};
use pedia_plugin_api::pedia_storage::filter::created_millis;
use pedia_plugin_api::pedia_storage::write_rules::{self, ChangeKind, ObjectState};
use pedia_plugin_api::pedia_storage::{
    BatchOutcome, Fence, Result, Revision, StorageError, WatchEventType, WriteOp,
};

use crate::Shared;
use crate::db::{Conn, Key, NewObject};

fn labels_json(object: &Object) -> Result<String> {
    let labels: serde_json::Map<String, serde_json::Value> = object
        .meta
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    serde_json::to_string(&labels).map_err(|e| StorageError::internal("encoding labels", e))
}

/// Refuses `fence` if a later epoch wrote `cluster`; records a newer epoch. Runs after
/// the write lock is taken, so the check and the batch are one step.
async fn check_fence(conn: &mut Conn<'_>, cluster: &str, fence: Fence) -> Result<()> {
    if fence == Fence::Unfenced {
        return Ok(());
    }
    let recorded = conn.writer_epoch(cluster).await?;
    if let Some(epoch) = write_rules::check_fence(cluster, recorded, fence)? {
        conn.set_writer_epoch(cluster, epoch).await?;
    }
    Ok(())
}

/// Applies `ops` of `cluster` to `resource` atomically and in order.
pub(crate) async fn apply_batch(
    shared: &Shared,
    resource: &ResourceType,
    cluster: &str,
    fence: Fence,
    ops: Vec<WriteOp>,
) -> Result<BatchOutcome> {
    if ops.is_empty() {
        let mut pooled = shared.db.pooled().await?;
        return Ok(BatchOutcome {
            revision: pooled.conn().meta(false).await?.0,
            ..BatchOutcome::default()
        });
    }
    let mut tx = shared.db.write_tx().await?;
    let mut conn = tx.conn();
    let (start, compacted) = conn.meta(true).await?;
    check_fence(&mut conn, cluster, fence).await?;
    conn.register(cluster, resource).await?;

    // What is stored at each name of the batch, then the plan.
    let mut stored: HashMap<(&str, &str), Option<ObjectState>> = HashMap::new();
    for op in &ops {
        let (namespace, name) = op.key();
        if stored.contains_key(&(namespace, name)) {
            continue;
        }
        let key = Key {
            gvr: &resource.gvr,
            cluster,
            namespace,
            name,
        };
        let state = conn
            .object_state(key)
            .await?
            .map(|(uid, resource_version, hash)| ObjectState {
                uid,
                resource_version,
                content_hash: hash as u64,
            });
        stored.insert((namespace, name), state);
    }
    let plan = write_rules::plan(&ops, |namespace, name| {
        stored.get(&(namespace, name)).cloned().flatten()
    });

    // The changes in order, each with its revision and event.
    let mut revision = start;
    for change in &plan.changes {
        revision += 1;
        let (namespace, name) = ops[change.op].key();
        let key = Key {
            gvr: &resource.gvr,
            cluster,
            namespace,
            name,
        };
        let WriteOp::Upsert(object) = &ops[change.op] else {
            conn.delete_object(revision, key).await?;
            continue;
        };
        match change.kind {
            ChangeKind::Delete { .. } => conn.delete_object(revision, key).await?,
            ChangeKind::Add | ChangeKind::Modify { .. } => {
                let hash = plan.content_hashes[change.op] as i64;
                put(&mut conn, resource, cluster, object, hash, revision).await?;
                let event_type = if change.kind == ChangeKind::Add {
                    WatchEventType::Added
                } else {
                    WatchEventType::Modified
                };
                conn.add_event(revision, key, event_type, &object.raw)
                    .await?;
            }
        }
    }
    if revision > start {
        finish(shared, &mut conn, revision, compacted).await?;
    }
    tx.commit().await?;
    if revision > start {
        shared.notify.send_replace(revision);
    }
    Ok(BatchOutcome {
        revision,
        ..plan.outcome
    })
}

/// Inserts or replaces the row of `object` (its event is recorded by the caller).
async fn put(
    conn: &mut Conn<'_>,
    resource: &ResourceType,
    cluster: &str,
    object: &Object,
    content_hash: i64,
    revision: Revision,
) -> Result<()> {
    let meta = &object.meta;
    let labels = labels_json(object)?;
    conn.put_object(&NewObject {
        resource,
        cluster,
        namespace: &meta.namespace,
        name: &meta.name,
        uid: &meta.uid,
        owner_uid: &meta.owner_uid,
        resource_version: &meta.resource_version,
        created_at: created_millis(meta),
        revision,
        content_hash,
        labels: &labels,
        object: &object.raw,
    })
    .await
}

/// Stores the new revision and prunes the event log to the configured history.
async fn finish(
    shared: &Shared,
    conn: &mut Conn<'_>,
    revision: Revision,
    compacted: Revision,
) -> Result<()> {
    let keep_from = revision.saturating_sub(shared.history);
    let compacted = if keep_from > compacted {
        conn.prune_events(keep_from).await?;
        keep_from
    } else {
        compacted
    };
    conn.set_meta(revision, compacted).await
}

/// Removes every object of `cluster` (of one resource, if given), with one `DELETED`
/// event each, and forgets the cluster's registrations.
pub(crate) async fn clean(
    shared: &Shared,
    cluster: &str,
    gvr: Option<&GroupVersionResource>,
    fence: Fence,
) -> Result<()> {
    let mut tx = shared.db.write_tx().await?;
    let mut conn = tx.conn();
    let (start, compacted) = conn.meta(true).await?;
    check_fence(&mut conn, cluster, fence).await?;
    let removed = conn.delete_all(cluster, gvr, start).await?;
    conn.unregister(cluster, gvr).await?;
    let revision = start + removed;
    if removed > 0 {
        finish(shared, &mut conn, revision, compacted).await?;
    }
    tx.commit().await?;
    if removed > 0 {
        shared.notify.send_replace(revision);
    }
    Ok(())
}
