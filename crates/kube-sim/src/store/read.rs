//! Reads with kube-apiserver's semantics: label selectors (every operator) and the field
//! selectors kube supports per resource, paged lists with opaque continue tokens that keep
//! reading the snapshot of the first page (`410 Gone` once it was compacted), and the
//! `resourceVersion` / `resourceVersionMatch` rules for where a list reads.

use std::collections::BTreeMap;
use std::ops::Bound;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use pedia_core::{FieldRequirement, FieldSelector, LabelSelector, Operator};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{GroupResource, ObjKey, State};
use crate::error::StatusError;
use crate::registry::ResourceDef;

/// Fields kube-apiserver supports in field selectors besides `metadata.name` and
/// `metadata.namespace`, per resource.
fn extra_fields(group: &str, resource: &str) -> &'static [&'static str] {
    match (group, resource) {
        ("", "pods") => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        ("", "events") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ("", "secrets") => &["type"],
        ("", "namespaces") => &["status.phase"],
        ("", "nodes") => &["spec.unschedulable"],
        ("", "replicationcontrollers") | ("apps", "replicasets") => &["status.replicas"],
        ("", "services") => &["spec.clusterIP", "spec.type"],
        ("batch", "jobs") => &["status.successful"],
        ("certificates.k8s.io", "certificatesigningrequests") => &["spec.signerName"],
        _ => &[],
    }
}

/// A parsed label and field selector.
#[derive(Debug, Clone, Default)]
pub struct Selector {
    label: LabelSelector,
    /// `metadata.name` / `metadata.namespace` requirements, checked on the key.
    name: Vec<FieldRequirement>,
    namespace: Vec<FieldRequirement>,
    /// Other fields, checked on the parsed object.
    fields: Vec<FieldRequirement>,
}

#[derive(Deserialize, Default)]
struct LabelsOnly {
    #[serde(default)]
    metadata: MetaLabels,
}

#[derive(Deserialize, Default)]
struct MetaLabels {
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

impl Selector {
    /// Parses `labelSelector` and `fieldSelector` for `def`. Field selectors take `=`,
    /// `==` and `!=` on the fields kube supports for the resource.
    pub fn parse(
        def: &ResourceDef,
        label: Option<&str>,
        field: Option<&str>,
    ) -> Result<Self, StatusError> {
        let label = match label {
            Some(l) if !l.trim().is_empty() => LabelSelector::parse(l).map_err(|e| {
                StatusError::bad_request(format!("unable to parse requirement: {e}"))
            })?,
            _ => LabelSelector::default(),
        };
        let mut selector = Self {
            label,
            ..Self::default()
        };
        if let Some(field) = field.filter(|f| !f.trim().is_empty()) {
            let parsed = FieldSelector::parse(field)
                .map_err(|e| StatusError::bad_request(format!("invalid field selector: {e}")))?;
            let extra = if def.custom {
                &[][..]
            } else {
                extra_fields(&def.group, &def.resource)
            };
            for r in parsed.requirements {
                if !matches!(
                    r.operator,
                    Operator::Equals | Operator::DoubleEquals | Operator::NotEquals
                ) {
                    return Err(StatusError::bad_request(format!(
                        "invalid field selector: operator {} is not supported in field selectors",
                        r.operator
                    )));
                }
                let key = r.key.trim_start_matches('.');
                match key {
                    "metadata.name" => selector.name.push(r),
                    "metadata.namespace" => selector.namespace.push(r),
                    // `source` of events is `source.component`.
                    "source" if extra.contains(&"source") => {
                        let text = format!("source.component{}{}", r.operator, r.values.join(","));
                        let renamed = FieldSelector::parse(&text).map_err(|e| {
                            StatusError::bad_request(format!("invalid field selector: {e}"))
                        })?;
                        selector.fields.extend(renamed.requirements);
                    }
                    k if extra.contains(&k) => selector.fields.push(r),
                    k => {
                        return Err(StatusError::bad_request(format!(
                            "field label not supported: {k}"
                        )));
                    }
                }
            }
        }
        Ok(selector)
    }

