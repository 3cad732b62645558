//! A small SQL builder: trusted SQL text from this crate plus bound arguments with the
//! dialect's placeholders (`$n` on PostgreSQL, `?` elsewhere). User input only ever
//! enters a statement through [`SqlBuilder::bind`].

use bytes::Bytes;

use crate::db::{Arg, Dialect};

/// A finished statement: text and its arguments in placeholder order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sql {
    pub text: String,
    pub args: Vec<Arg>,
}

impl Sql {
    /// A statement without arguments.
    pub(crate) fn raw(text: impl Into<String>) -> Self {
        Sql {
            text: text.into(),
            args: Vec::new(),
        }
    }
}

#[derive(Debug)]
pub(crate) struct SqlBuilder {
    dialect: Dialect,
    text: String,
    args: Vec<Arg>,
}

impl SqlBuilder {
    pub(crate) fn new(dialect: Dialect) -> Self {
        Self {
            dialect,
            text: String::with_capacity(256),
            args: Vec::new(),
        }
    }

    pub(crate) fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Appends SQL text. Only text written in this crate or taken from an allow-list
    /// may be pushed; values go through [`SqlBuilder::bind`].
    pub(crate) fn push(&mut self, sql: &str) -> &mut Self {
        self.text.push_str(sql);
        self
    }

    /// Appends a placeholder bound to `arg`.
    pub(crate) fn bind(&mut self, arg: Arg) -> &mut Self {
        self.args.push(arg);
        match self.dialect {
            Dialect::Postgres => {
                self.text.push('$');
                self.text.push_str(&self.args.len().to_string());
            }
            Dialect::Sqlite | Dialect::MySql => self.text.push('?'),
        }
        self
    }

    pub(crate) fn bind_i64(&mut self, v: i64) -> &mut Self {
        self.bind(Arg::I64(v))
    }

    pub(crate) fn bind_text(&mut self, v: &str) -> &mut Self {
        self.bind(Arg::Text(v.to_owned()))
    }

    pub(crate) fn bind_bytes(&mut self, v: Bytes) -> &mut Self {
        self.bind(Arg::Bytes(v))
    }

    /// `(?, ?, ...)` for a non-empty list of texts.
    pub(crate) fn bind_text_list<'a>(
        &mut self,
        values: impl IntoIterator<Item = &'a str>,
    ) -> &mut Self {
        self.push("(");
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind_text(v);
        }
        self.push(")")
    }

    /// `(?, ?, ...)` for a non-empty list of integers.
    pub(crate) fn bind_i64_list(&mut self, values: impl IntoIterator<Item = i64>) -> &mut Self {
        self.push("(");
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind_i64(v);
        }
        self.push(")")
    }

    pub(crate) fn param_count(&self) -> usize {
        self.args.len()
    }

    pub(crate) fn text_len(&self) -> usize {
        self.text.len()
    }

    pub(crate) fn finish(self) -> Sql {
        Sql {
            text: self.text,
            args: self.args,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_per_dialect() {
        let build = |d| {
            let mut b = SqlBuilder::new(d);
            b.push("SELECT 1 WHERE a = ").bind_i64(1).push(" AND b IN ");
            b.bind_text_list(["x", "y"]);
            b.finish()
        };
        let pg = build(Dialect::Postgres);
        assert_eq!(pg.text, "SELECT 1 WHERE a = $1 AND b IN ($2, $3)");
        assert_eq!(pg.args.len(), 3);
        assert_eq!(
            build(Dialect::MySql).text,
            "SELECT 1 WHERE a = ? AND b IN (?, ?)"
        );
        assert_eq!(
            build(Dialect::Sqlite).text,
            "SELECT 1 WHERE a = ? AND b IN (?, ?)"
        );
    }

    #[test]
    fn values_never_reach_the_text() {
        let mut b = SqlBuilder::new(Dialect::Sqlite);
        b.push("SELECT 1 WHERE name = ").bind_text("x' OR '1'='1");
        let sql = b.finish();
        assert!(!sql.text.contains("OR"));
        assert_eq!(sql.args, vec![Arg::Text("x' OR '1'='1".to_owned())]);
    }
}
