//! The database: connecting to SQLite, PostgreSQL or MySQL/MariaDB, transactions, and
//! every SQL statement the layer runs. Beside it: the DDL (`schema`), placeholder syntax
//! (`dialect`), error mapping (`errors`) and statements built condition by condition
//! (`select`).
//!
//! The dialects run the same statements (sqlx's SQLite driver accepts PostgreSQL's `$N`
//! placeholders; for MySQL [`Dialect::sql`] turns them into `?`, which is why every
//! statement numbers its placeholders in the order they appear), so each statement is
//! written once and [`each!`] expands the call for every connection type. Only the DDL,
//! the upserts and the write lock differ. SQL text is built from
//! constants and placeholders only; every value is a bound parameter.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use futures::TryStreamExt;
use pedia_plugin_api::pedia_core::{GroupVersionResource, ResourceType};
use pedia_plugin_api::pedia_storage::{Result, Revision, StorageError, WatchEventType};
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlPool, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, ConnectOptions, MySql, Postgres, Row, Sqlite, Transaction};

use crate::config::{DatabaseType, SampleConfig};

mod dialect;
mod errors;
mod schema;
mod select;

use dialect::Dialect;
pub(crate) use errors::db_error;
use errors::{config_error, connect_error, is_sqlite_lock_code};
use schema::{MYSQL_SCHEMA, POSTGRES_SCHEMA, SQLITE_SCHEMA};
pub(crate) use select::{Arg, Select};

/// Runs one database operation to its end on its own task, even if its caller is
/// dropped midway (the host drops a call's future when its client goes away, and a watch
/// stream whenever the watcher leaves). sqlx's MySQL driver cannot recover a connection
/// whose query was abandoned midway (transact-rs/sqlx#563): the pool's release ping then
/// waits for a reply that never comes, the connection is never returned and `close`
/// never finishes. Every entry point of the layer goes through here; the task is not
/// aborted, so a write that started also commits or rolls back as a whole.
pub(crate) async fn detached<T, F>(operation: F) -> Result<T>
where
    T: Send + 'static,
    F: Future<Output = Result<T>> + Send + 'static,
{
    tokio::spawn(operation)
        .await
        .map_err(|e| StorageError::internal("a database operation", e))?
}

/// How long a connection waits for SQLite's write lock before giving up. Writers hold it
/// for one batch, which can be large on a first sync.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a call waits for a free pooled connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);
/// Serializes schema creation of concurrent starts on PostgreSQL (any constant works; it
/// only has to be the same in every process).
const SCHEMA_LOCK: i64 = 0x5341_4d50_4c45; // "SAMPLE"

/// Revisions are `u64` in the contract and `BIGINT` in the database; they start at 0 and
/// grow by one per change, so they never reach the sign bit in practice.
pub(crate) fn to_db(revision: Revision) -> i64 {
    i64::try_from(revision).unwrap_or(i64::MAX)
}

pub(crate) fn from_db(value: i64) -> Revision {
    u64::try_from(value).unwrap_or(0)
}

/// A connection pool of either dialect.
pub(crate) enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
    MySql(MySqlPool),
}

// Hand-written so a pool's connect options (with the password) are never printed.
impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Db::Sqlite(p) => write!(f, "Db::Sqlite(connections: {})", p.size()),
            Db::Postgres(p) => write!(f, "Db::Postgres(connections: {})", p.size()),
            Db::MySql(p) => write!(f, "Db::MySql(connections: {})", p.size()),
        }
    }
}

/// Opens and closes one connection. A pool would retry an unreachable server until its
/// acquire timeout and then report only that it timed out; a single attempt fails fast
/// with the driver's reason (refused, unknown host, authentication failed, no such file).
///
/// Lock errors are the exception, retried for up to `lock_wait`: processes opening a new
/// SQLite file together race to switch it to WAL, and SQLite can answer that race with
/// "database is locked" without waiting on its busy timeout.
async fn probe<O>(options: &O, what: &str, lock_wait: Duration) -> Result<()>
where
    O: ConnectOptions,
    O::Connection: Sized,
{
    let deadline = tokio::time::Instant::now() + lock_wait;
    loop {
        match options.connect().await {
            Ok(conn) => {
                // A failure to say goodbye politely does not make the database unusable.
                let _ = sqlx::Connection::close(conn).await;
                return Ok(());
            }
            Err(sqlx::Error::Database(e))
                if e.code().is_some_and(|c| is_sqlite_lock_code(&c))
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => return Err(connect_error(what, e)),
        }
    }
}

