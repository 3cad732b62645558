//! Query plans on MariaDB/MySQL: field selectors on indexed paths, negated and unmatched
//! ones included, read `pedia_fields` through its indexes, never evaluate the stored JSON
//! and never scan the whole objects table.

mod common;

use pedia_core::{GroupVersionResource, ListOptions};
use pedia_storage::StorageFactory;
use serde_json::Value;
use sqlx::{Connection, Executor};
use storage_internal::{InternalStorage, InternalStorageConfig};

/// Pods among other objects, as in a real cluster: `PODS` pods (1% `Pending`, 1% without
/// a status, the rest `Running`, on 20 nodes) and four times as many config maps.
const PODS: i64 = 20_000;

async fn load(cfg: &InternalStorageConfig) {
    let mut admin = sqlx::MySqlConnection::connect(&cfg.dsn)
        .await
        .unwrap_or_else(|e| panic!("MySQL test database: {e}"));
    let others = 4 * PODS;
    let columns = "id, grp, version, resource, kind, cluster, namespace, name, uid, owner_uid, \
        resource_version, rv_num, created_at, revision, content_hash, labels_hash, object, synced_at";
    let statements = [
        format!(
            "INSERT INTO pedia_resources ({columns}) \
             SELECT seq, '', 'v1', 'pods', 'Pod', 'c1', CONCAT('ns-', seq % 50), CONCAT('pod-', seq), CONCAT('uid-', seq), '', \
             CAST(seq AS CHAR), seq, 1700000000000 + seq * 1000, seq, seq, 0, \
             JSON_OBJECT('apiVersion', 'v1', 'kind', 'Pod', 'metadata', JSON_OBJECT( \
               'name', CONCAT('pod-', seq), 'namespace', CONCAT('ns-', seq % 50), 'uid', CONCAT('uid-', seq), 'resourceVersion', CAST(seq AS CHAR)), \
             'spec', JSON_OBJECT('nodeName', CONCAT('node-', seq % 20), 'restartPolicy', 'Always', \
               'schedulerName', 'default-scheduler', 'serviceAccountName', 'default', \
               'containers', JSON_ARRAY(JSON_OBJECT('name', 'app', 'args', REPEAT('x', 600)))), \
             'status', IF(seq % 100 = 1, JSON_OBJECT(), JSON_OBJECT( \
               'phase', IF(seq % 100 = 0, 'Pending', 'Running'), 'podIP', CONCAT('10.0.0.', seq % 250)))), 0 \
             FROM seq_1_to_{PODS}"
        ),
        format!(
            "INSERT INTO pedia_resources ({columns}) \
             SELECT seq, '', 'v1', 'configmaps', 'ConfigMap', 'c1', CONCAT('ns-', seq % 50), CONCAT('cm-', seq), CONCAT('uid-', seq), '', \
             CAST(seq AS CHAR), seq, 1700000000000 + seq * 1000, seq, seq, 0, \
             JSON_OBJECT('apiVersion', 'v1', 'kind', 'ConfigMap', 'metadata', JSON_OBJECT( \
               'name', CONCAT('cm-', seq), 'namespace', CONCAT('ns-', seq % 50), 'uid', CONCAT('uid-', seq), 'resourceVersion', CAST(seq AS CHAR)), \
             'data', JSON_OBJECT('k', REPEAT('y', 600))), 0 \
             FROM seq_{}_to_{}",
            PODS + 1,
            PODS + others
        ),
        format!("UPDATE pedia_meta SET revision = {} WHERE id = 1", PODS + others),
        "INSERT INTO pedia_cluster_resources VALUES ('c1', '', 'v1', 'pods', 'Pod', 1), ('c1', '', 'v1', 'configmaps', 'ConfigMap', 1)".to_owned(),
        // The field index is built the way an upgrade builds it: from the stored objects
        // by the migration, on the next open.
        "DROP TABLE pedia_fields".to_owned(),
        "DELETE FROM pedia_schema_migrations WHERE description = 'indexed field values'"
            .to_owned(),
        "ANALYZE TABLE pedia_resources".to_owned(),
    ];
    for sql in statements {
        admin
            .execute(sqlx::AssertSqlSafe(sql))
            .await
            .unwrap_or_else(|e| panic!("loading test data: {e}"));
    }
    let _ = admin.close().await;
    let reopened = InternalStorage::connect(cfg)
        .await
        .unwrap_or_else(|e| panic!("{}", e.detail()));
    reopened.shutdown().await.expect("shutdown");
}

