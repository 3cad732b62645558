//! The schema: embedded migrations, one set per dialect, and the migrator that applies
//! them on open under a database-wide lock, so two processes opening one database at
//! once neither race nor fail. (sqlx's `Migrator` takes no lock on SQLite, hence ours.)

use pedia_storage::StorageError;

use crate::db::{Conn, Dialect, ErrorMap, Pool, Ty};
use crate::sql::{Sql, SqlBuilder};

struct Migration {
    version: i64,
    description: &'static str,
    sql: &'static str,
    /// Work in Rust after the statements, on the same connection (transaction).
    backfill: Option<Backfill>,
}

#[derive(Debug, Clone, Copy)]
enum Backfill {
    /// Fills `pedia_fields` from the stored objects.
    Fields,
}

const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        description: "init",
        sql: include_str!("../migrations/sqlite/0001_init.sql"),
        backfill: None,
    },
    Migration {
        version: 2,
        description: "writer epochs",
        sql: include_str!("../migrations/sqlite/0002_writer_epochs.sql"),
        backfill: None,
    },
    Migration {
        version: 3,
        description: "indexed field values",
        sql: include_str!("../migrations/sqlite/0003_fields.sql"),
        backfill: Some(Backfill::Fields),
    },
];

const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        description: "init",
        sql: include_str!("../migrations/postgres/0001_init.sql"),
        backfill: None,
    },
    Migration {
        version: 2,
        description: "writer epochs",
        sql: include_str!("../migrations/postgres/0002_writer_epochs.sql"),
        backfill: None,
    },
    Migration {
        version: 3,
        description: "indexed field values",
        sql: include_str!("../migrations/postgres/0003_fields.sql"),
        backfill: Some(Backfill::Fields),
    },
];

const MYSQL: &[Migration] = &[
    Migration {
        version: 1,
        description: "init",
        sql: include_str!("../migrations/mysql/0001_init.sql"),
        backfill: None,
    },
    Migration {
        version: 2,
        description: "covering created index",
        sql: include_str!("../migrations/mysql/0002_covering_created_index.sql"),
        backfill: None,
    },
    Migration {
        version: 3,
        description: "writer epochs",
        sql: include_str!("../migrations/mysql/0003_writer_epochs.sql"),
        backfill: None,
    },
    Migration {
        version: 4,
        description: "indexed field values",
        sql: include_str!("../migrations/mysql/0004_fields.sql"),
        backfill: Some(Backfill::Fields),
    },
];

fn migrations(dialect: Dialect) -> &'static [Migration] {
    match dialect {
        Dialect::Sqlite => SQLITE,
        Dialect::Postgres => POSTGRES,
        Dialect::MySql => MYSQL,
    }
}

/// The statements of a migration file: `--` comment lines dropped, split at `;` ending a
/// line. (Our migration files keep every `;` at a line end and none inside literals.)
fn statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in sql.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("--") || trimmed.is_empty() {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if trimmed.ends_with(';') {
            let stmt = current.trim().trim_end_matches(';').trim().to_owned();
            if !stmt.is_empty() {
                out.push(stmt);
            }
            current.clear();
        }
    }
    let rest = current.trim();
    if !rest.is_empty() {
        out.push(rest.to_owned());
    }
    out
}

fn checksum(sql: &str) -> String {
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(sql.as_bytes()))
}

