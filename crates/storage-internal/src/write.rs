//! The write path: `apply_batch` as one transaction per batch in three steps (load the
//! stored rows of the batch's names; plan with the shared write rules and turn the plan
//! into row effects, both pure; execute multi-row statements in bounded chunks), and
//! cleaning a cluster or one of its resources into tombstones. Writers hold the revision
//! counter lock until commit, so revision order is commit order; the writer fence is
//! checked under the same lock.

use std::collections::{BTreeMap, HashMap};

use pedia_core::{GroupVersionResource, ResourceType};
use pedia_storage::write_rules::{self, ChangeKind, ObjectState, Plan, Source};
use pedia_storage::{BatchOutcome, Fence, Revision, StorageError, WriteOp};
use xxhash_rust::xxh3::xxh3_64;

use crate::db::{Arg, Conn, Dialect, ErrorMap, Ty};
use crate::fields::{self, FieldValue};
use crate::sql::{Sql, SqlBuilder};
use crate::state::Inner;

/// Keys fetched per existence query.
const KEYS_PER_QUERY: usize = 500;
/// Longest cluster name, uid or other key this layer stores (the column width).
const MAX_KEY_BYTES: usize = 255;

/// Checks a value stored in an ASCII key column.
fn check_key(what: &str, value: &str, allow_empty: bool) -> Result<(), StorageError> {
    if value.is_empty() && !allow_empty {
        return Err(StorageError::bad_request(format!(
            "{what} must not be empty"
        )));
    }
    if value.len() > MAX_KEY_BYTES {
        return Err(StorageError::bad_request(format!(
            "{what} is {} bytes long, more than {MAX_KEY_BYTES}",
            value.len()
        )));
    }
    if let Some(c) = value
        .chars()
        .find(|c| !c.is_ascii() || c.is_ascii_control())
    {
        return Err(StorageError::bad_request(format!(
            "{what} {value:?} contains {c:?}; only printable ASCII is stored"
        )));
    }
    Ok(())
}

/// The resource type's identity, validated once per storage.
pub(crate) fn check_resource_type(rt: &ResourceType) -> Result<(), StorageError> {
    check_key("resource group", &rt.gvr.group, true)?;
    check_key("resource version", &rt.gvr.version, false)?;
    check_key("resource name", &rt.gvr.resource, false)?;
    check_key("resource kind", &rt.kind, true)
}

fn as_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The hash of what an object has in the index tables (labels, then indexed fields),
/// stored as `labels_hash`: an update that leaves it equal rewrites neither table. An
/// object without indexed fields hashes as its labels alone.
pub(crate) fn index_hash(labels: &[(String, String)], fields: &[FieldValue]) -> i64 {
    let mut buf = Vec::new();
    for (k, v) in labels {
        buf.extend_from_slice(k.as_bytes());
        buf.push(0);
        buf.extend_from_slice(v.as_bytes());
        buf.push(0);
    }
    if !fields.is_empty() {
        // 0xff never occurs in UTF-8, so no label text can imitate this part.
        buf.push(0xff);
        for f in fields {
            buf.extend_from_slice(f.path.as_bytes());
            buf.push(0);
            match &f.value {
                Some(v) => {
                    buf.push(1);
                    buf.extend_from_slice(v.as_bytes());
                }
                None => buf.push(2),
            }
            buf.push(0);
            if let Some(n) = f.num {
                buf.extend_from_slice(&n.to_le_bytes());
            }
            buf.push(0xff);
        }
    }
    xxh3_64(&buf) as i64
}

const FIELDS_INSERT: &str =
    "INSERT INTO pedia_fields (resource_id, path, value, num_value) VALUES ";

/// Adds the `pedia_fields` rows of object `id` to `chunker`.
fn push_fields(chunker: &mut Chunker, id: i64, fields: &[FieldValue]) {
    for f in fields {
        let bytes = f.path.len() + f.value.as_ref().map_or(0, String::len);
        chunker.row(4, bytes, |b| {
            b.push("(")
                .bind_i64(id)
                .push(", ")
                .bind_text(f.path)
                .push(", ")
                .bind(Arg::OptText(f.value.clone()))
                .push(", ")
                .bind(Arg::OptI64(f.num))
                .push(")");
        });
    }
}