/// Every table access of a MariaDB/MySQL JSON plan: (table name, access type, key).
fn accesses(plan: &Value, out: &mut Vec<(String, String, String)>) {
    match plan {
        Value::Object(map) => {
            if let (Some(Value::String(table)), Some(Value::String(access))) =
                (map.get("table_name"), map.get("access_type"))
            {
                let key = map.get("key").and_then(Value::as_str).unwrap_or("");
                out.push((table.clone(), access.clone(), key.to_owned()));
            }
            map.values().for_each(|v| accesses(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| accesses(v, out)),
        _ => {}
    }
}

#[test]
fn field_selector_plans_use_the_field_index() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let (cfg, db) = common::mysql_config().await;
        let storage = InternalStorage::connect(&cfg)
            .await
            .unwrap_or_else(|e| panic!("{}", e.detail()));
        storage.shutdown().await.expect("shutdown");
        load(&cfg).await;
        let storage = InternalStorage::connect(&cfg)
            .await
            .unwrap_or_else(|e| panic!("{}", e.detail()));
        let pods = GroupVersionResource::new("", "v1", "pods");
        let resource = storage
            .resource_storage(&pedia_core::ResourceType::new(pods.clone(), "Pod", true))
            .await
            .expect("storage");

        let pending = usize::try_from(PODS / 100).expect("count");
        // (selector, items of the full list).
        let cases = [
            ("status.phase!=Running", 2 * pending),
            ("status.phase notin (Running,Pending)", pending),
            ("!status.phase", pending),
            ("spec.nodeName!=node-0,status.phase!=Running", pending),
            ("status.phase=Unknown", 0),
            ("status.phase in (Unknown,Failed)", 0),
        ];
        for (selector, expected) in cases {
            let encoded = selector
                .replace('!', "%21")
                .replace('=', "%3D")
                .replace(' ', "%20")
                .replace(',', "%2C");
            for query in [
                format!("fieldSelector={encoded}&limit=500"),
                format!("fieldSelector={encoded}"),
            ] {
                let opts = ListOptions::from_query(&query).expect("query");
                let text = storage.explain_list(&pods, &opts).await.expect("explain");
                eprintln!("{query}:\n{text}");
                let plan: Value = serde_json::from_str(&text).expect("a JSON plan");
                let mut seen = Vec::new();
                accesses(&plan, &mut seen);
                assert!(
                    seen.iter().any(|(t, access, key)| t == "f"
                        && access != "ALL"
                        && (key == "PRIMARY" || key.starts_with("pedia_fields_"))),
                    "{query}: no index of pedia_fields is used: {seen:?}"
                );
                // `<derived2>` is the page of ids (at most limit + 1 rows) that the page
                // query joins the objects to. A whole list is read in keyset batches,
                // each planned like a page.
                assert!(
                    seen.iter()
                        .all(|(t, access, _)| t.starts_with('<') || access != "ALL"),
                    "{query}: a full table scan: {seen:?}\n{text}"
                );
                let lower = text.to_lowercase();
                assert!(
                    !lower.contains("json_extract") && !lower.contains("json_type"),
                    "{query}: the stored JSON is evaluated:\n{text}"
                );
                let listed = resource.list(&opts).await.expect("list");
                assert_eq!(listed.items.len(), expected.min(500), "{query}");
            }
        }
        storage.shutdown().await.expect("shutdown");
        common::drop_mysql_database(db).await;
    });
}