/// `log.slowThreshold`: sqlx warns about statements slower than this (its default
/// threshold otherwise).
fn with_slow_log<O: ConnectOptions>(options: O, config: &SampleConfig) -> O {
    match config.slow_threshold {
        Some(threshold) => options.log_slow_statements(log::LevelFilter::Warn, threshold),
        None => options,
    }
}

impl Db {
    /// Connects and creates the schema if it is missing.
    pub(crate) async fn connect(config: &SampleConfig) -> Result<Db> {
        config.validate()?;
        match config.database {
            DatabaseType::Sqlite => {
                let dsn = config.dsn.trim();
                let options = if dsn.starts_with("sqlite:") {
                    SqliteConnectOptions::from_str(dsn).map_err(|e| config_error("SQLite", e))?
                } else {
                    // A plain path: the file is created on first start.
                    SqliteConnectOptions::new()
                        .filename(dsn)
                        .create_if_missing(true)
                };
                let options = with_slow_log(options, config)
                    // WAL lets lists and watches read while a batch is being written.
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT);
                probe(&options, "SQLite", SQLITE_BUSY_TIMEOUT).await?;
                let pool = SqlitePoolOptions::new()
                    .max_connections(config.max_connections())
                    .max_lifetime(config.conn_max_lifetime)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_lazy_with(options);
                let db = Db::Sqlite(pool);
                db.create_schema(None).await?;
                Ok(db)
            }
            DatabaseType::Postgres => {
                let mut options = PgConnectOptions::from_str(config.dsn.trim())
                    .map_err(|e| config_error("PostgreSQL", e))?
                    .application_name("sample-storage-layer");
                if let Some(schema) = &config.schema {
                    // Validated as a plain identifier, so it needs no quoting here.
                    options = options.options([("search_path", schema.as_str())]);
                }
                let options = with_slow_log(options, config);
                probe(&options, "PostgreSQL", Duration::ZERO).await?;
                let pool = PgPoolOptions::new()
                    .max_connections(config.max_connections())
                    .max_lifetime(config.conn_max_lifetime)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_lazy_with(options);
                let db = Db::Postgres(pool);
                db.create_schema(config.schema.as_deref()).await?;
                Ok(db)
            }
            DatabaseType::Mysql => {
                // sqlx knows only the mysql:// scheme; MariaDB speaks the same protocol.
                let dsn = config.dsn.trim();
                let dsn = match dsn.strip_prefix("mariadb://") {
                    Some(rest) => format!("mysql://{rest}"),
                    None => dsn.to_owned(),
                };
                let options = MySqlConnectOptions::from_str(&dsn)
                    .map_err(|e| config_error("MySQL", e))?
                    .charset("utf8mb4");
                let options = with_slow_log(options, config);
                probe(&options, "MySQL", Duration::ZERO).await?;
                let pool = MySqlPoolOptions::new()
                    .max_connections(config.max_connections())
                    .max_lifetime(config.conn_max_lifetime)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_lazy_with(options);
                let db = Db::MySql(pool);
                db.create_schema(None).await?;
                Ok(db)
            }
        }
    }

    /// Creates the tables if missing. Safe when several processes start at once: SQLite
    /// runs it under the write lock, PostgreSQL under an advisory lock (concurrent
    /// `CREATE TABLE IF NOT EXISTS` can otherwise fail there).
    async fn create_schema(&self, schema: Option<&str>) -> Result<()> {
        let fail = |e| db_error("creating the sample-storage-layer tables", e);
        match self {
            Db::Sqlite(pool) => {
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(fail)?;
                for statement in SQLITE_SCHEMA {
                    sqlx::query(*statement)
                        .execute(&mut *tx)
                        .await
                        .map_err(fail)?;
                }
                tx.commit().await.map_err(fail)
            }
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await.map_err(fail)?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(SCHEMA_LOCK)
                    .execute(&mut *tx)
                    .await
                    .map_err(fail)?;
                if let Some(schema) = schema {
                    // Checked first: CREATE SCHEMA IF NOT EXISTS needs the CREATE
                    // privilege even when the schema exists.
                    let exists = sqlx::query("SELECT 1 FROM pg_namespace WHERE nspname = $1")
                        .bind(schema)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(fail)?
                        .is_some();
                    if !exists {
                        // A validated plain identifier (see config), quoted anyway.
                        let sql = format!("CREATE SCHEMA \"{schema}\"");
                        sqlx::query(AssertSqlSafe(sql))
                            .execute(&mut *tx)
                            .await
                            .map_err(fail)?;
                    }
                }
                for statement in POSTGRES_SCHEMA {
                    sqlx::query(*statement)
                        .execute(&mut *tx)
                        .await
                        .map_err(fail)?;
                }
                tx.commit().await.map_err(fail)
            }
            Db::MySql(pool) => {
                // DDL commits implicitly in MySQL, so no transaction; every statement is
                // idempotent and concurrent `CREATE TABLE IF NOT EXISTS` is safe there.
                let mut conn = pool.acquire().await.map_err(fail)?;
                for statement in MYSQL_SCHEMA {
                    sqlx::query(*statement)
                        .execute(&mut *conn)
                        .await
                        .map_err(fail)?;
                }
                Ok(())
            }
        }
    }

    /// A transaction that writes: it holds the database's write lock (SQLite) or, after
    /// [`Conn::lock_meta`], the revision row (PostgreSQL), so writers apply one at a time
    /// and revisions commit in order.
    pub(crate) async fn write_tx(&self) -> Result<Tx> {
        let fail = |e| db_error("starting a write transaction", e);
        Ok(match self {
            Db::Sqlite(pool) => Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await.map_err(fail)?),
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await.map_err(fail)?),
            Db::MySql(pool) => Tx::MySql(pool.begin().await.map_err(fail)?),
        })
    }

    /// A read-only transaction on one snapshot: a list and the revision it reports agree.
    pub(crate) async fn read_tx(&self) -> Result<Tx> {
        let fail = |e| db_error("starting a read transaction", e);
        Ok(match self {
            // A deferred transaction: the snapshot is taken at its first read (WAL mode).
            Db::Sqlite(pool) => Tx::Sqlite(pool.begin().await.map_err(fail)?),
            Db::Postgres(pool) => Tx::Postgres(
                pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .await
                    .map_err(fail)?,
            ),
            // InnoDB's default isolation is REPEATABLE READ; the snapshot starts now.
            Db::MySql(pool) => Tx::MySql(
                pool.begin_with("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
                    .await
                    .map_err(fail)?,
            ),
        })
    }

    /// A pooled connection for a single statement.
    pub(crate) async fn pooled(&self) -> Result<Pooled> {
        let fail = |e| db_error("acquiring a database connection", e);
        Ok(match self {
            Db::Sqlite(pool) => Pooled::Sqlite(pool.acquire().await.map_err(fail)?),
            Db::Postgres(pool) => Pooled::Postgres(pool.acquire().await.map_err(fail)?),
            Db::MySql(pool) => Pooled::MySql(pool.acquire().await.map_err(fail)?),
        })
    }

    pub(crate) async fn close(&self) {
        match self {
            Db::Sqlite(pool) => pool.close().await,
            Db::Postgres(pool) => pool.close().await,
            Db::MySql(pool) => pool.close().await,
        }
    }
}

