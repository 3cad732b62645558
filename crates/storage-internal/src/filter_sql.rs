//! Translating `ListOptions` into SQL conditions, ordering and keyset bounds over
//! `pedia_resources r`: cluster/namespace/name lists, label selectors (subqueries on the
//! indexed `pedia_labels`), field selectors (key columns, subqueries on the indexed
//! `pedia_fields`, or JSON extraction), fuzzy names, creation-time windows and owner
//! chains. Every value is bound; column names come from fixed tables.

use pedia_core::{
    CursorValue, FieldPath, FieldRequirement, Grant, LabelRequirement, ListOptions, Operator,
    OwnerQuery, OwnerTarget, PathSegment, SortField, SortKey,
};
use pedia_storage::StorageError;

use crate::db::{Arg, Dialect};
use crate::fields;
use crate::sql::SqlBuilder;

/// Values that can never equal a stored ASCII key (cluster, namespace, name): dropping
/// them keeps non-ASCII text away from MySQL's ASCII columns, where comparing it is an
/// error rather than a mismatch.
fn storable(v: &str) -> bool {
    v.is_ascii()
}

/// The column of a sort key.
pub(crate) fn sort_column(field: SortField) -> &'static str {
    match field {
        SortField::Cluster => "r.cluster",
        SortField::Namespace => "r.namespace",
        SortField::Name => "r.name",
        SortField::CreatedAt => "r.created_at",
        SortField::ResourceVersion => "r.rv_num",
        SortField::Group => "r.grp",
        SortField::Version => "r.version",
        SortField::Resource => "r.resource",
    }
}

/// `col IN (values)`, or a constant when no value can match.
pub(crate) fn push_in(b: &mut SqlBuilder, column: &str, values: &[String]) {
    let vals: Vec<&str> = values
        .iter()
        .map(String::as_str)
        .filter(|v| storable(v))
        .collect();
    if vals.is_empty() {
        b.push("1 = 0");
    } else {
        b.push(column).push(" IN ");
        b.bind_text_list(vals);
    }
}

/// Appends ` AND <condition>` for every filter of `opts` except owner queries (see
/// [`push_owner`]). Fails for filters this layer cannot evaluate.
pub(crate) fn push_filters(b: &mut SqlBuilder, opts: &ListOptions) -> Result<(), StorageError> {
    if let Some(grants) = &opts.authorized {
        push_grants(b, grants);
    }
    if !opts.clusters.is_empty() {
        b.push(" AND ");
        push_in(b, "r.cluster", &opts.clusters);
    }
    if !opts.namespaces.is_empty() {
        b.push(" AND ");
        push_in(b, "r.namespace", &opts.namespaces);
    }
    if !opts.names.is_empty() {
        b.push(" AND ");
        push_in(b, "r.name", &opts.names);
    }
    for req in &opts.label_selector.requirements {
        b.push(" AND ");
        push_label(b, req);
    }
    for req in &opts.field_selector.requirements {
        b.push(" AND ");
        push_field(b, req)?;
    }
    for fuzzy in &opts.fuzzy_names {
        let vals: Vec<&str> = fuzzy
            .values
            .iter()
            .map(String::as_str)
            .filter(|v| storable(v))
            .collect();
        b.push(" AND ");
        if vals.is_empty() {
            b.push(if fuzzy.negated { "1 = 1" } else { "1 = 0" });
            continue;
        }
        b.push(if fuzzy.negated { "NOT (" } else { "(" });
        for (i, v) in vals.iter().enumerate() {
            if i > 0 {
                b.push(" OR ");
            }
            // Substring search without LIKE, so `%` and `_` are literal characters.
            match b.dialect() {
                Dialect::Postgres => b.push("strpos(r.name, ").bind_text(v).push(") > 0"),
                Dialect::MySql => b.push("LOCATE(").bind_text(v).push(", r.name) > 0"),
                Dialect::Sqlite => b.push("instr(r.name, ").bind_text(v).push(") > 0"),
            };
        }
        b.push(")");
    }
    if let Some(since) = opts.since {
        b.push(" AND r.created_at >= ").bind_i64(since.as_millis());
    }
    if let Some(before) = opts.before {
        b.push(" AND r.created_at < ").bind_i64(before.as_millis());
    }
    Ok(())
}