    /// Both selectors at once.
    pub(crate) fn and(mut self, other: Selector) -> Selector {
        self.label.requirements.extend(other.label.requirements);
        self.name.extend(other.name);
        self.namespace.extend(other.namespace);
        self.fields.extend(other.fields);
        self
    }

    /// Matches everything (kube only counts `remainingItemCount` then).
    pub fn is_everything(&self) -> bool {
        self.label.is_empty()
            && self.name.is_empty()
            && self.namespace.is_empty()
            && self.fields.is_empty()
    }

    /// Whether the object stored under `key` as `raw` is selected.
    pub fn matches(&self, key: &ObjKey, raw: &[u8]) -> bool {
        if !self
            .name
            .iter()
            .all(|r| r.operator.matches(Some(&key.name), &r.values))
            || !self
                .namespace
                .iter()
                .all(|r| r.operator.matches(Some(&key.namespace), &r.values))
        {
            return false;
        }
        if !self.label.is_empty() {
            let labels = serde_json::from_slice::<LabelsOnly>(raw)
                .ok()
                .and_then(|l| l.metadata.labels)
                .unwrap_or_default();
            if !self.label.matches(|k| labels.get(k).map(String::as_str)) {
                return false;
            }
        }
        if !self.fields.is_empty() {
            let Ok(v) = serde_json::from_slice::<Value>(raw) else {
                return false;
            };
            if !self.fields.iter().all(|r| r.matches(&v)) {
                return false;
            }
        }
        true
    }
}

/// Where a list reads (`resourceVersion` and `resourceVersionMatch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadAt {
    /// Unset: the latest state (a consistent read).
    Latest,
    /// `0`, or `NotOlderThan`: any state at least this new; the simulator reads the latest.
    NotOlderThan(u64),
    /// `Exact`: the state at this revision.
    Exact(u64),
}

/// A continue token: kube's `{"v":"meta.k8s.io/v1","rv":N,"start":"key\u0000"}`, base64url.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContinueToken {
    /// The revision of the first page; negative means "the latest" (an inconsistent
    /// continuation kube offers after expiry).
    pub revision: i64,
    /// The last key returned.
    pub after: ObjKey,
}

impl ContinueToken {
    pub(crate) fn encode(&self) -> String {
        let start = if self.after.namespace.is_empty() {
            format!("{}\u{0}", self.after.name)
        } else {
            format!("{}/{}\u{0}", self.after.namespace, self.after.name)
        };
        let doc = json!({"v": "meta.k8s.io/v1", "rv": self.revision, "start": start});
        URL_SAFE_NO_PAD.encode(doc.to_string())
    }

    pub(crate) fn decode(token: &str, namespaced: bool) -> Result<Self, StatusError> {
        let bad = |why: &str| StatusError::bad_request(format!("invalid continue token: {why}"));
        let raw = URL_SAFE_NO_PAD
            .decode(token.trim_end_matches('='))
            .map_err(|_| bad("not base64"))?;
        let doc: Value = serde_json::from_slice(&raw).map_err(|_| bad("not JSON"))?;
        if doc["v"] != "meta.k8s.io/v1" {
            return Err(bad(
                "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
            ));
        }
        let revision = doc["rv"]
            .as_i64()
            .ok_or_else(|| bad("no resource version"))?;
        if revision == 0 {
            return Err(bad(
                "incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
            ));
        }
        let start = doc["start"].as_str().ok_or_else(|| bad("no start key"))?;
        let start = start.strip_suffix('\u{0}').unwrap_or(start);
        let after = match (namespaced, start.split_once('/')) {
            (true, Some((ns, name))) => ObjKey::new(ns, name),
            (false, None) => ObjKey::new("", start),
            _ => return Err(bad("the start key does not belong to this resource")),
        };
        Ok(Self { revision, after })
    }
}