/// Fills `pedia_fields` from every stored object (the migration that adds the table),
/// reading objects in id order in bounded batches.
pub(crate) async fn backfill_fields(
    conn: &mut dyn Conn,
    dialect: Dialect,
    errors: &ErrorMap,
) -> Result<(), StorageError> {
    const OBJECTS_PER_QUERY: i64 = 500;
    let map = |e| errors.map("filling the indexed field values", e);
    // MySQL ran the CREATE outside any transaction: start from an empty table again.
    conn.execute(&Sql::raw("DELETE FROM pedia_fields"))
        .await
        .map_err(map)?;
    let mut after = i64::MIN;
    let mut filled = 0u64;
    loop {
        let mut b = SqlBuilder::new(dialect);
        b.push("SELECT id, object FROM pedia_resources WHERE id > ")
            .bind_i64(after)
            .push(" ORDER BY id LIMIT ")
            .bind_i64(OBJECTS_PER_QUERY);
        let rows = conn
            .fetch(&b.finish(), &[Ty::I64, Ty::Bytes])
            .await
            .map_err(map)?;
        let Some(last) = rows.last() else { break };
        after = last.i64(0)?;
        let mut chunker = Chunker::new(dialect, 1 << 20, FIELDS_INSERT, "");
        for mut row in rows {
            let id = row.i64(0)?;
            push_fields(&mut chunker, id, &fields::extract(&row.take_bytes(1)?));
            filled += 1;
        }
        for sql in chunker.finish() {
            conn.execute(&sql).await.map_err(map)?;
        }
    }
    // The planner needs the new table's statistics to choose its indexes.
    match dialect {
        Dialect::Postgres => {
            conn.execute(&Sql::raw("ANALYZE pedia_fields"))
                .await
                .map_err(map)?;
        }
        Dialect::MySql => {
            conn.fetch(&Sql::raw("ANALYZE TABLE pedia_fields"), &[])
                .await
                .map_err(map)?;
        }
        Dialect::Sqlite => {}
    }
    if filled > 0 {
        tracing::info!(
            objects = filled,
            "internal storage: indexed the field values of stored objects"
        );
    }
    Ok(())
}

/// A stored row of one of the batch's names, as the batch found it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct StoredRow {
    id: i64,
    uid: String,
    rv: String,
    content_hash: i64,
    labels_hash: i64,
}

impl StoredRow {
    fn state(&self) -> ObjectState {
        ObjectState {
            uid: self.uid.clone(),
            resource_version: self.rv.clone(),
            // Stored as the two's-complement bits of the u64.
            content_hash: self.content_hash as u64,
        }
    }
}

/// Stored rows by (namespace, name).
type StoredRows = HashMap<(String, String), StoredRow>;

/// A deleted object's last state, to be written to `pedia_tombstones`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Tombstone {
    revision: i64,
    created_revision: i64,
    /// The op whose name it is (its namespace and name are the tombstone's).
    op: usize,
    /// Whose bytes: the stored row's (copied inside the database) or an earlier upsert's.
    source: Source,
}

/// A row `pedia_resources` ends the batch with: the object of upsert `op`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RowWrite {
    op: usize,
    /// The revision that created the object (kept across modifications).
    id: i64,
    revision: i64,
    content_hash: i64,
    labels_hash: i64,
}

/// The row-level effect of a batch's plan: what the statements must do.
#[derive(Debug, Default, PartialEq, Eq)]
struct Effects {
    tombstones: Vec<Tombstone>,
    /// Final rows, by id (a stable lock order across writers).
    rows: Vec<RowWrite>,
    /// Stored rows removed (their labels too).
    deleted_ids: Vec<i64>,
    /// Stored rows kept whose labels change.
    relabel_ids: Vec<i64>,
    /// Ops whose labels and indexed fields are inserted, with the row id they belong to.
    labelled: Vec<(usize, i64)>,
    /// The indexed field values of the labelled ops, by op.
    fields: BTreeMap<usize, Vec<FieldValue>>,
    /// Rows inserted (not updated in place).
    inserted: u64,
    /// The revision after the batch.
    revision: i64,
}

/// The state of one name while the plan's changes are walked.
#[derive(Debug, Clone, Copy)]
struct Current {
    id: i64,
    source: Source,
}

/// Turns a plan into row-level effects. Pure: `stored` is what the batch found, `base` the
/// revision before it.
fn effects(ops: &[WriteOp], stored: &StoredRows, plan: &Plan, base: i64) -> Effects {
    let key_of = |op: usize| {
        let (ns, name) = ops[op].key();
        (ns.to_owned(), name.to_owned())
    };
    let mut current: HashMap<(String, String), Option<Current>> = HashMap::new();
    let mut revisions: HashMap<usize, i64> = HashMap::new();
    let mut stored_deleted: Vec<(String, String)> = Vec::new();
    let mut out = Effects::default();
    let mut revision = base;
    for change in &plan.changes {
        revision += 1;
        let key = key_of(change.op);
        let cur = current.entry(key.clone()).or_insert_with(|| {
            stored.get(&key).map(|s| Current {
                id: s.id,
                source: Source::Stored,
            })
        });
        match change.kind {
            ChangeKind::Delete { from } => {
                if let Some(c) = cur.take() {
                    out.tombstones.push(Tombstone {
                        revision,
                        created_revision: c.id,
                        op: change.op,
                        source: from,
                    });
                    // Whatever the last state's source, the stored row is gone once the
                    // object it holds is deleted.
                    if stored.get(&key).is_some_and(|s| s.id == c.id) {
                        stored_deleted.push(key);
                    }
                }
            }
            ChangeKind::Add => {
                *cur = Some(Current {
                    id: revision,
                    source: Source::Op(change.op),
                });
            }
            ChangeKind::Modify { .. } => {
                let id = cur.map_or(revision, |c| c.id);
                *cur = Some(Current {
                    id,
                    source: Source::Op(change.op),
                });
            }
        }
        revisions.insert(change.op, revision);
    }
    out.revision = revision;

    let mut keys: Vec<&(String, String)> = current.keys().collect();
    keys.sort();
    for key in keys {
        let stored_row = stored.get(key);
        let deleted = stored_deleted.contains(key);
        if deleted && let Some(s) = stored_row {
            out.deleted_ids.push(s.id);
        }
        let Some(Current {
            id,
            source: Source::Op(op),
        }) = current[key]
        else {
            continue;
        };
        let WriteOp::Upsert(object) = &ops[op] else {
            continue;
        };
        let fields = fields::extract(&object.raw);
        let labels_hash = index_hash(&object.meta.labels, &fields);
        out.rows.push(RowWrite {
            op,
            id,
            revision: revisions[&op],
            content_hash: plan.content_hashes[op] as i64,
            labels_hash,
        });
        match stored_row.filter(|s| !deleted && s.id == id) {
            Some(s) if s.labels_hash == labels_hash => {}
            Some(s) => {
                out.relabel_ids.push(s.id);
                out.labelled.push((op, id));
                out.fields.insert(op, fields);
            }
            None => {
                out.inserted += 1;
                out.labelled.push((op, id));
                out.fields.insert(op, fields);
            }
        }
    }
    out.rows.sort_by_key(|r| r.id);
    out.deleted_ids.sort_unstable();
    out.relabel_ids.sort_unstable();
    out
}