/// ` AND (<grant> OR <grant> ...)`: the places the requester may read (an empty list
/// allows nothing).
fn push_grants(b: &mut SqlBuilder, grants: &[Grant]) {
    b.push(" AND (");
    if grants.is_empty() {
        b.push("1 = 0");
    }
    for (i, g) in grants.iter().enumerate() {
        if i > 0 {
            b.push(" OR ");
        }
        b.push("(1 = 1");
        if let Some(cluster) = &g.cluster {
            b.push(" AND ");
            push_in(b, "r.cluster", std::slice::from_ref(cluster));
        }
        if let Some(namespaces) = &g.namespaces {
            b.push(" AND ");
            push_in(b, "r.namespace", namespaces);
        }
        b.push(")");
    }
    b.push(")");
}

/// A label requirement as a subquery on `pedia_labels` (index `pedia_labels_key_value`,
/// or `pedia_labels_key_num` for `>`/`<`). Negative operators use `NOT IN`, so objects
/// without the label match, as in Kubernetes.
fn push_label(b: &mut SqlBuilder, req: &LabelRequirement) {
    let subquery = |b: &mut SqlBuilder, values: Option<&[String]>| {
        b.push("(SELECT l.resource_id FROM pedia_labels l WHERE l.label_key = ")
            .bind_text(&req.key);
        if let Some(values) = values {
            b.push(" AND l.label_value IN ");
            b.bind_text_list(values.iter().map(String::as_str));
        }
        b.push(")");
    };
    match req.operator {
        Operator::Equals | Operator::DoubleEquals | Operator::In => {
            if req.values.is_empty() {
                b.push("1 = 0");
            } else {
                b.push("r.id IN ");
                subquery(b, Some(&req.values));
            }
        }
        Operator::NotEquals | Operator::NotIn => {
            if req.values.is_empty() {
                b.push("1 = 1");
            } else {
                b.push("r.id NOT IN ");
                subquery(b, Some(&req.values));
            }
        }
        Operator::Exists => {
            b.push("r.id IN ");
            subquery(b, None);
        }
        Operator::DoesNotExist => {
            b.push("r.id NOT IN ");
            subquery(b, None);
        }
        Operator::GreaterThan | Operator::LessThan => {
            // The parser guarantees one integer value; anything else matches nothing.
            let Some(v) = req.values.first().and_then(|v| v.parse::<i64>().ok()) else {
                b.push("1 = 0");
                return;
            };
            let op = if req.operator == Operator::GreaterThan {
                " > "
            } else {
                " < "
            };
            b.push("r.id IN (SELECT l.resource_id FROM pedia_labels l WHERE l.label_key = ")
                .bind_text(&req.key)
                .push(" AND l.num_value")
                .push(op)
                .bind_i64(v)
                .push(")");
        }
    }
}

/// The stored object as PostgreSQL `json`. `json` (not `jsonb`) keeps parsing cheap and
/// numbers as written; `\u0000`, which PostgreSQL's JSON functions refuse to process
/// anywhere in a document, is replaced by U+FFFD first (only strings containing NUL
/// compare differently).
const PG_DOC: &str = "replace(convert_from(r.object, 'UTF8'), '\\u0000', '\\ufffd')::json";

/// The JSON path of a field requirement in each dialect's syntax.
enum JsonPath {
    /// PostgreSQL `text[]` for `#>` / `#>>`.
    Array(Vec<String>),
    /// MySQL / SQLite `$.a."b.c"[0]`.
    Text(String),
}