/// An open transaction of either dialect. Dropping it rolls back.
pub(crate) enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
    MySql(Transaction<'static, MySql>),
}

impl Tx {
    pub(crate) fn conn(&mut self) -> Conn<'_> {
        match self {
            Tx::Sqlite(tx) => Conn::Sqlite(tx),
            Tx::Postgres(tx) => Conn::Postgres(tx),
            Tx::MySql(tx) => Conn::MySql(tx),
        }
    }

    pub(crate) async fn commit(self) -> Result<()> {
        let fail = |e| db_error("committing a transaction", e);
        match self {
            Tx::Sqlite(tx) => tx.commit().await.map_err(fail),
            Tx::Postgres(tx) => tx.commit().await.map_err(fail),
            Tx::MySql(tx) => tx.commit().await.map_err(fail),
        }
    }
}

/// A connection taken from the pool, outside any transaction.
pub(crate) enum Pooled {
    Sqlite(sqlx::pool::PoolConnection<Sqlite>),
    Postgres(sqlx::pool::PoolConnection<Postgres>),
    MySql(sqlx::pool::PoolConnection<MySql>),
}

impl Pooled {
    pub(crate) fn conn(&mut self) -> Conn<'_> {
        match self {
            Pooled::Sqlite(c) => Conn::Sqlite(c),
            Pooled::Postgres(c) => Conn::Postgres(c),
            Pooled::MySql(c) => Conn::MySql(c),
        }
    }
}

