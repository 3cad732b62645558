//! The `internal` layer's YAML config, compatible with Clusterpedia's internalstorage
//! config, and its validation into a [`Resolved`] connection plan. Passwords are kept in a
//! [`Secret`] that never prints.

mod dsn;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

pub(crate) use dsn::{ServerSpec, parse_port};
pub(crate) use pedia_core::duration::parse_go_duration;

use crate::db::Dialect;

/// The environment variable read for the password when the config gives none.
pub const PASSWORD_ENV: &str = "DB_PASSWORD";

const DEFAULT_MAX_IDLE_CONNS: u32 = 5;
const DEFAULT_MAX_OPEN_CONNS: u32 = 40;
const DEFAULT_SLOW_THRESHOLD: Duration = Duration::from_millis(200);
/// How long a watch waits at most before reading the change feed when no wake-up came
/// (the fallback for writers in other processes, and for lost notifications).
pub(crate) const DEFAULT_WATCH_POLL_INTERVAL: Duration = Duration::from_millis(250);
/// MariaDB's default `max_allowed_packet` is 16 MiB; statements stay well below it.
const DEFAULT_MAX_STATEMENT_BYTES: usize = 4 << 20;

/// A config problem. Messages name the field and never contain a password.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read storage config {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid storage config: {0}")]
    Syntax(String),
    #[error("invalid storage config field `{field}`: {reason}")]
    Field { field: String, reason: String },
}

impl ConfigError {
    fn field(field: &str, reason: impl Into<String>) -> Self {
        ConfigError::Field {
            field: field.to_owned(),
            reason: reason.into(),
        }
    }
}

/// A string that is never shown: `Debug` and `Display` print `***`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// YAML scalars that may be written as a string or a number (`port: 5432` or
/// `port: "5432"`; a numeric password).
#[derive(Clone, PartialEq, Deserialize)]
#[serde(untagged)]
enum Scalar {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Scalar {
    fn into_string(self) -> String {
        match self {
            Scalar::Str(s) => s,
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }
    }
}

/// Clusterpedia's internalstorage config (`--storage-config` of the `internal` layer).
#[derive(Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct InternalStorageConfig {
    /// `sqlite`, `postgres`/`postgresql`, `mysql`/`mariadb`.
    #[serde(rename = "type")]
    pub db_type: String,
    /// A full connection string; when set, the individual connection fields are ignored.
    pub dsn: String,
    /// `tcp` (default) or `unix` (then `host` is the socket path).
    pub network: String,
    pub host: String,
    /// A string or a number.
    #[serde(deserialize_with = "de_scalar")]
    pub port: Option<String>,
    pub user: String,
    #[serde(deserialize_with = "de_secret")]
    pub password: Option<Secret>,
    pub database: String,
    pub ssl_mode: String,
    pub ssl_cert_file: String,
    pub ssl_key_file: String,
    pub ssl_root_cert_file: String,
    pub conn_pool: ConnPoolConfig,
    pub log: Option<LogConfig>,
    /// Extra connection parameters (PostgreSQL runtime parameters such as `search_path`,
    /// MySQL driver parameters or session variables).
    #[serde(deserialize_with = "de_params")]
    pub params: BTreeMap<String, String>,
    pub mysql: Option<BTreeMap<String, serde_yaml_ng::Value>>,
    pub postgres: Option<BTreeMap<String, serde_yaml_ng::Value>>,
    /// Clusterpedia's gorm metrics block; accepted for compatibility, not used.
    pub metrics: Option<serde_yaml_ng::Value>,
    /// An extension (`watchPollInterval`, a Go duration, default `250ms`): the longest a
    /// watch waits before reading the change feed without a wake-up. PostgreSQL watches are
    /// woken by `NOTIFY`, watches in the writer's process by the writer itself.
    #[serde(deserialize_with = "de_scalar")]
    pub watch_poll_interval: Option<String>,
}