fn json_path(dialect: Dialect, path: &FieldPath, key: &str) -> Result<JsonPath, StorageError> {
    if path.has_any_index() {
        return Err(StorageError::unsupported(format!(
            "the internal storage layer does not support '[]' (any list element) in field selector {key:?}; use an index such as [0]"
        )));
    }
    match dialect {
        Dialect::Postgres => Ok(JsonPath::Array(
            path.segments
                .iter()
                .map(|s| match s {
                    PathSegment::Key(k) => k.clone(),
                    PathSegment::Index(i) => i.to_string(),
                    PathSegment::AnyIndex => String::new(),
                })
                .collect(),
        )),
        Dialect::MySql | Dialect::Sqlite => {
            let mut out = String::from("$");
            for s in &path.segments {
                match s {
                    PathSegment::Key(k) => {
                        out.push_str(".\"");
                        for c in k.chars() {
                            match c {
                                '"' | '\\' if dialect == Dialect::Sqlite => {
                                    // SQLite's path syntax has no escapes inside quotes.
                                    return Err(StorageError::unsupported(format!(
                                        "field selector {key:?}: keys containing '\"' or '\\' are not supported on sqlite"
                                    )));
                                }
                                '"' | '\\' => {
                                    out.push('\\');
                                    out.push(c);
                                }
                                c => out.push(c),
                            }
                        }
                        out.push('"');
                    }
                    PathSegment::Index(i) => {
                        out.push('[');
                        out.push_str(&i.to_string());
                        out.push(']');
                    }
                    PathSegment::AnyIndex => {}
                }
            }
            Ok(JsonPath::Text(out))
        }
    }
}

/// How a field's value is read in SQL: an indexed column, or JSON extraction.
enum FieldSource {
    Name,
    Namespace,
    Json(JsonPath),
}

impl FieldSource {
    fn path_arg(p: &JsonPath) -> Arg {
        match p {
            JsonPath::Array(v) => Arg::TextArray(v.clone()),
            JsonPath::Text(s) => Arg::Text(s.clone()),
        }
    }

    /// The field's scalar text (strings unquoted, booleans `true`/`false`, numbers as
    /// written), or NULL when absent, null, an object or a list: the value
    /// `FieldRequirement::matches` compares.
    fn push_scalar(&self, b: &mut SqlBuilder) {
        match self {
            FieldSource::Name => {
                b.push("r.name");
            }
            FieldSource::Namespace => {
                // Cluster-scoped objects have no metadata.namespace.
                b.push("NULLIF(r.namespace, '')");
            }
            FieldSource::Json(p) => {
                let arg = || Self::path_arg(p);
                match b.dialect() {
                    Dialect::Postgres => {
                        b.push("(CASE WHEN json_typeof(")
                            .push(PG_DOC)
                            .push(" #> ")
                            .bind(arg())
                            .push("::text[]) IN ('object', 'array') THEN NULL ELSE ")
                            .push(PG_DOC)
                            .push(" #>> ")
                            .bind(arg())
                            .push("::text[] END)");
                    }
                    Dialect::MySql => {
                        b.push("(CASE WHEN JSON_TYPE(JSON_EXTRACT(CAST(r.object AS CHAR CHARACTER SET utf8mb4), ")
                            .bind(arg())
                            .push(")) IN ('OBJECT', 'ARRAY', 'NULL') THEN NULL ELSE JSON_UNQUOTE(JSON_EXTRACT(CAST(r.object AS CHAR CHARACTER SET utf8mb4), ")
                            .bind(arg())
                            .push(")) END COLLATE utf8mb4_bin)");
                    }
                    Dialect::Sqlite => {
                        b.push("(CASE json_type(CAST(r.object AS TEXT), ")
                            .bind(arg())
                            .push(") WHEN 'text' THEN json_extract(CAST(r.object AS TEXT), ")
                            .bind(arg())
                            .push(") WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' \
                                   WHEN 'null' THEN NULL WHEN 'object' THEN NULL WHEN 'array' THEN NULL \
                                   ELSE (CAST(r.object AS TEXT) -> ")
                            .bind(arg())
                            .push(") END)");
                    }
                }
            }
        }
    }

