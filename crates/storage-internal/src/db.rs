//! The small, dialect-neutral database surface the rest of the crate is written against:
//! bound arguments, decoded rows, connections and transactions over one of three sqlx
//! pools, and the mapping of database errors to storage error kinds. Storage logic is
//! compiled once against the [`Conn`] trait instead of three times through sqlx generics.

use std::fmt;

use async_trait::async_trait;
use bytes::Bytes;
use pedia_storage::{ErrorKind, StorageError};
use sqlx::pool::PoolConnection;
use sqlx::{
    Arguments, AssertSqlSafe, MySql, MySqlPool, PgPool, Postgres, Row as _, Sqlite, SqlitePool,
};

use crate::sql::Sql;

/// The SQL dialect of a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    Sqlite,
    Postgres,
    MySql,
}

impl Dialect {
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
            Dialect::MySql => "mysql",
        }
    }

    /// Bind parameters one statement may carry, with headroom below the hard limits
    /// (PostgreSQL and MySQL 65535, SQLite 32766).
    pub(crate) fn max_params(self) -> usize {
        match self {
            Dialect::Sqlite => 32_000,
            Dialect::Postgres | Dialect::MySql => 65_000,
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A bound argument.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg {
    I64(i64),
    /// A nullable integer (NULL for `None`).
    OptI64(Option<i64>),
    Text(String),
    /// A nullable text (NULL for `None`).
    OptText(Option<String>),
    Bytes(Bytes),
    /// A `text[]` (PostgreSQL only: JSON paths for `#>>`).
    TextArray(Vec<String>),
}

/// The type a result column is decoded as (always nullable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    I64,
    Text,
    Bytes,
}

/// A decoded column value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Null,
    I64(i64),
    Text(String),
    Bytes(Vec<u8>),
}

/// One decoded result row, columns in `SELECT` order.
#[derive(Debug, Clone)]
pub(crate) struct Row(Vec<Val>);

fn shape_error(i: usize, want: &str) -> StorageError {
    StorageError::internal(
        "reading a database row",
        std::io::Error::other(format!("column {i} is not {want}")),
    )
}

impl Row {
    pub(crate) fn i64(&self, i: usize) -> Result<i64, StorageError> {
        match self.0.get(i) {
            Some(Val::I64(v)) => Ok(*v),
            _ => Err(shape_error(i, "an integer")),
        }
    }

    pub(crate) fn opt_i64(&self, i: usize) -> Result<Option<i64>, StorageError> {
        match self.0.get(i) {
            Some(Val::I64(v)) => Ok(Some(*v)),
            Some(Val::Null) => Ok(None),
            _ => Err(shape_error(i, "an integer or null")),
        }
    }

    pub(crate) fn text(&self, i: usize) -> Result<&str, StorageError> {
        match self.0.get(i) {
            Some(Val::Text(v)) => Ok(v),
            _ => Err(shape_error(i, "text")),
        }
    }

    pub(crate) fn take_text(&mut self, i: usize) -> Result<String, StorageError> {
        match self.0.get_mut(i) {
            Some(Val::Text(v)) => Ok(std::mem::take(v)),
            _ => Err(shape_error(i, "text")),
        }
    }

    pub(crate) fn take_bytes(&mut self, i: usize) -> Result<Bytes, StorageError> {
        match self.0.get_mut(i) {
            Some(Val::Bytes(v)) => Ok(Bytes::from(std::mem::take(v))),
            _ => Err(shape_error(i, "bytes")),
        }
    }
}

/// A connection (or a transaction on one) that runs [`Sql`].
#[async_trait]
pub(crate) trait Conn: Send {
    /// Runs a statement; returns the number of affected rows.
    async fn execute(&mut self, sql: &Sql) -> Result<u64, sqlx::Error>;
    /// Runs a query and decodes every row as `tys`.
    async fn fetch(&mut self, sql: &Sql, tys: &[Ty]) -> Result<Vec<Row>, sqlx::Error>;
}

/// An open transaction.
#[async_trait]
pub(crate) trait Tx: Conn {
    async fn commit(self: Box<Self>) -> Result<(), sqlx::Error>;
}

/// A transaction of database `DB` on a pooled connection, begun and ended with plain
/// statements. sqlx's own `Transaction` returns a connection to the pool even when COMMIT
/// failed (SQLite's "database or disk is full" does that), after which every later BEGIN on
/// it fails; here a transaction that did not commit closes its connection instead, which
/// rolls it back on the server and lets the pool open a fresh one.
pub(crate) struct TxOf<DB: sqlx::Database>(PoolConnection<DB>, bool);

impl<DB: sqlx::Database> Drop for TxOf<DB> {
    fn drop(&mut self) {
        if self.1 {
            self.0.close_on_drop();
        }
    }
}

/// A pooled connection of database `DB` in autocommit mode.
pub(crate) struct ConnOf<DB: sqlx::Database>(PoolConnection<DB>);