/// A borrowed connection (in a transaction or not): what the statements below run on.
pub(crate) enum Conn<'a> {
    Sqlite(&'a mut SqliteConnection),
    Postgres(&'a mut PgConnection),
    MySql(&'a mut MySqlConnection),
}

/// Runs `$body` with `$c` bound to the concrete connection (`&mut &mut SqliteConnection`
/// or `&mut &mut PgConnection`, so executors are `&mut **$c`). The body is compiled once
/// per dialect, so the same code decodes each driver's own row type.
macro_rules! each {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            Conn::Sqlite($c) => $body,
            Conn::Postgres($c) => $body,
            Conn::MySql($c) => $body,
        }
    };
}

/// Binds `$args` (a slice of [`Arg`]) to `$query` in order.
macro_rules! bind_all {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args {
            query = match arg {
                Arg::Text(s) => query.bind(s.as_str()),
                Arg::Int(i) => query.bind(*i),
            };
        }
        query
    }};
}

/// Applies a row decoder; lets [`from_row!`]'s `?` stop at the row's own `sqlx::Error`.
fn decode<R, T>(row: R, f: impl FnOnce(R) -> Result<T, sqlx::Error>) -> Result<T, sqlx::Error> {
    f(row)
}

/// Builds a struct from a row whose columns are named like the struct's fields.
macro_rules! from_row {
    ($row:expr, $ty:ident { $($field:ident),* $(,)? }) => {
        $ty { $($field: $row.try_get(stringify!($field))?,)* }
    };
}

/// What a list reads of a stored object.
#[derive(Debug)]
pub(crate) struct ObjectRow {
    pub(crate) cluster: String,
    pub(crate) api_group: String,
    pub(crate) api_version: String,
    pub(crate) resource: String,
    pub(crate) kind: String,
    pub(crate) namespaced: bool,
    pub(crate) object: Vec<u8>,
}

/// The columns [`ObjectRow`] reads, as the head of a [`Select`].
pub(crate) const SELECT_OBJECTS: &str = "SELECT cluster, api_group, api_version, resource, kind, namespaced, object FROM sample_objects";

/// One stored change, for watches.
#[derive(Debug)]
pub(crate) struct EventRow {
    pub(crate) revision: i64,
    pub(crate) cluster: String,
    pub(crate) event_type: String,
    pub(crate) object: Vec<u8>,
}

/// An object to insert or replace.
#[derive(Debug)]
pub(crate) struct NewObject<'a> {
    pub(crate) resource: &'a ResourceType,
    pub(crate) cluster: &'a str,
    pub(crate) namespace: &'a str,
    pub(crate) name: &'a str,
    pub(crate) uid: &'a str,
    pub(crate) owner_uid: &'a str,
    pub(crate) resource_version: &'a str,
    pub(crate) created_at: i64,
    pub(crate) revision: Revision,
    pub(crate) content_hash: i64,
    pub(crate) labels: &'a str,
    pub(crate) object: &'a [u8],
}

/// Reads the event-type column (written as [`WatchEventType::as_str`]).
pub(crate) fn parse_event_type(s: &str) -> Option<WatchEventType> {
    [
        WatchEventType::Added,
        WatchEventType::Modified,
        WatchEventType::Deleted,
    ]
    .into_iter()
    .find(|t| t.as_str() == s)
}

/// Where a write op's object lives.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Key<'a> {
    pub(crate) gvr: &'a GroupVersionResource,
    pub(crate) cluster: &'a str,
    pub(crate) namespace: &'a str,
    pub(crate) name: &'a str,
}

const KEY_CONDITION: &str = "api_group = $1 AND api_version = $2 AND resource = $3 AND cluster = $4 AND namespace = $5 AND name = $6";
/// [`KEY_CONDITION`] after a first placeholder (numbered in order, for MySQL's `?`).
const KEY_CONDITION_AFTER_REVISION: &str = "api_group = $2 AND api_version = $3 AND resource = $4 AND cluster = $5 AND namespace = $6 AND name = $7";

