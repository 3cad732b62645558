//! The read path: get, keyset-paged lists of one resource or a collection, and the
//! factory's read-only queries (revision, stored resources, resource versions). A list
//! runs in one snapshot transaction that also reads the revision it reports.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use pedia_core::{
    Cursor, CursorValue, GroupVersionResource, ListOptions, ResourceType, SortField, SortKey,
    metadata_only, search_label,
};
use pedia_storage::filter::{check_cursor_shape, reject_unknown_extra_labels};
use pedia_storage::{
    CollectionResource, ListStream, ResourceVersions, Revision, StorageError, StoredResource,
    StoredVersion, object_key,
};
use tokio::sync::mpsc;

use crate::db::{Conn, Dialect, Row, Tx, Ty};
use crate::filter_sql::{push_filters, push_keyset, push_order_by, push_owner};
use crate::sql::{Sql, SqlBuilder};
use crate::state::Inner;

/// The name this layer reports in errors.
pub(crate) const LAYER: &str = "internal";

/// The extra search labels this layer implements.
const KNOWN_EXTRA_LABELS: &[&str] = &[search_label::FUZZY_NAME];

/// What a list covers.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scope<'a> {
    Resource(&'a GroupVersionResource),
    Collection(&'a CollectionResource),
}

impl Scope<'_> {
    /// The scope in continue-token fingerprints, so a token works only where it was issued.
    fn fingerprint_scope(&self) -> String {
        match self {
            Scope::Resource(gvr) => format!("{}/{}/{}", gvr.group, gvr.version, gvr.resource),
            Scope::Collection(c) => format!("collection:{}", c.name),
        }
    }

    fn multi_resource(&self) -> bool {
        matches!(self, Scope::Collection(_))
    }
}

/// One listed item.
#[derive(Debug)]
pub(crate) struct Item {
    pub resource: ResourceType,
    pub object: Bytes,
}

/// One page.
#[derive(Debug, Default)]
pub(crate) struct Page {
    pub items: Vec<Item>,
    pub continue_token: Option<String>,
    pub remaining_count: Option<u64>,
    pub revision: Revision,
}

const LIST_COLUMNS: &str = "r.cluster, r.namespace, r.name, r.created_at, r.rv_num, r.grp, r.version, r.resource, r.kind, r.object";
const LIST_TYPES: &[Ty] = &[
    Ty::Text,
    Ty::Text,
    Ty::Text,
    Ty::I64,
    Ty::I64,
    Ty::Text,
    Ty::Text,
    Ty::Text,
    Ty::Text,
    Ty::Bytes,
];

/// ` FROM pedia_resources r WHERE <scope> <filters> <owner>`.
fn push_from_where(
    b: &mut SqlBuilder,
    scope: Scope<'_>,
    opts: &ListOptions,
) -> Result<(), StorageError> {
    b.push(" FROM pedia_resources r WHERE ");
    match scope {
        Scope::Resource(gvr) => {
            b.push("r.grp = ")
                .bind_text(&gvr.group)
                .push(" AND r.version = ")
                .bind_text(&gvr.version)
                .push(" AND r.resource = ")
                .bind_text(&gvr.resource);
        }
        Scope::Collection(c) if c.resource_types.is_empty() => {
            b.push("1 = 1");
        }
        Scope::Collection(c) => {
            // Patterns that are not ASCII match no stored resource.
            let types: Vec<_> = c
                .resource_types
                .iter()
                .filter(|t| t.group.is_ascii() && t.version.is_ascii() && t.resource.is_ascii())
                .collect();
            b.push(if types.is_empty() { "(1 = 0" } else { "(" });
            for (i, t) in types.iter().enumerate() {
                if i > 0 {
                    b.push(" OR ");
                }
                b.push("(r.grp = ").bind_text(&t.group);
                if !t.version.is_empty() {
                    b.push(" AND r.version = ").bind_text(&t.version);
                }
                if !t.resource.is_empty() {
                    b.push(" AND r.resource = ").bind_text(&t.resource);
                }
                b.push(")");
            }
            b.push(")");
        }
    }
    push_filters(b, opts)?;
    if let Some(owner) = &opts.owner {
        push_owner(b, owner, opts);
    }
    Ok(())
}