    /// Whether the field is present and not null (objects and lists count).
    fn push_present(&self, b: &mut SqlBuilder) {
        match self {
            FieldSource::Name => {
                b.push("1 = 1");
            }
            FieldSource::Namespace => {
                b.push("r.namespace <> ''");
            }
            FieldSource::Json(p) => {
                let arg = Self::path_arg(p);
                match b.dialect() {
                    Dialect::Postgres => b
                        .push("COALESCE(json_typeof(")
                        .push(PG_DOC)
                        .push(" #> ")
                        .bind(arg)
                        .push("::text[]), 'null') <> 'null'"),
                    Dialect::MySql => b
                        .push("COALESCE(JSON_TYPE(JSON_EXTRACT(CAST(r.object AS CHAR CHARACTER SET utf8mb4), ")
                        .bind(arg)
                        .push(")), 'NULL') <> 'NULL'"),
                    Dialect::Sqlite => b
                        .push("COALESCE(json_type(CAST(r.object AS TEXT), ")
                        .bind(arg)
                        .push("), 'null') <> 'null'"),
                };
            }
        }
    }
}

/// A requirement on an indexed path (see `crate::fields`) as a subquery on
/// `pedia_fields`, whose rows are exactly the present, non-null values: `IN` finds rows
/// through `pedia_fields_path_value` (`>`/`<` filter the path's rows on `num_value`),
/// and the negated operators are anti-joins on the same rows, so objects without the
/// field match them. Returns false (nothing pushed) when a value cannot be compared
/// through the table.
fn push_indexed_field(b: &mut SqlBuilder, path: &str, req: &FieldRequirement) -> bool {
    if !req.values.iter().all(|v| fields::comparable(v)) {
        return false;
    }
    let rows = |b: &mut SqlBuilder, values: Option<&[String]>| {
        b.push("SELECT 1 FROM pedia_fields f WHERE f.resource_id = r.id AND f.path = ")
            .bind_text(path);
        if let Some(values) = values {
            b.push(" AND f.value IN ");
            b.bind_text_list(values.iter().map(String::as_str));
        }
    };
    match req.operator {
        Operator::Equals | Operator::DoubleEquals | Operator::In => {
            if req.values.is_empty() {
                b.push("1 = 0");
            } else {
                b.push("EXISTS (");
                rows(b, Some(&req.values));
                b.push(")");
            }
        }
        Operator::NotEquals | Operator::NotIn => {
            if req.values.is_empty() {
                b.push("1 = 1");
            } else {
                b.push("NOT EXISTS (");
                rows(b, Some(&req.values));
                b.push(")");
            }
        }
        Operator::Exists => {
            b.push("EXISTS (");
            rows(b, None);
            b.push(")");
        }
        Operator::DoesNotExist => {
            b.push("NOT EXISTS (");
            rows(b, None);
            b.push(")");
        }
        Operator::GreaterThan | Operator::LessThan => {
            let Some(v) = req.values.first().and_then(|v| v.parse::<i64>().ok()) else {
                b.push("1 = 0");
                return true;
            };
            b.push("EXISTS (");
            rows(b, None);
            b.push(if req.operator == Operator::GreaterThan {
                " AND f.num_value > "
            } else {
                " AND f.num_value < "
            })
            .bind_i64(v)
            .push(")");
        }
    }
    true
}