/// Collects multi-row statements, starting a new one before a row would pass the
/// dialect's parameter limit or the byte cap.
struct Chunker {
    dialect: Dialect,
    max_bytes: usize,
    head: String,
    tail: String,
    current: Option<SqlBuilder>,
    bytes: usize,
    done: Vec<Sql>,
}

impl Chunker {
    fn new(
        dialect: Dialect,
        max_bytes: usize,
        head: impl Into<String>,
        tail: impl Into<String>,
    ) -> Self {
        Self {
            dialect,
            max_bytes,
            head: head.into(),
            tail: tail.into(),
            current: None,
            bytes: 0,
            done: Vec::new(),
        }
    }

    fn row(&mut self, params: usize, bytes: usize, push: impl FnOnce(&mut SqlBuilder)) {
        if let Some(b) = &self.current
            && (b.param_count() + params > self.dialect.max_params()
                || self.bytes + bytes + b.text_len() > self.max_bytes)
        {
            self.flush();
        }
        let b = match &mut self.current {
            Some(b) => {
                b.push(", ");
                b
            }
            None => {
                let mut b = SqlBuilder::new(self.dialect);
                b.push(&self.head);
                self.bytes = 0;
                self.current.insert(b)
            }
        };
        push(b);
        self.bytes += bytes;
    }

    fn flush(&mut self) {
        if let Some(mut b) = self.current.take() {
            b.push(&self.tail);
            self.done.push(b.finish());
        }
    }

    fn finish(mut self) -> Vec<Sql> {
        self.flush();
        self.done
    }
}

/// `DELETE FROM table WHERE column IN (...)` in chunks.
fn delete_in(dialect: Dialect, table: &str, column: &str, ids: &[i64]) -> Vec<Sql> {
    ids.chunks(dialect.max_params().min(10_000))
        .map(|chunk| {
            let mut b = SqlBuilder::new(dialect);
            b.push("DELETE FROM ")
                .push(table)
                .push(" WHERE ")
                .push(column)
                .push(" IN ");
            b.bind_i64_list(chunk.iter().copied());
            b.finish()
        })
        .collect()
}

const RESOURCE_COLUMNS: &str = "id, grp, version, resource, kind, cluster, namespace, name, uid, owner_uid, \
     resource_version, rv_num, created_at, revision, content_hash, labels_hash, object, synced_at";
const RESOURCE_PARAMS: usize = 18;
/// Columns an upsert replaces; `id` (the creation revision) stays.
const UPDATED_COLUMNS: [&str; 11] = [
    "kind",
    "uid",
    "owner_uid",
    "resource_version",
    "rv_num",
    "created_at",
    "revision",
    "content_hash",
    "labels_hash",
    "object",
    "synced_at",
];

fn upsert_tail(dialect: Dialect) -> String {
    match dialect {
        Dialect::Postgres | Dialect::Sqlite => {
            let sets: Vec<String> = UPDATED_COLUMNS
                .iter()
                .map(|c| format!("{c} = excluded.{c}"))
                .collect();
            format!(
                " ON CONFLICT (grp, version, resource, cluster, namespace, name) DO UPDATE SET {}",
                sets.join(", ")
            )
        }
        Dialect::MySql => {
            let sets: Vec<String> = UPDATED_COLUMNS
                .iter()
                .map(|c| format!("{c} = VALUES({c})"))
                .collect();
            format!(" ON DUPLICATE KEY UPDATE {}", sets.join(", "))
        }
    }
}

/// Locks the revision counter for the transaction and reads it.
async fn lock_revision(conn: &mut dyn Conn, inner: &Inner, ctx: &str) -> Result<i64, StorageError> {
    let sql = match inner.dialect {
        // BEGIN IMMEDIATE already holds the database write lock.
        Dialect::Sqlite => "SELECT revision FROM pedia_meta WHERE id = 1",
        Dialect::Postgres | Dialect::MySql => {
            "SELECT revision FROM pedia_meta WHERE id = 1 FOR UPDATE"
        }
    };
    let rows = conn
        .fetch(&Sql::raw(sql), &[Ty::I64])
        .await
        .map_err(|e| inner.errors.map(ctx, e))?;
    match rows.first() {
        Some(r) => r.i64(0),
        None => Err(StorageError::internal(
            ctx.to_owned(),
            std::io::Error::other("the revision counter row is missing from pedia_meta"),
        )),
    }
}

