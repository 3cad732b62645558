//! The write rules every storage layer applies, as pure functions: what an upsert or a
//! delete does given what is stored, the plan of a whole batch, and the writer fence.
//!
//! resourceVersions are opaque (Kubernetes clients compare them for equality only): a
//! cluster restored from a backup, re-created or moved to a new etcd starts its versions
//! again, so no rule orders them. The order of one synchro's list/watch stream is what
//! counts: a later write wins, whatever its version. A `uid` names one incarnation of an
//! object; another uid at the same name is another object.

use std::collections::HashMap;

use crate::contract::{BatchOutcome, Fence, WriteOp};
use crate::error::{Result, StorageError};

/// The hash that tells an unchanged upsert from a changed one (xxh3 of the raw bytes).
pub fn content_hash(raw: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(raw)
}

/// An object's identity and content, as the rules look at it (stored or incoming).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectState {
    pub uid: String,
    pub resource_version: String,
    pub content_hash: u64,
}

/// Whether two uids name the same incarnation. An empty uid (objects loaded from
/// manifests often have none) is unknown and matches any.
pub fn same_object(a: &str, b: &str) -> bool {
    a.is_empty() || b.is_empty() || a == b
}

/// What an upsert does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpsertAction {
    /// Nothing is stored at the name: the object is added (`ADDED`).
    Add,
    /// The same object changed: it is replaced (`MODIFIED`).
    Modify,
    /// Another object (another uid) is stored at the name: it is deleted, then the new one
    /// added (`DELETED`, then `ADDED`).
    Recreate,
    /// Same uid, resourceVersion and bytes: nothing is written.
    Unchanged,
}

/// The rule for an upsert of `incoming` over `current` (what is stored at its name).
pub fn upsert(current: Option<&ObjectState>, incoming: &ObjectState) -> UpsertAction {
    match current {
        None => UpsertAction::Add,
        Some(c) if !same_object(&c.uid, &incoming.uid) => UpsertAction::Recreate,
        Some(c)
            if c.uid == incoming.uid
                && c.resource_version == incoming.resource_version
                && c.content_hash == incoming.content_hash =>
        {
            UpsertAction::Unchanged
        }
        Some(_) => UpsertAction::Modify,
    }
}

/// What a delete does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteAction {
    /// The stored object is removed (`DELETED`).
    Delete,
    /// Nothing is stored at the name.
    Missing,
    /// The delete names another incarnation than the stored one: the stored object stays.
    Superseded,
}

/// The rule for a delete of the incarnation `uid` (any, if `None`) over `current`.
pub fn delete(current: Option<&ObjectState>, uid: Option<&str>) -> DeleteAction {
    match current {
        None => DeleteAction::Missing,
        Some(c) if uid.is_some_and(|u| !same_object(&c.uid, u)) => DeleteAction::Superseded,
        Some(_) => DeleteAction::Delete,
    }
}

/// Where the state a change replaces or removes comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The object stored before the batch.
    Stored,
    /// The upsert at this index of the batch.
    Op(usize),
}

/// One change of a [`Plan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// A new object, the upsert's (`ADDED`).
    Add,
    /// The same object, replaced by the upsert's (`MODIFIED`); `from` is the state replaced.
    Modify { from: Source },
    /// The object removed (`DELETED`, with the last state, `from`). Part of a delete op,
    /// or the first half of a re-creating upsert.
    Delete { from: Source },
}

/// A change to one object, made by the op at index `op`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub op: usize,
    pub kind: ChangeKind,
}

/// What a batch does, decided op by op against the state the ops before it left.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// The changes in order; the n-th (from 1) takes revision `base + n`.
    pub changes: Vec<Change>,
    /// The content hash of each upsert's bytes (0 for deletes), by op index.
    pub content_hashes: Vec<u64>,
    /// The counts; `revision` is left for the layer to set.
    pub outcome: BatchOutcome,
}