impl Conn<'_> {
    /// The latest revision and the newest pruned one. With `lock`, also takes the
    /// revision row's lock on PostgreSQL (SQLite's `BEGIN IMMEDIATE` already holds the
    /// database's).
    pub(crate) async fn meta(&mut self, lock: bool) -> Result<(Revision, Revision)> {
        let fail = |e| db_error("reading the revision", e);
        const READ: &str = "SELECT revision, compacted FROM sample_meta WHERE id = 1";
        // InnoDB and PostgreSQL lock the row itself.
        const LOCK: &str = "SELECT revision, compacted FROM sample_meta WHERE id = 1 FOR UPDATE";
        let row_lock = if lock { LOCK } else { READ };
        let row: (i64, i64) = match self {
            Conn::Sqlite(c) => sqlx::query_as(READ)
                .fetch_one(&mut **c)
                .await
                .map_err(fail)?,
            Conn::MySql(c) => sqlx::query_as(row_lock)
                .fetch_one(&mut **c)
                .await
                .map_err(fail)?,
            Conn::Postgres(c) => sqlx::query_as(row_lock)
                .fetch_one(&mut **c)
                .await
                .map_err(fail)?,
        };
        Ok((from_db(row.0), from_db(row.1)))
    }

    pub(crate) async fn set_meta(&mut self, revision: Revision, compacted: Revision) -> Result<()> {
        let sql = "UPDATE sample_meta SET revision = $1, compacted = $2 WHERE id = 1";
        each!(self, c => sqlx::query(c.sql(sql))
            .bind(to_db(revision))
            .bind(to_db(compacted))
            .execute(&mut **c)
            .await
            .map(|_| ()))
        .map_err(|e| db_error("updating the revision", e))?;
        Ok(())
    }

    /// Records that `cluster` syncs `resource` (for `stored_resources` and collections).
    /// Runs on every batch, so it writes nothing unless the kind or scope changed.
    pub(crate) async fn register(&mut self, cluster: &str, resource: &ResourceType) -> Result<()> {
        let sql = "INSERT INTO sample_registrations (cluster, api_group, api_version, resource, kind, namespaced)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (cluster, api_group, api_version, resource) DO UPDATE
            SET kind = excluded.kind, namespaced = excluded.namespaced
            WHERE sample_registrations.kind <> excluded.kind
                OR sample_registrations.namespaced <> excluded.namespaced";
        // Unchanged values write nothing on MySQL either.
        let mysql = "INSERT INTO sample_registrations (cluster, api_group, api_version, resource, kind, namespaced)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON DUPLICATE KEY UPDATE kind = VALUES(kind), namespaced = VALUES(namespaced)";
        let gvr = &resource.gvr;
        each!(self, c => sqlx::query(c.sql_or(sql, mysql))
            .bind(cluster)
            .bind(gvr.group.as_str())
            .bind(gvr.version.as_str())
            .bind(gvr.resource.as_str())
            .bind(resource.kind.as_str())
            .bind(resource.namespaced)
            .execute(&mut **c)
            .await
            .map(|_| ()))
        .map_err(|e| db_error("registering a resource", e))?;
        Ok(())
    }

    pub(crate) async fn unregister(
        &mut self,
        cluster: &str,
        gvr: Option<&GroupVersionResource>,
    ) -> Result<()> {
        let mut delete = Select::new("DELETE FROM sample_registrations");
        delete.eq("cluster", cluster);
        if let Some(gvr) = gvr {
            delete.resource(gvr);
        }
        self.execute(&delete, "forgetting a cleaned resource")
            .await?;
        Ok(())
    }

    /// The stored uid, resourceVersion and content hash of one object.
    pub(crate) async fn object_state(
        &mut self,
        key: Key<'_>,
    ) -> Result<Option<(String, String, i64)>> {
        let sql = format!(
            "SELECT uid, resource_version, content_hash FROM sample_objects WHERE {KEY_CONDITION}"
        );
        each!(self, c => sqlx::query_as(c.sql(&sql))
            .bind(key.gvr.group.as_str())
            .bind(key.gvr.version.as_str())
            .bind(key.gvr.resource.as_str())
            .bind(key.cluster)
            .bind(key.namespace)
            .bind(key.name)
            .fetch_optional(&mut **c)
            .await)
        .map_err(|e| db_error("reading a stored object's version", e))
    }

    /// The highest writer epoch that wrote `cluster`, if a fenced writer did.
    pub(crate) async fn writer_epoch(&mut self, cluster: &str) -> Result<Option<u64>> {
        let sql = "SELECT epoch FROM sample_writers WHERE cluster = $1";
        let epoch: Option<i64> = each!(self, c => sqlx::query_scalar(c.sql(sql))
            .bind(cluster)
            .fetch_optional(&mut **c)
            .await)
        .map_err(|e| db_error("reading the writer epoch", e))?;
        Ok(epoch.map(from_db))
    }

    /// Records `epoch` as the highest that wrote `cluster`.
    pub(crate) async fn set_writer_epoch(&mut self, cluster: &str, epoch: u64) -> Result<()> {
        let sql = "INSERT INTO sample_writers (cluster, epoch) VALUES ($1, $2)
            ON CONFLICT (cluster) DO UPDATE SET epoch = excluded.epoch";
        let mysql = "INSERT INTO sample_writers (cluster, epoch) VALUES ($1, $2)
            ON DUPLICATE KEY UPDATE epoch = VALUES(epoch)";
        let epoch = i64::try_from(epoch).map_err(|_| {
            StorageError::bad_request(format!("writer epoch {epoch} is out of range"))
        })?;
        each!(self, c => sqlx::query(c.sql_or(sql, mysql))
            .bind(cluster)
            .bind(epoch)
            .execute(&mut **c)
            .await
            .map(|_| ()))
        .map_err(|e| db_error("recording the writer epoch", e))?;
        Ok(())
    }

    /// The stored bytes of one object.
    pub(crate) async fn object(&mut self, key: Key<'_>) -> Result<Option<Vec<u8>>> {
        let sql = format!("SELECT object FROM sample_objects WHERE {KEY_CONDITION}");
        each!(self, c => sqlx::query_scalar(c.sql(&sql))
            .bind(key.gvr.group.as_str())
            .bind(key.gvr.version.as_str())
            .bind(key.gvr.resource.as_str())
            .bind(key.cluster)
            .bind(key.namespace)
            .bind(key.name)
            .fetch_optional(&mut **c)
            .await)
        .map_err(|e| db_error("reading a stored object", e))
    }

    /// Inserts or replaces an object.
    pub(crate) async fn put_object(&mut self, o: &NewObject<'_>) -> Result<()> {
        let sql = "INSERT INTO sample_objects (api_group, api_version, resource, kind, namespaced,
                cluster, namespace, name, uid, owner_uid, resource_version, created_at, revision,
                content_hash, labels, object)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
            ON CONFLICT (api_group, api_version, resource, cluster, namespace, name) DO UPDATE SET
                kind = excluded.kind, namespaced = excluded.namespaced, uid = excluded.uid,
                owner_uid = excluded.owner_uid, resource_version = excluded.resource_version,
                created_at = excluded.created_at, revision = excluded.revision,
                content_hash = excluded.content_hash, labels = excluded.labels,
                object = excluded.object";
        let mysql =
            "INSERT INTO sample_objects (api_group, api_version, resource, kind, namespaced,
                cluster, namespace, name, uid, owner_uid, resource_version, created_at, revision,
                content_hash, labels, object)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
            ON DUPLICATE KEY UPDATE
                kind = VALUES(kind), namespaced = VALUES(namespaced), uid = VALUES(uid),
                owner_uid = VALUES(owner_uid), resource_version = VALUES(resource_version),
                created_at = VALUES(created_at), revision = VALUES(revision),
                content_hash = VALUES(content_hash), labels = VALUES(labels),
                object = VALUES(object)";
        let gvr = &o.resource.gvr;
        each!(self, c => sqlx::query(c.sql_or(sql, mysql))
            .bind(gvr.group.as_str())
            .bind(gvr.version.as_str())
            .bind(gvr.resource.as_str())
            .bind(o.resource.kind.as_str())
            .bind(o.resource.namespaced)
            .bind(o.cluster)
            .bind(o.namespace)
            .bind(o.name)
            .bind(o.uid)
            .bind(o.owner_uid)
            .bind(o.resource_version)
            .bind(o.created_at)
            .bind(to_db(o.revision))
            .bind(o.content_hash)
            .bind(o.labels)
            .bind(o.object)
            .execute(&mut **c)
            .await
            .map(|_| ()))
        .map_err(|e| db_error("writing an object", e))?;
        Ok(())
    }

    /// Appends a change to the event log.
    pub(crate) async fn add_event(
        &mut self,
        revision: Revision,
        key: Key<'_>,
        event_type: WatchEventType,
        object: &[u8],
    ) -> Result<()> {
        let sql = "INSERT INTO sample_events (revision, api_group, api_version, resource, cluster,
                namespace, name, event_type, object)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
        each!(self, c => sqlx::query(c.sql(sql))
            .bind(to_db(revision))
            .bind(key.gvr.group.as_str())
            .bind(key.gvr.version.as_str())
            .bind(key.gvr.resource.as_str())
            .bind(key.cluster)
            .bind(key.namespace)
            .bind(key.name)
            .bind(event_type.as_str())
            .bind(object)
            .execute(&mut **c)
            .await
            .map(|_| ()))
        .map_err(|e| db_error("recording a change", e))?;
        Ok(())
    }

    /// Deletes one object, recording a `DELETED` event with its last bytes at `revision`.
    pub(crate) async fn delete_object(&mut self, revision: Revision, key: Key<'_>) -> Result<()> {
        // The event is copied inside the database, so the bytes never travel here.
        let record = format!(
            "INSERT INTO sample_events (revision, api_group, api_version, resource, cluster,
                namespace, name, event_type, object)
            SELECT $1, api_group, api_version, resource, cluster, namespace, name, 'DELETED', object
            FROM sample_objects WHERE {KEY_CONDITION_AFTER_REVISION}"
        );
        let delete = format!("DELETE FROM sample_objects WHERE {KEY_CONDITION}");
        let fail = |e| db_error("deleting an object", e);
        each!(self, c => {
            sqlx::query(c.sql(&record))
                .bind(to_db(revision))
                .bind(key.gvr.group.as_str())
                .bind(key.gvr.version.as_str())
                .bind(key.gvr.resource.as_str())
                .bind(key.cluster)
                .bind(key.namespace)
                .bind(key.name)
                .execute(&mut **c)
                .await
                .map_err(fail)?;
            sqlx::query(c.sql(&delete))
                .bind(key.gvr.group.as_str())
                .bind(key.gvr.version.as_str())
                .bind(key.gvr.resource.as_str())
                .bind(key.cluster)
                .bind(key.namespace)
                .bind(key.name)
                .execute(&mut **c)
                .await
                .map_err(fail)?;
        });
        Ok(())
    }

    /// Deletes every object of `cluster` (of one resource, if given), recording one
    /// `DELETED` event each at revisions `after + 1 ..= after + n`. Returns `n`.
    pub(crate) async fn delete_all(
        &mut self,
        cluster: &str,
        gvr: Option<&GroupVersionResource>,
        after: Revision,
    ) -> Result<u64> {
        let record_sql = "INSERT INTO sample_events (revision, api_group, api_version, resource,
                cluster, namespace, name, event_type, object)
            SELECT $1 + ROW_NUMBER() OVER (ORDER BY api_group, api_version, resource, namespace, name),
                api_group, api_version, resource, cluster, namespace, name, 'DELETED', object
            FROM sample_objects";
        let mut record = Select::with_args(record_sql, vec![Arg::Int(to_db(after))]);
        record.eq("cluster", cluster);
        if let Some(gvr) = gvr {
            record.resource(gvr);
        }
        let recorded = self.execute(&record, "recording deleted objects").await?;

        let mut delete = Select::new("DELETE FROM sample_objects");
        delete.eq("cluster", cluster);
        if let Some(gvr) = gvr {
            delete.resource(gvr);
        }
        let deleted = self
            .execute(&delete, "deleting a cluster's objects")
            .await?;
        if recorded != deleted {
            return Err(StorageError::internal(
                "cleaning a cluster",
                std::io::Error::other(format!(
                    "recorded {recorded} deletions but deleted {deleted} objects"
                )),
            ));
        }
        Ok(deleted)
    }

    /// Drops events at or below `upto` from the log.
    pub(crate) async fn prune_events(&mut self, upto: Revision) -> Result<()> {
        let sql = "DELETE FROM sample_events WHERE revision <= $1";
        each!(self, c => sqlx::query(c.sql(sql)).bind(to_db(upto)).execute(&mut **c).await.map(|_| ()))
            .map_err(|e| db_error("pruning the event log", e))?;
        Ok(())
    }

    /// Runs a statement built with [`Select`]; returns the rows it affected.
    async fn execute(&mut self, statement: &Select, context: &str) -> Result<u64> {
        let sql = statement.sql();
        each!(self, c => bind_all!(sqlx::query(c.sql(&sql)), &statement.args)
            .execute(&mut **c)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| db_error(context, e))
    }

    /// Streams the rows of a [`SELECT_OBJECTS`] query into `sink`, so rows the caller
    /// filters out are dropped as they arrive.
    pub(crate) async fn for_each_object(
        &mut self,
        select: &Select,
        sink: &mut (dyn FnMut(ObjectRow) -> Result<()> + Send),
    ) -> Result<()> {
        let sql = select.sql();
        let fail = |e| db_error("reading objects", e);
        each!(self, c => {
            let mut rows = bind_all!(sqlx::query(c.sql(&sql)), &select.args).fetch(&mut **c);
            while let Some(row) = rows.try_next().await.map_err(fail)? {
                let decoded = decode(&row, |row| {
                    Ok(from_row!(row, ObjectRow {
                        cluster, api_group, api_version, resource, kind, namespaced, object
                    }))
                });
                sink(decoded.map_err(fail)?)?;
            }
        });
        Ok(())
    }

    /// The first (text) column of every row of `select`.
    pub(crate) async fn strings(&mut self, select: &Select, context: &str) -> Result<Vec<String>> {
        let sql = select.sql();
        each!(self, c => bind_all!(sqlx::query_scalar(c.sql(&sql)), &select.args)
            .fetch_all(&mut **c)
            .await)
        .map_err(|e| db_error(context, e))
    }

    /// Up to `limit` events of one resource after revision `after`, oldest first.
    pub(crate) async fn events_after(
        &mut self,
        gvr: &GroupVersionResource,
        after: Revision,
        limit: i64,
    ) -> Result<Vec<EventRow>> {
        let sql = "SELECT revision, cluster, event_type, object FROM sample_events
            WHERE api_group = $1 AND api_version = $2 AND resource = $3 AND revision > $4
            ORDER BY revision LIMIT $5";
        let fail = |e| db_error("reading the event log", e);
        each!(self, c => {
            let rows = sqlx::query(c.sql(sql))
                .bind(gvr.group.as_str())
                .bind(gvr.version.as_str())
                .bind(gvr.resource.as_str())
                .bind(to_db(after))
                .bind(limit)
                .fetch_all(&mut **c)
                .await
                .map_err(fail)?;
            rows.iter()
                .map(|row| Ok(from_row!(row, EventRow { revision, cluster, event_type, object })))
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()
                .map_err(fail)
        })
    }

    /// Every (cluster, resource) that synced.
    pub(crate) async fn registrations(&mut self) -> Result<Vec<(String, ResourceType)>> {
        let sql = "SELECT cluster, api_group, api_version, resource, kind, namespaced
            FROM sample_registrations";
        let fail = |e| db_error("reading the synced resources", e);
        each!(self, c => {
            let rows = sqlx::query(c.sql(sql)).fetch_all(&mut **c).await.map_err(fail)?;
            rows.iter()
                .map(|row| {
                    let gvr = GroupVersionResource::new(
                        row.try_get::<String, _>("api_group")?,
                        row.try_get::<String, _>("api_version")?,
                        row.try_get::<String, _>("resource")?,
                    );
                    let resource = ResourceType::new(
                        gvr,
                        row.try_get::<String, _>("kind")?,
                        row.try_get::<bool, _>("namespaced")?,
                    );
                    Ok((row.try_get::<String, _>("cluster")?, resource))
                })
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()
                .map_err(fail)
        })
    }

    /// (resource, namespace, name, uid, resourceVersion) of every object of `cluster`.
    pub(crate) async fn versions(
        &mut self,
        cluster: &str,
    ) -> Result<Vec<(GroupVersionResource, String, String, String, String)>> {
        let sql = "SELECT api_group, api_version, resource, namespace, name, uid, resource_version
            FROM sample_objects WHERE cluster = $1";
        let fail = |e| db_error("reading resource versions", e);
        each!(self, c => {
            let rows = sqlx::query(c.sql(sql)).bind(cluster).fetch_all(&mut **c).await.map_err(fail)?;
            rows.iter()
                .map(|row| {
                    let gvr = GroupVersionResource::new(
                        row.try_get::<String, _>("api_group")?,
                        row.try_get::<String, _>("api_version")?,
                        row.try_get::<String, _>("resource")?,
                    );
                    Ok((
                        gvr,
                        row.try_get::<String, _>("namespace")?,
                        row.try_get::<String, _>("name")?,
                        row.try_get::<String, _>("uid")?,
                        row.try_get::<String, _>("resource_version")?,
                    ))
                })
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()
                .map_err(fail)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_type_names_round_trip() {
        for t in [
            WatchEventType::Added,
            WatchEventType::Modified,
            WatchEventType::Deleted,
        ] {
            assert_eq!(parse_event_type(t.as_str()), Some(t));
        }
        assert_eq!(parse_event_type("BOOKMARK"), None);
    }
}