async fn set_revision(
    conn: &mut dyn Conn,
    inner: &Inner,
    ctx: &str,
    revision: i64,
) -> Result<(), StorageError> {
    let mut b = SqlBuilder::new(inner.dialect);
    b.push("UPDATE pedia_meta SET revision = ")
        .bind_i64(revision)
        .push(" WHERE id = 1");
    conn.execute(&b.finish())
        .await
        .map_err(|e| inner.errors.map(ctx, e))?;
    Ok(())
}

/// The stored rows of `keys` (namespace, name) of one resource of one cluster, each
/// found through the key index: id, namespace, name, uid, version, content and labels
/// hashes.
fn existing_rows_sql(
    dialect: Dialect,
    rt: &ResourceType,
    cluster: &str,
    keys: &[(String, String)],
) -> Sql {
    let mut b = SqlBuilder::new(dialect);
    let scope = |b: &mut SqlBuilder| {
        b.push("r.grp = ")
            .bind_text(&rt.gvr.group)
            .push(" AND r.version = ")
            .bind_text(&rt.gvr.version)
            .push(" AND r.resource = ")
            .bind_text(&rt.gvr.resource)
            .push(" AND r.cluster = ")
            .bind_text(cluster);
    };
    const COLUMNS: &str = "SELECT r.id, r.namespace, r.name, r.uid, r.resource_version, r.content_hash, r.labels_hash";
    match dialect {
        Dialect::Postgres => {
            // PostgreSQL filters a long row-value IN list row by row; joining the keys as
            // arrays gives one index probe per key.
            b.push(COLUMNS)
                .push(" FROM unnest(")
                .bind(Arg::TextArray(
                    keys.iter().map(|(ns, _)| ns.clone()).collect(),
                ))
                .push("::text[], ")
                .bind(Arg::TextArray(
                    keys.iter().map(|(_, n)| n.clone()).collect(),
                ))
                .push("::text[]) AS k(ns, n) JOIN pedia_resources r ON ");
            scope(&mut b);
            b.push(" AND r.namespace = k.ns COLLATE \"C\" AND r.name = k.n COLLATE \"C\"");
        }
        Dialect::MySql | Dialect::Sqlite => {
            b.push(COLUMNS).push(" FROM pedia_resources r WHERE ");
            scope(&mut b);
            b.push(" AND (r.namespace, r.name) IN (");
            for (i, (ns, n)) in keys.iter().enumerate() {
                if i > 0 {
                    b.push(", ");
                }
                b.push("(").bind_text(ns).push(", ").bind_text(n).push(")");
            }
            b.push(")");
            if dialect == Dialect::MySql {
                // A locking read sees the latest commit, whatever snapshot the transaction
                // has.
                b.push(" FOR UPDATE");
            }
        }
    }
    b.finish()
}

/// What a batch did, plus the number of rows it inserted (for statistics upkeep).
pub(crate) struct Applied {
    pub outcome: BatchOutcome,
    pub inserted: u64,
}

/// Refuses the batch's `fence` if a later epoch wrote `cluster`; records a newer epoch.
/// Runs inside the write transaction, after the revision lock serialised writers.
async fn check_fence(
    conn: &mut dyn Conn,
    inner: &Inner,
    ctx: &str,
    cluster: &str,
    fence: Fence,
) -> Result<(), StorageError> {
    let Fence::Epoch(epoch) = fence else {
        return Ok(());
    };
    let epoch = i64::try_from(epoch)
        .map_err(|_| StorageError::bad_request(format!("writer epoch {epoch} is out of range")))?;
    let mut b = SqlBuilder::new(inner.dialect);
    b.push("SELECT epoch FROM pedia_writers WHERE cluster = ")
        .bind_text(cluster);
    let rows = conn
        .fetch(&b.finish(), &[Ty::I64])
        .await
        .map_err(|e| inner.errors.map(ctx, e))?;
    let recorded = match rows.first() {
        Some(r) => Some(u64::try_from(r.i64(0)?).unwrap_or(0)),
        None => None,
    };
    if write_rules::check_fence(cluster, recorded, fence)?.is_some() {
        let mut b = SqlBuilder::new(inner.dialect);
        b.push("INSERT INTO pedia_writers (cluster, epoch) VALUES (")
            .bind_text(cluster)
            .push(", ")
            .bind_i64(epoch)
            .push(")");
        b.push(match inner.dialect {
            Dialect::MySql => " ON DUPLICATE KEY UPDATE epoch = VALUES(epoch)",
            Dialect::Postgres | Dialect::Sqlite => {
                " ON CONFLICT (cluster) DO UPDATE SET epoch = excluded.epoch"
            }
        });
        conn.execute(&b.finish())
            .await
            .map_err(|e| inner.errors.map(ctx, e))?;
    }
    Ok(())
}

