//! The ingest ceiling: the same pods, as kube-sim serves them, turned into stored rows by
//! the fastest straightforward path with no API in between — serde_json parse, the same
//! pruning and cluster annotation the manager applies, then a bulk write into one plain
//! table (primary key only, no label or owner indexes): a HashMap for memory, multi-row
//! INSERTs in 500-row transactions for SQLite and MariaDB, one COPY for PostgreSQL.
//! Parsing runs on every core while one connection writes, so the sync's throughput can
//! be shown as a fraction of what the machine and database can take.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::{Context, Result};
use bytes::Bytes;
use pedia_testkit::databases::{MyDatabase, PgSchema};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection, Executor};
use tokio::sync::mpsc;

/// Rows per INSERT statement / transaction.
const BATCH: usize = 500;

/// The ceiling of one backend.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Ceiling {
    pub(crate) backend: String,
    pub(crate) objects: usize,
    pub(crate) seconds: f64,
    pub(crate) objects_per_s: f64,
}

/// One object ready to store: the key columns, labels as JSON, the pruned bytes.
#[derive(Debug)]
struct Row {
    cluster: String,
    namespace: String,
    name: String,
    uid: String,
    resource_version: String,
    created_at: String,
    labels: String,
    object: Vec<u8>,
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// Parse, prune and annotate as `synchro_writer::prepare` does, extract the columns.
fn row(raw: &[u8], cluster: &str) -> Result<Row> {
    let mut v: Value = serde_json::from_slice(raw)?;
    let meta = v
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
        .context("an object without metadata")?;
    meta.remove("managedFields");
    let annotations = meta.entry("annotations").or_insert_with(|| json!({}));
    if let Some(a) = annotations.as_object_mut() {
        a.remove(synchro_writer::prepare::LAST_APPLIED_ANNOTATION);
        a.insert(
            pedia_core::CLUSTER_NAME_ANNOTATION.to_owned(),
            json!(cluster),
        );
    }
    let m = &v["metadata"];
    Ok(Row {
        cluster: cluster.to_owned(),
        namespace: text(&m["namespace"]),
        name: text(&m["name"]),
        uid: text(&m["uid"]),
        resource_version: text(&m["resourceVersion"]),
        created_at: text(&m["creationTimestamp"]),
        labels: m["labels"].to_string(),
        object: serde_json::to_vec(&v)?,
    })
}

/// Parses `inputs` (cluster name, raw objects) on every core into batches of rows.
fn parse_all(inputs: &[(String, Vec<Bytes>)]) -> mpsc::Receiver<Result<Vec<Row>>> {
    let (tx, rx) = mpsc::channel(16);
    let work: Vec<(String, Bytes)> = inputs
        .iter()
        .flat_map(|(c, objs)| objs.iter().map(move |o| (c.clone(), o.clone())))
        .collect();
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let per = work.len().div_ceil(workers).max(1);
    let chunks: Vec<Vec<(String, Bytes)>> = work.chunks(per).map(<[_]>::to_vec).collect();
    for chunk in chunks {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for batch in chunk.chunks(BATCH) {
                let rows: Result<Vec<Row>> = batch.iter().map(|(c, raw)| row(raw, c)).collect();
                if tx.blocking_send(rows).is_err() {
                    return;
                }
            }
        });
    }
    rx
}

/// Runs the ceiling of `backend` (`memory`, `sqlite`, `postgres`, `mysql`).
pub(crate) async fn measure(
    backend: &str,
    inputs: &[(String, Vec<Bytes>)],
    dir: &std::path::Path,
) -> Result<Ceiling> {
    let objects: usize = inputs.iter().map(|(_, o)| o.len()).sum();
    let (seconds, written) = match backend {
        "memory" => memory(inputs).await,
        "sqlite" => sqlite(inputs, dir).await?,
        "postgres" => postgres(inputs).await?,
        "mysql" => mysql(inputs).await?,
        other => anyhow::bail!("no ceiling for backend {other:?}"),
    };
    anyhow::ensure!(
        written == objects,
        "{backend} ceiling wrote {written} of {objects} objects"
    );
    Ok(Ceiling {
        backend: backend.to_owned(),
        objects,
        seconds,
        objects_per_s: objects as f64 / seconds,
    })
}