/// One page of a list.
#[derive(Debug, Clone)]
pub(crate) struct ListPage {
    pub items: Vec<Bytes>,
    /// The revision the page was read at (the list's `resourceVersion`).
    pub revision: u64,
    pub continue_token: Option<String>,
    /// Items after this page (only without selectors, as kube).
    pub remaining: Option<u64>,
}

/// What a list asks for.
#[derive(Debug, Clone)]
pub(crate) struct ListRequest<'a> {
    pub namespace: Option<&'a str>,
    pub selector: &'a Selector,
    /// `None` or `0`: everything.
    pub limit: Option<usize>,
    pub continue_token: Option<&'a str>,
    pub read_at: ReadAt,
}

const CONTINUE_EXPIRED: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

impl State {
    /// Visits objects of `gr` in key order as of revision `at` (latest when `None`),
    /// from after `after`, within `namespace`. `visit` returns `false` to stop.
    pub(crate) fn scan(
        &self,
        gr: &GroupResource,
        namespace: Option<&str>,
        after: Option<&ObjKey>,
        at: Option<u64>,
        mut visit: impl FnMut(&ObjKey, &Bytes) -> bool,
    ) {
        let empty = BTreeMap::new();
        let table = self.table_objects(gr).unwrap_or(&empty);
        let overrides = at.map(|r| self.changed_since(gr, r)).unwrap_or_default();
        let lower = match (after, namespace) {
            (Some(k), _) => Bound::Excluded(k.clone()),
            (None, Some(ns)) => Bound::Included(ObjKey::new(ns, "")),
            (None, None) => Bound::Unbounded,
        };
        let mut current = table.range((lower.clone(), Bound::Unbounded)).peekable();
        let mut past = overrides.range((lower, Bound::Unbounded)).peekable();
        loop {
            let (key, value) = match (current.peek(), past.peek()) {
                (None, None) => break,
                (Some(_), None) => match current.next() {
                    Some((k, v)) => (k, Some(v)),
                    None => break,
                },
                (None, Some(_)) => match past.next() {
                    Some((k, v)) => (k, v.as_ref()),
                    None => break,
                },
                (Some((kc, _)), Some((kp, _))) => {
                    if kc < kp {
                        match current.next() {
                            Some((k, v)) => (k, Some(v)),
                            None => break,
                        }
                    } else {
                        if kc == kp {
                            current.next();
                        }
                        match past.next() {
                            Some((k, v)) => (k, v.as_ref()),
                            None => break,
                        }
                    }
                }
            };
            if let Some(ns) = namespace
                && key.namespace != ns
            {
                if key.namespace.as_str() > ns {
                    break;
                }
                continue;
            }
            if let Some(v) = value
                && !visit(key, v)
            {
                break;
            }
        }
    }