/// Plans `ops` (of one cluster and resource). `stored` returns what is stored at
/// `(namespace, name)` before the batch; it is asked once per name.
pub fn plan(ops: &[WriteOp], mut stored: impl FnMut(&str, &str) -> Option<ObjectState>) -> Plan {
    let mut states: HashMap<(&str, &str), Option<(ObjectState, Source)>> = HashMap::new();
    let mut plan = Plan {
        changes: Vec::with_capacity(ops.len()),
        content_hashes: Vec::with_capacity(ops.len()),
        outcome: BatchOutcome::default(),
    };
    for (i, op) in ops.iter().enumerate() {
        let key = op.key();
        let state = states
            .entry(key)
            .or_insert_with(|| stored(key.0, key.1).map(|s| (s, Source::Stored)));
        let current = state.as_ref().map(|(s, _)| s);
        let from = state.as_ref().map_or(Source::Stored, |(_, f)| *f);
        match op {
            WriteOp::Upsert(object) => {
                let incoming = ObjectState {
                    uid: object.meta.uid.clone(),
                    resource_version: object.meta.resource_version.clone(),
                    content_hash: content_hash(&object.raw),
                };
                plan.content_hashes.push(incoming.content_hash);
                let kind = match upsert(current, &incoming) {
                    UpsertAction::Unchanged => {
                        plan.outcome.unchanged += 1;
                        continue;
                    }
                    UpsertAction::Add => ChangeKind::Add,
                    UpsertAction::Modify => ChangeKind::Modify { from },
                    UpsertAction::Recreate => {
                        plan.changes.push(Change {
                            op: i,
                            kind: ChangeKind::Delete { from },
                        });
                        plan.outcome.recreated += 1;
                        ChangeKind::Add
                    }
                };
                plan.changes.push(Change { op: i, kind });
                plan.outcome.written += 1;
                *state = Some((incoming, Source::Op(i)));
            }
            WriteOp::Delete { uid, .. } => {
                plan.content_hashes.push(0);
                match delete(current, uid.as_deref()) {
                    DeleteAction::Missing => plan.outcome.missing += 1,
                    DeleteAction::Superseded => plan.outcome.superseded += 1,
                    DeleteAction::Delete => {
                        plan.changes.push(Change {
                            op: i,
                            kind: ChangeKind::Delete { from },
                        });
                        plan.outcome.deleted += 1;
                        *state = None;
                    }
                }
            }
        }
    }
    plan
}