impl fmt::Debug for InternalStorageConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InternalStorageConfig")
            .field("type", &self.db_type)
            .field("dsn", &redact_dsn(&self.dsn))
            .field("network", &self.network)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password)
            .field("database", &self.database)
            .field("ssl_mode", &self.ssl_mode)
            .field("conn_pool", &self.conn_pool)
            .field("log", &self.log)
            .field("params", &self.params.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// A DSN with any password replaced by `***`, for Debug output.
fn redact_dsn(dsn: &str) -> String {
    if dsn.is_empty() {
        return String::new();
    }
    // URL and Go forms: `user:password@`. libpq form: `password=...`. When unsure,
    // hide everything.
    if let Some(at) = dsn.rfind('@') {
        let head = &dsn[..at];
        let start = head.find("://").map_or(0, |i| i + 3);
        if let Some(colon) = head[start..].find(':') {
            return format!("{}:***{}", &dsn[..start + colon], &dsn[at..]);
        }
        return dsn.to_owned();
    }
    if dsn.contains("password") {
        return "***".to_owned();
    }
    dsn.to_owned()
}

/// `connPool`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ConnPoolConfig {
    pub max_idle_conns: i64,
    pub max_open_conns: i64,
    /// A Go duration (`1h`).
    #[serde(deserialize_with = "de_scalar")]
    pub conn_max_lifetime: Option<String>,
}

/// `log`: how statements are logged. Output goes through `tracing`; `stdout`, `colorful`,
/// `ignoreRecordNotFoundError` and `logger` are accepted for compatibility.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct LogConfig {
    pub stdout: bool,
    /// `Silent`, `Error`, `Warn` (default), `Info`.
    pub level: String,
    pub colorful: bool,
    /// A Go duration (`200ms`, the default); `0` disables slow-statement logs.
    #[serde(deserialize_with = "de_scalar")]
    pub slow_threshold: Option<String>,
    pub ignore_record_not_found_error: bool,
    pub logger: Option<serde_yaml_ng::Value>,
}

fn de_scalar<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<Scalar>::deserialize(d)?.map(Scalar::into_string))
}

fn de_secret<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Secret>, D::Error> {
    // A password of the wrong YAML type must not be echoed in a type error: accept any
    // scalar, refuse the rest with a fixed message.
    match Option::<serde_yaml_ng::Value>::deserialize(d)? {
        None | Some(serde_yaml_ng::Value::Null) => Ok(None),
        Some(serde_yaml_ng::Value::String(s)) => Ok(Some(Secret(s))),
        Some(serde_yaml_ng::Value::Number(n)) => Ok(Some(Secret(n.to_string()))),
        Some(serde_yaml_ng::Value::Bool(b)) => Ok(Some(Secret(b.to_string()))),
        Some(_) => Err(serde::de::Error::custom("password must be a string")),
    }
}

fn de_params<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let raw = Option::<BTreeMap<String, Scalar>>::deserialize(d)?.unwrap_or_default();
    Ok(raw.into_iter().map(|(k, v)| (k, v.into_string())).collect())
}

/// What to connect to, after validation.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// A file path, `:memory:`, or a `sqlite:` URL.
    Sqlite(String),
    /// PostgreSQL or MySQL server parameters.
    Server(ServerSpec),
}

/// Statement logging, mapped onto sqlx's statement and slow-statement logs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogSettings {
    pub statements: log::LevelFilter,
    pub slow: log::LevelFilter,
    pub slow_threshold: Duration,
}

/// A validated config.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub dialect: Dialect,
    pub target: Target,
    pub ssl_mode: Option<String>,
    pub ssl_cert: Option<String>,
    pub ssl_key: Option<String>,
    pub ssl_root_cert: Option<String>,
    pub max_open: u32,
    pub max_lifetime: Option<Duration>,
    pub log: LogSettings,
    /// Upper bound on the bytes of one write statement (MySQL's `max_allowed_packet`).
    pub max_statement_bytes: usize,
    /// Database error codes treated as retryable (`postgres.recoverableErrCodes`,
    /// `mysql.recoverableErrNumbers`).
    pub recoverable_codes: Vec<String>,
    /// The watch fallback poll interval (`watchPollInterval`).
    pub watch_poll: Duration,
}

