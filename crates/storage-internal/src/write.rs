//! The write path: `apply_batch` as one transaction per batch (decide every op against
//! stored and in-batch state, then multi-row statements in bounded chunks), and cleaning
//! a cluster or one of its resources into tombstones. Writers hold the revision counter
//! lock until commit, so revision order is commit order.

use std::collections::HashMap;

use pedia_core::{GroupVersionResource, Object, ResourceType, parse_resource_version};
use pedia_storage::{BatchOutcome, Revision, StorageError, WriteOp};
use xxhash_rust::xxh3::xxh3_64;

use crate::db::{Arg, Conn, Dialect, ErrorMap, Ty};
use crate::fields::{self, FieldValue};
use crate::sql::{Sql, SqlBuilder};
use crate::storage::Inner;

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

pub(crate) fn content_hash(raw: &[u8]) -> i64 {
    // Stored as the two's-complement bits of the u64.
    xxh3_64(raw) as i64
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

/// A stored row as the batch found it.
#[derive(Debug, Clone)]
struct Stored {
    id: i64,
    rv: String,
    content_hash: i64,
    labels_hash: i64,
}

/// Where the current state of a key comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Stored,
    /// The upsert at this index of the batch.
    Op(usize),
}

#[derive(Debug, Clone)]
struct Current {
    id: i64,
    rv: String,
    content_hash: i64,
    labels_hash: i64,
    revision: i64,
    source: Source,
}

#[derive(Debug, Default)]
struct KeyState {
    stored: Option<Stored>,
    current: Option<Current>,
    /// At least one delete removed the stored row.
    stored_deleted: bool,
}

#[derive(Debug)]
struct Tombstone {
    revision: i64,
    created_revision: i64,
    namespace: String,
    name: String,
    source: Source,
}

