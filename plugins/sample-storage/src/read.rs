//! The read side: get, lists of one resource or of a collection (SQL narrows by resource,
//! cluster, namespace, name and creation time; everything else is filtered, ordered and
//! paged here in Rust), owner queries, and the cross-resource reads of the factory.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashSet};

use pedia_plugin_api::bytes::Bytes;
use pedia_plugin_api::pedia_core::{
    Cursor, CursorValue, GroupVersionResource, ListOptions, Object, OwnerQuery, OwnerTarget,
    ResourceType, SortKey, metadata_only,
};
use pedia_plugin_api::pedia_storage::filter::{
    ObjectFilter, check_cursor_shape, compare_sort_values, reject_unknown_extra_labels, sort_values,
};
use pedia_plugin_api::pedia_storage::{
    CollectionResource, ResourceVersions, Result, Revision, StorageError, StoredResource,
    StoredVersion, object_key,
};

use crate::db::{Arg, Conn, Key, ObjectRow, SELECT_OBJECTS, Select};
use crate::{LAYER_NAME, Shared};

/// Owner uids per statement when walking an owner chain; far below both databases'
/// limits on bound parameters.
const OWNER_CHUNK: usize = 500;

/// The `continue` scope of a resource's listing: a token only continues the listing it
/// came from.
pub(crate) fn resource_scope(gvr: &GroupVersionResource) -> String {
    format!("{}/{}/{}", gvr.group, gvr.version, gvr.resource)
}

pub(crate) fn collection_scope(collection: &CollectionResource) -> String {
    format!("collection:{}", collection.name)
}

pub(crate) async fn get(
    shared: &Shared,
    resource: &ResourceType,
    cluster: &str,
    namespace: &str,
    name: &str,
) -> Result<Bytes> {
    let mut pooled = shared.db.pooled().await?;
    let key = Key {
        gvr: &resource.gvr,
        cluster,
        namespace,
        name,
    };
    match pooled.conn().object(key).await? {
        Some(raw) => Ok(Bytes::from(raw)),
        None => Err(StorageError::not_found(format!(
            "{} {:?} not found in cluster {cluster:?}",
            resource.gvr.resource,
            object_key(namespace, name)
        ))),
    }
}

/// One page of a listing, each item with its resource.
#[derive(Debug)]
pub(crate) struct Page {
    pub(crate) items: Vec<(ResourceType, Bytes)>,
    pub(crate) continue_token: Option<String>,
    pub(crate) remaining_count: Option<u64>,
    pub(crate) revision: Revision,
}