impl InternalStorageConfig {
    /// Parses YAML text.
    pub fn from_yaml(text: &str) -> Result<Self, ConfigError> {
        if text.trim().is_empty() {
            return Err(ConfigError::Syntax(
                "the file is empty; it needs at least `type` (sqlite, postgres or mysql)"
                    .to_owned(),
            ));
        }
        serde_yaml_ng::from_str(text).map_err(|e| ConfigError::Syntax(e.to_string()))
    }

    /// Reads and parses a YAML file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_yaml(&text)
    }

    /// A config for a SQLite database at `path` (a file, or `:memory:`).
    pub fn sqlite(path: impl Into<String>) -> Self {
        Self {
            db_type: "sqlite".to_owned(),
            dsn: path.into(),
            ..Self::default()
        }
    }

    /// Validates the config into a connection plan.
    pub(crate) fn resolve(&self) -> Result<Resolved, ConfigError> {
        let dialect = match self.db_type.trim().to_ascii_lowercase().as_str() {
            "sqlite" | "sqlite3" => Dialect::Sqlite,
            "postgres" | "postgresql" => Dialect::Postgres,
            "mysql" | "mariadb" => Dialect::MySql,
            "" => {
                return Err(ConfigError::field(
                    "type",
                    "is required: sqlite, postgres or mysql",
                ));
            }
            other => {
                return Err(ConfigError::field(
                    "type",
                    format!("unknown database type {other:?}; use sqlite, postgres or mysql"),
                ));
            }
        };

        let (max_open, max_lifetime) = self.pool_settings()?;
        let log = self.log_settings()?;
        let watch_poll = match self.watch_poll_interval.as_deref() {
            None => DEFAULT_WATCH_POLL_INTERVAL,
            Some(s) => {
                let d =
                    parse_go_duration(s).map_err(|e| ConfigError::field("watchPollInterval", e))?;
                if d.is_zero() {
                    return Err(ConfigError::field("watchPollInterval", "must be above 0"));
                }
                d
            }
        };
        let mut max_statement_bytes = DEFAULT_MAX_STATEMENT_BYTES;
        let mut recoverable_codes = Vec::new();
        self.check_dialect_blocks(dialect, &mut max_statement_bytes, &mut recoverable_codes)?;

        let target = match dialect {
            Dialect::Sqlite => {
                if self.dsn.trim().is_empty() {
                    return Err(ConfigError::field(
                        "dsn",
                        "is required for sqlite: a file path, `:memory:` or a sqlite: URL",
                    ));
                }
                Target::Sqlite(self.dsn.trim().to_owned())
            }
            Dialect::Postgres | Dialect::MySql => Target::Server(self.server_spec(dialect)?),
        };
        let opt = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
        Ok(Resolved {
            dialect,
            target,
            ssl_mode: opt(&self.ssl_mode),
            ssl_cert: opt(&self.ssl_cert_file),
            ssl_key: opt(&self.ssl_key_file),
            ssl_root_cert: opt(&self.ssl_root_cert_file),
            max_open,
            max_lifetime,
            log,
            max_statement_bytes,
            recoverable_codes,
            watch_poll,
        })
    }

    fn server_spec(&self, dialect: Dialect) -> Result<ServerSpec, ConfigError> {
        let dsn = self.dsn.trim();
        let mut spec = if !dsn.is_empty() {
            let lower = dsn.to_ascii_lowercase();
            let parsed = match dialect {
                Dialect::Postgres
                    if lower.starts_with("postgres://") || lower.starts_with("postgresql://") =>
                {
                    dsn::parse_url(dsn)
                }
                Dialect::Postgres if dsn.contains("://") => {
                    Err("a PostgreSQL URL starts with postgres:// or postgresql://".to_owned())
                }
                Dialect::Postgres => dsn::parse_libpq(dsn),
                Dialect::MySql
                    if lower.starts_with("mysql://") || lower.starts_with("mariadb://") =>
                {
                    dsn::parse_url(dsn)
                }
                Dialect::MySql => dsn::parse_go_mysql(dsn),
                Dialect::Sqlite => Err("not a server database".to_owned()),
            };
            parsed.map_err(|e| ConfigError::field("dsn", e))?
        } else {
            if self.database.trim().is_empty() {
                return Err(ConfigError::field(
                    "database",
                    "is required when no dsn is given",
                ));
            }
            let mut spec = ServerSpec {
                database: Some(self.database.trim().to_owned()),
                ..ServerSpec::default()
            };
            match self.network.trim() {
                "" | "tcp" | "tcp4" | "tcp6" => {
                    if !self.host.trim().is_empty() {
                        spec.host = Some(self.host.trim().to_owned());
                    }
                }
                "unix" => {
                    if self.host.trim().is_empty() {
                        return Err(ConfigError::field(
                            "host",
                            "must be the socket path when network is unix",
                        ));
                    }
                    spec.socket = Some(self.host.trim().to_owned());
                }
                other => {
                    return Err(ConfigError::field(
                        "network",
                        format!("unknown network {other:?}; use tcp or unix"),
                    ));
                }
            }
            if let Some(port) = self.port.as_deref().filter(|p| !p.trim().is_empty()) {
                spec.port = Some(parse_port(port).map_err(|e| ConfigError::field("port", e))?);
            }
            if !self.user.trim().is_empty() {
                spec.user = Some(self.user.trim().to_owned());
            }
            spec.password = self.password.clone().filter(|p| !p.0.is_empty());
            spec
        };
        if spec.password.is_none()
            && let Ok(p) = std::env::var(PASSWORD_ENV)
            && !p.is_empty()
        {
            spec.password = Some(Secret(p));
        }
        for (k, v) in &self.params {
            if k.trim().is_empty() {
                return Err(ConfigError::field("params", "a parameter name is empty"));
            }
            spec.params.push((k.clone(), v.clone()));
        }
        Ok(spec)
    }

    fn pool_settings(&self) -> Result<(u32, Option<Duration>), ConfigError> {
        let p = &self.conn_pool;
        let to_u32 = |field: &str, v: i64, default: u32| -> Result<u32, ConfigError> {
            if v <= 0 {
                Ok(default)
            } else {
                u32::try_from(v).map_err(|_| ConfigError::field(field, "is too large"))
            }
        };
        let max_idle = to_u32(
            "connPool.maxIdleConns",
            p.max_idle_conns,
            DEFAULT_MAX_IDLE_CONNS,
        )?;
        let max_open = to_u32(
            "connPool.maxOpenConns",
            p.max_open_conns,
            DEFAULT_MAX_OPEN_CONNS,
        )?;
        if max_open < max_idle {
            return Err(ConfigError::field(
                "connPool.maxIdleConns",
                format!("{max_idle} is bigger than connPool.maxOpenConns ({max_open})"),
            ));
        }
        let lifetime = match p.conn_max_lifetime.as_deref() {
            None => None,
            Some(s) => {
                let d = parse_go_duration(s)
                    .map_err(|e| ConfigError::field("connPool.connMaxLifetime", e))?;
                (!d.is_zero()).then_some(d)
            }
        };
        Ok((max_open, lifetime))
    }

    fn log_settings(&self) -> Result<LogSettings, ConfigError> {
        use log::LevelFilter;
        let Some(l) = &self.log else {
            return Ok(LogSettings {
                statements: LevelFilter::Trace,
                slow: LevelFilter::Warn,
                slow_threshold: DEFAULT_SLOW_THRESHOLD,
            });
        };
        let slow_threshold = match l.slow_threshold.as_deref() {
            None => DEFAULT_SLOW_THRESHOLD,
            Some(s) => {
                parse_go_duration(s).map_err(|e| ConfigError::field("log.slowThreshold", e))?
            }
        };
        // gorm's levels: Info logs every statement, Warn slow ones, Error and Silent none.
        let (statements, slow) = match l.level.as_str() {
            "Silent" => (LevelFilter::Off, LevelFilter::Off),
            "Error" => (LevelFilter::Off, LevelFilter::Off),
            "" | "Warn" => (LevelFilter::Trace, LevelFilter::Warn),
            "Info" => (LevelFilter::Info, LevelFilter::Warn),
            other => {
                return Err(ConfigError::field(
                    "log.level",
                    format!("{other:?} is not one of Silent, Error, Warn, Info"),
                ));
            }
        };
        let slow = if slow_threshold.is_zero() {
            LevelFilter::Off
        } else {
            slow
        };
        Ok(LogSettings {
            statements,
            slow,
            slow_threshold,
        })
    }

    /// The `mysql`/`postgres` blocks: the keys we can honour are applied, the rest are
    /// accepted and logged as ignored (Go driver tuning that has no sqlx counterpart).
    fn check_dialect_blocks(
        &self,
        dialect: Dialect,
        max_statement_bytes: &mut usize,
        recoverable: &mut Vec<String>,
    ) -> Result<(), ConfigError> {
        if let Some(block) = &self.mysql {
            for (key, value) in block {
                match key.as_str() {
                    "maxAllowedPacket" if dialect == Dialect::MySql => {
                        let n = value.as_i64().filter(|n| *n > 0).ok_or_else(|| {
                            ConfigError::field(
                                "mysql.maxAllowedPacket",
                                "must be a positive number of bytes",
                            )
                        })?;
                        // Leave room for the statement text and protocol overhead.
                        let n = usize::try_from(n).unwrap_or(usize::MAX);
                        *max_statement_bytes = (n / 2).clamp(64 << 10, DEFAULT_MAX_STATEMENT_BYTES);
                    }
                    "recoverableErrNumbers" if dialect == Dialect::MySql => {
                        let list = value.as_sequence().ok_or_else(|| {
                            ConfigError::field(
                                "mysql.recoverableErrNumbers",
                                "must be a list of numbers",
                            )
                        })?;
                        for v in list {
                            let n = v.as_i64().ok_or_else(|| {
                                ConfigError::field(
                                    "mysql.recoverableErrNumbers",
                                    "must be a list of numbers",
                                )
                            })?;
                            recoverable.push(n.to_string());
                        }
                    }
                    other => tracing::info!(
                        key = other,
                        "internal storage: ignoring mysql.{other}: a Go driver option without effect here"
                    ),
                }
            }
        }
        if let Some(block) = &self.postgres {
            for (key, value) in block {
                match key.as_str() {
                    "recoverableErrCodes" if dialect == Dialect::Postgres => {
                        let list = value.as_sequence().ok_or_else(|| {
                            ConfigError::field(
                                "postgres.recoverableErrCodes",
                                "must be a list of SQLSTATE codes",
                            )
                        })?;
                        for v in list {
                            let code = match v {
                                serde_yaml_ng::Value::String(s) => s.clone(),
                                serde_yaml_ng::Value::Number(n) => n.to_string(),
                                _ => {
                                    return Err(ConfigError::field(
                                        "postgres.recoverableErrCodes",
                                        "must be a list of SQLSTATE codes",
                                    ));
                                }
                            };
                            recoverable.push(code);
                        }
                    }
                    other => tracing::info!(
                        key = other,
                        "internal storage: ignoring postgres.{other}: an option without effect here"
                    ),
                }
            }
        }
        if self.metrics.is_some() {
            tracing::info!("internal storage: the metrics block is accepted but not used");
        }
        if let Some(l) = &self.log
            && (l.logger.is_some() || l.stdout || l.colorful)
        {
            tracing::info!(
                "internal storage: log.stdout, log.colorful and log.logger are ignored; statements are logged through tracing"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
