//! Database errors as storage errors: which failures are worth retrying, and what a
//! client and an operator are told (never the DSN or the password).

use pedia_plugin_api::pedia_storage::StorageError;
use sqlx::mysql::MySqlDatabaseError;

use crate::config::redact_urls;

/// Maps a database error to the storage error kinds: lost connections, exhausted pools,
/// lock timeouts and deadlocks are `Unavailable` (worth retrying: the transaction was
/// rolled back whole); the rest is `Internal`. The
/// client-facing message names what was being done, never the DSN; the cause is kept
/// for logs.
pub(crate) fn db_error(context: &str, err: sqlx::Error) -> StorageError {
    let transient = match &err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => match db.try_downcast_ref::<MySqlDatabaseError>() {
            // MySQL's SQLSTATEs are coarse (a lock wait timeout is `HY000`); its error
            // numbers are precise.
            Some(my) => is_transient_mysql_number(my.number()),
            None => db.code().is_some_and(|code| is_transient_code(&code)),
        },
        _ => false,
    };
    if transient {
        StorageError::unavailable(format!("{context}: the database is unavailable"))
            .with_source(err)
    } else {
        StorageError::internal(context.to_owned(), err)
    }
}

/// PostgreSQL SQLSTATEs (always five characters) of connection loss (08), resource
/// exhaustion (53), shutdown (57P0x), serialization failure and deadlock (40001, 40P01)
/// and lock timeout (55P03); SQLite's BUSY and LOCKED.
fn is_transient_code(code: &str) -> bool {
    if code.len() == 5 {
        return code.starts_with("08")
            || code.starts_with("53")
            || code.starts_with("57P0")
            || matches!(code, "40001" | "40P01" | "55P03");
    }
    is_sqlite_lock_code(code)
}

/// MySQL/MariaDB error numbers worth retrying: too many connections (1040), server
/// shutdown (1053), lock wait timeout (1205), deadlock (1213), and lost connections
/// (2002, 2003, 2006, 2013).
fn is_transient_mysql_number(number: u16) -> bool {
    matches!(
        number,
        1040 | 1053 | 1205 | 1213 | 2002 | 2003 | 2006 | 2013
    )
}

/// SQLite's numeric BUSY and LOCKED (primary codes 5 and 6, in any extended form).
pub(super) fn is_sqlite_lock_code(code: &str) -> bool {
    code.len() < 5 && code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6))
}

/// A connection failure at start-up, with the driver's reason (which names neither the
/// DSN nor the password) so an operator can act on it. A server that refuses the
/// credentials (SQLSTATE class 28) or has no such database (3D000) is a config problem,
/// `BadRequest`; anything else is `Unavailable`.
pub(super) fn connect_error(what: &str, err: sqlx::Error) -> StorageError {
    let reason = redact_urls(&err.to_string());
    let message = format!("sample-storage-layer cannot connect to the {what} database: {reason}");
    let rejected = match &err {
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("28") || c == "3D000"),
        _ => false,
    };
    if rejected {
        StorageError::bad_request(message).with_source(err)
    } else {
        StorageError::unavailable(message).with_source(err)
    }
}

pub(super) fn config_error(what: &str, err: sqlx::Error) -> StorageError {
    let reason = redact_urls(&err.to_string());
    StorageError::bad_request(format!(
        "invalid `dsn` for the {what} database in the sample-storage-layer config: {reason}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_codes() {
        for code in ["08006", "53300", "57P01", "5", "517", "6", "262"] {
            assert!(is_transient_code(code), "{code}");
        }
        for code in ["23505", "42P01", "1", "19", "2067"] {
            assert!(!is_transient_code(code), "{code}");
        }
    }

    #[test]
    fn rolled_back_transactions_are_worth_retrying() {
        for code in ["40001", "40P01", "55P03", "08006", "57P01", "5", "517"] {
            assert!(is_transient_code(code), "{code}");
        }
        for code in ["23505", "42P01", "22001", "19"] {
            assert!(!is_transient_code(code), "{code}");
        }
        for number in [1205, 1213, 2013] {
            assert!(is_transient_mysql_number(number), "{number}");
        }
        // Duplicate key, unknown column, data too long: retrying changes nothing.
        for number in [1062, 1054, 1406] {
            assert!(!is_transient_mysql_number(number), "{number}");
        }
    }
}