/// Validates `opts` for listing and decodes its continue token.
fn prepare(
    scope: Scope<'_>,
    opts: &ListOptions,
) -> Result<(Vec<SortKey>, u64, Option<Cursor>), StorageError> {
    reject_unknown_extra_labels(opts, LAYER, KNOWN_EXTRA_LABELS)?;
    let keys = opts.sort_keys(scope.multi_resource());
    let fingerprint = opts.fingerprint(&scope.fingerprint_scope());
    let cursor = match opts.continue_token.as_deref() {
        None | Some("") => None,
        Some(token) => {
            let cursor = Cursor::decode(token, fingerprint)?;
            check_cursor_shape(&keys, &cursor.values)?;
            // Cursors hold stored (ASCII) keys; anything else was forged, and comparing it
            // with MySQL's ASCII columns would be an error rather than a mismatch.
            if cursor
                .values
                .iter()
                .any(|v| matches!(v, CursorValue::Str(s) if !s.is_ascii()))
            {
                return Err(StorageError::bad_request(
                    "invalid value for continue: not a continue token issued by this server",
                ));
            }
            Some(cursor)
        }
    };
    Ok((keys, fingerprint, cursor))
}

/// Rows per query of a whole list (no `limit`): a whole list is read as a sequence of
/// keyset pages of this size, so it is planned like a page and held a batch at a time.
pub(crate) const BATCH_ROWS: u64 = 1_000;

/// The query of the rows after `after` (in the order of `keys`), at most `limit` of them:
/// `SELECT ... ORDER BY ... LIMIT n`.
fn page_sql(
    dialect: Dialect,
    scope: Scope<'_>,
    opts: &ListOptions,
    keys: &[SortKey],
    after: Option<&[CursorValue]>,
    limit: u64,
) -> Result<Sql, StorageError> {
    let mut b = SqlBuilder::new(dialect);
    // MariaDB/MySQL sort and filter whole rows (objects of kilobytes) when the page query
    // selects the object: a label-selected or fuzzy page took seconds on 100k rows. Finding
    // the page's ids first and then joining for the objects reads only indexes for the
    // search; PostgreSQL and SQLite already plan the plain query well.
    let deferred = dialect == Dialect::MySql;
    b.push("SELECT ").push(LIST_COLUMNS);
    if deferred {
        b.push(" FROM pedia_resources r JOIN (SELECT r.id");
    }
    push_from_where(&mut b, scope, opts)?;
    if let Some(values) = after {
        push_keyset(&mut b, keys, values);
    }
    push_order_by(&mut b, keys);
    b.push(" LIMIT ")
        .bind_i64(i64::try_from(limit).unwrap_or(i64::MAX));
    if deferred {
        b.push(") page ON r.id = page.id");
        push_order_by(&mut b, keys);
    }
    Ok(b.finish())
}

fn page_limit(opts: &ListOptions) -> Option<u64> {
    opts.limit.filter(|l| *l > 0)
}

/// The SQL of the first query of a list (a page, or a whole list's first batch), for
/// EXPLAIN tests.
pub(crate) fn list_sql(
    dialect: Dialect,
    gvr: &GroupVersionResource,
    opts: &ListOptions,
) -> Result<Sql, StorageError> {
    let scope = Scope::Resource(gvr);
    let (keys, _, cursor) = prepare(scope, opts)?;
    let limit = page_limit(opts).map_or(BATCH_ROWS, |l| l.saturating_add(1));
    page_sql(
        dialect,
        scope,
        opts,
        &keys,
        cursor.as_ref().map(|c| c.values.as_slice()),
        limit,
    )
}

