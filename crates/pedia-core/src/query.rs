//! The search query model (`ListOptions`) and its parsing from URL query parameters and
//! search labels. URL parameters win over search labels.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::error::QueryError;
use crate::resource::GroupResource;
use crate::selector::{FieldSelector, LabelRequirement, LabelSelector};
use crate::time::Timestamp;

mod parse;

/// Search labels understood inside `labelSelector` (Clusterpedia's names).
pub mod search_label {
    pub const CLUSTERS: &str = "search.clusterpedia.io/clusters";
    pub const NAMESPACES: &str = "search.clusterpedia.io/namespaces";
    pub const NAMES: &str = "search.clusterpedia.io/names";
    pub const ORDER_BY: &str = "search.clusterpedia.io/orderby";
    pub const OWNER_UID: &str = "search.clusterpedia.io/owner-uid";
    pub const OWNER_NAME: &str = "search.clusterpedia.io/owner-name";
    pub const OWNER_GR: &str = "search.clusterpedia.io/owner-gr";
    pub const OWNER_SENIORITY: &str = "search.clusterpedia.io/owner-seniority";
    pub const SINCE: &str = "search.clusterpedia.io/since";
    pub const BEFORE: &str = "search.clusterpedia.io/before";
    pub const LIMIT: &str = "search.clusterpedia.io/limit";
    pub const WITH_CONTINUE: &str = "search.clusterpedia.io/with-continue";
    pub const WITH_REMAINING_COUNT: &str = "search.clusterpedia.io/with-remaining-count";
    pub const FUZZY_NAME: &str = "internalstorage.clusterpedia.io/fuzzy-name";
    /// Any other label key containing this is an extra label for the storage layer.
    pub const EXTRA_LABEL_MARKER: &str = "clusterpedia.io";
}

/// The annotation every stored object carries with the name of its cluster.
pub const CLUSTER_NAME_ANNOTATION: &str = "shadow.clusterpedia.io/cluster-name";

/// The deepest owner chain an owner query may walk (`ownerSeniority`).
pub const MAX_OWNER_SENIORITY: u32 = 8;

/// A field results can be ordered by. This is an allow-list: user input never reaches
/// a storage layer as a column name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum OrderField {
    Cluster,
    Namespace,
    Name,
    CreatedAt,
    ResourceVersion,
}

impl OrderField {
    pub const ALL: [OrderField; 5] = [
        OrderField::Cluster,
        OrderField::Namespace,
        OrderField::Name,
        OrderField::CreatedAt,
        OrderField::ResourceVersion,
    ];

    /// The name users write in `orderby` (Clusterpedia's column names).
    pub fn as_str(self) -> &'static str {
        match self {
            OrderField::Cluster => "cluster",
            OrderField::Namespace => "namespace",
            OrderField::Name => "name",
            OrderField::CreatedAt => "created_at",
            OrderField::ResourceVersion => "resource_version",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

impl fmt::Display for OrderField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `orderby` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct OrderBy {
    pub field: OrderField,
    pub desc: bool,
}

/// A key of the effective total order of a listing: the user's `orderby` fields, then
/// tie-breakers that make the order total and immutable for an object's lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum SortField {
    Cluster,
    Namespace,
    Name,
    CreatedAt,
    ResourceVersion,
    /// Only for listings across several resources (collection resources).
    Group,
    Version,
    Resource,
}

impl SortField {
    /// Whether cursor values of this key are integers (else strings).
    pub fn is_int(self) -> bool {
        matches!(self, SortField::CreatedAt | SortField::ResourceVersion)
    }
}

impl From<OrderField> for SortField {
    fn from(f: OrderField) -> Self {
        match f {
            OrderField::Cluster => SortField::Cluster,
            OrderField::Namespace => SortField::Namespace,
            OrderField::Name => SortField::Name,
            OrderField::CreatedAt => SortField::CreatedAt,
            OrderField::ResourceVersion => SortField::ResourceVersion,
        }
    }
}

/// One key of the effective order with its direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct SortKey {
    pub field: SortField,
    pub desc: bool,
}

/// Whose children to list.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum OwnerTarget {
    Uid(String),
    /// Owners with this name, optionally of one group-resource, in the listed namespaces
    /// (plus cluster-scoped owners) or anywhere when no namespace is given.
    Name {
        name: String,
        group_resource: Option<GroupResource>,
    },
}

/// An owner query: objects whose controller chain reaches the target `seniority` levels up
/// (0: the target is the direct controller; 1: the controller's controller; ...).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct OwnerQuery {
    /// The one cluster the query runs in.
    pub cluster: String,
    pub target: OwnerTarget,
    pub seniority: u32,
}

/// A fuzzy-name requirement: the name contains any of `values` (or, negated, none).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct FuzzyName {
    pub negated: bool,
    pub values: Vec<String>,
}

impl FuzzyName {
    pub fn matches(&self, name: &str) -> bool {
        let any = self.values.iter().any(|v| name.contains(v.as_str()));
        any != self.negated
    }
}

/// The cluster and namespace a request path fixes, as in
/// `resources/clusters/c1/api/v1/namespaces/ns1/pods`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestScope<'a> {
    pub cluster: Option<&'a str>,
    pub namespace: Option<&'a str>,
}

