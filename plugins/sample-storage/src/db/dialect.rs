//! How a statement's text is sent on each driver: MySQL takes `?` where the others take
//! `$N`.

use sqlx::AssertSqlSafe;
use sqlx::mysql::MySqlConnection;
use sqlx::postgres::PgConnection;
use sqlx::sqlite::SqliteConnection;

/// The SQL text a statement is sent as on one driver.
pub(crate) trait Dialect {
    const MYSQL: bool = false;

    /// `portable` as this driver takes it: `$N` becomes `?` on MySQL.
    fn sql(&self, portable: &str) -> AssertSqlSafe<String> {
        Self::pick(portable, portable)
    }

    /// `portable`, or `mysql` (written with `$N` too) on MySQL: for upserts, whose
    /// syntax differs.
    fn sql_or(&self, portable: &str, mysql: &str) -> AssertSqlSafe<String> {
        Self::pick(portable, mysql)
    }

    fn pick(portable: &str, mysql: &str) -> AssertSqlSafe<String> {
        if Self::MYSQL {
            AssertSqlSafe(question_marks(mysql))
        } else {
            AssertSqlSafe(portable.to_owned())
        }
    }
}

impl Dialect for &mut SqliteConnection {}
impl Dialect for &mut PgConnection {}
impl Dialect for &mut MySqlConnection {
    const MYSQL: bool = true;
}

/// Replaces `$1`, `$2`, ... with MySQL's positional `?`. The statements of this module
/// number their placeholders in order of appearance (checked in debug builds), so binding
/// order is unchanged. None of them has a `$` inside a string literal.
fn question_marks(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    let mut expected = 1usize;
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            let mut n = 0usize;
            while let Some(d) = chars.peek().and_then(|d| d.to_digit(10)) {
                n = n * 10 + d as usize;
                chars.next();
            }
            debug_assert_eq!(n, expected, "placeholders out of order in {sql}");
            expected += 1;
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_question_marks_in_order() {
        assert_eq!(
            question_marks("SELECT $1, x FROM t WHERE a = $2 AND b IN ($3, $4) LIMIT $5"),
            "SELECT ?, x FROM t WHERE a = ? AND b IN (?, ?) LIMIT ?"
        );
        assert_eq!(question_marks("SELECT '$' FROM t"), "SELECT '$' FROM t");
    }
}