/// What to list: one resource, or the resources of a collection.
#[derive(Debug)]
pub(crate) enum Target<'a> {
    Resource(&'a ResourceType),
    Collection(&'a CollectionResource),
}

/// A matching object with its sort-key values.
struct Matched {
    values: Vec<CursorValue>,
    resource: ResourceType,
    raw: Bytes,
}

/// Lists one page of `target` on one read snapshot.
pub(crate) async fn list(shared: &Shared, target: Target<'_>, opts: &ListOptions) -> Result<Page> {
    reject_unknown_extra_labels(opts, LAYER_NAME, &[])?;
    let multi_resource = matches!(target, Target::Collection(_));
    let scope = match target {
        Target::Resource(r) => resource_scope(&r.gvr),
        Target::Collection(c) => collection_scope(c),
    };
    let keys = opts.sort_keys(multi_resource);
    let fingerprint = opts.fingerprint(&scope);
    let cursor = match &opts.continue_token {
        Some(token) => {
            let cursor = Cursor::decode(token, fingerprint)?;
            check_cursor_shape(&keys, &cursor.values)?;
            Some(cursor)
        }
        None => None,
    };

    let mut tx = shared.db.read_tx().await?;
    let mut conn = tx.conn();
    let (current, _) = conn.meta(false).await?;
    // Every page of one listing reports the revision of its first page.
    let revision = cursor.as_ref().map_or(current, |c| c.revision);
    let resources: Vec<GroupVersionResource> = match target {
        Target::Resource(r) => vec![r.gvr.clone()],
        Target::Collection(c) => {
            let synced: BTreeSet<GroupVersionResource> = conn
                .registrations()
                .await?
                .into_iter()
                .map(|(_, r)| r.gvr)
                .filter(|gvr| c.matches(gvr))
                .collect();
            synced.into_iter().collect()
        }
    };
    let owners = match &opts.owner {
        Some(owner) => Some(owner_uids(&mut conn, owner, &opts.namespaces).await?),
        None => None,
    };

    let filter = ObjectFilter::new(opts);
    let mut matched: Vec<Matched> = Vec::new();
    let mut keep = |row: ObjectRow| -> Result<()> {
        let object = Object::from_json(Bytes::from(row.object))
            .map_err(|e| StorageError::internal("decoding a stored object", e))?;
        if !filter.matches(&row.cluster, &object.meta, &object.raw) {
            return Ok(());
        }
        if let Some(owners) = &owners
            && !owners.contains(&object.meta.owner_uid)
        {
            return Ok(());
        }
        let gvr = GroupVersionResource::new(row.api_group, row.api_version, row.resource);
        let values = sort_values(&keys, &row.cluster, &gvr, &object.meta);
        if let Some(cursor) = &cursor
            && compare_sort_values(&keys, &values, &cursor.values) != Ordering::Greater
        {
            return Ok(());
        }
        matched.push(Matched {
            values,
            resource: ResourceType::new(gvr, row.kind, row.namespaced),
            raw: object.raw,
        });
        Ok(())
    };
    // An owner query whose owners have no uids cannot match anything.
    let nothing_owned = owners.as_ref().is_some_and(HashSet::is_empty);
    if !nothing_owned {
        for gvr in &resources {
            let select = narrow(gvr, opts, owners.as_ref());
            conn.for_each_object(&select, &mut keep).await?;
        }
    }
    tx.commit().await?;

    page(matched, &keys, opts, fingerprint, revision)
}

/// The SQL part of a listing's filters: resource, clusters, namespaces, names, creation
/// window, and the owner when an owner query's uid set is small.
fn narrow(
    gvr: &GroupVersionResource,
    opts: &ListOptions,
    owners: Option<&HashSet<String>>,
) -> Select {
    let mut select = Select::new(SELECT_OBJECTS);
    select
        .resource(gvr)
        .any_of("cluster", &opts.clusters)
        .any_of("namespace", &opts.namespaces)
        .any_of("name", &opts.names)
        // Rows are checked in Rust as well; this keeps unauthorized rows from being read.
        .authorized(opts.authorized.as_deref());
    if let Some(since) = opts.since {
        select.compare("created_at", ">=", Arg::Int(since.as_millis()));
    }
    if let Some(before) = opts.before {
        select.compare("created_at", "<", Arg::Int(before.as_millis()));
    }
    if let Some(owner) = &opts.owner {
        select.eq("cluster", &owner.cluster);
        if let Some(owners) = owners
            && owners.len() <= OWNER_CHUNK
        {
            // Larger sets are filtered in Rust only (rows are always checked there).
            select.any_of("owner_uid", owners);
        }
    }
    select
}

/// Orders the matches and cuts the page.
fn page(
    mut matched: Vec<Matched>,
    keys: &[SortKey],
    opts: &ListOptions,
    fingerprint: u64,
    revision: Revision,
) -> Result<Page> {
    matched.sort_unstable_by(|a, b| compare_sort_values(keys, &a.values, &b.values));
    let total = matched.len();
    let limit = opts
        .limit
        .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
    matched.truncate(limit);
    let cut_short = matched.len() < total;
    let continue_token = match matched.last() {
        Some(last) if cut_short && opts.wants_continue() => Some(
            Cursor {
                values: last.values.clone(),
                revision,
            }
            .encode(fingerprint),
        ),
        _ => None,
    };
    let remaining_count = opts
        .with_remaining_count
        .unwrap_or(false)
        .then(|| (total - matched.len()) as u64);
    let mut items = Vec::with_capacity(matched.len());
    for m in matched {
        let raw = if opts.only_metadata {
            metadata_only(&m.raw)
                .map_err(|e| StorageError::internal("projecting object metadata", e))?
        } else {
            m.raw
        };
        items.push((m.resource, raw));
    }
    Ok(Page {
        items,
        continue_token,
        remaining_count,
        revision,
    })
}

/// The uids whose direct children an owner query lists: the target owners, then
/// `seniority` levels down through `owner_uid`, across every resource of the cluster.
async fn owner_uids(
    conn: &mut Conn<'_>,
    owner: &OwnerQuery,
    namespaces: &[String],
) -> Result<HashSet<String>> {
    let mut set: HashSet<String> = match &owner.target {
        OwnerTarget::Uid(uid) => HashSet::from([uid.clone()]),
        OwnerTarget::Name {
            name,
            group_resource,
        } => {
            let mut select = Select::new("SELECT uid FROM sample_objects");
            select
                .eq("cluster", &owner.cluster)
                .eq("name", name)
                .compare("uid", "<>", Arg::Text(String::new()));
            if let Some(gr) = group_resource {
                select
                    .eq("api_group", &gr.group)
                    .eq("resource", &gr.resource);
            }
            // Owners in the listed namespaces, or cluster-scoped ones.
            select.empty_or_any_of("namespace", namespaces);
            conn.strings(&select, "resolving an owner by name")
                .await?
                .into_iter()
                .collect()
        }
    };
    for _ in 0..owner.seniority {
        let parents: Vec<String> = set.into_iter().collect();
        let mut children = HashSet::new();
        for chunk in parents.chunks(OWNER_CHUNK) {
            let mut select = Select::new("SELECT uid FROM sample_objects");
            select
                .eq("cluster", &owner.cluster)
                .any_of("owner_uid", chunk)
                .compare("uid", "<>", Arg::Text(String::new()));
            children.extend(conn.strings(&select, "walking an owner chain").await?);
        }
        set = children;
    }
    Ok(set)
}

/// Every resource with a sync registered, and from which clusters.
pub(crate) async fn stored_resources(shared: &Shared) -> Result<Vec<StoredResource>> {
    let mut pooled = shared.db.pooled().await?;
    let mut by_resource: BTreeMap<ResourceType, BTreeSet<String>> = BTreeMap::new();
    for (cluster, resource) in pooled.conn().registrations().await? {
        by_resource.entry(resource).or_default().insert(cluster);
    }
    Ok(by_resource
        .into_iter()
        .map(|(resource, clusters)| StoredResource {
            resource,
            clusters: clusters.into_iter().collect(),
        })
        .collect())
}

pub(crate) async fn resource_versions(shared: &Shared, cluster: &str) -> Result<ResourceVersions> {
    let mut pooled = shared.db.pooled().await?;
    let mut out = ResourceVersions::new();
    for (gvr, namespace, name, uid, resource_version) in pooled.conn().versions(cluster).await? {
        out.entry(gvr).or_default().insert(
            object_key(&namespace, &name),
            StoredVersion {
                uid,
                resource_version,
            },
        );
    }
    Ok(out)
}

pub(crate) async fn current_revision(shared: &Shared) -> Result<Revision> {
    let mut pooled = shared.db.pooled().await?;
    Ok(pooled.conn().meta(false).await?.0)
}