/// A parsed search request, built by [`ListOptions::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct ListOptions {
    pub clusters: Vec<String>,
    pub namespaces: Vec<String>,
    pub names: Vec<String>,
    /// Ordinary label requirements (search labels removed).
    pub label_selector: LabelSelector,
    pub field_selector: FieldSelector,
    /// `*.clusterpedia.io/*` labels that are not search labels: storage-specific.
    /// A layer rejects the ones it does not understand.
    pub extra_labels: Vec<LabelRequirement>,
    pub fuzzy_names: Vec<FuzzyName>,
    pub order_by: Vec<OrderBy>,
    pub owner: Option<OwnerQuery>,
    /// Inclusive lower bound on creation time.
    pub since: Option<Timestamp>,
    /// Exclusive upper bound on creation time.
    pub before: Option<Timestamp>,
    /// `None` (or 0 in the request) lists everything.
    pub limit: Option<u64>,
    /// The raw token; decode it with [`crate::Cursor::decode`] and [`ListOptions::fingerprint`].
    pub continue_token: Option<String>,
    /// `Some(false)` suppresses `metadata.continue` even when a page is cut short.
    pub with_continue: Option<bool>,
    pub with_remaining_count: Option<bool>,
    pub only_metadata: bool,
    pub resource_version: Option<String>,
    pub resource_version_match: Option<String>,
    pub watch: bool,
    pub allow_watch_bookmarks: bool,
    pub timeout_seconds: Option<u64>,
    pub send_initial_events: Option<bool>,
    /// Where the requester may read, from the authorization policy: an object is visible
    /// if any grant covers it. `None` means everywhere. Set by the API layer, never parsed
    /// from a request; storage layers enforce it in their query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorized: Option<Vec<Grant>>,
}

/// One place a requester may read: a cluster (or any) and namespaces in it (or any,
/// cluster-scoped objects included). `""` in `namespaces` stands for cluster-scoped objects.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Grant {
    pub cluster: Option<String>,
    pub namespaces: Option<Vec<String>>,
}

impl Grant {
    /// Whether an object of `cluster`/`namespace` is covered.
    pub fn covers(&self, cluster: &str, namespace: &str) -> bool {
        self.cluster.as_deref().is_none_or(|c| c == cluster)
            && self
                .namespaces
                .as_ref()
                .is_none_or(|ns| ns.iter().any(|n| n == namespace))
    }
}

impl ListOptions {
    /// Whether the authorization grants (if any) cover an object of `cluster`/`namespace`.
    pub fn authorizes(&self, cluster: &str, namespace: &str) -> bool {
        self.authorized
            .as_ref()
            .is_none_or(|grants| grants.iter().any(|g| g.covers(cluster, namespace)))
    }

    /// Parses a URL query string (without the leading `?`) and the search labels in its
    /// `labelSelector`, for a request whose path may fix the cluster and namespace (they
    /// replace `clusters`/`namespaces` from the query). Unknown parameters are ignored, as
    /// kube-apiserver does; raw-SQL parameters (`whereSQL`...) are refused. Cross-field
    /// rules (an owner query needs exactly one cluster, `since` before `before`) are
    /// checked last, after the path is applied.
    pub fn parse(query: &str, scope: RequestScope<'_>) -> Result<Self, QueryError> {
        parse::parse(query, scope)
    }

    /// [`ListOptions::parse`] for a request without a cluster or namespace in its path.
    pub fn from_query(query: &str) -> Result<Self, QueryError> {
        Self::parse(query, RequestScope::default())
    }

    /// Whether a continue token should be returned when a page is cut short.
    pub fn wants_continue(&self) -> bool {
        self.with_continue != Some(false)
    }

    /// The effective total order: `order_by`, then `cluster`, `namespace`, `name` (and
    /// `group`, `version`, `resource` when `multi_resource`) unless already present.
    pub fn sort_keys(&self, multi_resource: bool) -> Vec<SortKey> {
        let mut keys: Vec<SortKey> = self
            .order_by
            .iter()
            .map(|o| SortKey {
                field: o.field.into(),
                desc: o.desc,
            })
            .collect();
        let mut tie = vec![SortField::Cluster, SortField::Namespace, SortField::Name];
        if multi_resource {
            tie.extend([SortField::Group, SortField::Version, SortField::Resource]);
        }
        for field in tie {
            if !keys.iter().any(|k| k.field == field) {
                keys.push(SortKey { field, desc: false });
            }
        }
        keys
    }

    /// A hash of everything that selects and orders items (not `limit`/`continue`), plus
    /// `scope` (the resource or collection listed). A continue token is only valid for a
    /// query with the same fingerprint.
    pub fn fingerprint(&self, scope: &str) -> u64 {
        let mut c = Canonical::default();
        c.text("scope", scope);
        c.sorted_list("clusters", &self.clusters);
        c.sorted_list("namespaces", &self.namespaces);
        c.sorted_list("names", &self.names);
        c.text("labels", &self.label_selector.to_string());
        c.text("fields", &self.field_selector.to_string());
        let extra = LabelSelector {
            requirements: self.extra_labels.clone(),
        };
        c.text("extra", &extra.to_string());
        c.count("fuzzy", self.fuzzy_names.len());
        for fuzzy in &self.fuzzy_names {
            c.text("negated", if fuzzy.negated { "1" } else { "0" });
            c.sorted_list("values", &fuzzy.values);
        }
        c.count("orderby", self.order_by.len());
        for o in &self.order_by {
            c.text(o.field.as_str(), if o.desc { "desc" } else { "asc" });
        }
        match &self.owner {
            None => c.text("owner", "none"),
            Some(owner) => {
                c.text("owner.cluster", &owner.cluster);
                match &owner.target {
                    OwnerTarget::Uid(uid) => c.text("owner.uid", uid),
                    OwnerTarget::Name {
                        name,
                        group_resource,
                    } => {
                        c.text("owner.name", name);
                        match group_resource {
                            Some(gr) => {
                                c.text("owner.group", &gr.group);
                                c.text("owner.resource", &gr.resource);
                            }
                            None => c.text("owner.gr", "none"),
                        }
                    }
                }
                c.text("owner.seniority", &owner.seniority.to_string());
            }
        }
        let time = |t: Option<Timestamp>| t.map_or_else(|| "none".to_owned(), |t| t.0.to_string());
        c.text("since", &time(self.since));
        c.text("before", &time(self.before));
        c.text("onlyMetadata", if self.only_metadata { "1" } else { "0" });
        let digest = Sha256::digest(c.0.as_bytes());
        let mut first = [0; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_be_bytes(first)
    }
}

/// An unambiguous text form of the fingerprinted fields: every item is tagged and
/// length-prefixed, so no choice of values can make two different queries collide
/// textually. Hashed with sha256, not `DefaultHasher`, so tokens survive restarts and
/// work across replicas.
#[derive(Default)]
struct Canonical(String);

impl Canonical {
    fn text(&mut self, tag: &str, value: &str) {
        use fmt::Write as _;
        // Writing to a String cannot fail.
        let _ = write!(self.0, "{tag}={}:{value};", value.len());
    }