/// Checks what a batch would store before any I/O.
fn validate(cluster: &str, ops: &[WriteOp]) -> Result<(), StorageError> {
    check_key("cluster name", cluster, false)?;
    for op in ops {
        match op {
            WriteOp::Upsert(o) => {
                let what = |field: &str| format!("{field} of {}/{}", o.meta.namespace, o.meta.name);
                check_key(&what("metadata.uid"), &o.meta.uid, true)?;
                check_key(&what("controller owner uid"), &o.meta.owner_uid, true)?;
            }
            WriteOp::Delete {
                uid: Some(uid),
                namespace,
                name,
            } => {
                check_key(&format!("uid of the deleted {namespace}/{name}"), uid, true)?;
            }
            WriteOp::Delete { uid: None, .. } => {}
        }
    }
    Ok(())
}

/// The stored rows of the batch's names, found through the key index.
async fn load_rows(
    conn: &mut dyn Conn,
    inner: &Inner,
    ctx: &str,
    rt: &ResourceType,
    cluster: &str,
    ops: &[WriteOp],
) -> Result<StoredRows, StorageError> {
    let mut keys: Vec<(String, String)> = ops
        .iter()
        .map(WriteOp::key)
        // Keys are ASCII in storage: other names cannot be stored.
        .filter(|(ns, n)| ns.is_ascii() && n.is_ascii())
        .map(|(ns, n)| (ns.to_owned(), n.to_owned()))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let mut stored = StoredRows::with_capacity(keys.len());
    for chunk in keys.chunks(KEYS_PER_QUERY) {
        let sql = existing_rows_sql(inner.dialect, rt, cluster, chunk);
        let rows = conn
            .fetch(
                &sql,
                &[
                    Ty::I64,
                    Ty::Text,
                    Ty::Text,
                    Ty::Text,
                    Ty::Text,
                    Ty::I64,
                    Ty::I64,
                ],
            )
            .await
            .map_err(|e| inner.errors.map(ctx, e))?;
        for mut row in rows {
            let key = (row.take_text(1)?, row.take_text(2)?);
            stored.insert(
                key,
                StoredRow {
                    id: row.i64(0)?,
                    uid: row.take_text(3)?,
                    rv: row.take_text(4)?,
                    content_hash: row.i64(5)?,
                    labels_hash: row.i64(6)?,
                },
            );
        }
    }
    Ok(stored)
}