    /// A list page with kube's resourceVersion and continue semantics.
    pub(crate) fn list(
        &self,
        def: &ResourceDef,
        req: &ListRequest<'_>,
    ) -> Result<ListPage, StatusError> {
        let gr = GroupResource::of(def);
        let (at, after) = match req.continue_token.filter(|t| !t.is_empty()) {
            Some(token) => {
                let token = ContinueToken::decode(token, def.namespaced)?;
                if token.revision > 0 {
                    let rv = token.revision.unsigned_abs();
                    if rv < self.compacted {
                        let mut err = StatusError::expired(CONTINUE_EXPIRED);
                        err.continue_token = Some(
                            ContinueToken {
                                revision: -1,
                                after: token.after,
                            }
                            .encode(),
                        );
                        return Err(err);
                    }
                    (Some(rv), Some(token.after))
                } else {
                    (None, Some(token.after))
                }
            }
            None => match req.read_at {
                ReadAt::Latest => (None, None),
                ReadAt::NotOlderThan(n) => {
                    if n > self.revision {
                        return Err(StatusError::too_large(n, self.revision));
                    }
                    (None, None)
                }
                ReadAt::Exact(n) => {
                    if n > self.revision {
                        return Err(StatusError::too_large(n, self.revision));
                    }
                    if n < self.compacted {
                        return Err(StatusError::too_old(n, self.compacted));
                    }
                    (Some(n), None)
                }
            },
        };
        let at = at.filter(|r| *r < self.revision);
        let revision = at.unwrap_or(self.revision);
        let limit = req.limit.filter(|l| *l > 0);
        let everything = req.selector.is_everything();
        let namespace = req.namespace.filter(|_| def.namespaced);
        let mut items = Vec::new();
        let mut last = None;
        let mut more = false;
        let mut remaining = 0u64;
        self.scan(&gr, namespace, after.as_ref(), at, |key, raw| {
            if !req.selector.matches(key, raw) {
                return true;
            }
            if limit.is_some_and(|l| items.len() >= l) {
                more = true;
                remaining += 1;
                return everything;
            }
            items.push(raw.clone());
            last = Some(key.clone());
            true
        });
        let continue_token = match (more, last) {
            (true, Some(after)) => Some(
                ContinueToken {
                    revision: i64::try_from(revision).unwrap_or(i64::MAX),
                    after,
                }
                .encode(),
            ),
            _ => None,
        };
        Ok(ListPage {
            items,
            revision,
            remaining: (more && everything).then_some(remaining),
            continue_token,
        })
    }