/// Checks a writer's `fence` against the highest epoch recorded for `cluster`. Returns
/// the epoch to record, if it changes; `Conflict` when a later epoch already wrote.
pub fn check_fence(cluster: &str, recorded: Option<u64>, fence: Fence) -> Result<Option<u64>> {
    match (fence, recorded) {
        (Fence::Unfenced, _) => Ok(None),
        (Fence::Epoch(epoch), Some(highest)) if epoch < highest => {
            Err(StorageError::conflict(format!(
                "another manager (epoch {highest}) now writes cluster {cluster:?}; this writer's epoch {epoch} is older"
            )))
        }
        (Fence::Epoch(epoch), Some(highest)) if epoch == highest => Ok(None),
        (Fence::Epoch(epoch), _) => Ok(Some(epoch)),
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use pedia_core::Object;

    use super::*;
    use crate::error::ErrorKind;

    fn state(uid: &str, rv: &str, hash: u64) -> ObjectState {
        ObjectState {
            uid: uid.into(),
            resource_version: rv.into(),
            content_hash: hash,
        }
    }

    fn object(name: &str, uid: &str, rv: &str) -> Object {
        let raw = format!(
            r#"{{"metadata":{{"namespace":"ns","name":"{name}","uid":"{uid}","resourceVersion":"{rv}"}}}}"#
        );
        Object::from_json(Bytes::from(raw)).expect("object")
    }

    #[test]
    fn versions_are_never_ordered() {
        let stored = state("u", "100", 1);
        // A lower version from the same object is a change like any other.
        assert_eq!(
            upsert(Some(&stored), &state("u", "9", 2)),
            UpsertAction::Modify
        );
        assert_eq!(
            upsert(Some(&stored), &state("u", "101", 2)),
            UpsertAction::Modify
        );
        assert_eq!(
            upsert(Some(&stored), &state("v", "3", 2)),
            UpsertAction::Recreate
        );
    }

    #[test]
    fn unchanged_needs_uid_version_and_bytes() {
        let stored = state("u", "7", 1);
        assert_eq!(
            upsert(Some(&stored), &state("u", "7", 1)),
            UpsertAction::Unchanged
        );
        assert_eq!(
            upsert(Some(&stored), &state("u", "7", 2)),
            UpsertAction::Modify
        );
        assert_eq!(
            upsert(Some(&stored), &state("u", "8", 1)),
            UpsertAction::Modify
        );
        assert_eq!(
            upsert(Some(&stored), &state("w", "7", 1)),
            UpsertAction::Recreate
        );
        // An unknown uid is not another object, but not the same bytes either.
        assert_eq!(
            upsert(Some(&stored), &state("", "7", 1)),
            UpsertAction::Modify
        );
        assert_eq!(upsert(None, &state("u", "7", 1)), UpsertAction::Add);
    }

    #[test]
    fn deletes_name_an_incarnation() {
        let stored = state("u", "7", 1);
        assert_eq!(delete(Some(&stored), None), DeleteAction::Delete);
        assert_eq!(delete(Some(&stored), Some("u")), DeleteAction::Delete);
        assert_eq!(delete(Some(&stored), Some("old")), DeleteAction::Superseded);
        assert_eq!(delete(Some(&stored), Some("")), DeleteAction::Delete);
        assert_eq!(
            delete(Some(&state("", "1", 1)), Some("u")),
            DeleteAction::Delete
        );
        assert_eq!(delete(None, Some("u")), DeleteAction::Missing);
    }

    #[test]
    fn a_plan_follows_the_batch_order() {
        let ops = vec![
            // Stored as uid "old" at version 50: re-created with a lower version.
            WriteOp::Upsert(object("a", "new", "3")),
            WriteOp::Upsert(object("a", "new", "2")),
            WriteOp::delete_uid("ns", "a", "old"),
            WriteOp::delete_uid("ns", "a", "new"),
            WriteOp::delete("ns", "a"),
            WriteOp::Upsert(object("b", "b1", "1")),
            WriteOp::Upsert(object("b", "b1", "1")),
        ];
        let mut asked = Vec::new();
        let plan = plan(&ops, |ns, name| {
            asked.push(format!("{ns}/{name}"));
            (name == "a").then(|| state("old", "50", 9))
        });
        assert_eq!(asked, ["ns/a", "ns/b"], "each name is looked up once");
        let kinds: Vec<(usize, ChangeKind)> = plan.changes.iter().map(|c| (c.op, c.kind)).collect();
        assert_eq!(
            kinds,
            [
                (
                    0,
                    ChangeKind::Delete {
                        from: Source::Stored
                    }
                ),
                (0, ChangeKind::Add),
                (
                    1,
                    ChangeKind::Modify {
                        from: Source::Op(0)
                    }
                ),
                (
                    3,
                    ChangeKind::Delete {
                        from: Source::Op(1)
                    }
                ),
                (5, ChangeKind::Add),
            ]
        );
        assert_eq!(
            plan.outcome,
            BatchOutcome {
                written: 3,
                recreated: 1,
                deleted: 1,
                unchanged: 1,
                superseded: 1,
                missing: 1,
                revision: 0,
            }
        );
        assert_eq!(plan.outcome.applied(), plan.changes.len() as u64);
        assert_eq!(plan.content_hashes.len(), ops.len());
        assert_eq!(plan.content_hashes[2], 0);
        assert_eq!(plan.content_hashes[5], plan.content_hashes[6]);
    }

    #[test]
    fn fencing_refuses_older_epochs_only() {
        assert_eq!(check_fence("c", None, Fence::Unfenced).ok(), Some(None));
        assert_eq!(check_fence("c", Some(9), Fence::Unfenced).ok(), Some(None));
        assert_eq!(check_fence("c", None, Fence::Epoch(0)).ok(), Some(Some(0)));
        assert_eq!(
            check_fence("c", Some(3), Fence::Epoch(4)).ok(),
            Some(Some(4))
        );
        assert_eq!(check_fence("c", Some(4), Fence::Epoch(4)).ok(), Some(None));
        let err = check_fence("c1", Some(5), Fence::Epoch(4)).expect_err("older");
        assert_eq!(err.kind(), ErrorKind::Conflict);
        assert_eq!(
            err.message(),
            "another manager (epoch 5) now writes cluster \"c1\"; this writer's epoch 4 is older"
        );
    }
}
