//! Statements built condition by condition: column names are constants of this crate,
//! every value a numbered placeholder.

use pedia_plugin_api::pedia_core::{Grant, GroupVersionResource};

/// A bound parameter of a dynamically built statement.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Text(String),
    Int(i64),
}

/// A statement (`SELECT`, `DELETE`, `INSERT ... SELECT`) with `WHERE` conditions added one
/// by one. Column names are `&'static str` chosen by this crate; values only ever become
/// placeholders.
#[derive(Debug)]
pub(crate) struct Select {
    head: &'static str,
    conditions: Vec<String>,
    pub(super) args: Vec<Arg>,
}

impl Select {
    /// `head` is the statement up to (not including) `WHERE`.
    pub(crate) fn new(head: &'static str) -> Self {
        Self::with_args(head, Vec::new())
    }

    /// A `head` that itself uses placeholders `$1..=$n` for `args`; conditions continue
    /// the numbering.
    pub(crate) fn with_args(head: &'static str, args: Vec<Arg>) -> Self {
        Self {
            head,
            conditions: Vec::new(),
            args,
        }
    }

    fn placeholder(&mut self, arg: Arg) -> String {
        self.args.push(arg);
        format!("${}", self.args.len())
    }

    /// `column op value`, e.g. `created_at >= $3`.
    pub(crate) fn compare(
        &mut self,
        column: &'static str,
        op: &'static str,
        arg: Arg,
    ) -> &mut Self {
        let p = self.placeholder(arg);
        self.conditions.push(format!("{column} {op} {p}"));
        self
    }

    pub(crate) fn eq(&mut self, column: &'static str, value: &str) -> &mut Self {
        self.compare(column, "=", Arg::Text(value.to_owned()))
    }

    /// `column IN (...)`; nothing when `values` is empty (no restriction).
    pub(crate) fn any_of<'v>(
        &mut self,
        column: &'static str,
        values: impl IntoIterator<Item = &'v String>,
    ) -> &mut Self {
        let placeholders: Vec<String> = values
            .into_iter()
            .map(|v| self.placeholder(Arg::Text(v.clone())))
            .collect();
        if !placeholders.is_empty() {
            self.conditions
                .push(format!("{column} IN ({})", placeholders.join(", ")));
        }
        self
    }

    /// `(column = '' OR column IN (...))`: objects that are cluster-scoped or in one of the
    /// namespaces.
    pub(crate) fn empty_or_any_of(&mut self, column: &'static str, values: &[String]) -> &mut Self {
        if values.is_empty() {
            return self;
        }
        let placeholders: Vec<String> = values
            .iter()
            .map(|v| self.placeholder(Arg::Text(v.clone())))
            .collect();
        self.conditions.push(format!(
            "({column} = '' OR {column} IN ({}))",
            placeholders.join(", ")
        ));
        self
    }

    /// Only rows some grant covers (`None`: no restriction): `(g1 OR g2 ...)`, each grant
    /// `cluster = $n` and/or `namespace IN (...)`, with the semantics of
    /// [`Grant::covers`] (`''` is the namespace of cluster-scoped objects).
    pub(crate) fn authorized(&mut self, grants: Option<&[Grant]>) -> &mut Self {
        let Some(grants) = grants else {
            return self;
        };
        if grants
            .iter()
            .any(|g| g.cluster.is_none() && g.namespaces.is_none())
        {
            // A grant of everything: no restriction at all.
            return self;
        }
        let mut alternatives = Vec::with_capacity(grants.len());
        for grant in grants {
            let mut parts = Vec::new();
            if let Some(cluster) = &grant.cluster {
                parts.push(format!(
                    "cluster = {}",
                    self.placeholder(Arg::Text(cluster.clone()))
                ));
            }
            if let Some(namespaces) = &grant.namespaces {
                let placeholders: Vec<String> = namespaces
                    .iter()
                    .map(|n| self.placeholder(Arg::Text(n.clone())))
                    .collect();
                // A grant of no namespaces covers nothing.
                parts.push(if placeholders.is_empty() {
                    "1 = 0".to_owned()
                } else {
                    format!("namespace IN ({})", placeholders.join(", "))
                });
            }
            alternatives.push(format!("({})", parts.join(" AND ")));
        }
        self.conditions.push(if alternatives.is_empty() {
            "1 = 0".to_owned()
        } else {
            format!("({})", alternatives.join(" OR "))
        });
        self
    }

    pub(crate) fn resource(&mut self, gvr: &GroupVersionResource) -> &mut Self {
        self.eq("api_group", &gvr.group)
            .eq("api_version", &gvr.version)
            .eq("resource", &gvr.resource)
    }

    pub(super) fn sql(&self) -> String {
        if self.conditions.is_empty() {
            self.head.to_owned()
        } else {
            format!("{} WHERE {}", self.head, self.conditions.join(" AND "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_narrow_the_statement() {
        let grant = |cluster: Option<&str>, namespaces: Option<&[&str]>| Grant {
            cluster: cluster.map(str::to_owned),
            namespaces: namespaces.map(|ns| ns.iter().map(|n| (*n).to_owned()).collect()),
        };
        let mut s = Select::new("SELECT x FROM t");
        s.eq("a", "1").authorized(Some(&[
            grant(Some("c1"), None),
            grant(Some("c2"), Some(&["ns", ""])),
            grant(None, Some(&[])),
        ]));
        assert_eq!(
            s.sql(),
            "SELECT x FROM t WHERE a = $1 AND ((cluster = $2) OR (cluster = $3 AND namespace IN ($4, $5)) OR (1 = 0))"
        );
        assert_eq!(s.args.len(), 5);

        let mut none = Select::new("SELECT x FROM t");
        none.authorized(Some(&[]));
        assert_eq!(
            none.sql(),
            "SELECT x FROM t WHERE 1 = 0",
            "no grant: nothing"
        );
        let mut all = Select::new("SELECT x FROM t");
        all.authorized(Some(&[grant(Some("c1"), None), grant(None, None)]))
            .authorized(None);
        assert_eq!(all.sql(), "SELECT x FROM t", "a grant of everything");
        assert!(all.args.is_empty(), "no placeholder left unused");
    }

    #[test]
    fn select_numbers_placeholders_in_order() {
        let mut s = Select::new("SELECT x FROM t");
        s.eq("a", "1")
            .any_of("b", &["2".to_owned(), "3".to_owned()])
            .any_of("c", &[])
            .empty_or_any_of("namespace", &["n".to_owned()])
            .compare("created_at", ">=", Arg::Int(5));
        assert_eq!(
            s.sql(),
            "SELECT x FROM t WHERE a = $1 AND b IN ($2, $3) AND (namespace = '' OR namespace IN ($4)) AND created_at >= $5"
        );
        assert_eq!(s.args.len(), 5);
        assert_eq!(Select::new("SELECT x FROM t").sql(), "SELECT x FROM t");
    }
}
