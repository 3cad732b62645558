//! Answering list queries from the in-memory state: candidate selection through the label
//! and owner indexes, filtering, ordering and keyset paging.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use bytes::Bytes;
use pedia_core::search_label::FUZZY_NAME;
use pedia_core::{
    Cursor, CursorValue, ListOptions, Operator, OwnerTarget, ResourceType, SortField, SortKey,
    metadata_only,
};
use pedia_storage::filter::{
    ObjectFilter, check_cursor_shape, created_millis, reject_unknown_extra_labels,
    resource_version_order,
};
use pedia_storage::{Result, StorageError};

use crate::store::{Entry, ResourceStore, State, Stored};

/// One page of matching objects with the resource each belongs to. Items are shared
/// handles on the stored versions: a page copies no object bytes, and a later write
/// replaces a store's version without changing the page.
#[derive(Debug)]
pub(crate) struct Page {
    pub(crate) items: Vec<(ResourceType, Arc<Stored>)>,
    pub(crate) only_metadata: bool,
    pub(crate) continue_token: Option<String>,
    pub(crate) remaining_count: Option<u64>,
    pub(crate) revision: u64,
}

impl Page {
    /// An item as listed: the stored bytes, or their metadata projection.
    pub(crate) fn bytes(stored: &Stored, only_metadata: bool) -> Result<Bytes> {
        if only_metadata {
            metadata_only(&stored.raw)
                .map_err(|e| StorageError::internal("projecting object metadata", e))
        } else {
            Ok(stored.raw.clone())
        }
    }

    /// Every item's bytes, in order.
    pub(crate) fn into_items(self) -> Result<Vec<(ResourceType, Bytes)>> {
        let only_metadata = self.only_metadata;
        self.items
            .into_iter()
            .map(|(rt, stored)| Ok((rt, Self::bytes(&stored, only_metadata)?)))
            .collect()
    }
}

/// A borrowed sort value, to order candidates without copying strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Value<'a> {
    Str(&'a str),
    Int(i64),
}

fn value_of<'a>(field: SortField, store: &'a ResourceStore, entry: &'a Entry) -> Value<'a> {
    let meta = &entry.obj.meta;
    let gvr = &store.resource.gvr;
    match field {
        SortField::Cluster => Value::Str(&entry.cluster),
        SortField::Namespace => Value::Str(&meta.namespace),
        SortField::Name => Value::Str(&meta.name),
        SortField::Group => Value::Str(&gvr.group),
        SortField::Version => Value::Str(&gvr.version),
        SortField::Resource => Value::Str(&gvr.resource),
        SortField::CreatedAt => Value::Int(created_millis(meta)),
        SortField::ResourceVersion => Value::Int(resource_version_order(meta)),
    }
}

fn cmp_value(a: Value<'_>, b: Value<'_>) -> Ordering {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Value::Int(x), Value::Int(y)) => x.cmp(&y),
        (Value::Int(_), Value::Str(_)) => Ordering::Less,
        (Value::Str(_), Value::Int(_)) => Ordering::Greater,
    }
}

fn directed(key: &SortKey, ord: Ordering) -> Ordering {
    if key.desc { ord.reverse() } else { ord }
}

