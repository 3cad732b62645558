//! Wake-ups for the watch poller, so a committed write is read from the change feed at
//! once instead of at the next poll. The change feed (the tables) stays the source of
//! truth; a wake-up carries nothing and a lost one only delays until the fallback poll.
//! - In one process, every storage handle on the same database shares one revision
//!   notifier ([`shared`]), so a writer wakes the watchers of other handles too (manager
//!   and apiserver built into one binary open one handle each).
//! - PostgreSQL writers send a payload-free `NOTIFY` in each write transaction (delivered
//!   at commit, never for a rolled-back batch) on a channel named after the database and
//!   schema, so two deployments in one database do not wake each other; each handle with
//!   watches holds one `LISTEN` connection ([`spawn_listener`]) and reconnects it when it
//!   dies.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use pedia_storage::Revision;
use tokio::sync::watch;

use crate::db::{Pool, Ty};
use crate::sql::Sql;
use crate::state::Inner;

/// The first wait before reconnecting a failed `LISTEN` connection; doubles up to
/// [`RECONNECT_MAX`].
const RECONNECT_MIN: Duration = Duration::from_millis(100);
const RECONNECT_MAX: Duration = Duration::from_secs(5);

/// The revision notifier of one database in this process.
pub(crate) type Feed = watch::Sender<Revision>;

/// Notifiers by database identity; entries die with their last handle.
static FEEDS: Mutex<Option<HashMap<String, Weak<Feed>>>> = Mutex::new(None);

/// This process's notifier for the database identified by `key`.
pub(crate) fn shared(key: &str) -> Arc<Feed> {
    let mut feeds = FEEDS.lock().unwrap_or_else(PoisonError::into_inner);
    let feeds = feeds.get_or_insert_with(HashMap::new);
    feeds.retain(|_, f| f.strong_count() > 0);
    if let Some(feed) = feeds.get(key).and_then(Weak::upgrade) {
        return feed;
    }
    let feed = Arc::new(watch::Sender::new(0));
    feeds.insert(key.to_owned(), Arc::downgrade(&feed));
    feed
}

/// A key of [`shared`] no other handle has (a handle that acts as another process's).
pub(crate) fn apart(key: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{key}#apart-{n}")
}

/// What identifies the connected database: the key of [`shared`] and, on PostgreSQL, the
/// `NOTIFY` channel. `None` when the database has no stable identity (SQLite `:memory:`),
/// which gets a notifier of its own.
pub(crate) async fn identity(pool: &Pool) -> Option<(String, Option<String>)> {
    let (sql, prefix) = match pool {
        Pool::Sqlite(_) => (
            "SELECT file FROM pragma_database_list WHERE name = 'main'",
            "sqlite",
        ),
        Pool::Postgres(_) => (
            "SELECT current_database() || '/' || current_schema()",
            "postgres",
        ),
        Pool::MySql(_) => (
            "SELECT CONCAT(@@hostname, ':', @@port, '/', DATABASE())",
            "mysql",
        ),
    };
    let mut conn = pool.conn().await.ok()?;
    let rows = conn.fetch(&Sql::raw(sql), &[Ty::Text]).await.ok()?;
    let name = rows.first()?.text(0).ok()?.to_owned();
    if name.is_empty() {
        return None;
    }
    // A hex digest keeps the channel a plain identifier below PostgreSQL's 63 bytes.
    let channel = matches!(pool, Pool::Postgres(_))
        .then(|| format!("pedia_{:016x}", xxhash_rust::xxh3::xxh3_64(name.as_bytes())));
    Some((format!("{prefix}:{name}"), channel))
}

/// The statement a PostgreSQL writer runs in its transaction to wake listeners.
pub(crate) fn notify_sql(channel: &str) -> Sql {
    Sql::raw(format!("NOTIFY \"{channel}\""))
}

/// Starts the `LISTEN` task of a PostgreSQL handle; the poller aborts it when it stops.
pub(crate) fn spawn_listener(inner: &Arc<Inner>) -> Option<tokio::task::JoinHandle<()>> {
    let (Pool::Postgres(pool), Some(channel)) = (&inner.pool, inner.channel.clone()) else {
        return None;
    };
    let pool = pool.clone();
    let inner = Arc::clone(inner);
    Some(tokio::spawn(async move {
        listen_loop(&inner, &pool, &channel).await;
    }))
}

async fn listen_loop(inner: &Inner, pool: &sqlx::PgPool, channel: &str) {
    let mut backoff = RECONNECT_MIN;
    loop {
        match listen(pool, channel).await {
            Ok(mut listener) => {
                backoff = RECONNECT_MIN;
                // Writes committed before LISTEN took effect sent no notification here:
                // read the feed once now.
                inner.hub.kick.notify_one();
                loop {
                    match listener.try_recv().await {
                        Ok(Some(_)) => inner.hub.kick.notify_one(),
                        // The connection was lost and re-established (LISTEN included);
                        // notifications in between are lost, so read the feed.
                        Ok(None) => inner.hub.kick.notify_one(),
                        // Shutting down: the pool closed under the listener.
                        Err(_) if inner.closed.load(Ordering::Relaxed) => return,
                        Err(err) => {
                            let err = inner.errors.map("listening for changes", err);
                            tracing::warn!(error = %err.detail(), "internal storage: change notifications lost; reconnecting");
                            break;
                        }
                    }
                }
            }
            Err(_) if inner.closed.load(Ordering::Relaxed) => return,
            Err(err) => {
                let err = inner.errors.map("listening for changes", err);
                tracing::warn!(error = %err.detail(), "internal storage: cannot listen for change notifications; retrying");
            }
        }
        // Meanwhile the fallback poll delivers; the reconnect reads the feed again.
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(RECONNECT_MAX);
    }
}

async fn listen(
    pool: &sqlx::PgPool,
    channel: &str,
) -> Result<sqlx::postgres::PgListener, sqlx::Error> {
    let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
    listener.listen(channel).await?;
    Ok(listener)
}