/// A field requirement with `FieldRequirement::matches` semantics: absent and null
/// fields match only `!=`, `notin` and `!key`; objects and lists are present but equal to
/// no value; `>`/`<` need an integer value. Indexed paths read `pedia_fields`; other
/// paths are evaluated on the stored JSON of each candidate row.
fn push_field(b: &mut SqlBuilder, req: &FieldRequirement) -> Result<(), StorageError> {
    if let Some(path) = fields::indexed_path(&req.path)
        && push_indexed_field(b, path, req)
    {
        return Ok(());
    }
    let source = match req.path.metadata_column() {
        Some("name") => FieldSource::Name,
        Some("namespace") => FieldSource::Namespace,
        _ => FieldSource::Json(json_path(b.dialect(), &req.path, &req.key)?),
    };
    match req.operator {
        Operator::Equals | Operator::DoubleEquals | Operator::In => {
            let vals: Vec<&str> = req
                .values
                .iter()
                .map(String::as_str)
                .filter(|v| !matches!(source, FieldSource::Namespace) || !v.is_empty())
                .filter(|v| matches!(source, FieldSource::Json(_)) || storable(v))
                .collect();
            if vals.is_empty() {
                b.push("1 = 0");
            } else {
                match source {
                    // Plain columns, so the key index applies.
                    FieldSource::Name => b.push("r.name IN "),
                    FieldSource::Namespace => b.push("r.namespace IN "),
                    FieldSource::Json(_) => {
                        source.push_scalar(b);
                        b.push(" IN ")
                    }
                };
                b.bind_text_list(vals);
            }
        }
        Operator::NotEquals | Operator::NotIn => {
            let vals: Vec<&str> = req
                .values
                .iter()
                .map(String::as_str)
                .filter(|v| matches!(source, FieldSource::Json(_)) || storable(v))
                .collect();
            if vals.is_empty() {
                b.push("1 = 1");
            } else {
                b.push("(");
                source.push_scalar(b);
                b.push(" IS NULL OR ");
                source.push_scalar(b);
                b.push(" NOT IN ");
                b.bind_text_list(vals);
                b.push(")");
            }
        }
        Operator::Exists => source.push_present(b),
        Operator::DoesNotExist => {
            b.push("NOT (");
            source.push_present(b);
            b.push(")");
        }
        Operator::GreaterThan | Operator::LessThan => {
            let Some(v) = req.values.first().and_then(|v| v.parse::<i64>().ok()) else {
                b.push("1 = 0");
                return Ok(());
            };
            let op = if req.operator == Operator::GreaterThan {
                " > "
            } else {
                " < "
            };
            push_int_compare(b, &source, op, v);
        }
    }
    Ok(())
}

/// `text > v` where text must read as an i64 the way Rust's `str::parse::<i64>` does
/// (optional sign, digits, in range); every other value fails the comparison. CASE keeps
/// casts away from non-numeric text.
fn push_int_compare(b: &mut SqlBuilder, source: &FieldSource, op: &str, v: i64) {
    match b.dialect() {
        Dialect::Postgres => {
            b.push("(CASE WHEN ");
            source.push_scalar(b);
            b.push(" ~ '^[+-]?[0-9]+$' THEN (CASE WHEN CAST(");
            source.push_scalar(b);
            b.push(" AS NUMERIC) BETWEEN -9223372036854775808 AND 9223372036854775807 THEN CAST(");
            source.push_scalar(b);
            b.push(" AS NUMERIC)").push(op).bind_i64(v);
            b.push(" ELSE FALSE END) ELSE FALSE END)");
        }
        Dialect::MySql => {
            b.push("(CASE WHEN ");
            source.push_scalar(b);
            b.push(" REGEXP '^[+-]?[0-9]+$' THEN (CASE WHEN CAST(");
            source.push_scalar(b);
            b.push(" AS DECIMAL(65,0)) BETWEEN -9223372036854775808 AND 9223372036854775807 THEN CAST(");
            source.push_scalar(b);
            b.push(" AS DECIMAL(65,0))").push(op).bind_i64(v);
            b.push(" ELSE 0 END) ELSE 0 END) = 1");
        }
        Dialect::Sqlite => {
            // digits = the text without its one optional sign; range-check by length and,
            // at 19 digits, by comparing digit strings.
            b.push("(CASE WHEN length(");
            source.push_scalar(b);
            b.push(") - length(ltrim(");
            source.push_scalar(b);
            b.push(", '+-')) <= 1 AND ltrim(");
            source.push_scalar(b);
            b.push(", '+-') <> '' AND ltrim(");
            source.push_scalar(b);
            b.push(", '+-') NOT GLOB '*[^0-9]*' THEN (CASE WHEN length(ltrim(ltrim(");
            source.push_scalar(b);
            b.push(", '+-'), '0')) < 19 OR (length(ltrim(ltrim(");
            source.push_scalar(b);
            b.push(", '+-'), '0')) = 19 AND ltrim(ltrim(");
            source.push_scalar(b);
            b.push(", '+-'), '0') <= (CASE WHEN substr(");
            source.push_scalar(b);
            b.push(", 1, 1) = '-' THEN '9223372036854775808' ELSE '9223372036854775807' END)) THEN CAST(");
            source.push_scalar(b);
            b.push(" AS INTEGER)").push(op).bind_i64(v);
            b.push(" ELSE 0 END) ELSE 0 END) = 1");
        }
    }
}