fn sort_values(keys: &[SortKey], row: &Row) -> Result<Vec<CursorValue>, StorageError> {
    keys.iter()
        .map(|k| {
            Ok(match k.field {
                SortField::Cluster => CursorValue::Str(row.text(0)?.to_owned()),
                SortField::Namespace => CursorValue::Str(row.text(1)?.to_owned()),
                SortField::Name => CursorValue::Str(row.text(2)?.to_owned()),
                SortField::CreatedAt => CursorValue::Int(row.i64(3)?),
                SortField::ResourceVersion => CursorValue::Int(row.i64(4)?),
                SortField::Group => CursorValue::Str(row.text(5)?.to_owned()),
                SortField::Version => CursorValue::Str(row.text(6)?.to_owned()),
                SortField::Resource => CursorValue::Str(row.text(7)?.to_owned()),
            })
        })
        .collect()
}

async fn read_revision(
    conn: &mut dyn Conn,
    inner: &Inner,
    ctx: &str,
) -> Result<Revision, StorageError> {
    let rows = conn
        .fetch(
            &Sql::raw("SELECT revision FROM pedia_meta WHERE id = 1"),
            &[Ty::I64],
        )
        .await
        .map_err(|e| inner.errors.map(ctx, e))?;
    let rev = rows.first().map(|r| r.i64(0)).transpose()?.unwrap_or(0);
    Ok(u64::try_from(rev).unwrap_or(0))
}

fn context(scope: Scope<'_>) -> String {
    match scope {
        Scope::Resource(gvr) => format!("listing {}", gvr.resource),
        Scope::Collection(c) => format!("listing collection {}", c.name),
    }
}

/// The listed items of `rows` (in [`LIST_COLUMNS`] order).
fn items_of(rows: Vec<Row>, opts: &ListOptions) -> Result<Vec<Item>, StorageError> {
    let mut items = Vec::with_capacity(rows.len());
    for mut row in rows {
        let object = row.take_bytes(9)?;
        let object = if opts.only_metadata {
            metadata_only(&object)
                .map_err(|e| StorageError::internal("projecting object metadata", e))?
        } else {
            object
        };
        let namespaced = !row.text(1)?.is_empty();
        let gvr =
            GroupVersionResource::new(row.take_text(5)?, row.take_text(6)?, row.take_text(7)?);
        items.push(Item {
            resource: ResourceType::new(gvr, row.take_text(8)?, namespaced),
            object,
        });
    }
    Ok(items)
}

/// One page of `scope` matching `opts`; without a `limit`, every matching item (read in
/// batches, see [`Batches`]).
pub(crate) async fn list(
    inner: &Inner,
    scope: Scope<'_>,
    opts: &ListOptions,
) -> Result<Page, StorageError> {
    let Some(limit) = page_limit(opts) else {
        let (mut page, mut batches) = Batches::start(inner, scope, opts).await?;
        while let Some(batch) = batches.next(inner, scope, opts).await? {
            page.items.extend(batch);
        }
        return Ok(page);
    };
    let (keys, fingerprint, cursor) = prepare(scope, opts)?;
    let sql = page_sql(
        inner.dialect,
        scope,
        opts,
        &keys,
        cursor.as_ref().map(|c| c.values.as_slice()),
        limit.saturating_add(1),
    )?;
    let ctx = context(scope);
    let map = |e| inner.errors.map(&ctx, e);

    let mut tx = inner.pool.read_tx().await.map_err(map)?;
    let current = read_revision(tx.as_mut(), inner, &ctx).await?;
    let mut rows = tx.fetch(&sql, LIST_TYPES).await.map_err(map)?;
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let cut_short = rows.len() > limit;
    rows.truncate(limit);
    let last_values = match rows.last() {
        Some(row) if cut_short => Some(sort_values(&keys, row)?),
        _ => None,
    };
    let remaining_count = if opts.with_remaining_count == Some(true) {
        match &last_values {
            None => Some(0),
            Some(values) => {
                let mut b = SqlBuilder::new(inner.dialect);
                b.push("SELECT COUNT(*)");
                push_from_where(&mut b, scope, opts)?;
                push_keyset(&mut b, &keys, values);
                let counted = tx.fetch(&b.finish(), &[Ty::I64]).await.map_err(map)?;
                let n = counted.first().map(|r| r.i64(0)).transpose()?.unwrap_or(0);
                Some(u64::try_from(n).unwrap_or(0))
            }
        }
    } else {
        None
    };
    tx.commit().await.map_err(map)?;

    let revision = cursor.as_ref().map_or(current, |c| c.revision);
    let continue_token = match last_values {
        Some(values) if opts.wants_continue() => {
            Some(Cursor { values, revision }.encode(fingerprint))
        }
        _ => None,
    };
    Ok(Page {
        items: items_of(rows, opts)?,
        continue_token,
        remaining_count,
        revision,
    })
}