/// `incoming` is older than `stored` (both numeric).
fn is_stale(incoming: &str, stored: &str) -> bool {
    matches!(
        (parse_resource_version(incoming), parse_resource_version(stored)),
        (Some(a), Some(b)) if a < b
    )
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
/// found through the key index.
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
    const COLUMNS: &str =
        "SELECT r.id, r.namespace, r.name, r.resource_version, r.content_hash, r.labels_hash";
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

/// Applies one batch of `cluster`'s writes to `rt`.
pub(crate) async fn apply_batch(
    inner: &Inner,
    rt: &ResourceType,
    cluster: &str,
    ops: Vec<WriteOp>,
) -> Result<Applied, StorageError> {
    check_key("cluster name", cluster, false)?;
    for op in &ops {
        if let WriteOp::Upsert(o) = op {
            let what = |field: &str| format!("{field} of {}/{}", o.meta.namespace, o.meta.name);
            check_key(&what("metadata.uid"), &o.meta.uid, true)?;
            check_key(&what("controller owner uid"), &o.meta.owner_uid, true)?;
        }
    }
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

    // Existing rows of the batch's keys.
    let mut states: HashMap<(String, String), KeyState> = HashMap::new();
    for op in &ops {
        let key = match op {
            WriteOp::Upsert(o) => (o.meta.namespace.clone(), o.meta.name.clone()),
            WriteOp::Delete {
                namespace, name, ..
            } => (namespace.clone(), name.clone()),
        };
        states.entry(key).or_default();
    }
    let keys: Vec<(String, String)> = states
        .keys()
        .filter(|(ns, n)| ns.is_ascii() && n.is_ascii())
        .cloned()
        .collect();
    for chunk in keys.chunks(KEYS_PER_QUERY) {
        let sql = existing_rows_sql(inner.dialect, rt, cluster, chunk);
        let rows = tx
            .fetch(
                &sql,
                &[Ty::I64, Ty::Text, Ty::Text, Ty::Text, Ty::I64, Ty::I64],
            )
            .await
            .map_err(map)?;
        for mut row in rows {
            let key = (row.take_text(1)?, row.take_text(2)?);
            if let Some(state) = states.get_mut(&key) {
                let stored = Stored {
                    id: row.i64(0)?,
                    rv: row.take_text(3)?,
                    content_hash: row.i64(4)?,
                    labels_hash: row.i64(5)?,
                };
                state.current = Some(Current {
                    id: stored.id,
                    rv: stored.rv.clone(),
                    content_hash: stored.content_hash,
                    labels_hash: stored.labels_hash,
                    revision: 0,
                    source: Source::Stored,
                });
                state.stored = Some(stored);
            }
        }
    }

    // Decide every op in order against the state left by the ops before it.
    let mut out = BatchOutcome::default();
    let mut next = base;
    let mut tombstones: Vec<Tombstone> = Vec::new();
    // The indexed fields of the upserts that are written, by op index.
    let mut op_fields: Vec<Vec<FieldValue>> = vec![Vec::new(); ops.len()];
    for (i, op) in ops.iter().enumerate() {
        match op {
            WriteOp::Upsert(o) => {
                let ch = content_hash(&o.raw);
                let key = (o.meta.namespace.clone(), o.meta.name.clone());
                let state = states.entry(key).or_default();
                let rv = &o.meta.resource_version;
                match &state.current {
                    Some(cur) if is_stale(rv, &cur.rv) => out.stale += 1,
                    Some(cur) if cur.rv == *rv && cur.content_hash == ch => out.unchanged += 1,
                    cur => {
                        next += 1;
                        let id = cur.as_ref().map_or(next, |c| c.id);
                        op_fields[i] = fields::extract(&o.raw);
                        let lh = index_hash(&o.meta.labels, &op_fields[i]);
                        state.current = Some(Current {
                            id,
                            rv: rv.clone(),
                            content_hash: ch,
                            labels_hash: lh,
                            revision: next,
                            source: Source::Op(i),
                        });
                        out.written += 1;
                    }
                }
            }
            WriteOp::Delete {
                namespace,
                name,
                resource_version,
            } => {
                let key = (namespace.clone(), name.clone());
                let state = states.entry(key).or_default();
                match &state.current {
                    None => out.missing += 1,
                    Some(cur)
                        if !resource_version.is_empty() && is_stale(resource_version, &cur.rv) =>
                    {
                        out.stale += 1
                    }
                    Some(cur) => {
                        next += 1;
                        tombstones.push(Tombstone {
                            revision: next,
                            created_revision: cur.id,
                            namespace: namespace.clone(),
                            name: name.clone(),
                            source: cur.source,
                        });
                        // Whatever the last state's source, the stored row is gone once
                        // the object it holds is deleted.
                        if state.stored.as_ref().is_some_and(|s| s.id == cur.id) {
                            state.stored_deleted = true;
                        }
                        state.current = None;
                        out.deleted += 1;
                    }
                }
            }
        }
    }
    out.revision = u64::try_from(next).unwrap_or(0);
    if next == base {
        // Nothing applied: no statements, not even the counter.
        tx.commit().await.map_err(map)?;
        return Ok(Applied {
            outcome: out,
            inserted: 0,
        });
    }

    let now = crate::now_millis();
    let mut statements: Vec<Sql> = Vec::new();

    // Tombstones of stored rows copy the stored bytes server-side.
    let stored_tombs: Vec<(i64, i64)> = tombstones
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
    for t in &tombstones {
        let Source::Op(i) = t.source else { continue };
        let Some(WriteOp::Upsert(o)) = ops.get(i) else {
            continue;
        };
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
                .bind_text(&t.namespace)
                .push(", ")
                .bind_text(&t.name)
                .push(", ")
                .bind_bytes(o.raw.clone())
                .push(", ")
                .bind_i64(now)
                .push(")");
        });
    }
    statements.extend(chunker.finish());

    // Rows and labels.
    let mut deleted_ids = Vec::new();
    let mut relabel_ids = Vec::new();
    let mut rows: Vec<(&Object, &Current)> = Vec::new();
    let mut labelled: Vec<(&Object, i64, &[FieldValue])> = Vec::new();
    let mut inserted = 0u64;
    for state in states.values() {
        if state.stored_deleted
            && let Some(s) = &state.stored
        {
            deleted_ids.push(s.id);
        }
        let Some(cur) = &state.current else { continue };
        let Source::Op(i) = cur.source else { continue };
        let Some(WriteOp::Upsert(o)) = ops.get(i) else {
            continue;
        };
        rows.push((o, cur));
        let same_row = state
            .stored
            .as_ref()
            .filter(|s| !state.stored_deleted && s.id == cur.id);
        match same_row {
            Some(s) if s.labels_hash == cur.labels_hash => {}
            Some(s) => {
                relabel_ids.push(s.id);
                labelled.push((o, cur.id, &op_fields[i]));
            }
            None => {
                inserted += 1;
                labelled.push((o, cur.id, &op_fields[i]));
            }
        }
    }
    let mut label_deletes = deleted_ids.clone();
    label_deletes.extend(&relabel_ids);
    label_deletes.sort_unstable();
    for table in ["pedia_labels", "pedia_fields"] {
        statements.extend(delete_in(
            inner.dialect,
            table,
            "resource_id",
            &label_deletes,
        ));
    }
    deleted_ids.sort_unstable();
    statements.extend(delete_in(
        inner.dialect,
        "pedia_resources",
        "id",
        &deleted_ids,
    ));

    // Row order by id keeps lock order stable across writers.
    rows.sort_by_key(|(_, cur)| cur.id);
    let mut chunker = Chunker::new(
        inner.dialect,
        inner.max_statement_bytes,
        format!("INSERT INTO pedia_resources ({RESOURCE_COLUMNS}) VALUES "),
        upsert_tail(inner.dialect),
    );
    for (o, cur) in &rows {
        let m = &o.meta;
        let rv_num = m.resource_version_number().map_or(0, as_i64);
        let created = m.created_at.map_or(0, |t| t.as_millis());
        chunker.row(RESOURCE_PARAMS, o.raw.len(), |b| {
            b.push("(")
                .bind_i64(cur.id)
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
                .bind_i64(cur.revision)
                .push(", ")
                .bind_i64(cur.content_hash)
                .push(", ")
                .bind_i64(cur.labels_hash)
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
    for (o, id, _) in &labelled {
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
    for (_, id, fields) in &labelled {
        push_fields(&mut chunker, *id, fields);
    }
    statements.extend(chunker.finish());

    // The first batch of a (cluster, resource) registers it for discovery.
    let pair = (cluster.to_owned(), rt.gvr.clone());
    let register = ops.iter().any(|op| matches!(op, WriteOp::Upsert(_)))
        && !inner.known_pairs().contains(&pair);
    if register {
        let mut b = SqlBuilder::new(inner.dialect);
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
        b.push(match inner.dialect {
            Dialect::MySql => " ON DUPLICATE KEY UPDATE kind = kind",
            Dialect::Postgres | Dialect::Sqlite => {
                " ON CONFLICT (cluster, grp, version, resource) DO NOTHING"
            }
        });
        statements.push(b.finish());
    }

    for sql in &statements {
        tx.execute(sql).await.map_err(map)?;
    }
    set_revision(tx.as_mut(), inner, &ctx, next).await?;
    tx.commit().await.map_err(map)?;
    drop(_guard);
    if register {
        inner.known_pairs().insert(pair);
    }
    inner.notify(out.revision);
    Ok(Applied {
        outcome: out,
        inserted,
    })
}

/// Removes every object of `cluster` (of one resource when `gvr` is given); each becomes
/// a tombstone with its own revision, so watchers see them deleted.
pub(crate) async fn clean(
    inner: &Inner,
    cluster: &str,
    gvr: Option<&GroupVersionResource>,
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

    use super::*;

    #[test]
    fn stale_needs_two_numbers() {
        assert!(is_stale("9", "10"));
        assert!(!is_stale("10", "9"));
        assert!(!is_stale("10", "10"));
        assert!(!is_stale("abc", "10"));
        assert!(!is_stale("9", "abc"));
        assert!(!is_stale("", "10"));
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
        assert_eq!(
            content_hash(b"{}"),
            content_hash(&Bytes::from_static(b"{}"))
        );
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