    fn count(&mut self, tag: &str, n: usize) {
        self.text(tag, &n.to_string());
    }

    fn sorted_list(&mut self, tag: &str, items: &[String]) {
        let mut sorted: Vec<&String> = items.iter().collect();
        sorted.sort();
        self.count(tag, sorted.len());
        for item in sorted {
            self.text("-", item);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::search_label as label;
    use super::*;
    use crate::selector::Operator;

    fn parse(query: &str) -> ListOptions {
        ListOptions::from_query(query).unwrap_or_else(|e| panic!("{query:?}: {e}"))
    }

    fn scoped(query: &str, cluster: Option<&str>, namespace: Option<&str>) -> ListOptions {
        ListOptions::parse(query, RequestScope { cluster, namespace })
            .unwrap_or_else(|e| panic!("{query:?}: {e}"))
    }

    fn err(query: &str) -> QueryError {
        match ListOptions::from_query(query) {
            Ok(o) => panic!("{query:?} parsed as {o:?}"),
            Err(e) => e,
        }
    }

    /// Asserts the error names `parameter` and `value` and its reason contains `reason`.
    fn assert_err(query: &str, parameter: &str, value: &str, reason: &str) {
        let e = err(query);
        assert_eq!(e.parameter, parameter, "{query:?}: {e}");
        assert_eq!(e.value, value, "{query:?}: {e}");
        assert!(e.reason.contains(reason), "{query:?}: {e}");
    }

    /// A `labelSelector=` parameter, URL-encoded.
    fn ls(selector: &str) -> String {
        let encoded: String = form_urlencoded::byte_serialize(selector.as_bytes()).collect();
        format!("labelSelector={encoded}")
    }

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    fn ts(s: &str) -> Option<Timestamp> {
        Timestamp::parse_search(s).ok()
    }

    #[test]
    fn empty_query_is_the_default() {
        assert_eq!(parse(""), ListOptions::default());
        assert_eq!(parse("&&"), ListOptions::default());
        assert_eq!(parse("unknown=1&pretty=true&foo"), ListOptions::default());
    }

    #[test]
    fn list_parameters() {
        let o = parse("clusters=c1,%20c2%20,,c1&clusters=c3&namespaces=ns1&names=a,b");
        assert_eq!(o.clusters, strs(&["c1", "c2", "c3"]));
        assert_eq!(o.namespaces, strs(&["ns1"]));
        assert_eq!(o.names, strs(&["a", "b"]));
        assert!(parse("clusters=&names=,,").clusters.is_empty());
        assert_eq!(parse("names=%C3%BC%2F%3F").names, strs(&["ü/?"]));
    }

    #[test]
    fn order_by_from_url() {
        let o = parse("orderby=name%20desc,created_at&orderby=cluster+desc");
        assert_eq!(
            o.order_by,
            [
                OrderBy {
                    field: OrderField::Name,
                    desc: true
                },
                OrderBy {
                    field: OrderField::CreatedAt,
                    desc: false
                },
                OrderBy {
                    field: OrderField::Cluster,
                    desc: true
                },
            ]
        );
        for field in OrderField::ALL {
            let o = parse(&format!("orderby={field}"));
            assert_eq!(o.order_by, [OrderBy { field, desc: false }]);
        }
        assert_eq!(parse("orderby=,namespace,").order_by.len(), 1);
    }

    #[test]
    fn bad_order_by() {
        assert_err(
            "orderby=name+asc",
            "orderby",
            "name asc",
            "'field' or 'field desc'",
        );
        assert_err(
            "orderby=drop+table",
            "orderby",
            "drop table",
            "'field' or 'field desc'",
        );
        assert_err(
            "orderby=name+created_at+desc",
            "orderby",
            "name created_at desc",
            "'field' or 'field desc'",
        );
        assert_err(
            "orderby=uid",
            "orderby",
            "uid",
            "allowed fields: cluster, namespace, name, created_at, resource_version",
        );
        assert_err("orderby=desc", "orderby", "desc", "unknown order field");
        assert_err("orderby=Name", "orderby", "Name", "unknown order field");
        assert_err(
            "orderby=name;DROP%20TABLE%20x",
            "orderby",
            "name;DROP TABLE x",
            "'field' or 'field desc'",
        );
        assert_err(
            "orderby=name_desc",
            "orderby",
            "name_desc",
            "unknown order field",
        );
        assert_err(
            "orderby=name,name+desc",
            "orderby",
            "name desc",
            "more than once",
        );
        assert_err(
            "orderby=name&orderby=name",
            "orderby",
            "name",
            "more than once",
        );
    }

    #[test]
    fn owner_parameters() {
        let o = parse("clusters=c1&ownerUID=u-1&ownerSeniority=2");
        assert_eq!(
            o.owner,
            Some(OwnerQuery {
                cluster: "c1".into(),
                target: OwnerTarget::Uid("u-1".into()),
                seniority: 2,
            })
        );
        let o = parse("clusters=c1&ownerName=web&ownerGR=deployments.apps");
        assert_eq!(
            o.owner,
            Some(OwnerQuery {
                cluster: "c1".into(),
                target: OwnerTarget::Name {
                    name: "web".into(),
                    group_resource: Some(GroupResource::new("apps", "deployments")),
                },
                seniority: 0,
            })
        );
        let o = parse("clusters=c1&ownerName=web&ownerSeniority=8");
        assert_eq!(
            o.owner.map(|q| (q.target, q.seniority)),
            Some((
                OwnerTarget::Name {
                    name: "web".into(),
                    group_resource: None
                },
                8
            ))
        );
    }

    #[test]
    fn bad_owner_parameters() {
        let one_cluster = "an owner query needs exactly one cluster \
                           (use clusters=<name> or a /clusters/<name>/ path)";
        assert_err("ownerName=web", "ownerName", "web", one_cluster);
        assert_err("ownerUID=u", "ownerUID", "u", one_cluster);
        assert_err("clusters=a,b&ownerUID=u", "ownerUID", "u", one_cluster);
        assert_err(
            "clusters=c&ownerUID=u&ownerName=n",
            "ownerName",
            "n",
            "not both",
        );
        assert_err(
            "clusters=c&ownerUID=u&ownerGR=pods",
            "ownerGR",
            "pods",
            "only applies to an owner name",
        );
        assert_err(
            "clusters=c&ownerGR=pods",
            "ownerGR",
            "pods",
            "only applies to an owner query",
        );
        assert_err(
            "ownerSeniority=1",
            "ownerSeniority",
            "1",
            "only applies to an owner query",
        );
        for bad in [
            "9",
            "-1",
            "abc",
            "1.5",
            "99999999999999999999999",
            "%EF%BC%91",
        ] {
            let e = err(&format!("clusters=c&ownerUID=u&ownerSeniority={bad}"));
            assert_eq!(e.parameter, "ownerSeniority", "{bad}");
            assert!(e.reason.contains("from 0 to 8"), "{bad}: {e}");
        }
    }

    #[test]
    fn owner_cluster_from_scope() {
        let o = scoped("ownerName=web", Some("c9"), None);
        assert_eq!(o.owner.map(|q| q.cluster), Some("c9".to_owned()));
        // The path replaces the query's clusters before the check.
        let o = scoped("clusters=a,b&ownerUID=u", Some("c9"), None);
        assert_eq!(o.owner.map(|q| q.cluster), Some("c9".to_owned()));
    }

    #[test]
    fn scope_replaces_clusters_and_namespaces() {
        let o = scoped("clusters=a,b&namespaces=x,y", Some("c1"), Some("ns1"));
        assert_eq!(o.clusters, strs(&["c1"]));
        assert_eq!(o.namespaces, strs(&["ns1"]));
        let o = scoped(
            &ls("search.clusterpedia.io/clusters in (a,b),search.clusterpedia.io/namespaces=x"),
            Some("c1"),
            Some("ns1"),
        );
        assert_eq!(o.clusters, strs(&["c1"]));
        assert_eq!(o.namespaces, strs(&["ns1"]));
        let o = scoped("namespaces=x", None, None);
        assert_eq!(o.namespaces, strs(&["x"]));
        let o = scoped("clusters=a", None, Some("ns1"));
        assert_eq!(o.clusters, strs(&["a"]));
    }

    #[test]
    fn since_and_before() {
        let o = parse("since=2024-01-01&before=2024-01-02%2003:04:05");
        assert_eq!(o.since, ts("2024-01-01"));
        assert_eq!(o.before, ts("2024-01-02 03:04:05"));
        let o = parse("since=1704067200&before=2024-01-02T00:00:00%2B08:00");
        assert_eq!(o.since, ts("2024-01-01"));
        assert_eq!(o.before, ts("2024-01-01T16:00:00Z"));
        // An unencoded `+` arrives as a space.
        assert_eq!(
            parse("before=2024-01-02T00:00:00+08:00").before,
            ts("2024-01-01T16:00:00Z")
        );
        assert_eq!(parse("since=1704067200000").since, ts("2024-01-01"));
    }

    #[test]
    fn bad_times() {
        for bad in ["2024-13-01", "12345", "yesterday", "2024-01-02T03:04:05"] {
            let e = err(&format!("since={bad}"));
            assert_eq!((e.parameter.as_str(), e.value.as_str()), ("since", bad));
            assert!(e.reason.contains("accepted formats"), "{e}");
            assert_eq!(err(&format!("before={bad}")).parameter, "before");
        }
        assert_err(
            "since=2024-01-02&before=2024-01-01",
            "before",
            "2024-01-01",
            "must be later than since",
        );
        assert_err(
            "since=2024-01-01&before=2024-01-01",
            "before",
            "2024-01-01",
            "must be later than since",
        );
    }

    #[test]
    fn limit() {
        assert_eq!(parse("limit=50").limit, Some(50));
        assert_eq!(parse("limit=0").limit, None);
        assert_eq!(parse("limit=").limit, None);
        assert_eq!(parse("limit=18446744073709551615").limit, Some(u64::MAX));
        assert_eq!(parse("limit=7&limit=9").limit, Some(7));
        for bad in [
            "-1",
            "abc",
            "1.5",
            "1e3",
            "+5",
            " 5",
            "0x10",
            "18446744073709551616",
            "99999999999999999999999999999",
            "%EF%BC%95",
        ] {
            let e = err(&format!("limit={bad}"));
            assert_eq!(e.parameter, "limit", "{bad}");
            assert!(e.reason.contains("non-negative integer"), "{bad}: {e}");
        }
        assert_eq!(err("limit=-1").value, "-1");
    }

    #[test]
    fn booleans() {
        for (text, want) in [
            ("true", true),
            ("True", true),
            ("TRUE", true),
            ("t", true),
            ("T", true),
            ("1", true),
            ("false", false),
            ("False", false),
            ("FALSE", false),
            ("f", false),
            ("F", false),
            ("0", false),
        ] {
            let o = parse(&format!(
                "withContinue={text}&withRemainingCount={text}&onlyMetadata={text}\
                 &watch={text}&allowWatchBookmarks={text}&sendInitialEvents={text}"
            ));
            assert_eq!(o.with_continue, Some(want), "{text}");
            assert_eq!(o.with_remaining_count, Some(want));
            assert_eq!(o.only_metadata, want);
            assert_eq!(o.watch, want);
            assert_eq!(o.allow_watch_bookmarks, want);
            assert_eq!(o.send_initial_events, Some(want));
        }
        let o = parse("");
        assert_eq!((o.with_continue, o.with_remaining_count), (None, None));
        assert!(o.wants_continue());
        assert!(!parse("withContinue=false").wants_continue());
        assert!(parse("withContinue=true").wants_continue());
        for name in [
            "withContinue",
            "withRemainingCount",
            "onlyMetadata",
            "watch",
            "allowWatchBookmarks",
            "sendInitialEvents",
        ] {
            for bad in ["yes", "no", "2", "tRuE", "on"] {
                assert_err(&format!("{name}={bad}"), name, bad, "true or false");
            }
        }
    }

    #[test]
    fn kubernetes_parameters() {
        let o = parse(
            "continue=abc&resourceVersion=123&resourceVersionMatch=NotOlderThan\
             &timeoutSeconds=30&watch=true",
        );
        assert_eq!(o.continue_token.as_deref(), Some("abc"));
        assert_eq!(o.resource_version.as_deref(), Some("123"));
        assert_eq!(o.resource_version_match.as_deref(), Some("NotOlderThan"));
        assert_eq!(o.timeout_seconds, Some(30));
        assert!(o.watch);
        assert_eq!(parse("continue=").continue_token, None);
        assert_eq!(parse("timeoutSeconds=0").timeout_seconds, Some(0));
        assert_err(
            "timeoutSeconds=-5",
            "timeoutSeconds",
            "-5",
            "non-negative integer",
        );
        assert_err(
            "timeoutSeconds=abc",
            "timeoutSeconds",
            "abc",
            "non-negative integer",
        );
    }

    #[test]
    fn raw_sql_is_refused() {
        for name in [
            "whereSQL",
            "whereSQLStatement",
            "whereSQLParam",
            "whereSQLJSONParams",
        ] {
            assert_err(
                &format!("limit=1&{name}=1%3D1%20OR%20true"),
                name,
                "1=1 OR true",
                "raw SQL queries are not supported",
            );
        }
        // Even empty, and even after parameters that would fail on their own.
        assert_err("limit=abc&whereSQL=", "whereSQL", "", "not supported");
    }

    #[test]
    fn label_selector_and_search_labels_are_split() {
        let o = parse(&ls(
            "app=web,search.clusterpedia.io/clusters in (c1,c2),tier!=db,\
             internalstorage.clusterpedia.io/fuzzy-name=we,\
             storage.clusterpedia.io/hint=x,search.clusterpedia.io/offset=3",
        ));
        assert_eq!(
            o.label_selector,
            LabelSelector::parse("app=web,tier!=db").unwrap_or_default()
        );
        assert_eq!(o.clusters, strs(&["c1", "c2"]));
        assert_eq!(
            o.fuzzy_names,
            [FuzzyName {
                negated: false,
                values: strs(&["we"])
            }]
        );
        let extra: Vec<&str> = o.extra_labels.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(
            extra,
            [
                "search.clusterpedia.io/offset",
                "storage.clusterpedia.io/hint"
            ]
        );
    }

    #[test]
    fn every_search_label() {
        let o = parse(&ls(&format!(
            "{}=c1,{} in (ns1,ns2),{}=n1,{} in (name_desc,created_at),{}=web,{}=replicasets.apps,\
             {}=1,{}=2024-01-01,{}=1704153600,{}=25,{}=false,{}=true",
            label::CLUSTERS,
            label::NAMESPACES,
            label::NAMES,
            label::ORDER_BY,
            label::OWNER_NAME,
            label::OWNER_GR,
            label::OWNER_SENIORITY,
            label::SINCE,
            label::BEFORE,
            label::LIMIT,
            label::WITH_CONTINUE,
            label::WITH_REMAINING_COUNT,
        )));
        assert!(o.label_selector.is_empty());
        assert!(o.extra_labels.is_empty());
        assert_eq!(o.clusters, strs(&["c1"]));
        assert_eq!(o.namespaces, strs(&["ns1", "ns2"]));
        assert_eq!(o.names, strs(&["n1"]));
        // Label values are a set, so they come sorted.
        assert_eq!(
            o.order_by,
            [
                OrderBy {
                    field: OrderField::CreatedAt,
                    desc: false
                },
                OrderBy {
                    field: OrderField::Name,
                    desc: true
                },
            ]
        );
        assert_eq!(
            o.owner,
            Some(OwnerQuery {
                cluster: "c1".into(),
                target: OwnerTarget::Name {
                    name: "web".into(),
                    group_resource: Some(GroupResource::new("apps", "replicasets")),
                },
                seniority: 1,
            })
        );
        assert_eq!(o.since, ts("2024-01-01"));
        assert_eq!(o.before, ts("2024-01-02"));
        assert_eq!(o.limit, Some(25));
        assert_eq!(o.with_continue, Some(false));
        assert_eq!(o.with_remaining_count, Some(true));

        let o = parse(&ls(&format!(
            "{}=c1,{}==u-1",
            label::CLUSTERS,
            label::OWNER_UID
        )));
        assert_eq!(
            o.owner.map(|q| q.target),
            Some(OwnerTarget::Uid("u-1".into()))
        );
        assert_eq!(parse(&ls(&format!("{}=0", label::LIMIT))).limit, None);
    }

    #[test]
    fn order_by_label_forms() {
        let one = |v: &str| parse(&ls(&format!("{}={v}", label::ORDER_BY))).order_by;
        assert_eq!(
            one("created_at_desc"),
            [OrderBy {
                field: OrderField::CreatedAt,
                desc: true
            }]
        );
        assert_eq!(
            one("resource_version"),
            [OrderBy {
                field: OrderField::ResourceVersion,
                desc: false
            }]
        );
        for bad in ["name_asc", "desc", "name_desc_desc", "created"] {
            let e = err(&ls(&format!("{}={bad}", label::ORDER_BY)));
            assert_eq!(
                (e.parameter.as_str(), e.value.as_str()),
                (label::ORDER_BY, bad)
            );
            assert!(e.reason.contains("unknown order field"), "{e}");
        }
        let e = err(&ls(&format!("{} in (name,name_desc)", label::ORDER_BY)));
        assert!(e.reason.contains("more than once"), "{e}");
    }

    #[test]
    fn url_wins_over_every_search_label() {
        // (what the label needs to be valid alone, URL parameter, label key, label value)
        let cases: [(&str, &str, &str, &str); 12] = [
            ("", "clusters=url", label::CLUSTERS, "lbl"),
            ("", "namespaces=url", label::NAMESPACES, "lbl"),
            ("", "names=url", label::NAMES, "lbl"),
            ("", "orderby=name", label::ORDER_BY, "cluster_desc"),
            ("clusters=c", "ownerUID=url", label::OWNER_UID, "lbl"),
            ("clusters=c", "ownerName=url", label::OWNER_NAME, "lbl"),
            (
                "clusters=c&ownerName=o",
                "ownerGR=pods",
                label::OWNER_GR,
                "deployments.apps",
            ),
            (
                "clusters=c&ownerName=o",
                "ownerSeniority=1",
                label::OWNER_SENIORITY,
                "2",
            ),
            ("", "since=2024-01-01", label::SINCE, "2023-01-01"),
            ("", "before=2024-01-01", label::BEFORE, "2025-01-01"),
            ("", "withContinue=true", label::WITH_CONTINUE, "false"),
            (
                "",
                "withRemainingCount=false",
                label::WITH_REMAINING_COUNT,
                "true",
            ),
        ];
        for (prereq, url, key, value) in cases {
            let selector = ls(&format!("{key}={value}"));
            let url_only = parse(&format!("{prereq}&{url}"));
            let both = parse(&format!("{prereq}&{url}&{selector}"));
            assert_eq!(both, url_only, "{key}");
            let label_only = parse(&format!("{prereq}&{selector}"));
            assert_ne!(label_only, url_only, "{key}: the label alone should apply");
        }
    }

    #[test]
    fn the_limit_label_caps_the_listing_whatever_the_page_size() {
        // kubectl always sends its chunk size; the label asks for the first N results.
        let cap = ls(&format!("{}=5", label::LIMIT));
        let opts = parse(&format!("limit=500&{cap}"));
        assert_eq!((opts.limit, opts.with_continue), (Some(5), Some(false)));
        assert_eq!(parse(&format!("limit=0&{cap}")).limit, Some(5));
        // More pages only when asked for, by URL or label.
        let opts = parse(&format!("limit=500&withContinue=true&{cap}"));
        assert_eq!((opts.limit, opts.with_continue), (Some(5), Some(true)));
        let both = ls(&format!("{}=5,{}=true", label::LIMIT, label::WITH_CONTINUE));
        assert_eq!(parse(&both).with_continue, Some(true));
        // `0` in the label lists everything.
        assert_eq!(parse(&ls(&format!("{}=0", label::LIMIT))).limit, None);
        // Without the label the URL's limit is a page size, cut pages carry continue.
        let opts = parse("limit=500");
        assert_eq!((opts.limit, opts.with_continue), (Some(500), None));
    }

    #[test]
    fn search_labels_are_validated_even_when_the_url_wins() {
        let e = err(&format!("limit=5&{}", ls(&format!("{}=abc", label::LIMIT))));
        assert_eq!(
            (e.parameter.as_str(), e.value.as_str()),
            (label::LIMIT, "abc")
        );
    }

    #[test]
    fn bad_search_labels() {
        let cases = [
            (
                format!("{}!=c1", label::CLUSTERS),
                label::CLUSTERS,
                "c1",
                "not supported",
            ),
            (
                format!("{} notin (a)", label::NAMES),
                label::NAMES,
                "a",
                "not supported",
            ),
            (
                label::NAMESPACES.to_owned(),
                label::NAMESPACES,
                "",
                "not supported",
            ),
            (
                format!("!{}", label::ORDER_BY),
                label::ORDER_BY,
                "",
                "not supported",
            ),
            (
                format!("{}>1", label::LIMIT),
                label::LIMIT,
                "1",
                "not supported",
            ),
            (
                format!("{} in (1,2)", label::LIMIT),
                label::LIMIT,
                "1,2",
                "exactly one value",
            ),
            (
                format!("{}=abc", label::LIMIT),
                label::LIMIT,
                "abc",
                "non-negative integer",
            ),
            (
                format!("{}=2024-13-01", label::SINCE),
                label::SINCE,
                "2024-13-01",
                "accepted formats",
            ),
            (
                format!("{}=12345", label::BEFORE),
                label::BEFORE,
                "12345",
                "10 digits",
            ),
            (
                format!("{}=9", label::OWNER_SENIORITY),
                label::OWNER_SENIORITY,
                "9",
                "from 0 to 8",
            ),
            (
                format!("{}=yes", label::WITH_CONTINUE),
                label::WITH_CONTINUE,
                "yes",
                "true or false",
            ),
            (
                format!("{}=maybe", label::WITH_REMAINING_COUNT),
                label::WITH_REMAINING_COUNT,
                "maybe",
                "true or false",
            ),
            (
                format!("{}=a,{}=b", label::CLUSTERS, label::CLUSTERS),
                label::CLUSTERS,
                "b",
                "more than once",
            ),
            (
                label::FUZZY_NAME.to_owned(),
                label::FUZZY_NAME,
                "",
                "not supported",
            ),
            (
                format!("{}>3", label::FUZZY_NAME),
                label::FUZZY_NAME,
                "3",
                "not supported",
            ),
            (
                format!("!{}", label::FUZZY_NAME),
                label::FUZZY_NAME,
                "",
                "not supported",
            ),
        ];
        for (selector, parameter, value, reason) in cases {
            assert_err(&ls(&selector), parameter, value, reason);
        }
        assert_err(
            &ls(&format!("{}=u", label::OWNER_UID)),
            label::OWNER_UID,
            "u",
            "exactly one cluster",
        );
        assert_err(
            &ls(&format!(
                "{}=c,{}=u,{}=n",
                label::CLUSTERS,
                label::OWNER_UID,
                label::OWNER_NAME
            )),
            label::OWNER_NAME,
            "n",
            "not both",
        );
        assert_err(
            &ls(&format!("{}=pods", label::OWNER_GR)),
            label::OWNER_GR,
            "pods",
            "only applies to an owner query",
        );
        assert_err(
            &ls(&format!(
                "{}=2024-01-02,{}=2024-01-01",
                label::SINCE,
                label::BEFORE
            )),
            label::BEFORE,
            "2024-01-01",
            "must be later than since",
        );
    }

    #[test]
    fn fuzzy_names() {
        let o = parse(&ls(&format!(
            "{k} in (b,a),{k}!=x,{k} notin (y,z),{k}==w",
            k = label::FUZZY_NAME
        )));
        assert_eq!(
            o.fuzzy_names,
            [
                FuzzyName {
                    negated: false,
                    values: strs(&["a", "b"])
                },
                FuzzyName {
                    negated: true,
                    values: strs(&["x"])
                },
                FuzzyName {
                    negated: true,
                    values: strs(&["y", "z"])
                },
                FuzzyName {
                    negated: false,
                    values: strs(&["w"])
                },
            ]
        );
        assert!(o.fuzzy_names[0].matches("cab"));
        assert!(!o.fuzzy_names[0].matches("xyz"));
        assert!(o.fuzzy_names[1].matches("abc"));
        assert!(!o.fuzzy_names[1].matches("xyz"));
    }

    #[test]
    fn bad_selectors_name_the_parameter() {
        assert_err(&ls("a in (b"), "labelSelector", "a in (b", "expected");
        assert_err(
            &ls("Bad Key=1"),
            "labelSelector",
            "Bad Key=1",
            "found 'Key'",
        );
        assert_err(
            &ls("bad$key=1"),
            "labelSelector",
            "bad$key=1",
            "invalid label key",
        );
        assert_err(
            "fieldSelector=metadata.name%3D%3Dx%2C",
            "fieldSelector",
            "metadata.name==x,",
            "expected",
        );
        assert_err(
            "fieldSelector=spec.containers%5B%5D%3Dx",
            "fieldSelector",
            "spec.containers[]=x",
            "may not end with a list index",
        );
        let o =
            parse("fieldSelector=metadata.annotations%5B%27a.b%27%5D%3Dx,status.phase!%3DRunning");
        assert_eq!(o.field_selector.requirements.len(), 2);
        assert_eq!(o.field_selector.requirements[0].operator, Operator::Equals);
    }

    #[test]
    fn hostile_input() {
        // Unicode, control characters and huge values are data, never a crash.
        let o = parse("names=%F0%9F%A6%80,%00&clusters=%E2%80%AE");
        assert_eq!(o.names, strs(&["🦀", "\0"]));
        let huge = "a".repeat(100_000);
        assert_eq!(parse(&format!("names={huge}")).names[0].len(), 100_000);
        let e = err(&format!("limit={}", "9".repeat(10_000)));
        assert_eq!(e.parameter, "limit");
        // Invalid UTF-8 after percent-decoding is replaced, not trusted.
        let o = parse("names=%FF%FE");
        assert_eq!(o.names, strs(&["\u{FFFD}\u{FFFD}"]));
        assert!(err(&ls(&"(".repeat(10_000))).reason.contains("found '('"));
        assert!(ListOptions::from_query(&ls(&"a,".repeat(10_000))).is_err());
    }

    #[test]
    fn sort_keys() {
        let o = parse("orderby=created_at+desc,name");
        let keys = o.sort_keys(false);
        let fields: Vec<(SortField, bool)> = keys.iter().map(|k| (k.field, k.desc)).collect();
        assert_eq!(
            fields,
            [
                (SortField::CreatedAt, true),
                (SortField::Name, false),
                (SortField::Cluster, false),
                (SortField::Namespace, false),
            ]
        );
        assert_eq!(o.sort_keys(true).len(), 7);
    }

    #[test]
    fn fingerprint_ignores_paging_and_watch() {
        let base = parse("clusters=a,b&labelSelector=app%3Dweb&orderby=name");
        let paged = parse(
            "clusters=a,b&labelSelector=app%3Dweb&orderby=name&limit=5&continue=x\
             &withContinue=true&withRemainingCount=true&watch=true&resourceVersion=5\
             &resourceVersionMatch=Exact&timeoutSeconds=3&allowWatchBookmarks=true\
             &sendInitialEvents=true",
        );
        assert_eq!(base.fingerprint("pods"), paged.fingerprint("pods"));
        // Order of list entries does not matter; they are sets.
        let reordered = parse("clusters=b,a&labelSelector=app%3Dweb&orderby=name");
        assert_eq!(base.fingerprint("pods"), reordered.fingerprint("pods"));
    }

    #[test]
    fn fingerprint_covers_what_selects_and_orders() {
        let base = "clusters=a&namespaces=n&names=x&orderby=name&ownerName=o\
                    &since=2024-01-01&before=2024-02-01";
        let variants = [
            "clusters=b&namespaces=n&names=x&orderby=name&ownerName=o&since=2024-01-01&before=2024-02-01",
            "clusters=a&namespaces=m&names=x&orderby=name&ownerName=o&since=2024-01-01&before=2024-02-01",
            "clusters=a&namespaces=n&names=y&orderby=name&ownerName=o&since=2024-01-01&before=2024-02-01",
            "clusters=a&namespaces=n&names=x&orderby=name+desc&ownerName=o&since=2024-01-01&before=2024-02-01",
            "clusters=a&namespaces=n&names=x&orderby=name,cluster&ownerName=o&since=2024-01-01&before=2024-02-01",
            "clusters=a&namespaces=n&names=x&orderby=name&ownerUID=o&since=2024-01-01&before=2024-02-01",
            "clusters=a&namespaces=n&names=x&orderby=name&ownerName=o&ownerGR=pods&since=2024-01-01&before=2024-02-01",
            "clusters=a&namespaces=n&names=x&orderby=name&ownerName=o&ownerSeniority=1&since=2024-01-01&before=2024-02-01",
            "clusters=a&namespaces=n&names=x&orderby=name&ownerName=o&since=2024-01-02&before=2024-02-01",
            "clusters=a&namespaces=n&names=x&orderby=name&ownerName=o&since=2024-01-01&before=2024-02-02",
            "clusters=a&namespaces=n&names=x&orderby=name&ownerName=o&since=2024-01-01",
            "clusters=a&namespaces=n&names=x&orderby=name&ownerName=o&since=2024-01-01&before=2024-02-01&onlyMetadata=true",
            "clusters=a&namespaces=n&names=x&orderby=name&ownerName=o&since=2024-01-01&before=2024-02-01&labelSelector=app",
            "clusters=a&namespaces=n&names=x&orderby=name&ownerName=o&since=2024-01-01&before=2024-02-01&fieldSelector=a.b%3Dc",
            "clusters=a&namespaces=n&names=x&orderby=name&ownerName=o&since=2024-01-01&before=2024-02-01&labelSelector=x.clusterpedia.io/y",
            "clusters=a&namespaces=n&names=x&orderby=name&ownerName=o&since=2024-01-01&before=2024-02-01&labelSelector=internalstorage.clusterpedia.io/fuzzy-name%3Dz",
            "clusters=a&namespaces=n&names=x&orderby=name&ownerName=o&since=2024-01-01&before=2024-02-01&labelSelector=internalstorage.clusterpedia.io/fuzzy-name!%3Dz",
        ];
        let base_fp = parse(base).fingerprint("pods");
        assert_ne!(base_fp, parse(base).fingerprint("deployments.apps"));
        let mut seen = vec![base_fp];
        for v in variants {
            let fp = parse(v).fingerprint("pods");
            assert!(!seen.contains(&fp), "{v} collides");
            seen.push(fp);
        }
    }

    #[test]
    fn fingerprint_is_stable_across_runs() {
        // A fixed value: tokens must stay valid across restarts and replicas, so this
        // only changes together with the continue-token format.
        assert_eq!(
            ListOptions::default().fingerprint(""),
            0xc441_0f64_a2c9_b827
        );
        let names_split = ListOptions {
            names: strs(&["a,b"]),
            ..ListOptions::default()
        };
        let names_two = ListOptions {
            names: strs(&["a", "b"]),
            ..ListOptions::default()
        };
        assert_ne!(names_split.fingerprint("x"), names_two.fingerprint("x"));
    }

    #[test]
    fn continue_token_of_another_query_is_refused() {
        let first = parse("labelSelector=app%3Dweb&limit=10");
        let token = crate::Cursor {
            values: vec![crate::CursorValue::Str("x".into())],
            revision: 1,
        }
        .encode(first.fingerprint("pods"));
        let same = parse(&format!(
            "labelSelector=app%3Dweb&limit=20&continue={token}"
        ));
        let decoded = crate::Cursor::decode(
            same.continue_token.as_deref().unwrap_or_default(),
            same.fingerprint("pods"),
        );
        assert!(decoded.is_ok());
        let other = parse(&format!("labelSelector=app%3Ddb&limit=10&continue={token}"));
        let e = crate::Cursor::decode(
            other.continue_token.as_deref().unwrap_or_default(),
            other.fingerprint("pods"),
        )
        .expect_err("must be rejected");
        assert!(e.reason.contains("different query"), "{e}");
    }
}