/// A whole list being read: keyset pages of [`BATCH_ROWS`] rows, all inside one read-only
/// snapshot transaction (REPEATABLE READ on PostgreSQL and MySQL, a read transaction under
/// WAL on SQLite). Every batch therefore sees the state of the revision the list reports,
/// whatever is written meanwhile, and only one batch of rows is held at a time.
pub(crate) struct Batches {
    tx: Option<Box<dyn Tx>>,
    keys: Vec<SortKey>,
    /// The sort values of the last row read; `None` before the first batch.
    after: Option<Vec<CursorValue>>,
    /// The first batch, read by [`Batches::start`].
    first: Option<Vec<Item>>,
    ctx: String,
}

impl Batches {
    /// Validates the request, opens the snapshot and reads the first batch, so that errors
    /// about the request or the database come from here rather than mid-stream. Returns
    /// the list's metadata as an empty page.
    pub(crate) async fn start(
        inner: &Inner,
        scope: Scope<'_>,
        opts: &ListOptions,
    ) -> Result<(Page, Self), StorageError> {
        let (keys, _, cursor) = prepare(scope, opts)?;
        let ctx = context(scope);
        let mut tx = inner
            .pool
            .read_tx()
            .await
            .map_err(|e| inner.errors.map(&ctx, e))?;
        let current = read_revision(tx.as_mut(), inner, &ctx).await?;
        let revision = cursor.as_ref().map_or(current, |c| c.revision);
        let mut batches = Batches {
            tx: Some(tx),
            keys,
            after: cursor.map(|c| c.values),
            first: None,
            ctx,
        };
        batches.first = batches.read(inner, scope, opts).await?;
        let page = Page {
            items: Vec::new(),
            continue_token: None,
            remaining_count: (opts.with_remaining_count == Some(true)).then_some(0),
            revision,
        };
        Ok((page, batches))
    }

    /// The next batch; `None` after the last one (the snapshot is then closed).
    pub(crate) async fn next(
        &mut self,
        inner: &Inner,
        scope: Scope<'_>,
        opts: &ListOptions,
    ) -> Result<Option<Vec<Item>>, StorageError> {
        if let Some(first) = self.first.take() {
            return Ok(Some(first));
        }
        self.read(inner, scope, opts).await
    }

    async fn read(
        &mut self,
        inner: &Inner,
        scope: Scope<'_>,
        opts: &ListOptions,
    ) -> Result<Option<Vec<Item>>, StorageError> {
        let Some(tx) = self.tx.as_mut() else {
            return Ok(None);
        };
        let map = |e| inner.errors.map(&self.ctx, e);
        let sql = page_sql(
            inner.dialect,
            scope,
            opts,
            &self.keys,
            self.after.as_deref(),
            BATCH_ROWS,
        )?;
        let rows = tx.fetch(&sql, LIST_TYPES).await.map_err(map)?;
        if u64::try_from(rows.len()).unwrap_or(u64::MAX) < BATCH_ROWS {
            // The last batch: end the snapshot now rather than when dropped.
            if let Some(tx) = self.tx.take() {
                tx.commit().await.map_err(map)?;
            }
        } else if let Some(last) = rows.last() {
            self.after = Some(sort_values(&self.keys, last)?);
        }
        if rows.is_empty() {
            return Ok(None);
        }
        Ok(Some(items_of(rows, opts)?))
    }

    /// Ends the snapshot early (the reader went away).
    pub(crate) async fn close(mut self) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.commit().await;
        }
    }
}

