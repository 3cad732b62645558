//! Turning a URL query string and the search labels in its `labelSelector` into
//! [`ListOptions`]: per-parameter parsing, URL-over-label precedence, the request scope,
//! and the cross-field rules.

use crate::error::QueryError;
use crate::resource::GroupResource;
use crate::selector::{FieldSelector, LabelRequirement, LabelSelector, Operator};
use crate::time::Timestamp;

use super::{
    FuzzyName, ListOptions, MAX_OWNER_SENIORITY, OrderBy, OrderField, OwnerQuery, OwnerTarget,
    RequestScope, search_label as label,
};

/// URL parameters of Clusterpedia's raw-SQL escape hatch. We never pass request text to
/// a database as SQL, so these are refused loudly rather than ignored silently.
const RAW_SQL_PARAMS: [&str; 4] = [
    "whereSQL",
    "whereSQLStatement",
    "whereSQLParam",
    "whereSQLJSONParams",
];

/// A value together with where it came from, so later cross-field errors can name the
/// URL parameter or search label the user actually wrote.
#[derive(Debug, Clone)]
struct Given<T> {
    value: T,
    param: &'static str,
    raw: String,
}

/// The decoded query string, in order.
struct Params(Vec<(String, String)>);

impl Params {
    /// The first occurrence of a scalar parameter, as Go's `url.Values.Get`; an empty
    /// value counts as not given.
    fn first(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// Every occurrence of a list parameter.
    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

pub(super) fn parse(query: &str, scope: RequestScope<'_>) -> Result<ListOptions, QueryError> {
    let params = Params(
        form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
    );
    if let Some((k, v)) = params
        .0
        .iter()
        .find(|(k, _)| RAW_SQL_PARAMS.contains(&k.as_str()))
    {
        return Err(QueryError::new(
            k.as_str(),
            v.as_str(),
            "raw SQL queries are not supported",
        ));
    }

    let mut s = Search {
        clusters: split_list(params.all("clusters")),
        namespaces: split_list(params.all("namespaces")),
        names: split_list(params.all("names")),
        order_by: parse_url_order_by(params.all("orderby"))?,
        owner_uid: given(&params, "ownerUID", |v| Ok(v.to_owned()))?,
        owner_name: given(&params, "ownerName", |v| Ok(v.to_owned()))?,
        owner_gr: given(&params, "ownerGR", |v| Ok(GroupResource::parse(v)))?,
        owner_seniority: given(&params, "ownerSeniority", parse_seniority)?,
        since: given(&params, "since", Timestamp::parse_search)?,
        before: given(&params, "before", Timestamp::parse_search)?,
        limit: given(&params, "limit", parse_limit)?,
        label_limit: None,
        with_continue: given(&params, "withContinue", parse_bool)?,
        with_remaining_count: given(&params, "withRemainingCount", parse_bool)?,
        fuzzy_names: Vec::new(),
        extra_labels: Vec::new(),
    };

    let mut label_selector = LabelSelector::default();
    if let Some(text) = params.first("labelSelector") {
        let parsed =
            LabelSelector::parse(text).map_err(|e| QueryError::new("labelSelector", text, e))?;
        let mut seen: Vec<&str> = Vec::new();
        for requirement in parsed.requirements {
            if let Some(r) = s.take_search_label(requirement, &mut seen)? {
                label_selector.requirements.push(r);
            }
        }
    }
    let field_selector = match params.first("fieldSelector") {
        Some(text) => {
            FieldSelector::parse(text).map_err(|e| QueryError::new("fieldSelector", text, e))?
        }
        None => FieldSelector::default(),
    };

    if let Some(cluster) = scope.cluster {
        s.clusters = vec![cluster.to_owned()];
    }
    if let Some(namespace) = scope.namespace {
        s.namespaces = vec![namespace.to_owned()];
    }
    let owner = s.owner_query()?;
    if let (Some(since), Some(before)) = (&s.since, &s.before)
        && since.value >= before.value
    {
        return Err(QueryError::new(
            before.param,
            before.raw.as_str(),
            format!(
                "before ({}) must be later than since ({})",
                before.value, since.value
            ),
        ));
    }

    // The limit label asks for the first N results (as in Clusterpedia's docs, with orderby),
    // not for a page size: it wins over the URL's `limit` (kubectl always sends its chunk
    // size, 500) and the listing ends there, without a continue token unless one is asked
    // for. So `kubectl get -l search.clusterpedia.io/limit=5` prints five rows.
    let (limit, with_continue) = match &s.label_limit {
        Some(cap) => (
            cap.value,
            Some(s.with_continue.as_ref().is_some_and(|g| g.value)),
        ),
        None => (
            s.limit.and_then(|g| g.value),
            s.with_continue.map(|g| g.value),
        ),
    };

    Ok(ListOptions {
        clusters: s.clusters,
        namespaces: s.namespaces,
        names: s.names,
        label_selector,
        field_selector,
        extra_labels: s.extra_labels,
        fuzzy_names: s.fuzzy_names,
        order_by: s.order_by,
        owner,
        since: s.since.map(|g| g.value),
        before: s.before.map(|g| g.value),
        limit,
        continue_token: params.first("continue").map(str::to_owned),
        with_continue,
        with_remaining_count: s.with_remaining_count.map(|g| g.value),
        only_metadata: given(&params, "onlyMetadata", parse_bool)?.is_some_and(|g| g.value),
        resource_version: params.first("resourceVersion").map(str::to_owned),
        resource_version_match: params.first("resourceVersionMatch").map(str::to_owned),
        watch: given(&params, "watch", parse_bool)?.is_some_and(|g| g.value),
        allow_watch_bookmarks: given(&params, "allowWatchBookmarks", parse_bool)?
            .is_some_and(|g| g.value),
        timeout_seconds: given(&params, "timeoutSeconds", parse_non_negative)?.map(|g| g.value),
        send_initial_events: given(&params, "sendInitialEvents", parse_bool)?.map(|g| g.value),
        // Only the API layer grants access; a request cannot.
        authorized: None,
    })
}

/// The search parameters that may come from the URL or from a search label.
struct Search {
    clusters: Vec<String>,
    namespaces: Vec<String>,
    names: Vec<String>,
    order_by: Vec<OrderBy>,
    owner_uid: Option<Given<String>>,
    owner_name: Option<Given<String>>,
    owner_gr: Option<Given<GroupResource>>,
    owner_seniority: Option<Given<u32>>,
    since: Option<Given<Timestamp>>,
    before: Option<Given<Timestamp>>,
    /// `Some(None)`: `limit=0` was given, which lists everything.
    limit: Option<Given<Option<u64>>>,
    /// `search.clusterpedia.io/limit`: caps the listing (see [`ListOptions::limit`]'s caller).
    label_limit: Option<Given<Option<u64>>>,
    with_continue: Option<Given<bool>>,
    with_remaining_count: Option<Given<bool>>,
    fuzzy_names: Vec<FuzzyName>,
    extra_labels: Vec<LabelRequirement>,
}

impl Search {
    /// Applies a search label, or hands the requirement back when it is an ordinary label.
    /// A search label is always validated, and applied only when the URL did not give the
    /// same parameter.
    fn take_search_label(
        &mut self,
        r: LabelRequirement,
        seen: &mut Vec<&'static str>,
    ) -> Result<Option<LabelRequirement>, QueryError> {
        let Some(key) = SINGLE_USE_LABELS.iter().copied().find(|k| *k == r.key) else {
            if r.key == label::FUZZY_NAME {
                let negated = match r.operator {
                    Operator::Equals | Operator::DoubleEquals | Operator::In => false,
                    Operator::NotEquals | Operator::NotIn => true,
                    op => return Err(unsupported_operator(&r, op, "'=', '!=', 'in' or 'notin'")),
                };
                self.fuzzy_names.push(FuzzyName {
                    negated,
                    values: r.values,
                });
                return Ok(None);
            }
            if r.key.contains(label::EXTRA_LABEL_MARKER) {
                self.extra_labels.push(r);
                return Ok(None);
            }
            return Ok(Some(r));
        };
        if seen.contains(&key) {
            return Err(QueryError::new(
                key,
                r.values.join(","),
                "search label given more than once",
            ));
        }
        seen.push(key);
        match r.operator {
            Operator::Equals | Operator::DoubleEquals | Operator::In => {}
            op => return Err(unsupported_operator(&r, op, "'=' or 'in'")),
        }

        let list = |values: &[String]| split_list(values.iter().map(String::as_str));
        match key {
            label::CLUSTERS => fill_list(&mut self.clusters, list(&r.values)),
            label::NAMESPACES => fill_list(&mut self.namespaces, list(&r.values)),
            label::NAMES => fill_list(&mut self.names, list(&r.values)),
            label::ORDER_BY => {
                let order = parse_order_by(key, r.values.iter().map(String::as_str), '_')?;
                if self.order_by.is_empty() {
                    self.order_by = order;
                }
            }
            label::OWNER_UID => fill(&mut self.owner_uid, single(key, &r, |v| Ok(v.to_owned()))?),
            label::OWNER_NAME => {
                fill(&mut self.owner_name, single(key, &r, |v| Ok(v.to_owned()))?);
            }
            label::OWNER_GR => fill(
                &mut self.owner_gr,
                single(key, &r, |v| Ok(GroupResource::parse(v)))?,
            ),
            label::OWNER_SENIORITY => {
                fill(&mut self.owner_seniority, single(key, &r, parse_seniority)?);
            }
            label::SINCE => fill(&mut self.since, single(key, &r, Timestamp::parse_search)?),
            label::BEFORE => fill(&mut self.before, single(key, &r, Timestamp::parse_search)?),
            label::LIMIT => self.label_limit = Some(single(key, &r, parse_limit)?),
            label::WITH_CONTINUE => fill(&mut self.with_continue, single(key, &r, parse_bool)?),
            // The one key of SINGLE_USE_LABELS left: WITH_REMAINING_COUNT.
            _ => fill(&mut self.with_remaining_count, single(key, &r, parse_bool)?),
        }
        Ok(None)
    }

    fn owner_query(&self) -> Result<Option<OwnerQuery>, QueryError> {
        let target = match (&self.owner_uid, &self.owner_name) {
            (Some(uid), Some(name)) => {
                return Err(QueryError::new(
                    name.param,
                    name.raw.as_str(),
                    format!(
                        "an owner query takes an owner uid or an owner name, not both \
                         ({} is also given)",
                        uid.param
                    ),
                ));
            }
            (Some(uid), None) => {
                if let Some(gr) = &self.owner_gr {
                    return Err(QueryError::new(
                        gr.param,
                        gr.raw.as_str(),
                        "the owner's group-resource only applies to an owner name, \
                         not to an owner uid",
                    ));
                }
                Some((uid, OwnerTarget::Uid(uid.value.clone())))
            }
            (None, Some(name)) => Some((
                name,
                OwnerTarget::Name {
                    name: name.value.clone(),
                    group_resource: self.owner_gr.as_ref().map(|g| g.value.clone()),
                },
            )),
            (None, None) => None,
        };
        let Some((given, target)) = target else {
            if let Some(gr) = &self.owner_gr {
                return Err(without_owner(gr.param, &gr.raw));
            }
            if let Some(seniority) = &self.owner_seniority {
                return Err(without_owner(seniority.param, &seniority.raw));
            }
            return Ok(None);
        };
        let [cluster] = self.clusters.as_slice() else {
            return Err(QueryError::new(
                given.param,
                given.raw.as_str(),
                "an owner query needs exactly one cluster \
                 (use clusters=<name> or a /clusters/<name>/ path)",
            ));
        };
        Ok(Some(OwnerQuery {
            cluster: cluster.clone(),
            target,
            seniority: self.owner_seniority.as_ref().map_or(0, |g| g.value),
        }))
    }
}

/// Search labels that set one parameter each, and so may appear once.
const SINGLE_USE_LABELS: [&str; 13] = [
    label::CLUSTERS,
    label::NAMESPACES,
    label::NAMES,
    label::ORDER_BY,
    label::OWNER_UID,
    label::OWNER_NAME,
    label::OWNER_GR,
    label::OWNER_SENIORITY,
    label::SINCE,
    label::BEFORE,
    label::LIMIT,
    label::WITH_CONTINUE,
    label::WITH_REMAINING_COUNT,
];

fn without_owner(param: &str, raw: &str) -> QueryError {
    QueryError::new(
        param,
        raw,
        "only applies to an owner query (ownerUID or ownerName)",
    )
}

fn unsupported_operator(r: &LabelRequirement, op: Operator, allowed: &str) -> QueryError {
    QueryError::new(
        r.key.as_str(),
        r.values.join(","),
        format!("operator '{op}' is not supported for this search label; use {allowed}"),
    )
}

/// The URL value wins: a label only fills what the URL left empty.
fn fill<T>(slot: &mut Option<T>, from_label: T) {
    if slot.is_none() {
        *slot = Some(from_label);
    }
}

fn fill_list(slot: &mut Vec<String>, from_label: Vec<String>) {
    if slot.is_empty() {
        *slot = from_label;
    }
}

/// A scalar URL parameter, parsed.
fn given<T>(
    params: &Params,
    name: &'static str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<Option<Given<T>>, QueryError> {
    let Some(raw) = params.first(name) else {
        return Ok(None);
    };
    let value = parse(raw).map_err(|e| QueryError::new(name, raw, e))?;
    Ok(Some(Given {
        value,
        param: name,
        raw: raw.to_owned(),
    }))
}

/// The one value of a single-valued search label, parsed.
fn single<T>(
    key: &'static str,
    r: &LabelRequirement,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<Given<T>, QueryError> {
    let [raw] = r.values.as_slice() else {
        return Err(QueryError::new(
            key,
            r.values.join(","),
            "this search label takes exactly one value",
        ));
    };
    let value = parse(raw).map_err(|e| QueryError::new(key, raw.as_str(), e))?;
    Ok(Given {
        value,
        param: key,
        raw: raw.clone(),
    })
}

/// Comma-separated entries from every occurrence, trimmed, without empties and repeats.
fn split_list<'a>(values: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for entry in values.flat_map(|v| v.split(',')).map(str::trim) {
        if !entry.is_empty() && !out.iter().any(|e| e == entry) {
            out.push(entry.to_owned());
        }
    }
    out
}

fn parse_url_order_by<'a>(
    values: impl Iterator<Item = &'a str>,
) -> Result<Vec<OrderBy>, QueryError> {
    let entries: Vec<&str> = values
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    parse_order_by("orderby", entries.into_iter(), ' ')
}