async fn memory(inputs: &[(String, Vec<Bytes>)]) -> (f64, usize) {
    let started = Instant::now();
    let mut rx = parse_all(inputs);
    let mut map: HashMap<(String, String, String), Row> = HashMap::new();
    while let Some(batch) = rx.recv().await {
        for row in batch.into_iter().flatten() {
            map.insert(
                (row.cluster.clone(), row.namespace.clone(), row.name.clone()),
                row,
            );
        }
    }
    (started.elapsed().as_secs_f64(), map.len())
}

const COLUMNS: &str = "cluster, namespace, name, uid, resource_version, created_at, labels, object";

/// `INSERT INTO ceiling (...) VALUES (?, ...), ...` for `n` rows.
fn insert_sql(n: usize, numbered: bool) -> String {
    let mut sql = format!("INSERT INTO ceiling ({COLUMNS}) VALUES ");
    for i in 0..n {
        if i > 0 {
            sql.push(',');
        }
        sql.push('(');
        for j in 0..8 {
            if j > 0 {
                sql.push(',');
            }
            if numbered {
                sql.push_str(&format!("${}", i * 8 + j + 1));
            } else {
                sql.push('?');
            }
        }
        sql.push(')');
    }
    sql
}

async fn sqlite(inputs: &[(String, Vec<Bytes>)], dir: &std::path::Path) -> Result<(f64, usize)> {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
    // The durability the internal layer runs SQLite with: WAL, synchronous=NORMAL.
    let options = SqliteConnectOptions::new()
        .filename(dir.join("ceiling.db"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal);
    let mut conn = sqlx::SqliteConnection::connect_with(&options).await?;
    conn.execute(
        "CREATE TABLE ceiling (cluster TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL, \
         uid TEXT NOT NULL, resource_version TEXT NOT NULL, created_at TEXT NOT NULL, labels TEXT NOT NULL, \
         object BLOB NOT NULL, PRIMARY KEY (cluster, namespace, name))",
    )
    .await?;
    let started = Instant::now();
    let mut rx = parse_all(inputs);
    let mut written = 0;
    while let Some(batch) = rx.recv().await {
        let batch = batch?;
        let sql = insert_sql(batch.len(), false);
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for r in batch {
            q = q
                .bind(r.cluster)
                .bind(r.namespace)
                .bind(r.name)
                .bind(r.uid)
                .bind(r.resource_version)
                .bind(r.created_at)
                .bind(r.labels)
                .bind(r.object);
        }
        let mut tx = conn.begin().await?;
        written += q.execute(&mut *tx).await?.rows_affected() as usize;
        tx.commit().await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    conn.close().await?;
    Ok((seconds, written))
}

/// COPY text format: backslash, newline, carriage return and tab escaped.
fn copy_field(out: &mut Vec<u8>, value: &[u8]) {
    for &b in value {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => out.push(b),
        }
    }
}

/// A bytea value in COPY text: hex format, its backslash escaped for COPY.
fn copy_bytea(out: &mut Vec<u8>, value: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(b"\\\\x");
    for &b in value {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 15)]);
    }
}

