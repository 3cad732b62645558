//! Answering list queries from the in-memory state: candidate selection through the label
//! and owner indexes, filtering, ordering and keyset paging.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashSet};
use std::ops::Bound;
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

use crate::store::{Entry, ObjKey, ResourceStore, State, Stored};

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

/// The one store whose key index (cluster, namespace, name) can be walked in the query's
/// order: a single resource in the default order, without an owner query (owners narrow
/// through their own index) and without a label index narrowing to a small candidate set
/// (sorting that beats walking everything).
fn default_order_walk<'a>(
    stores: &[&'a ResourceStore],
    opts: &ListOptions,
    owners: Option<&(String, HashSet<String>)>,
    keys: &[SortKey],
) -> Option<&'a ResourceStore> {
    let [store] = stores else { return None };
    let default = [SortField::Cluster, SortField::Namespace, SortField::Name];
    let in_key_order = keys.len() == default.len()
        && keys
            .iter()
            .zip(default)
            .all(|(k, f)| k.field == f && !k.desc);
    if !in_key_order || owners.is_some() {
        return None;
    }
    let narrowed = opts.label_selector.requirements.iter().any(|r| {
        matches!(
            r.operator,
            Operator::Equals | Operator::DoubleEquals | Operator::In
        ) && store.ids_with_label(&r.key, Some(&r.values)).len() < store.entries.len() / 8
    });
    (!narrowed).then_some(*store)
}

/// The key-index key a default-order cursor points at.
fn cursor_key(values: &[CursorValue]) -> ObjKey {
    let text = |i: usize| match values.get(i) {
        Some(CursorValue::Str(s)) => s.as_str(),
        _ => "",
    };
    (Arc::from(text(0)), Box::from(text(1)), Box::from(text(2)))
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
    let matches = |entry: &Entry| {
        filter.matches_meta(&entry.cluster, &entry.obj.meta)
            && (!filter.needs_json() || filter.matches_json(&entry.obj.raw))
    };
    let limit = opts
        .limit
        .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
    let counting = opts.with_remaining_count.unwrap_or(false);
    let after_cursor = |item: (&ResourceStore, &Entry)| {
        cursor
            .as_ref()
            .is_none_or(|c| cmp_with_cursor(&keys, item, &c.values) == Ordering::Greater)
    };

    // `page` holds at most limit + 1 items (the extra one says the page was cut short);
    // `after` counts every match after the cursor when a remaining count is asked for.
    let (page, after) = match default_order_walk(stores, opts, owners.as_ref(), &keys) {
        // The default order is the key index's own: walk it from the cursor and stop at
        // limit + 1 (or keep counting without keeping, for the remaining count).
        Some(store) => {
            let from = match &cursor {
                Some(c) => Bound::Excluded(cursor_key(&c.values)),
                None => Bound::Unbounded,
            };
            let mut page: Vec<(&ResourceStore, &Entry)> = Vec::new();
            let mut after = 0usize;
            for id in store
                .by_key
                .range((from, Bound::Unbounded))
                .map(|(_, id)| id)
            {
                let Some(entry) = store.entries.get(id) else {
                    continue;
                };
                if !matches(entry) {
                    continue;
                }
                after += 1;
                if page.len() <= limit {
                    page.push((store, entry));
                } else if !counting {
                    break;
                }
            }
            (page, after)
        }
        // Other orders: keep the best limit + 1 in a buffer trimmed with a linear-time
        // selection whenever it doubles, so no query sorts every match.
        None => {
            let keep = limit.saturating_add(1);
            let mut buffer: Vec<(&ResourceStore, &Entry)> = Vec::new();
            let mut after = 0usize;
            for store in stores {
                for entry in candidates(store, opts, owners.as_ref()) {
                    if !matches(entry) || !after_cursor((store, entry)) {
                        continue;
                    }
                    after += 1;
                    buffer.push((store, entry));
                    if buffer.len() >= keep.saturating_mul(2).max(64) {
                        buffer.select_nth_unstable_by(keep - 1, |a, b| cmp_entries(&keys, *a, *b));
                        buffer.truncate(keep);
                    }
                }
            }
            buffer.sort_unstable_by(|a, b| cmp_entries(&keys, *a, *b));
            buffer.truncate(keep);
            (buffer, after)
        }
    };
    let cut_short = page.len() > limit;
    let page = &page[..page.len().min(limit)];
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
    let remaining_count = counting.then(|| (after - page.len()) as u64);

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