/// How long a whole-list stream waits for its reader to take the next batch before it
/// gives up: a stalled client must not hold a connection and a snapshot for ever, while
/// a slow one (a batch is a few megabytes) still gets its list.
const STALL_TIMEOUT: Duration = Duration::from_secs(300);

/// What the task reading a whole list sends to the stream.
enum Message {
    Batch(Vec<Item>),
    Failed(StorageError),
    Done,
}

/// A whole list of one resource as a stream: the first batch is read before this returns
/// (errors about the request surface here); a task reads the following batches from the
/// same snapshot while the reader consumes them, one batch ahead. A stream that stops
/// early for any reason (the task failed, the reader stalled) ends with an error, never
/// silently.
pub(crate) async fn stream(
    inner: Arc<Inner>,
    gvr: GroupVersionResource,
    opts: ListOptions,
) -> Result<ListStream, StorageError> {
    let (page, mut batches) = Batches::start(&inner, Scope::Resource(&gvr), &opts).await?;
    let first = batches
        .next(&inner, Scope::Resource(&gvr), &opts)
        .await?
        .unwrap_or_default();
    let (tx, rx) = mpsc::channel::<Message>(1);
    if batches.tx.is_some() {
        tokio::spawn(async move {
            loop {
                let message = match batches.next(&inner, Scope::Resource(&gvr), &opts).await {
                    Ok(Some(batch)) => Message::Batch(batch),
                    Ok(None) => Message::Done,
                    Err(err) => Message::Failed(err),
                };
                let last = !matches!(message, Message::Batch(_));
                match tokio::time::timeout(STALL_TIMEOUT, tx.send(message)).await {
                    Ok(Ok(())) if !last => {}
                    Ok(Ok(())) => return,
                    // The reader went away or stalled: release the snapshot.
                    Ok(Err(_)) | Err(_) => {
                        batches.close().await;
                        return;
                    }
                }
            }
        });
    } else {
        // Everything fitted in the first batch.
        let _ = tx.try_send(Message::Done);
    }
    let rest = futures::stream::unfold(Some(rx), |rx| async move {
        let mut rx = rx?;
        match rx.recv().await {
            Some(Message::Batch(batch)) => Some((Ok(batch), Some(rx))),
            Some(Message::Failed(err)) => Some((Err(err), None)),
            Some(Message::Done) => None,
            None => Some((
                Err(StorageError::unavailable(
                    "the list ended early: its reader was too slow or the storage stopped",
                )),
                None,
            )),
        }
    });
    let items = futures::stream::iter([Ok(first)])
        .chain(rest)
        .flat_map(|batch: Result<Vec<Item>, StorageError>| match batch {
            Ok(items) => {
                futures::stream::iter(items.into_iter().map(|i| Ok(i.object)).collect::<Vec<_>>())
                    .left_stream()
            }
            Err(err) => futures::stream::iter(vec![Err(err)]).right_stream(),
        })
        .boxed();
    Ok(ListStream {
        continue_token: page.continue_token,
        remaining_count: page.remaining_count,
        revision: page.revision,
        items,
    })
}

/// The stored bytes of one object.
pub(crate) async fn get(
    inner: &Inner,
    resource: &ResourceType,
    cluster: &str,
    namespace: &str,
    name: &str,
) -> Result<Bytes, StorageError> {
    let not_found = || {
        let mut msg = format!("{} {name:?} not found", resource.gvr.resource);
        if !namespace.is_empty() {
            msg.push_str(&format!(" in namespace {namespace:?}"));
        }
        msg.push_str(&format!(" of cluster {cluster:?}"));
        StorageError::not_found(msg)
    };
    if ![cluster, namespace, name].iter().all(|s| s.is_ascii()) {
        return Err(not_found());
    }
    let gvr = &resource.gvr;
    let mut b = SqlBuilder::new(inner.dialect);
    b.push("SELECT r.object FROM pedia_resources r WHERE r.grp = ")
        .bind_text(&gvr.group)
        .push(" AND r.version = ")
        .bind_text(&gvr.version)
        .push(" AND r.resource = ")
        .bind_text(&gvr.resource)
        .push(" AND r.cluster = ")
        .bind_text(cluster)
        .push(" AND r.namespace = ")
        .bind_text(namespace)
        .push(" AND r.name = ")
        .bind_text(name);
    let ctx = format!("reading {} {name:?}", gvr.resource);
    let mut conn = inner
        .pool
        .conn()
        .await
        .map_err(|e| inner.errors.map(&ctx, e))?;
    let mut rows = conn
        .fetch(&b.finish(), &[Ty::Bytes])
        .await
        .map_err(|e| inner.errors.map(&ctx, e))?;
    match rows.first_mut() {
        Some(row) => row.take_bytes(0),
        None => Err(not_found()),
    }
}