/// The statements that carry out `effects` (tombstones first: they copy stored rows
/// before the rows are deleted).
fn statements(
    inner: &Inner,
    rt: &ResourceType,
    cluster: &str,
    ops: &[WriteOp],
    effects: &Effects,
    now: i64,
) -> Vec<Sql> {
    let mut statements: Vec<Sql> = Vec::new();

    // Tombstones of stored rows copy the stored bytes server-side.
    let stored_tombs: Vec<(i64, i64)> = effects
        .tombstones
        .iter()
        .filter(|t| t.source == Source::Stored)
        .map(|t| (t.created_revision, t.revision))
        .collect();
    for chunk in stored_tombs.chunks(1000) {
        let mut b = SqlBuilder::new(inner.dialect);
        b.push("INSERT INTO pedia_tombstones (revision, created_revision, grp, version, resource, cluster, namespace, name, object, deleted_at) SELECT CASE r.id");
        for (id, rev) in chunk {
            b.push(" WHEN ").bind_i64(*id).push(" THEN ").bind_i64(*rev);
        }
        b.push(
            " END, r.id, r.grp, r.version, r.resource, r.cluster, r.namespace, r.name, r.object, ",
        )
        .bind_i64(now)
        .push(" FROM pedia_resources r WHERE r.id IN ");
        b.bind_i64_list(chunk.iter().map(|(id, _)| *id));
        statements.push(b.finish());
    }
    // Tombstones of in-batch states carry the batch's bytes.
    let mut chunker = Chunker::new(
        inner.dialect,
        inner.max_statement_bytes,
        "INSERT INTO pedia_tombstones (revision, created_revision, grp, version, resource, cluster, namespace, name, object, deleted_at) VALUES ",
        "",
    );
    for t in &effects.tombstones {
        let Source::Op(i) = t.source else { continue };
        let Some(WriteOp::Upsert(o)) = ops.get(i) else {
            continue;
        };
        let (namespace, name) = ops[t.op].key();
        chunker.row(10, o.raw.len(), |b| {
            b.push("(")
                .bind_i64(t.revision)
                .push(", ")
                .bind_i64(t.created_revision)
                .push(", ")
                .bind_text(&rt.gvr.group)
                .push(", ")
                .bind_text(&rt.gvr.version)
                .push(", ")
                .bind_text(&rt.gvr.resource)
                .push(", ")
                .bind_text(cluster)
                .push(", ")
                .bind_text(namespace)
                .push(", ")
                .bind_text(name)
                .push(", ")
                .bind_bytes(o.raw.clone())
                .push(", ")
                .bind_i64(now)
                .push(")");
        });
    }
    statements.extend(chunker.finish());

    // Labels and indexed fields of removed and relabelled rows, then the removed rows.
    let mut label_deletes = effects.deleted_ids.clone();
    label_deletes.extend(&effects.relabel_ids);
    label_deletes.sort_unstable();
    for table in ["pedia_labels", "pedia_fields"] {
        statements.extend(delete_in(
            inner.dialect,
            table,
            "resource_id",
            &label_deletes,
        ));
    }
    statements.extend(delete_in(
        inner.dialect,
        "pedia_resources",
        "id",
        &effects.deleted_ids,
    ));

    let mut chunker = Chunker::new(
        inner.dialect,
        inner.max_statement_bytes,
        format!("INSERT INTO pedia_resources ({RESOURCE_COLUMNS}) VALUES "),
        upsert_tail(inner.dialect),
    );
    for row in &effects.rows {
        let Some(WriteOp::Upsert(o)) = ops.get(row.op) else {
            continue;
        };
        let m = &o.meta;
        let rv_num = m.resource_version_number().map_or(0, as_i64);
        let created = m.created_at.map_or(0, |t| t.as_millis());
        chunker.row(RESOURCE_PARAMS, o.raw.len(), |b| {
            b.push("(")
                .bind_i64(row.id)
                .push(", ")
                .bind_text(&rt.gvr.group)
                .push(", ")
                .bind_text(&rt.gvr.version)
                .push(", ")
                .bind_text(&rt.gvr.resource)
                .push(", ")
                .bind_text(&rt.kind)
                .push(", ")
                .bind_text(cluster)
                .push(", ")
                .bind_text(&m.namespace)
                .push(", ")
                .bind_text(&m.name)
                .push(", ")
                .bind_text(&m.uid)
                .push(", ")
                .bind_text(&m.owner_uid)
                .push(", ")
                .bind_text(&m.resource_version)
                .push(", ")
                .bind_i64(rv_num)
                .push(", ")
                .bind_i64(created)
                .push(", ")
                .bind_i64(row.revision)
                .push(", ")
                .bind_i64(row.content_hash)
                .push(", ")
                .bind_i64(row.labels_hash)
                .push(", ")
                .bind_bytes(o.raw.clone())
                .push(", ")
                .bind_i64(now)
                .push(")");
        });
    }
    statements.extend(chunker.finish());

    let mut chunker = Chunker::new(
        inner.dialect,
        inner.max_statement_bytes,
        "INSERT INTO pedia_labels (resource_id, label_key, label_value, num_value) VALUES ",
        "",
    );
    for (op, id) in &effects.labelled {
        let Some(WriteOp::Upsert(o)) = ops.get(*op) else {
            continue;
        };
        for (k, v) in &o.meta.labels {
            chunker.row(4, k.len() + v.len(), |b| {
                b.push("(")
                    .bind_i64(*id)
                    .push(", ")
                    .bind_text(k)
                    .push(", ")
                    .bind_text(v)
                    .push(", ")
                    .bind(Arg::OptI64(v.parse::<i64>().ok()))
                    .push(")");
            });
        }
    }
    statements.extend(chunker.finish());
    let mut chunker = Chunker::new(inner.dialect, inner.max_statement_bytes, FIELDS_INSERT, "");
    for (op, id) in &effects.labelled {
        if let Some(fields) = effects.fields.get(op) {
            push_fields(&mut chunker, *id, fields);
        }
    }
    statements.extend(chunker.finish());
    statements
}

/// Registers (cluster, resource) for discovery (the first batch that stores one).
fn register_sql(dialect: Dialect, rt: &ResourceType, cluster: &str) -> Sql {
    let mut b = SqlBuilder::new(dialect);
    b.push("INSERT INTO pedia_cluster_resources (cluster, grp, version, resource, kind, namespaced) VALUES (")
        .bind_text(cluster)
        .push(", ")
        .bind_text(&rt.gvr.group)
        .push(", ")
        .bind_text(&rt.gvr.version)
        .push(", ")
        .bind_text(&rt.gvr.resource)
        .push(", ")
        .bind_text(&rt.kind)
        .push(", ")
        .bind_i64(i64::from(rt.namespaced))
        .push(")");
    b.push(match dialect {
        Dialect::MySql => " ON DUPLICATE KEY UPDATE kind = kind",
        Dialect::Postgres | Dialect::Sqlite => {
            " ON CONFLICT (cluster, grp, version, resource) DO NOTHING"
        }
    });
    b.finish()
}

/// PostgreSQL: wakes the watchers of every process at this transaction's commit (a
/// rolled-back transaction notifies nobody).
async fn notify_listeners(
    conn: &mut dyn Conn,
    inner: &Inner,
    ctx: &str,
) -> Result<(), StorageError> {
    if let Some(channel) = &inner.channel {
        conn.execute(&crate::feed::notify_sql(channel))
            .await
            .map_err(|e| inner.errors.map(ctx, e))?;
    }
    Ok(())
}