fn bind_pg(args: &[Arg]) -> Result<sqlx::postgres::PgArguments, sqlx::Error> {
    let mut out = sqlx::postgres::PgArguments::default();
    for arg in args {
        match arg {
            Arg::I64(v) => out.add(*v),
            Arg::OptI64(v) => out.add(*v),
            Arg::Text(v) => out.add(v.as_str()),
            Arg::OptText(v) => out.add(v.as_deref()),
            Arg::Bytes(v) => out.add(v.as_ref()),
            Arg::TextArray(v) => out.add(v.clone()),
        }
        .map_err(sqlx::Error::Encode)?;
    }
    Ok(out)
}

fn bind_mysql(args: &[Arg]) -> Result<sqlx::mysql::MySqlArguments, sqlx::Error> {
    let mut out = sqlx::mysql::MySqlArguments::default();
    for arg in args {
        match arg {
            Arg::I64(v) => out.add(*v),
            Arg::OptI64(v) => out.add(*v),
            Arg::Text(v) => out.add(v.as_str()),
            Arg::OptText(v) => out.add(v.as_deref()),
            Arg::Bytes(v) => out.add(v.as_ref()),
            Arg::TextArray(_) => Err("text arrays are bound only on PostgreSQL".into()),
        }
        .map_err(sqlx::Error::Encode)?;
    }
    Ok(out)
}

fn bind_sqlite(args: &[Arg]) -> Result<sqlx::sqlite::SqliteArguments, sqlx::Error> {
    let mut out = sqlx::sqlite::SqliteArguments::default();
    for arg in args {
        match arg {
            Arg::I64(v) => out.add(*v),
            Arg::OptI64(v) => out.add(*v),
            Arg::Text(v) => out.add(v.clone()),
            Arg::OptText(v) => out.add(v.clone()),
            Arg::Bytes(v) => out.add(v.to_vec()),
            Arg::TextArray(_) => Err("text arrays are bound only on PostgreSQL".into()),
        }
        .map_err(sqlx::Error::Encode)?;
    }
    Ok(out)
}

/// Implements [`Conn`] (and [`Tx`]) for one concrete sqlx database, so the trait objects
/// hide which one is in use.
macro_rules! impl_conn {
    ($db:ty, $bind:path) => {
        impl_conn!(@one $db, $bind, TxOf<$db>);
        impl_conn!(@one $db, $bind, ConnOf<$db>);

        impl TxOf<$db> {
            /// Takes a connection from `pool` and runs `begin` on it.
            async fn begin(pool: &sqlx::Pool<$db>, begin: &'static str) -> Result<Self, sqlx::Error> {
                let conn = pool.acquire().await?;
                // Open from the start: if BEGIN fails, the connection is closed on drop.
                let mut tx = TxOf(conn, true);
                sqlx::raw_sql(begin).execute(&mut *tx.0).await?;
                Ok(tx)
            }
        }

        #[async_trait]
        impl Tx for TxOf<$db> {
            async fn commit(mut self: Box<Self>) -> Result<(), sqlx::Error> {
                sqlx::raw_sql("COMMIT").execute(&mut *self.0).await?;
                self.1 = false;
                Ok(())
            }
        }
    };
    (@one $db:ty, $bind:path, $wrapper:ty) => {
        #[async_trait]
        impl Conn for $wrapper {
            async fn execute(&mut self, sql: &Sql) -> Result<u64, sqlx::Error> {
                let args = $bind(&sql.args)?;
                let done = sqlx::query_with(AssertSqlSafe(sql.text.clone()), args)
                    .execute(&mut *self.0)
                    .await?;
                Ok(done.rows_affected())
            }

            async fn fetch(&mut self, sql: &Sql, tys: &[Ty]) -> Result<Vec<Row>, sqlx::Error> {
                let args = $bind(&sql.args)?;
                let rows = sqlx::query_with(AssertSqlSafe(sql.text.clone()), args)
                    .fetch_all(&mut *self.0)
                    .await?;
                rows.iter()
                    .map(|row| {
                        tys.iter()
                            .enumerate()
                            .map(|(i, ty)| {
                                Ok(match ty {
                                    Ty::I64 => row
                                        .try_get::<Option<i64>, _>(i)?
                                        .map_or(Val::Null, Val::I64),
                                    Ty::Text => row
                                        .try_get::<Option<String>, _>(i)?
                                        .map_or(Val::Null, Val::Text),
                                    Ty::Bytes => row
                                        .try_get::<Option<Vec<u8>>, _>(i)?
                                        .map_or(Val::Null, Val::Bytes),
                                })
                            })
                            .collect::<Result<Vec<_>, sqlx::Error>>()
                            .map(Row)
                    })
                    .collect()
            }
        }
    };
}

impl_conn!(Postgres, bind_pg);
impl_conn!(MySql, bind_mysql);
impl_conn!(Sqlite, bind_sqlite);

/// One of the three pools.
#[derive(Debug, Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
    MySql(MySqlPool),
}

impl Pool {
    pub(crate) fn dialect(&self) -> Dialect {
        match self {
            Pool::Sqlite(_) => Dialect::Sqlite,
            Pool::Postgres(_) => Dialect::Postgres,
            Pool::MySql(_) => Dialect::MySql,
        }
    }