/// ` AND r.cluster = ? AND r.owner_uid IN (owner set, walked up `seniority` levels)`.
pub(crate) fn push_owner(b: &mut SqlBuilder, owner: &OwnerQuery, opts: &ListOptions) {
    let target_storable = match &owner.target {
        OwnerTarget::Uid(uid) => storable(uid),
        OwnerTarget::Name {
            name,
            group_resource,
        } => {
            storable(name)
                && group_resource
                    .as_ref()
                    .is_none_or(|gr| storable(&gr.group) && storable(&gr.resource))
        }
    };
    if !storable(&owner.cluster) || !target_storable {
        b.push(" AND 1 = 0");
        return;
    }
    b.push(" AND r.cluster = ").bind_text(&owner.cluster);
    b.push(" AND r.owner_uid <> '' AND r.owner_uid IN ");
    push_owner_set(b, owner, opts, owner.seniority);
}

/// The uids `level` generations below the target: level 0 is the target itself.
fn push_owner_set(b: &mut SqlBuilder, owner: &OwnerQuery, opts: &ListOptions, level: u32) {
    if level == 0 {
        match &owner.target {
            OwnerTarget::Uid(uid) => {
                b.push("(").bind_text(uid).push(")");
            }
            OwnerTarget::Name {
                name,
                group_resource,
            } => {
                b.push("(SELECT o0.uid FROM pedia_resources o0 WHERE o0.cluster = ")
                    .bind_text(&owner.cluster)
                    .push(" AND o0.name = ")
                    .bind_text(name);
                if let Some(gr) = group_resource {
                    b.push(" AND o0.grp = ")
                        .bind_text(&gr.group)
                        .push(" AND o0.resource = ")
                        .bind_text(&gr.resource);
                }
                if !opts.namespaces.is_empty() {
                    // Owners live in one of the listed namespaces, or are cluster-scoped.
                    let mut namespaces: Vec<&str> = opts
                        .namespaces
                        .iter()
                        .map(String::as_str)
                        .filter(|v| storable(v))
                        .collect();
                    namespaces.push("");
                    b.push(" AND o0.namespace IN ");
                    b.bind_text_list(namespaces);
                }
                b.push(" AND o0.uid <> '')");
            }
        }
        return;
    }
    let alias = format!("o{level}");
    b.push("(SELECT ")
        .push(&alias)
        .push(".uid FROM pedia_resources ")
        .push(&alias)
        .push(" WHERE ")
        .push(&alias)
        .push(".cluster = ")
        .bind_text(&owner.cluster)
        .push(" AND ")
        .push(&alias)
        .push(".uid <> '' AND ")
        .push(&alias)
        .push(".owner_uid IN ");
    push_owner_set(b, owner, opts, level - 1);
    b.push(")");
}

fn bind_cursor_value(b: &mut SqlBuilder, v: &CursorValue) {
    match v {
        CursorValue::Str(s) => b.bind_text(s),
        CursorValue::Int(i) => b.bind_i64(*i),
    };
}

