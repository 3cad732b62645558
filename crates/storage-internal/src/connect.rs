//! Turning a validated config into a sqlx pool: connect options per dialect (TLS,
//! parameters, statement logging), a first connection that reports an unreachable or
//! unusable database clearly (without the password), then a lazily filled pool.

use std::str::FromStr;
use std::time::Duration;

use pedia_storage::StorageError;
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions, MySqlSslMode};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection};

use crate::config::{ConfigError, Resolved, ServerSpec, Target, parse_go_duration};
use crate::db::{Dialect, Pool};

/// How long opening waits for the first connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a request waits for a pooled connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long SQLite waits for another writer (another process) before failing.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// SQLite readers run in parallel under WAL; more connections than this only contend.
const SQLITE_MAX_CONNECTIONS: u32 = 8;

fn config_error(field: &str, reason: impl Into<String>) -> StorageError {
    StorageError::bad_request(
        ConfigError::Field {
            field: field.to_owned(),
            reason: reason.into(),
        }
        .to_string(),
    )
}

/// Removes `secret` from a message, in case a driver echoed it.
fn scrub(message: String, secret: Option<&str>) -> String {
    match secret {
        Some(s) if !s.is_empty() => message.replace(s, "***"),
        _ => message,
    }
}

/// Maps a failed first connection to a clear error: `Unavailable` when the server cannot
/// be reached, `Internal` (with the driver's reason) otherwise.
fn open_error(
    dialect: Dialect,
    place: &str,
    err: sqlx::Error,
    secret: Option<&str>,
) -> StorageError {
    let reason = scrub(
        match &err {
            sqlx::Error::Database(db) => db.message().to_owned(),
            other => other.to_string(),
        },
        secret,
    );
    let unreachable = matches!(
        &err,
        sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed
    );
    if unreachable {
        StorageError::unavailable(format!(
            "the {dialect} database{place} is unreachable: {reason}; check that it is running and reachable"
        ))
        .with_source(err)
    } else {
        StorageError::new(
            pedia_storage::ErrorKind::Internal,
            format!("cannot open the {dialect} database{place}: {reason}"),
        )
        .with_source(err)
    }
}