/// Applies one batch of `cluster`'s writes to `rt` in one transaction: the stored rows
/// of its names are loaded, the write rules plan the batch, and the plan's effects are
/// written in multi-row statements.
pub(crate) async fn apply_batch(
    inner: &Inner,
    rt: &ResourceType,
    cluster: &str,
    fence: Fence,
    ops: Vec<WriteOp>,
) -> Result<Applied, StorageError> {
    validate(cluster, &ops)?;
    if ops.is_empty() {
        return Ok(Applied {
            outcome: BatchOutcome {
                revision: crate::read::current_revision(inner).await?,
                ..BatchOutcome::default()
            },
            inserted: 0,
        });
    }
    let ctx = format!("writing {} of cluster {cluster:?}", rt.gvr.resource);
    let map = |e| inner.errors.map(&ctx, e);

    let _guard = inner.write_lock.lock().await;
    let mut tx = inner.pool.write_tx().await.map_err(map)?;
    let base = lock_revision(tx.as_mut(), inner, &ctx).await?;
    check_fence(tx.as_mut(), inner, &ctx, cluster, fence).await?;
    let stored = load_rows(tx.as_mut(), inner, &ctx, rt, cluster, &ops).await?;
    let plan = write_rules::plan(&ops, |ns, name| {
        stored
            .get(&(ns.to_owned(), name.to_owned()))
            .map(StoredRow::state)
    });
    let effects = effects(&ops, &stored, &plan, base);
    let outcome = BatchOutcome {
        revision: u64::try_from(effects.revision).unwrap_or(0),
        ..plan.outcome
    };
    if effects.revision == base {
        // Nothing applied: no statements, not even the counter (the fence may be new).
        tx.commit().await.map_err(map)?;
        return Ok(Applied {
            outcome,
            inserted: 0,
        });
    }

    let mut statements = statements(inner, rt, cluster, &ops, &effects, crate::now_millis());
    let pair = (cluster.to_owned(), rt.gvr.clone());
    let register = ops.iter().any(|op| matches!(op, WriteOp::Upsert(_)))
        && !inner.known_pairs().contains(&pair);
    if register {
        statements.push(register_sql(inner.dialect, rt, cluster));
    }
    for sql in &statements {
        tx.execute(sql).await.map_err(map)?;
    }
    set_revision(tx.as_mut(), inner, &ctx, effects.revision).await?;
    notify_listeners(tx.as_mut(), inner, &ctx).await?;
    tx.commit().await.map_err(map)?;
    drop(_guard);
    if register {
        inner.known_pairs().insert(pair);
    }
    inner.notify(outcome.revision);
    Ok(Applied {
        outcome,
        inserted: effects.inserted,
    })
}