fn cmp_entries(
    keys: &[SortKey],
    a: (&ResourceStore, &Entry),
    b: (&ResourceStore, &Entry),
) -> Ordering {
    for key in keys {
        let ord = directed(
            key,
            cmp_value(value_of(key.field, a.0, a.1), value_of(key.field, b.0, b.1)),
        );
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

fn cmp_with_cursor(
    keys: &[SortKey],
    item: (&ResourceStore, &Entry),
    cursor: &[CursorValue],
) -> Ordering {
    for (key, c) in keys.iter().zip(cursor) {
        let c = match c {
            CursorValue::Str(s) => Value::Str(s),
            CursorValue::Int(i) => Value::Int(*i),
        };
        let ord = directed(key, cmp_value(value_of(key.field, item.0, item.1), c));
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

fn cursor_of(keys: &[SortKey], store: &ResourceStore, entry: &Entry) -> Vec<CursorValue> {
    keys.iter()
        .map(|k| match value_of(k.field, store, entry) {
            Value::Str(s) => CursorValue::Str(s.to_owned()),
            Value::Int(i) => CursorValue::Int(i),
        })
        .collect()
}

/// The owner uids whose children an owner query lists, resolved `seniority` levels down.
fn owner_set(state: &State, opts: &ListOptions) -> Option<(String, HashSet<String>)> {
    let owner = opts.owner.as_ref()?;
    let cluster = owner.cluster.as_str();
    let mut set: HashSet<String> = match &owner.target {
        OwnerTarget::Uid(uid) => HashSet::from([uid.clone()]),
        OwnerTarget::Name {
            name,
            group_resource,
        } => state
            .resources
            .values()
            .filter(|s| {
                group_resource.as_ref().is_none_or(|gr| {
                    gr.group == s.resource.gvr.group && gr.resource == s.resource.gvr.resource
                })
            })
            .flat_map(|s| s.entries.values())
            .filter(|e| {
                let m = &e.obj.meta;
                &*e.cluster == cluster
                    && m.name == *name
                    && (opts.namespaces.is_empty()
                        || m.namespace.is_empty()
                        || opts.namespaces.contains(&m.namespace))
                    && !m.uid.is_empty()
            })
            .map(|e| e.obj.meta.uid.clone())
            .collect(),
    };
    for _ in 0..owner.seniority {
        set = state.children_of(cluster, &set);
    }
    Some((cluster.to_owned(), set))
}

/// Candidate ids of one store: narrowed by the most selective index available.
fn candidates<'a>(
    store: &'a ResourceStore,
    opts: &ListOptions,
    owners: Option<&(String, HashSet<String>)>,
) -> Box<dyn Iterator<Item = &'a Entry> + 'a> {
    let mut narrowed: Option<BTreeSet<u64>> = None;
    let mut intersect = |ids: BTreeSet<u64>| {
        narrowed = Some(match narrowed.take() {
            None => ids,
            Some(prev) => prev.intersection(&ids).copied().collect(),
        });
    };
    for r in &opts.label_selector.requirements {
        match r.operator {
            Operator::Equals | Operator::DoubleEquals | Operator::In => {
                intersect(store.ids_with_label(&r.key, Some(&r.values)));
            }
            Operator::Exists | Operator::GreaterThan | Operator::LessThan => {
                intersect(store.ids_with_label(&r.key, None));
            }
            _ => {}
        }
    }
    if let Some((cluster, set)) = owners {
        intersect(store.ids_owned_by(cluster, set.iter().map(String::as_str)));
    }
    match narrowed {
        Some(ids) => Box::new(ids.into_iter().filter_map(move |id| store.entries.get(&id))),
        None => Box::new(store.entries.values()),
    }
}

/// Lists matching objects across `stores`, `scope` naming what is listed (for tokens).
pub(crate) fn list(
    state: &State,
    stores: &[&ResourceStore],
    opts: &ListOptions,
    scope: &str,
    multi_resource: bool,
) -> Result<Page> {
    reject_unknown_extra_labels(opts, "memory", &[FUZZY_NAME])?;
    let keys = opts.sort_keys(multi_resource);
    let fingerprint = opts.fingerprint(scope);
    let cursor = match &opts.continue_token {
        Some(token) => {
            let cursor = Cursor::decode(token, fingerprint)?;
            check_cursor_shape(&keys, &cursor.values)?;
            Some(cursor)
        }
        None => None,
    };
    let owners = owner_set(state, opts);
    let filter = ObjectFilter::new(opts);

    let mut matched: Vec<(&ResourceStore, &Entry)> = Vec::new();
    for store in stores {
        for entry in candidates(store, opts, owners.as_ref()) {
            if filter.matches_meta(&entry.cluster, &entry.obj.meta)
                && (!filter.needs_json() || filter.matches_json(&entry.obj.raw))
            {
                matched.push((store, entry));
            }
        }
    }
    matched.sort_unstable_by(|a, b| cmp_entries(&keys, *a, *b));

    let start = match &cursor {
        Some(c) => matched
            .partition_point(|item| cmp_with_cursor(&keys, *item, &c.values) != Ordering::Greater),
        None => 0,
    };
    let after = &matched[start..];
    let limit = opts
        .limit
        .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
    let page = &after[..after.len().min(limit)];
    let cut_short = page.len() < after.len();
    let revision = cursor.as_ref().map_or(state.revision, |c| c.revision);

    let continue_token = match page.last() {
        Some((store, entry)) if cut_short && opts.wants_continue() => Some(
            Cursor {
                values: cursor_of(&keys, store, entry),
                revision,
            }
            .encode(fingerprint),
        ),
        _ => None,
    };
    let remaining_count = opts
        .with_remaining_count
        .unwrap_or(false)
        .then(|| (after.len() - page.len()) as u64);

    let items = page
        .iter()
        .map(|(store, entry)| (store.resource.clone(), Arc::clone(&entry.obj)))
        .collect();
    Ok(Page {
        items,
        only_metadata: opts.only_metadata,
        continue_token,
        remaining_count,
        revision,
    })
}