/// Brings the database schema up to date.
pub(crate) async fn migrate(pool: &Pool, errors: &ErrorMap) -> Result<(), StorageError> {
    let ctx = "preparing the database schema";
    let map = |e| errors.map(ctx, e);
    match pool.dialect() {
        Dialect::Sqlite => {
            // BEGIN IMMEDIATE takes the write lock; other processes wait (busy timeout).
            let mut tx = pool.write_tx().await.map_err(map)?;
            apply_pending(tx.as_mut(), Dialect::Sqlite, errors).await?;
            tx.commit().await.map_err(map)
        }
        Dialect::Postgres => {
            // PostgreSQL DDL is transactional; a transaction-scoped advisory lock (keyed by
            // schema, so schemas of one database migrate independently) is released by
            // commit or rollback on every path.
            let mut tx = pool.write_tx().await.map_err(map)?;
            tx.execute(&Sql::raw(
                "SELECT pg_advisory_xact_lock(hashtextextended('pedia_migrate:' || COALESCE(current_schema(), ''), 0))",
            ))
            .await
            .map_err(map)?;
            apply_pending(tx.as_mut(), Dialect::Postgres, errors).await?;
            tx.commit().await.map_err(map)
        }
        Dialect::MySql => {
            // MySQL DDL commits implicitly, so a session lock guards the whole run; the
            // migration statements are idempotent for a rerun after a partial failure.
            let mut conn = pool.conn().await.map_err(map)?;
            let rows = conn
                .fetch(
                    &Sql::raw("SELECT GET_LOCK(CONCAT('pedia_migrate:', DATABASE()), 120)"),
                    &[Ty::I64],
                )
                .await
                .map_err(map)?;
            if rows.first().and_then(|r| r.opt_i64(0).ok().flatten()) != Some(1) {
                return Err(StorageError::unavailable(
                    "timed out waiting for another process to finish migrating the mysql database",
                ));
            }
            let result = apply_pending(conn.as_mut(), Dialect::MySql, errors).await;
            let _ = conn
                .fetch(
                    &Sql::raw("SELECT RELEASE_LOCK(CONCAT('pedia_migrate:', DATABASE()))"),
                    &[Ty::I64],
                )
                .await;
            result
        }
    }
}

async fn apply_pending(
    conn: &mut dyn Conn,
    dialect: Dialect,
    errors: &ErrorMap,
) -> Result<(), StorageError> {
    let map = |e| errors.map("preparing the database schema", e);
    let engine = if dialect == Dialect::MySql {
        " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
    } else {
        ""
    };
    conn.execute(&Sql::raw(format!(
        "CREATE TABLE IF NOT EXISTS pedia_schema_migrations (\
         version BIGINT PRIMARY KEY, description VARCHAR(255) NOT NULL, \
         checksum VARCHAR(64) NOT NULL, applied_at BIGINT NOT NULL){engine}"
    )))
    .await
    .map_err(map)?;
    let applied = conn
        .fetch(
            &Sql::raw("SELECT version, checksum FROM pedia_schema_migrations ORDER BY version"),
            &[Ty::I64, Ty::Text],
        )
        .await
        .map_err(map)?;
    let known = migrations(dialect);
    let newest = known.last().map_or(0, |m| m.version);
    let mut done = Vec::new();
    for row in &applied {
        let version = row.i64(0)?;
        let Some(m) = known.iter().find(|m| m.version == version) else {
            return Err(StorageError::internal(
                "preparing the database schema",
                std::io::Error::other(format!(
                    "the database has schema version {version}, newer than this build knows ({newest}); upgrade this program"
                )),
            ));
        };
        if row.text(1)? != checksum(m.sql) {
            return Err(StorageError::internal(
                "preparing the database schema",
                std::io::Error::other(format!(
                    "schema migration {version} ({}) differs from the one applied to this database",
                    m.description
                )),
            ));
        }
        done.push(version);
    }
    for m in known.iter().filter(|m| !done.contains(&m.version)) {
        for stmt in statements(m.sql) {
            conn.execute(&Sql::raw(stmt)).await.map_err(map)?;
        }
        match m.backfill {
            Some(Backfill::Fields) => crate::write::backfill_fields(conn, dialect, errors).await?,
            None => {}
        }
        let mut b = SqlBuilder::new(dialect);
        b.push("INSERT INTO pedia_schema_migrations (version, description, checksum, applied_at) VALUES (")
            .bind_i64(m.version)
            .push(", ")
            .bind_text(m.description)
            .push(", ")
            .bind_text(&checksum(m.sql))
            .push(", ")
            .bind_i64(crate::now_millis())
            .push(")");
        conn.execute(&b.finish()).await.map_err(map)?;
        tracing::info!(
            version = m.version,
            dialect = %dialect,
            "internal storage: applied schema migration {}",
            m.description
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_splits_into_statements() {
        for dialect in [Dialect::Sqlite, Dialect::Postgres, Dialect::MySql] {
            for m in migrations(dialect) {
                let stmts = statements(m.sql);
                let least = if m.version == 1 { 5 } else { 1 };
                assert!(stmts.len() >= least, "{dialect}: {stmts:?}");
                assert!(
                    stmts
                        .iter()
                        .all(|s| !s.contains(";\n") && !s.starts_with("--"))
                );
            }
        }
    }
}
