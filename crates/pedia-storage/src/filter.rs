//! Evaluating `ListOptions` against one object in Rust: the reference semantics that
//! layers without a query engine (memory) use, and that SQL layers use for rows they
//! cannot filter in the database (deleted objects in watches).

use std::cmp::Ordering;

use pedia_core::{CursorValue, GroupVersionResource, ListOptions, ObjectMeta, SortField, SortKey};

use crate::error::{Result, StorageError};

/// The extra labels (`*.clusterpedia.io/*`) a layer understands beyond the search labels.
/// Layers call [`reject_unknown_extra_labels`] with the ones they implement.
pub fn reject_unknown_extra_labels(opts: &ListOptions, layer: &str, known: &[&str]) -> Result<()> {
    match opts
        .extra_labels
        .iter()
        .find(|r| !known.contains(&r.key.as_str()))
    {
        Some(r) => Err(StorageError::unsupported(format!(
            "storage layer {layer:?} does not support the search label {:?}",
            r.key
        ))),
        None => Ok(()),
    }
}

/// The per-object filters of a query: everything but owner queries, ordering and paging.
#[derive(Debug)]
pub struct ObjectFilter<'a> {
    opts: &'a ListOptions,
}

impl<'a> ObjectFilter<'a> {
    pub fn new(opts: &'a ListOptions) -> Self {
        Self { opts }
    }

    /// Whether the filters need the object's full JSON (field selectors do).
    pub fn needs_json(&self) -> bool {
        !self.opts.field_selector.is_empty()
    }

    /// Matches everything decidable from the cluster and the indexed metadata.
    pub fn matches_meta(&self, cluster: &str, meta: &ObjectMeta) -> bool {
        let o = self.opts;
        o.authorizes(cluster, &meta.namespace)
            && (o.clusters.is_empty() || o.clusters.iter().any(|c| c == cluster))
            && (o.namespaces.is_empty() || o.namespaces.contains(&meta.namespace))
            && (o.names.is_empty() || o.names.contains(&meta.name))
            && o.label_selector.matches(|k| meta.label(k))
            && o.fuzzy_names.iter().all(|f| f.matches(&meta.name))
            && o.since
                .is_none_or(|s| created_millis(meta) >= s.as_millis())
            && o.before
                .is_none_or(|b| created_millis(meta) < b.as_millis())
    }

    /// Matches the field selector against the object's JSON. Unparseable JSON matches
    /// nothing.
    pub fn matches_json(&self, raw: &[u8]) -> bool {
        if self.opts.field_selector.is_empty() {
            return true;
        }
        match serde_json::from_slice::<serde_json::Value>(raw) {
            Ok(value) => self.opts.field_selector.matches(&value),
            Err(_) => false,
        }
    }

    pub fn matches(&self, cluster: &str, meta: &ObjectMeta, raw: &[u8]) -> bool {
        self.matches_meta(cluster, meta) && self.matches_json(raw)
    }
}

/// The creation time used for `since`/`before` and ordering; objects without one sort
/// and filter as the Unix epoch.
pub fn created_millis(meta: &ObjectMeta) -> i64 {
    meta.created_at.map_or(0, |t| t.as_millis())
}

/// The resourceVersion used for ordering; non-numeric versions order as 0.
pub fn resource_version_order(meta: &ObjectMeta) -> i64 {
    meta.resource_version_number()
        .map_or(0, |v| i64::try_from(v).unwrap_or(i64::MAX))
}

/// The sort-key values of one object, in the order of `keys`.
pub fn sort_values(
    keys: &[SortKey],
    cluster: &str,
    gvr: &GroupVersionResource,
    meta: &ObjectMeta,
) -> Vec<CursorValue> {
    keys.iter()
        .map(|k| match k.field {
            SortField::Cluster => CursorValue::Str(cluster.to_owned()),
            SortField::Namespace => CursorValue::Str(meta.namespace.clone()),
            SortField::Name => CursorValue::Str(meta.name.clone()),
            SortField::Group => CursorValue::Str(gvr.group.clone()),
            SortField::Version => CursorValue::Str(gvr.version.clone()),
            SortField::Resource => CursorValue::Str(gvr.resource.clone()),
            SortField::CreatedAt => CursorValue::Int(created_millis(meta)),
            SortField::ResourceVersion => CursorValue::Int(resource_version_order(meta)),
        })
        .collect()
}

/// Compares two sort-key value lists under `keys` (strings byte-wise, integers
/// numerically, descending keys reversed). This is the order every layer must produce.
pub fn compare_sort_values(keys: &[SortKey], a: &[CursorValue], b: &[CursorValue]) -> Ordering {
    for ((key, x), y) in keys.iter().zip(a).zip(b) {
        let ord = match (x, y) {
            (CursorValue::Str(x), CursorValue::Str(y)) => x.as_bytes().cmp(y.as_bytes()),
            (CursorValue::Int(x), CursorValue::Int(y)) => x.cmp(y),
            (CursorValue::Int(_), CursorValue::Str(_)) => Ordering::Less,
            (CursorValue::Str(_), CursorValue::Int(_)) => Ordering::Greater,
        };
        let ord = if key.desc { ord.reverse() } else { ord };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// Checks that a decoded cursor fits the sort keys (count and value types).
pub fn check_cursor_shape(keys: &[SortKey], values: &[CursorValue]) -> Result<()> {
    let fits = keys.len() == values.len()
        && keys
            .iter()
            .zip(values)
            .all(|(k, v)| k.field.is_int() == matches!(v, CursorValue::Int(_)));
    if fits {
        Ok(())
    } else {
        Err(StorageError::bad_request(
            "invalid value for continue: continue token does not match this query's order",
        ))
    }
}