async fn probe<C: Connection>(
    dialect: Dialect,
    place: &str,
    options: &C::Options,
    secret: Option<&str>,
) -> Result<(), StorageError> {
    match tokio::time::timeout(CONNECT_TIMEOUT, options.connect()).await {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            Ok(())
        }
        Ok(Err(err)) => Err(open_error(dialect, place, err, secret)),
        Err(_) => Err(StorageError::unavailable(format!(
            "the {dialect} database{place} is unreachable: no connection within {}s",
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

/// Opens the pool described by `cfg`. The first connection is made now, so a bad
/// config or an unreachable database fails here, clearly.
pub(crate) async fn open_pool(cfg: &Resolved) -> Result<Pool, StorageError> {
    match (&cfg.target, cfg.dialect) {
        (Target::Sqlite(dsn), _) => open_sqlite(cfg, dsn).await,
        (Target::Server(spec), Dialect::Postgres) => open_postgres(cfg, spec).await,
        (Target::Server(spec), Dialect::MySql) => open_mysql(cfg, spec).await,
        (Target::Server(_), Dialect::Sqlite) => Err(config_error("type", "sqlite needs a dsn")),
    }
}

fn is_memory(dsn: &str) -> bool {
    dsn == ":memory:" || dsn.contains(":memory:") || dsn.contains("mode=memory")
}

async fn open_sqlite(cfg: &Resolved, dsn: &str) -> Result<Pool, StorageError> {
    let memory = is_memory(dsn);
    let options = if dsn == ":memory:" {
        SqliteConnectOptions::from_str("sqlite::memory:")
    } else if dsn.starts_with("sqlite:") {
        SqliteConnectOptions::from_str(dsn)
    } else if let Some(rest) = dsn.strip_prefix("file:") {
        SqliteConnectOptions::from_str(&format!("sqlite:{rest}"))
    } else {
        Ok(SqliteConnectOptions::new().filename(dsn))
    }
    .map_err(|e| config_error("dsn", format!("not a SQLite path or URL: {e}")))?;
    let options = options
        .create_if_missing(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .log_statements(cfg.log.statements)
        .log_slow_statements(cfg.log.slow, cfg.log.slow_threshold);
    let place = if memory {
        " (in memory)".to_owned()
    } else {
        format!(" {}", options.get_filename().display())
    };
    if memory {
        probe::<sqlx::SqliteConnection>(Dialect::Sqlite, &place, &options, None).await?;
    } else {
        // WAL lets readers (lists, watches) run beside the one writer. The mode is stored
        // in the file, so only this first connection sets it; switching needs a lock that
        // SQLite's busy timeout does not wait for, so a process racing another one to
        // open the same new file retries.
        let wal = options
            .clone()
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
        let deadline = tokio::time::Instant::now() + SQLITE_BUSY_TIMEOUT;
        loop {
            match probe::<sqlx::SqliteConnection>(Dialect::Sqlite, &place, &wal, None).await {
                Err(err) if is_busy(&err) && tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                other => break other?,
            }
        }
    }
    let options = options.synchronous(SqliteSynchronous::Normal);
    let pool = if memory {
        // One connection that never closes: an in-memory database lives as long as its
        // last connection.
        SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|e| open_error(Dialect::Sqlite, &place, e, None))?
    } else {
        SqlitePoolOptions::new()
            .max_connections(cfg.max_open.clamp(1, SQLITE_MAX_CONNECTIONS))
            .max_lifetime(cfg.max_lifetime)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with(options)
    };
    Ok(Pool::Sqlite(pool))
}

/// Whether an open error is SQLite's "database is locked".
fn is_busy(err: &StorageError) -> bool {
    use std::error::Error as _;
    err.source()
        .and_then(|e| e.downcast_ref::<sqlx::Error>())
        .and_then(|e| match e {
            sqlx::Error::Database(db) => db.code(),
            _ => None,
        })
        .is_some_and(|code| matches!(code.parse::<i64>().map(|c| c & 0xff), Ok(5 | 6)))
}

fn server_place(spec: &ServerSpec, default_port: u16) -> String {
    match (&spec.socket, &spec.host) {
        (Some(socket), _) => format!(" at {socket}"),
        (None, Some(host)) => format!(" at {host}:{}", spec.port.unwrap_or(default_port)),
        (None, None) => format!(" at localhost:{}", spec.port.unwrap_or(default_port)),
    }
}

async fn open_postgres(cfg: &Resolved, spec: &ServerSpec) -> Result<Pool, StorageError> {
    let mut o = PgConnectOptions::new_without_pgpass();
    if let Some(host) = &spec.host {
        o = o.host(host);
    }
    if let Some(socket) = &spec.socket {
        o = o.socket(socket);
    }
    if let Some(port) = spec.port {
        o = o.port(port);
    }
    if let Some(user) = &spec.user {
        o = o.username(user);
    }
    if let Some(password) = &spec.password {
        o = o.password(password.expose());
    }
    if let Some(db) = &spec.database {
        o = o.database(db);
    }
    let mut ssl_mode = cfg.ssl_mode.clone();
    let (mut root, mut cert, mut key) = (
        cfg.ssl_root_cert.clone(),
        cfg.ssl_cert.clone(),
        cfg.ssl_key.clone(),
    );
    let mut runtime: Vec<(String, String)> = Vec::new();
    for (k, v) in &spec.params {
        match k.as_str() {
            "sslmode" => ssl_mode = Some(v.clone()),
            "sslrootcert" => root = Some(v.clone()),
            "sslcert" => cert = Some(v.clone()),
            "sslkey" => key = Some(v.clone()),
            "application_name" => o = o.application_name(v),
            "connect_timeout" | "target_session_attrs" | "options" | "sslpassword" | "passfile" => {
                tracing::info!(param = %k, "internal storage: ignoring the postgres connection parameter {k}");
            }
            // Anything else is a server setting for the session, as in pgx and libpq's
            // `options=-c key=value` (e.g. `search_path`, `statement_timeout`).
            _ => runtime.push((k.clone(), v.clone())),
        }
    }
    if let Some(mode) = ssl_mode {
        let mode = match mode.as_str() {
            "" | "false" => PgSslMode::Disable,
            "skip-verify" => PgSslMode::Require,
            other => PgSslMode::from_str(other).map_err(|_| {
                config_error(
                    "sslMode",
                    format!("{other:?} is not one of disable, allow, prefer, require, verify-ca, verify-full"),
                )
            })?,
        };
        o = o.ssl_mode(mode);
    }
    if let Some(root) = root {
        o = o.ssl_root_cert(root);
    }
    if cert.is_some() != key.is_some() {
        return Err(config_error(
            "sslCertFile",
            "sslCertFile and sslKeyFile must be given together",
        ));
    }
    if let (Some(cert), Some(key)) = (cert, key) {
        o = o.ssl_client_cert(cert).ssl_client_key(key);
    }
    for (k, _) in &runtime {
        if !k
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            return Err(config_error(
                "params",
                format!("{k:?} is not a PostgreSQL setting name"),
            ));
        }
    }
    if !runtime.is_empty() {
        o = o.options(runtime);
    }
    let o = o
        .log_statements(cfg.log.statements)
        .log_slow_statements(cfg.log.slow, cfg.log.slow_threshold);
    let secret = spec.password.as_ref().map(|p| p.expose());
    let place = server_place(spec, 5432);
    probe::<sqlx::PgConnection>(Dialect::Postgres, &place, &o, secret).await?;
    let pool = PgPoolOptions::new()
        .max_connections(cfg.max_open)
        .max_lifetime(cfg.max_lifetime)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_lazy_with(o);
    Ok(Pool::Postgres(pool))
}

fn mysql_ssl_mode(field: &str, mode: &str) -> Result<MySqlSslMode, StorageError> {
    // Clusterpedia's names (Go driver `tls=` values and libpq-style modes) plus MySQL's.
    Ok(match mode.to_ascii_lowercase().as_str() {
        "" | "false" | "disable" | "disabled" => MySqlSslMode::Disabled,
        "skip-verify" | "allow" | "prefer" | "preferred" => MySqlSslMode::Preferred,
        "require" | "required" => MySqlSslMode::Required,
        "verify-ca" | "verify_ca" => MySqlSslMode::VerifyCa,
        "true" | "verify-full" | "verify_identity" | "verify-identity" => {
            MySqlSslMode::VerifyIdentity
        }
        other => {
            return Err(config_error(
                field,
                format!(
                    "{other:?} is not one of false, skip-verify, preferred, require, verify-ca, verify-full, true"
                ),
            ));
        }
    })
}

async fn open_mysql(cfg: &Resolved, spec: &ServerSpec) -> Result<Pool, StorageError> {
    let mut o = MySqlConnectOptions::new()
        .charset("utf8mb4")
        // A binary collation for the session makes bound strings compare byte-wise.
        .collation("utf8mb4_bin");
    if let Some(host) = &spec.host {
        o = o.host(host);
    }
    if let Some(socket) = &spec.socket {
        o = o.socket(socket);
    }
    if let Some(port) = spec.port {
        o = o.port(port);
    }
    if let Some(user) = &spec.user {
        o = o.username(user);
    }
    if let Some(password) = &spec.password {
        o = o.password(password.expose());
    }
    if let Some(db) = &spec.database {
        o = o.database(db);
    }
    if let Some(mode) = &cfg.ssl_mode {
        o = o.ssl_mode(mysql_ssl_mode("sslMode", mode)?);
    }
    if let Some(root) = &cfg.ssl_root_cert {
        o = o.ssl_ca(root);
    }
    if let (Some(cert), Some(key)) = (&cfg.ssl_cert, &cfg.ssl_key) {
        o = o.ssl_client_cert(cert).ssl_client_key(key);
    } else if cfg.ssl_cert.is_some() || cfg.ssl_key.is_some() {
        return Err(config_error(
            "sslCertFile",
            "sslCertFile and sslKeyFile must be given together",
        ));
    }
    let mut session_vars: Vec<(String, String)> = Vec::new();
    for (k, v) in &spec.params {
        match k.as_str() {
            "tls" | "ssl-mode" | "sslmode" => o = o.ssl_mode(mysql_ssl_mode("params.tls", v)?),
            "ssl-ca" | "sslca" => o = o.ssl_ca(v),
            "ssl-cert" | "sslcert" => o = o.ssl_client_cert(v),
            "ssl-key" | "sslkey" => o = o.ssl_client_key(v),
            "charset" | "collation" => {
                tracing::info!(param = %k, "internal storage: ignoring mysql {k}: the layer needs utf8mb4 with a binary collation");
            }
            "timeout" | "readTimeout" | "writeTimeout" => {
                parse_go_duration(v).map_err(|e| config_error(&format!("params.{k}"), e))?;
                tracing::info!(param = %k, "internal storage: ignoring mysql {k}");
            }
            "parseTime"
            | "loc"
            | "allowNativePasswords"
            | "allowCleartextPasswords"
            | "allowOldPasswords"
            | "allowAllFiles"
            | "checkConnLiveness"
            | "clientFoundRows"
            | "columnsWithAlias"
            | "interpolateParams"
            | "multiStatements"
            | "rejectReadOnly"
            | "maxAllowedPacket"
            | "serverPubKey" => {
                tracing::info!(param = %k, "internal storage: ignoring the Go MySQL driver parameter {k}");
            }
            // Anything else is a session variable, as the Go driver treats it.
            _ => {
                if !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(config_error(
                        "params",
                        format!("{k:?} is not a MySQL variable name"),
                    ));
                }
                session_vars.push((k.clone(), v.clone()));
            }
        }
    }
    let o = o
        .log_statements(cfg.log.statements)
        .log_slow_statements(cfg.log.slow, cfg.log.slow_threshold);
    let secret = spec.password.as_ref().map(|p| p.expose());
    let place = server_place(spec, 3306);
    probe::<sqlx::MySqlConnection>(Dialect::MySql, &place, &o, secret).await?;
    let mut pool = MySqlPoolOptions::new()
        .max_connections(cfg.max_open)
        .max_lifetime(cfg.max_lifetime)
        .acquire_timeout(ACQUIRE_TIMEOUT);
    if !session_vars.is_empty() {
        pool = pool.after_connect(move |conn, _| {
            let vars = session_vars.clone();
            Box::pin(async move {
                for (k, v) in vars {
                    // The name was checked to be an identifier; the value is bound.
                    sqlx::query(sqlx::AssertSqlSafe(format!("SET SESSION {k} = ?")))
                        .bind(v)
                        .execute(&mut *conn)
                        .await?;
                }
                Ok(())
            })
        });
    }
    Ok(Pool::MySql(pool.connect_lazy_with(o)))
}