/// Order entries as Clusterpedia reads them: `field` or `field<sep>desc`, where the URL
/// separates with a space (`name desc`) and the label with `_` (`name_desc`, and
/// `created_at_desc`, whose field itself contains the separator).
fn parse_order_by<'a>(
    param: &'static str,
    entries: impl Iterator<Item = &'a str>,
    sep: char,
) -> Result<Vec<OrderBy>, QueryError> {
    let mut out: Vec<OrderBy> = Vec::new();
    for entry in entries {
        let (name, desc) = if sep == ' ' {
            let words: Vec<&str> = entry.split_whitespace().collect();
            match words.as_slice() {
                [field] => (*field, false),
                [field, "desc"] => (*field, true),
                _ => {
                    return Err(QueryError::new(
                        param,
                        entry,
                        "an orderby entry is 'field' or 'field desc' (ascending is the default)",
                    ));
                }
            }
        } else {
            match entry.strip_suffix("_desc") {
                Some(field) => (field, true),
                None => (entry, false),
            }
        };
        let Some(field) = OrderField::parse(name) else {
            let allowed: Vec<&str> = OrderField::ALL.iter().map(|f| f.as_str()).collect();
            return Err(QueryError::new(
                param,
                entry,
                format!(
                    "unknown order field {name:?}; allowed fields: {}",
                    allowed.join(", ")
                ),
            ));
        };
        if out.iter().any(|o| o.field == field) {
            return Err(QueryError::new(
                param,
                entry,
                format!("order field {name:?} is given more than once"),
            ));
        }
        out.push(OrderBy { field, desc });
    }
    Ok(out)
}

fn parse_non_negative(value: &str) -> Result<u64, String> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err("must be a non-negative integer".to_owned());
    }
    value
        .parse()
        .map_err(|_| format!("must be a non-negative integer at most {}", u64::MAX))
}

/// `0` means no limit, as in Kubernetes.
fn parse_limit(value: &str) -> Result<Option<u64>, String> {
    parse_non_negative(value).map(|n| (n > 0).then_some(n))
}

fn parse_seniority(value: &str) -> Result<u32, String> {
    parse_non_negative(value)
        .ok()
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| *n <= MAX_OWNER_SENIORITY)
        .ok_or_else(|| format!("must be an integer from 0 to {MAX_OWNER_SENIORITY}"))
}

/// The spellings Go's `strconv.ParseBool` accepts.
fn parse_bool(value: &str) -> Result<bool, String> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err("must be true or false".to_owned()),
    }
}