    /// A write transaction. SQLite takes the database write lock at `BEGIN IMMEDIATE`;
    /// PostgreSQL and MySQL lock the revision counter row as their first statement.
    pub(crate) async fn write_tx(&self) -> Result<Box<dyn Tx>, sqlx::Error> {
        Ok(match self {
            Pool::Sqlite(p) => Box::new(TxOf::<Sqlite>::begin(p, "BEGIN IMMEDIATE").await?),
            Pool::Postgres(p) => Box::new(TxOf::<Postgres>::begin(p, "BEGIN").await?),
            Pool::MySql(p) => Box::new(TxOf::<MySql>::begin(p, "BEGIN").await?),
        })
    }

    /// A read-only transaction whose statements all see one snapshot.
    pub(crate) async fn read_tx(&self) -> Result<Box<dyn Tx>, sqlx::Error> {
        Ok(match self {
            Pool::Sqlite(p) => Box::new(TxOf::<Sqlite>::begin(p, "BEGIN").await?),
            Pool::Postgres(p) => Box::new(
                TxOf::<Postgres>::begin(p, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?,
            ),
            // The session default is REPEATABLE READ, where a consistent snapshot holds for
            // the whole transaction.
            Pool::MySql(p) => Box::new(
                TxOf::<MySql>::begin(p, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
                    .await?,
            ),
        })
    }

    /// A connection in autocommit mode.
    pub(crate) async fn conn(&self) -> Result<Box<dyn Conn>, sqlx::Error> {
        Ok(match self {
            Pool::Sqlite(p) => Box::new(ConnOf(p.acquire().await?)),
            Pool::Postgres(p) => Box::new(ConnOf(p.acquire().await?)),
            Pool::MySql(p) => Box::new(ConnOf(p.acquire().await?)),
        })
    }

    pub(crate) async fn close(&self) {
        match self {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
            Pool::MySql(p) => p.close().await,
        }
    }
}

/// Maps sqlx errors to storage errors: unreachable or overloaded databases are
/// `Unavailable` (retryable), constraint violations `Conflict`, the rest `Internal`.
/// Messages never include connection details.
#[derive(Debug, Clone)]
pub(crate) struct ErrorMap {
    pub dialect: Dialect,
    /// Extra database error codes to treat as retryable (from the config).
    pub recoverable: Vec<String>,
}

/// PostgreSQL SQLSTATEs that mean "try again": connection exceptions (class 08 is checked
/// separately), shutdowns, too many connections, serialization failures, deadlocks,
/// lock timeouts.
const PG_RETRYABLE: &[&str] = &[
    "57P01", "57P02", "57P03", "53300", "53400", "40001", "40P01", "55P03",
];
/// MySQL error numbers that mean "try again": too many connections, lock wait timeout,
/// deadlock, server gone, lost connection, shutdown in progress.
const MYSQL_RETRYABLE: &[&str] = &[
    "1040", "1053", "1205", "1213", "2002", "2003", "2006", "2013",
];

impl ErrorMap {
    pub(crate) fn unreachable(&self) -> String {
        format!(
            "the {} database is unreachable or overloaded; retry later",
            self.dialect
        )
    }

    /// `context` says what was being done ("listing pods"); it becomes the message of
    /// internal errors.
    pub(crate) fn map(&self, context: &str, err: sqlx::Error) -> StorageError {
        match &err {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => {
                StorageError::unavailable(self.unreachable()).with_source(err)
            }
            sqlx::Error::Database(db) => {
                use sqlx::error::ErrorKind as K;
                match db.kind() {
                    K::UniqueViolation
                    | K::ForeignKeyViolation
                    | K::NotNullViolation
                    | K::CheckViolation
                    | K::ExclusionViolation => {
                        return StorageError::new(
                            ErrorKind::Conflict,
                            format!("{context}: the write conflicts with stored data"),
                        )
                        .with_source(err);
                    }
                    _ => {}
                }
                // MySQL's SQLSTATEs are coarse (`HY000`); its error numbers are precise.
                let code = match db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
                    Some(my) => my.number().to_string(),
                    None => db.code().map(|c| c.into_owned()).unwrap_or_default(),
                };
                let retryable = match self.dialect {
                    Dialect::Postgres => {
                        code.starts_with("08") || PG_RETRYABLE.contains(&code.as_str())
                    }
                    Dialect::MySql => MYSQL_RETRYABLE.contains(&code.as_str()),
                    // SQLITE_BUSY, SQLITE_LOCKED and their extended codes.
                    Dialect::Sqlite => matches!(code.parse::<i64>().map(|c| c & 0xff), Ok(5 | 6)),
                } || self.recoverable.contains(&code);
                if retryable {
                    StorageError::unavailable(self.unreachable()).with_source(err)
                } else {
                    StorageError::internal(context.to_owned(), err)
                }
            }
            _ => StorageError::internal(context.to_owned(), err),
        }
    }
}