/// ` AND <rows strictly after `values` in the order of `keys`>`.
pub(crate) fn push_keyset(b: &mut SqlBuilder, keys: &[SortKey], values: &[CursorValue]) {
    if keys.is_empty() {
        return;
    }
    let after = |desc: bool| if desc { " < " } else { " > " };
    let uniform = keys.iter().all(|k| k.desc == keys[0].desc);
    // A string cursor value that is not ASCII cannot come from a stored key, but compares
    // fine on PostgreSQL and SQLite; on MySQL it would be an error, so it never reaches it
    // (cursors are checksummed and only issued from stored rows).
    if uniform && b.dialect() != Dialect::MySql {
        // One row comparison: an index range condition for PostgreSQL and SQLite.
        b.push(" AND (");
        for (i, k) in keys.iter().enumerate() {
            if i > 0 {
                b.push(", ");
            }
            b.push(sort_column(k.field));
        }
        b.push(")").push(after(keys[0].desc)).push("(");
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                b.push(", ");
            }
            bind_cursor_value(b, v);
        }
        b.push(")");
        return;
    }
    // The leading bound gives the planner a range on the first key; the OR chain is exact.
    b.push(" AND ")
        .push(sort_column(keys[0].field))
        .push(if keys[0].desc { " <= " } else { " >= " });
    bind_cursor_value(b, &values[0]);
    b.push(" AND (");
    for i in 0..keys.len() {
        if i > 0 {
            b.push(" OR ");
        }
        b.push("(");
        for j in 0..i {
            b.push(sort_column(keys[j].field)).push(" = ");
            bind_cursor_value(b, &values[j]);
            b.push(" AND ");
        }
        b.push(sort_column(keys[i].field)).push(after(keys[i].desc));
        bind_cursor_value(b, &values[i]);
        b.push(")");
    }
    b.push(")");
}

/// ` ORDER BY k1 [DESC], ...`.
pub(crate) fn push_order_by(b: &mut SqlBuilder, keys: &[SortKey]) {
    b.push(" ORDER BY ");
    for (i, k) in keys.iter().enumerate() {
        if i > 0 {
            b.push(", ");
        }
        b.push(sort_column(k.field));
        if k.desc {
            b.push(" DESC");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql(d: Dialect, q: &str) -> String {
        let opts = ListOptions::from_query(q).unwrap_or_else(|e| panic!("{q}: {e}"));
        let mut b = SqlBuilder::new(d);
        b.push("WHERE 1 = 1");
        push_filters(&mut b, &opts).unwrap_or_else(|e| panic!("{}", e.message()));
        if let Some(o) = &opts.owner {
            push_owner(&mut b, o, &opts);
        }
        b.finish().text
    }

    #[test]
    fn user_text_is_always_bound() {
        let evil = "x'%3B%20DROP%20TABLE%20pedia_resources%3B%20--";
        for d in [Dialect::Postgres, Dialect::MySql, Dialect::Sqlite] {
            for q in [
                format!("names={evil}"),
                format!("clusters={evil}&ownerName={evil}"),
                "fieldSelector=metadata.annotations['DROP']=DROP,status.DROP!=DROP".to_owned(),
                "labelSelector=internalstorage.clusterpedia.io/fuzzy-name=DROP,DROP=x".to_owned(),
            ] {
                let text = sql(d, &q);
                assert!(!text.contains("DROP"), "{d}: {text}");
            }
        }
    }

    #[test]
    fn any_index_is_unsupported() {
        let opts =
            ListOptions::from_query("fieldSelector=spec.containers[].image=x").unwrap_or_default();
        let mut b = SqlBuilder::new(Dialect::Postgres);
        let err = push_filters(&mut b, &opts).expect_err("unsupported");
        assert_eq!(err.kind(), pedia_storage::ErrorKind::Unsupported);
        assert!(err.message().contains("[]"));
    }

    #[test]
    fn keyset_shapes() {
        let keys = [
            SortKey {
                field: SortField::CreatedAt,
                desc: true,
            },
            SortKey {
                field: SortField::Cluster,
                desc: false,
            },
        ];
        let vals = [CursorValue::Int(5), CursorValue::Str("c".into())];
        let mut b = SqlBuilder::new(Dialect::Sqlite);
        push_keyset(&mut b, &keys, &vals);
        assert_eq!(
            b.finish().text,
            " AND r.created_at <= ? AND ((r.created_at < ?) OR (r.created_at = ? AND r.cluster > ?))"
        );
        let uniform = [
            SortKey {
                field: SortField::Cluster,
                desc: false,
            },
            SortKey {
                field: SortField::Name,
                desc: false,
            },
        ];
        let mut b = SqlBuilder::new(Dialect::Postgres);
        push_keyset(
            &mut b,
            &uniform,
            &[CursorValue::Str("a".into()), CursorValue::Str("b".into())],
        );
        assert_eq!(b.finish().text, " AND (r.cluster, r.name) > ($1, $2)");
    }
}
