//! The write side: applying a cluster's batch in one transaction (deciding stale and
//! unchanged writes, one revision and one event per applied change), cleaning clusters,
//! and pruning the event log.

use pedia_plugin_api::pedia_core::{
    GroupVersionResource, Object, ResourceType, parse_resource_version,
};
use pedia_plugin_api::pedia_storage::filter::created_millis;
use pedia_plugin_api::pedia_storage::{
    BatchOutcome, Result, Revision, StorageError, WatchEventType, WriteOp,
};

use crate::Shared;
use crate::db::{Conn, Key, NewObject};

/// Whether a write carrying `incoming` must be skipped because the stored version
/// `current` is newer. Only numeric versions compare; anything else (including an empty
/// incoming version) always applies.
fn is_stale(current: &str, incoming: &str) -> bool {
    matches!(
        (parse_resource_version(current), parse_resource_version(incoming)),
        (Some(c), Some(i)) if i < c
    )
}

/// The hash that tells an unchanged upsert (same version, same bytes) from a re-pruned one.
fn content_hash(raw: &[u8]) -> i64 {
    // Stored as BIGINT: the bits are what matter, not the sign.
    i64::from_ne_bytes(xxhash_rust::xxh3::xxh3_64(raw).to_ne_bytes())
}

fn labels_json(object: &Object) -> Result<String> {
    let labels: serde_json::Map<String, serde_json::Value> = object
        .meta
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    serde_json::to_string(&labels).map_err(|e| StorageError::internal("encoding labels", e))
}

/// Applies `ops` of `cluster` to `resource` atomically and in order.
pub(crate) async fn apply_batch(
    shared: &Shared,
    resource: &ResourceType,
    cluster: &str,
    ops: Vec<WriteOp>,
) -> Result<BatchOutcome> {
    let mut tx = shared.db.write_tx().await?;
    let mut conn = tx.conn();
    let (start, compacted) = conn.meta(true).await?;
    let mut out = BatchOutcome::default();
    let mut revision = start;
    conn.register(cluster, resource).await?;
    for op in ops {
        match op {
            WriteOp::Upsert(object) => {
                upsert(
                    &mut conn,
                    resource,
                    cluster,
                    &object,
                    &mut revision,
                    &mut out,
                )
                .await?;
            }
            WriteOp::Delete {
                namespace,
                name,
                resource_version,
            } => {
                let key = Key {
                    gvr: &resource.gvr,
                    cluster,
                    namespace: &namespace,
                    name: &name,
                };
                match conn.object_version(key).await? {
                    None => out.missing += 1,
                    Some((current, _)) if is_stale(&current, &resource_version) => out.stale += 1,
                    Some(_) => {
                        revision += 1;
                        conn.delete_object(revision, key).await?;
                        out.deleted += 1;
                    }
                }
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
    out.revision = revision;
    Ok(out)
}

async fn upsert(
    conn: &mut Conn<'_>,
    resource: &ResourceType,
    cluster: &str,
    object: &Object,
    revision: &mut Revision,
    out: &mut BatchOutcome,
) -> Result<()> {
    let meta = &object.meta;
    let key = Key {
        gvr: &resource.gvr,
        cluster,
        namespace: &meta.namespace,
        name: &meta.name,
    };
    let hash = content_hash(&object.raw);
    let previous = conn.object_version(key).await?;
    if let Some((current, current_hash)) = &previous {
        if is_stale(current, &meta.resource_version) {
            out.stale += 1;
            return Ok(());
        }
        if *current == meta.resource_version && *current_hash == hash {
            out.unchanged += 1;
            return Ok(());
        }
    }
    *revision += 1;
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
        revision: *revision,
        content_hash: hash,
        labels: &labels,
        object: &object.raw,
    })
    .await?;
    let event_type = if previous.is_some() {
        WatchEventType::Modified
    } else {
        WatchEventType::Added
    };
    conn.add_event(*revision, key, event_type, &object.raw)
        .await?;
    out.written += 1;
    Ok(())
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
) -> Result<()> {
    let mut tx = shared.db.write_tx().await?;
    let mut conn = tx.conn();
    let (start, compacted) = conn.meta(true).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staleness_compares_numbers_only() {
        assert!(is_stale("10", "9"));
        assert!(!is_stale("9", "10"), "numeric, not textual");
        assert!(!is_stale("10", "10"));
        assert!(!is_stale("10", ""), "an unknown version always applies");
        assert!(!is_stale("abc", "1"));
        assert!(!is_stale("", "1"));
    }

    #[test]
    fn hashes_differ_with_content() {
        assert_eq!(content_hash(b"{}"), content_hash(b"{}"));
        assert_ne!(content_hash(b"{}"), content_hash(b"{ }"));
    }
}
