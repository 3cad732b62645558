//! The read path: get, keyset-paged lists of one resource or a collection, and the
//! factory's read-only queries (revision, stored resources, resource versions). A list
//! runs in one snapshot transaction that also reads the revision it reports.

use std::collections::BTreeMap;

use bytes::Bytes;
use pedia_core::{
    Cursor, CursorValue, GroupVersionResource, ListOptions, ResourceType, SortField, SortKey,
    metadata_only, search_label,
};
use pedia_storage::filter::{check_cursor_shape, reject_unknown_extra_labels};
use pedia_storage::{
    CollectionResource, ResourceVersions, Revision, StorageError, StoredResource, StoredVersion,
    object_key,
};

use crate::db::{Conn, Dialect, Row, Ty};
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

/// The page query: `SELECT ... ORDER BY ... LIMIT n+1`.
fn page_sql(
    dialect: Dialect,
    scope: Scope<'_>,
    opts: &ListOptions,
    keys: &[SortKey],
    cursor: Option<&Cursor>,
) -> Result<Sql, StorageError> {
    let mut b = SqlBuilder::new(dialect);
    let limit = page_limit(opts);
    // MariaDB/MySQL sort and filter whole rows (objects of kilobytes) when the page query
    // selects the object: a label-selected or fuzzy page took seconds on 100k rows. Finding
    // the page's ids first and then joining for the objects reads only indexes for the
    // search; PostgreSQL and SQLite already plan the plain query well.
    let deferred = dialect == Dialect::MySql && limit.is_some();
    b.push("SELECT ").push(LIST_COLUMNS);
    if deferred {
        b.push(" FROM pedia_resources r JOIN (SELECT r.id");
    }
    push_from_where(&mut b, scope, opts)?;
    if let Some(c) = cursor {
        push_keyset(&mut b, keys, &c.values);
    }
    push_order_by(&mut b, keys);
    if let Some(limit) = limit {
        b.push(" LIMIT ")
            .bind_i64(i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX));
    }
    if deferred {
        b.push(") page ON r.id = page.id");
        push_order_by(&mut b, keys);
    }
    Ok(b.finish())
}

fn page_limit(opts: &ListOptions) -> Option<u64> {
    opts.limit.filter(|l| *l > 0)
}

/// The SQL of a list page, for EXPLAIN tests.
pub(crate) fn list_sql(
    dialect: Dialect,
    gvr: &GroupVersionResource,
    opts: &ListOptions,
) -> Result<Sql, StorageError> {
    let scope = Scope::Resource(gvr);
    let (keys, _, cursor) = prepare(scope, opts)?;
    page_sql(dialect, scope, opts, &keys, cursor.as_ref())
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

/// One page of `scope` matching `opts`.
pub(crate) async fn list(
    inner: &Inner,
    scope: Scope<'_>,
    opts: &ListOptions,
) -> Result<Page, StorageError> {
    let (keys, fingerprint, cursor) = prepare(scope, opts)?;
    let sql = page_sql(inner.dialect, scope, opts, &keys, cursor.as_ref())?;
    let ctx = match scope {
        Scope::Resource(gvr) => format!("listing {}", gvr.resource),
        Scope::Collection(c) => format!("listing collection {}", c.name),
    };
    let map = |e| inner.errors.map(&ctx, e);

    let mut tx = inner.pool.read_tx().await.map_err(map)?;
    let current = read_revision(tx.as_mut(), inner, &ctx).await?;
    let mut rows = tx.fetch(&sql, LIST_TYPES).await.map_err(map)?;
    let limit = page_limit(opts).map(|l| usize::try_from(l).unwrap_or(usize::MAX));
    let cut_short = limit.is_some_and(|l| rows.len() > l);
    if let Some(l) = limit {
        rows.truncate(l);
    }
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
    Ok(Page {
        items,
        continue_token,
        remaining_count,
        revision,
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