    /// Every selected object now, for the initial events of a watch.
    pub(crate) fn snapshot(
        &self,
        def: &ResourceDef,
        namespace: Option<&str>,
        selector: &Selector,
    ) -> Vec<Bytes> {
        let mut items = Vec::new();
        self.scan(
            &GroupResource::of(def),
            namespace.filter(|_| def.namespaced),
            None,
            None,
            |k, raw| {
                if selector.matches(k, raw) {
                    items.push(raw.clone());
                }
                true
            },
        );
        items
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::{Store, WriteOptions};

    fn setup() -> (Store, Arc<ResourceDef>) {
        let store = Store::new(1000);
        let def = store
            .read()
            .registry
            .resolve("", "v1", "configmaps")
            .expect("cm");
        for (i, ns) in ["default", "kube-system"].iter().enumerate() {
            for n in 0..4 {
                let cm = json!({"metadata": {"name": format!("cm-{n}"), "labels": {"n": n.to_string(), "i": i.to_string()}}});
                store
                    .write(|s| s.create(&def, "v1", Some(ns), cm, &WriteOptions::system()))
                    .expect("created");
            }
        }
        (store, def)
    }

    fn names(store: &Store, page: &ListPage) -> Vec<String> {
        let _ = store;
        page.items
            .iter()
            .map(|raw| {
                let v: Value = serde_json::from_slice(raw).expect("json");
                format!(
                    "{}/{}",
                    v["metadata"]["namespace"].as_str().unwrap_or(""),
                    v["metadata"]["name"].as_str().unwrap_or("")
                )
            })
            .collect()
    }

    fn list(
        store: &Store,
        def: &ResourceDef,
        req: ListRequest<'_>,
    ) -> Result<ListPage, StatusError> {
        store.read().list(def, &req)
    }

    #[test]
    fn pages_are_a_consistent_snapshot() {
        let (store, def) = setup();
        let all = Selector::default();
        let first = list(
            &store,
            &def,
            ListRequest {
                namespace: None,
                selector: &all,
                limit: Some(3),
                continue_token: None,
                read_at: ReadAt::Latest,
            },
        )
        .expect("page 1");
        assert_eq!(
            names(&store, &first),
            ["default/cm-0", "default/cm-1", "default/cm-2"]
        );
        assert_eq!(first.remaining, Some(5));
        // Changes after the first page are not seen by the following pages.
        store
            .write(|s| {
                s.delete(
                    &def,
                    "v1",
                    Some("kube-system"),
                    "cm-0",
                    &Default::default(),
                    &WriteOptions::system(),
                )
            })
            .expect("deleted");
        store
            .write(|s| {
                s.create(
                    &def,
                    "v1",
                    Some("default"),
                    json!({"metadata": {"name": "cm-9"}}),
                    &WriteOptions::system(),
                )
            })
            .expect("created");
        let second = list(
            &store,
            &def,
            ListRequest {
                namespace: None,
                selector: &all,
                limit: Some(3),
                continue_token: first.continue_token.as_deref(),
                read_at: ReadAt::Latest,
            },
        )
        .expect("page 2");
        assert_eq!(
            names(&store, &second),
            ["default/cm-3", "kube-system/cm-0", "kube-system/cm-1"]
        );
        assert_eq!(second.revision, first.revision);
        store.compact();
        let err = list(
            &store,
            &def,
            ListRequest {
                namespace: None,
                selector: &all,
                limit: Some(3),
                continue_token: second.continue_token.as_deref(),
                read_at: ReadAt::Latest,
            },
        )
        .expect_err("expired");
        assert_eq!(err.code, 410);
        assert!(err.continue_token.is_some());
    }

    #[test]
    fn selectors_and_namespaces() {
        let (store, def) = setup();
        let sel = Selector::parse(&def, Some("n in (1,3),i!=0"), Some("metadata.name!=cm-3"))
            .expect("parses");
        let page = list(
            &store,
            &def,
            ListRequest {
                namespace: None,
                selector: &sel,
                limit: None,
                continue_token: None,
                read_at: ReadAt::Latest,
            },
        )
        .expect("list");
        assert_eq!(names(&store, &page), ["kube-system/cm-1"]);
        let sel =
            Selector::parse(&def, None, Some("metadata.namespace=kube-system")).expect("parses");
        let page = list(
            &store,
            &def,
            ListRequest {
                namespace: Some("kube-system"),
                selector: &sel,
                limit: Some(1),
                continue_token: None,
                read_at: ReadAt::Latest,
            },
        )
        .expect("list");
        assert_eq!(names(&store, &page), ["kube-system/cm-0"]);
        assert_eq!(page.remaining, None, "no count with selectors");
        assert!(page.continue_token.is_some());
        let err = Selector::parse(&def, None, Some("spec.x=1")).expect_err("unsupported");
        assert_eq!(err.message, "field label not supported: spec.x");
    }

    #[test]
    fn exact_reads_the_past() {
        let (store, def) = setup();
        let before = store.revision();
        store
            .write(|s| {
                s.delete(
                    &def,
                    "v1",
                    Some("default"),
                    "cm-0",
                    &Default::default(),
                    &WriteOptions::system(),
                )
            })
            .expect("deleted");
        let all = Selector::default();
        let past = list(
            &store,
            &def,
            ListRequest {
                namespace: Some("default"),
                selector: &all,
                limit: None,
                continue_token: None,
                read_at: ReadAt::Exact(before),
            },
        )
        .expect("exact");
        assert_eq!(past.items.len(), 4);
        assert_eq!(past.revision, before);
        let err = list(
            &store,
            &def,
            ListRequest {
                namespace: None,
                selector: &all,
                limit: None,
                continue_token: None,
                read_at: ReadAt::Exact(before + 100),
            },
        )
        .expect_err("too large");
        assert_eq!(err.code, 504);
    }

    #[test]
    fn continue_tokens_round_trip() {
        let t = ContinueToken {
            revision: 12,
            after: ObjKey::new("ns", "a"),
        };
        assert_eq!(ContinueToken::decode(&t.encode(), true), Ok(t));
        assert!(ContinueToken::decode("garbage!", true).is_err());
    }
}