async fn postgres(inputs: &[(String, Vec<Bytes>)]) -> Result<(f64, usize)> {
    let schema = PgSchema::create("pedia_ceiling").await;
    let result = async {
        let mut conn = sqlx::PgConnection::connect(&schema.url).await?;
        conn.execute(AssertSqlSafe(format!(
            "SET search_path TO \"{}\"",
            schema.schema
        )))
        .await?;
        // The internal layer's column types: "C"-collated keys, the object as bytea.
        conn.execute(
            "CREATE TABLE ceiling (cluster VARCHAR(255) COLLATE \"C\" NOT NULL, \
             namespace VARCHAR(255) COLLATE \"C\" NOT NULL, name VARCHAR(255) COLLATE \"C\" NOT NULL, \
             uid TEXT NOT NULL, resource_version TEXT NOT NULL, created_at TEXT NOT NULL, labels TEXT NOT NULL, \
             object BYTEA NOT NULL, PRIMARY KEY (cluster, namespace, name))",
        )
        .await?;
        let started = Instant::now();
        let mut rx = parse_all(inputs);
        let mut copy = conn
            .copy_in_raw(&format!("COPY ceiling ({COLUMNS}) FROM STDIN"))
            .await?;
        let mut buf = Vec::new();
        while let Some(batch) = rx.recv().await {
            buf.clear();
            for r in batch? {
                for field in [
                    &r.cluster,
                    &r.namespace,
                    &r.name,
                    &r.uid,
                    &r.resource_version,
                    &r.created_at,
                    &r.labels,
                ] {
                    copy_field(&mut buf, field.as_bytes());
                    buf.push(b'\t');
                }
                copy_bytea(&mut buf, &r.object);
                buf.push(b'\n');
            }
            copy.send(buf.as_slice()).await?;
        }
        let written = copy.finish().await? as usize;
        let seconds = started.elapsed().as_secs_f64();
        conn.close().await?;
        anyhow::Ok((seconds, written))
    }
    .await;
    schema.drop_schema().await;
    result
}

async fn mysql(inputs: &[(String, Vec<Bytes>)]) -> Result<(f64, usize)> {
    let db = MyDatabase::create("pedia_ceiling").await;
    let result = async {
        let mut conn = sqlx::MySqlConnection::connect(&db.url).await?;
        // The internal layer's table options: InnoDB, binary collation, LONGBLOB objects.
        conn.execute(
            "CREATE TABLE ceiling (cluster VARCHAR(255) NOT NULL, namespace VARCHAR(255) NOT NULL, \
             name VARCHAR(255) NOT NULL, uid VARCHAR(255) NOT NULL, resource_version VARCHAR(64) NOT NULL, \
             created_at VARCHAR(64) NOT NULL, labels TEXT NOT NULL, object LONGBLOB NOT NULL, \
             PRIMARY KEY (cluster, namespace, name)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
        )
        .await?;
        let started = Instant::now();
        let mut rx = parse_all(inputs);
        let mut written = 0;
        while let Some(batch) = rx.recv().await {
            let batch = batch?;
            let sql = insert_sql(batch.len(), false);
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for r in batch {
                q = q
                    .bind(r.cluster)
                    .bind(r.namespace)
                    .bind(r.name)
                    .bind(r.uid)
                    .bind(r.resource_version)
                    .bind(r.created_at)
                    .bind(r.labels)
                    .bind(r.object);
            }
            let mut tx = conn.begin().await?;
            written += q.execute(&mut *tx).await?.rows_affected() as usize;
            tx.commit().await?;
        }
        let seconds = started.elapsed().as_secs_f64();
        conn.close().await?;
        anyhow::Ok((seconds, written))
    }
    .await;
    db.drop_database().await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes() {
        let mut out = Vec::new();
        copy_field(&mut out, b"a\\b\tc\nd");
        assert_eq!(out, b"a\\\\b\\tc\\nd");
        out.clear();
        copy_bytea(&mut out, b"{}");
        assert_eq!(out, b"\\\\x7b7d");
    }

    #[test]
    fn rows_are_pruned_and_annotated() {
        let raw =
            br#"{"metadata":{"name":"p","namespace":"n","managedFields":[{}],"labels":{"a":"b"}}}"#;
        let r = row(raw, "c1").expect("row");
        assert_eq!((r.namespace.as_str(), r.name.as_str()), ("n", "p"));
        let v: Value = serde_json::from_slice(&r.object).expect("json");
        assert!(v["metadata"].get("managedFields").is_none());
        assert_eq!(
            v["metadata"]["annotations"][pedia_core::CLUSTER_NAME_ANNOTATION],
            "c1"
        );
        assert_eq!(r.labels, r#"{"a":"b"}"#);
        assert_eq!(insert_sql(2, true).matches('$').count(), 16);
    }
}