pub(crate) async fn current_revision(inner: &Inner) -> Result<Revision, StorageError> {
    let ctx = "reading the current revision";
    let mut conn = inner
        .pool
        .conn()
        .await
        .map_err(|e| inner.errors.map(ctx, e))?;
    read_revision(conn.as_mut(), inner, ctx).await
}

/// Every resource written per cluster, from `pedia_cluster_resources`.
pub(crate) async fn stored_resources(inner: &Inner) -> Result<Vec<StoredResource>, StorageError> {
    let ctx = "listing stored resources";
    let mut conn = inner
        .pool
        .conn()
        .await
        .map_err(|e| inner.errors.map(ctx, e))?;
    let rows = conn
        .fetch(
            &Sql::raw(
                "SELECT cluster, grp, version, resource, kind, namespaced FROM pedia_cluster_resources \
                 ORDER BY grp, version, resource, cluster",
            ),
            &[Ty::Text, Ty::Text, Ty::Text, Ty::Text, Ty::Text, Ty::I64],
        )
        .await
        .map_err(|e| inner.errors.map(ctx, e))?;
    let mut by_gvr: BTreeMap<GroupVersionResource, StoredResource> = BTreeMap::new();
    for mut row in rows {
        let cluster = row.take_text(0)?;
        let gvr =
            GroupVersionResource::new(row.take_text(1)?, row.take_text(2)?, row.take_text(3)?);
        let kind = row.take_text(4)?;
        let namespaced = row.i64(5)? != 0;
        by_gvr
            .entry(gvr.clone())
            .or_insert_with(|| StoredResource {
                resource: ResourceType::new(gvr, kind, namespaced),
                clusters: Vec::new(),
            })
            .clusters
            .push(cluster);
    }
    Ok(by_gvr.into_values().collect())
}

/// Stored uids and resourceVersions of one cluster.
pub(crate) async fn resource_versions(
    inner: &Inner,
    cluster: &str,
) -> Result<ResourceVersions, StorageError> {
    let mut out = ResourceVersions::new();
    if !cluster.is_ascii() {
        return Ok(out);
    }
    let ctx = "reading stored resource versions";
    let mut b = SqlBuilder::new(inner.dialect);
    b.push("SELECT grp, version, resource, namespace, name, uid, resource_version FROM pedia_resources WHERE cluster = ")
        .bind_text(cluster);
    let mut conn = inner
        .pool
        .conn()
        .await
        .map_err(|e| inner.errors.map(ctx, e))?;
    let rows = conn
        .fetch(
            &b.finish(),
            &[
                Ty::Text,
                Ty::Text,
                Ty::Text,
                Ty::Text,
                Ty::Text,
                Ty::Text,
                Ty::Text,
            ],
        )
        .await
        .map_err(|e| inner.errors.map(ctx, e))?;
    for mut row in rows {
        let gvr =
            GroupVersionResource::new(row.take_text(0)?, row.take_text(1)?, row.take_text(2)?);
        let key = object_key(row.text(3)?, row.text(4)?);
        let version = StoredVersion {
            uid: row.take_text(5)?,
            resource_version: row.take_text(6)?,
        };
        out.entry(gvr).or_default().insert(key, version);
    }
    Ok(out)
}