/// Removes every object of `cluster` (of one resource when `gvr` is given); each becomes
/// a tombstone with its own revision, so watchers see them deleted.
pub(crate) async fn clean(
    inner: &Inner,
    cluster: &str,
    gvr: Option<&GroupVersionResource>,
    fence: Fence,
) -> Result<(), StorageError> {
    if !cluster.is_ascii() {
        return Ok(());
    }
    let ctx = match gvr {
        Some(g) => format!("cleaning {} of cluster {cluster:?}", g.resource),
        None => format!("cleaning cluster {cluster:?}"),
    };
    let map = |e| inner.errors.map(&ctx, e);
    let scope = |b: &mut SqlBuilder, alias: &str| {
        b.push(alias).push("cluster = ").bind_text(cluster);
        if let Some(g) = gvr {
            b.push(" AND ")
                .push(alias)
                .push("grp = ")
                .bind_text(&g.group)
                .push(" AND ")
                .push(alias)
                .push("version = ")
                .bind_text(&g.version)
                .push(" AND ")
                .push(alias)
                .push("resource = ")
                .bind_text(&g.resource);
        }
    };

    let _guard = inner.write_lock.lock().await;
    let mut tx = inner.pool.write_tx().await.map_err(map)?;
    let base = lock_revision(tx.as_mut(), inner, &ctx).await?;
    check_fence(tx.as_mut(), inner, &ctx, cluster, fence).await?;

    let mut b = SqlBuilder::new(inner.dialect);
    b.push("INSERT INTO pedia_tombstones (revision, created_revision, grp, version, resource, cluster, namespace, name, object, deleted_at) SELECT ")
        .bind_i64(base)
        .push(" + ROW_NUMBER() OVER (ORDER BY r.id), r.id, r.grp, r.version, r.resource, r.cluster, r.namespace, r.name, r.object, ")
        .bind_i64(crate::now_millis())
        .push(" FROM pedia_resources r WHERE ");
    scope(&mut b, "r.");
    let removed = tx.execute(&b.finish()).await.map_err(map)?;

    if removed > 0 {
        for table in ["pedia_labels", "pedia_fields"] {
            let mut b = SqlBuilder::new(inner.dialect);
            b.push("DELETE FROM ")
                .push(table)
                .push(" WHERE resource_id IN (SELECT r.id FROM pedia_resources r WHERE ");
            scope(&mut b, "r.");
            b.push(")");
            tx.execute(&b.finish()).await.map_err(map)?;
        }
        let mut b = SqlBuilder::new(inner.dialect);
        b.push("DELETE FROM pedia_resources WHERE ");
        scope(&mut b, "");
        tx.execute(&b.finish()).await.map_err(map)?;
    }
    let mut b = SqlBuilder::new(inner.dialect);
    b.push("DELETE FROM pedia_cluster_resources WHERE ");
    scope(&mut b, "");
    tx.execute(&b.finish()).await.map_err(map)?;
    let revision = base + i64::try_from(removed).unwrap_or(i64::MAX);
    if removed > 0 {
        set_revision(tx.as_mut(), inner, &ctx, revision).await?;
        notify_listeners(tx.as_mut(), inner, &ctx).await?;
    }
    tx.commit().await.map_err(map)?;
    drop(_guard);

    inner
        .known_pairs()
        .retain(|(c, g)| c != cluster || gvr.is_some_and(|only| only != g));
    if removed > 0 {
        inner.notify(Revision::try_from(revision).unwrap_or(0));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use pedia_core::Object;

    use super::*;

    fn upsert(name: &str, uid: &str, rv: &str, label: &str) -> WriteOp {
        let raw = format!(
            r#"{{"metadata":{{"namespace":"ns","name":"{name}","uid":"{uid}","resourceVersion":"{rv}","labels":{{"l":"{label}"}}}}}}"#
        );
        WriteOp::Upsert(Object::from_json(Bytes::from(raw)).expect("object"))
    }

    fn row(id: i64, uid: &str, op: &WriteOp) -> ((String, String), StoredRow) {
        let WriteOp::Upsert(o) = op else {
            unreachable!()
        };
        (
            (o.meta.namespace.clone(), o.meta.name.clone()),
            StoredRow {
                id,
                uid: uid.into(),
                rv: o.meta.resource_version.clone(),
                content_hash: write_rules::content_hash(&o.raw) as i64,
                labels_hash: index_hash(&o.meta.labels, &fields::extract(&o.raw)),
            },
        )
    }

    fn effects_of(ops: &[WriteOp], stored: &StoredRows, base: i64) -> Effects {
        let plan = write_rules::plan(ops, |ns, name| {
            stored
                .get(&(ns.to_owned(), name.to_owned()))
                .map(StoredRow::state)
        });
        effects(ops, stored, &plan, base)
    }

    #[test]
    fn a_new_uid_deletes_the_stored_row_and_inserts_another() {
        let stored: StoredRows = [row(5, "old", &upsert("a", "old", "90", "x"))].into();
        // A lower version under another uid.
        let ops = vec![upsert("a", "new", "3", "x")];
        let e = effects_of(&ops, &stored, 10);
        assert_eq!(
            e.tombstones,
            [Tombstone {
                revision: 11,
                created_revision: 5,
                op: 0,
                source: Source::Stored
            }]
        );
        assert_eq!(e.deleted_ids, [5]);
        assert_eq!(
            e.rows
                .iter()
                .map(|r| (r.op, r.id, r.revision))
                .collect::<Vec<_>>(),
            [(0, 12, 12)]
        );
        assert_eq!(e.labelled, [(0, 12)], "the new row gets its own labels");
        assert_eq!((e.inserted, e.revision), (1, 12));
    }

    #[test]
    fn rows_updated_in_place_keep_their_id_and_relabel_only_on_change() {
        let same = upsert("s", "u", "1", "x");
        let relabelled = upsert("r", "v", "1", "x");
        let stored: StoredRows = [row(3, "u", &same), row(4, "v", &relabelled)].into();
        let ops = vec![upsert("s", "u", "2", "x"), upsert("r", "v", "2", "y")];
        let e = effects_of(&ops, &stored, 20);
        assert!(e.tombstones.is_empty() && e.deleted_ids.is_empty());
        assert_eq!(
            e.rows
                .iter()
                .map(|r| (r.op, r.id, r.revision))
                .collect::<Vec<_>>(),
            [(0, 3, 21), (1, 4, 22)]
        );
        assert_eq!(e.relabel_ids, [4]);
        assert_eq!(e.labelled, [(1, 4)]);
        assert_eq!(e.inserted, 0);
    }

    #[test]
    fn a_stored_row_changed_then_deleted_in_one_batch_is_gone() {
        let stored: StoredRows = [row(7, "u", &upsert("a", "u", "1", "x"))].into();
        let ops = vec![upsert("a", "u", "2", "y"), WriteOp::delete("ns", "a")];
        let e = effects_of(&ops, &stored, 7);
        assert_eq!(
            e.tombstones,
            [Tombstone {
                revision: 9,
                created_revision: 7,
                op: 1,
                source: Source::Op(0)
            }],
            "the tombstone holds the batch's last state"
        );
        assert_eq!(e.deleted_ids, [7]);
        assert!(e.rows.is_empty() && e.labelled.is_empty());
        assert_eq!(e.revision, 9);
    }

    #[test]
    fn keys_must_be_printable_ascii() {
        assert!(check_key("cluster name", "c1", false).is_ok());
        assert!(check_key("cluster name", "", false).is_err());
        assert!(check_key("cluster name", "ünï", false).is_err());
        assert!(check_key("cluster name", &"a".repeat(256), false).is_err());
        assert!(check_key("uid", "", true).is_ok());
    }

    #[test]
    fn hashes_are_stable() {
        let a = index_hash(&[("a".into(), "b".into())], &[]);
        let b = index_hash(&[("ab".into(), String::new())], &[]);
        assert_ne!(a, b);
        let field = |v: Option<&str>| FieldValue {
            path: "status.phase",
            value: v.map(str::to_owned),
            num: None,
        };
        let running = index_hash(&[], &[field(Some("Running"))]);
        assert_ne!(running, index_hash(&[], &[field(Some("Pending"))]));
        assert_ne!(running, index_hash(&[], &[field(None)]));
        assert_ne!(running, index_hash(&[], &[]));
    }
}
