//! Query plans on PostgreSQL with 100k pods: label-selector pages and owner queries must
//! use their indexes, never a sequential scan of the big tables. Field selectors on
//! indexed paths, negated and unmatched ones included, must read `pedia_fields` through
//! its indexes and never evaluate the stored JSON or scan the objects table.

mod common;

use pedia_core::{GroupVersionResource, ListOptions};
use pedia_storage::StorageFactory;
use sqlx::{Connection, Executor};
use storage_internal::{InternalStorage, InternalStorageConfig};

const PODS: i64 = 100_000;

/// Fills the schema with `PODS` pods over two clusters: 1% labelled `app=payments`,
/// five pods per owning ReplicaSet, objects of realistic size.
async fn load(schema: &str) {
    let mut admin = common::pg_admin().await;
    let statements = [
        format!("SET search_path TO {schema}"),
        format!(
            "INSERT INTO pedia_resources (id, grp, version, resource, kind, cluster, namespace, name, uid, owner_uid, \
             resource_version, rv_num, created_at, revision, content_hash, labels_hash, object, synced_at) \
             SELECT i, '', 'v1', 'pods', 'Pod', 'c' || (i % 2 + 1), 'ns-' || (i % 50), 'pod-' || i, 'uid-' || i, \
             'rs-' || (i / 5), i::text, i, 1700000000000 + i * 1000, i, i, i, \
             convert_to(json_build_object('apiVersion', 'v1', 'kind', 'Pod', 'metadata', json_build_object( \
               'name', 'pod-' || i, 'namespace', 'ns-' || (i % 50), 'uid', 'uid-' || i, 'resourceVersion', i::text, \
               'labels', json_build_object('app', CASE WHEN i % 100 = 0 THEN 'payments' ELSE 'app-' || (i % 100) END, \
                 'tier', 't' || (i % 3), 'pod-template-hash', md5(i::text)), \
               'annotations', json_build_object('shadow.clusterpedia.io/cluster-name', 'c' || (i % 2 + 1))), \
             'spec', json_build_object('nodeName', 'node-' || (i % 20), 'containers', json_build_array( \
               json_build_object('name', 'app', 'image', 'registry.example/app:' || (i % 7), 'args', repeat('x', 600))))) \
             ::text, 'UTF8'), 0 \
             FROM generate_series(1, {PODS}) AS i"
        ),
        format!(
            "INSERT INTO pedia_labels (resource_id, label_key, label_value, num_value) \
             SELECT i, 'app', CASE WHEN i % 100 = 0 THEN 'payments' ELSE 'app-' || (i % 100) END, NULL::bigint FROM generate_series(1, {PODS}) AS i \
             UNION ALL SELECT i, 'tier', 't' || (i % 3), NULL::bigint FROM generate_series(1, {PODS}) AS i \
             UNION ALL SELECT i, 'pod-template-hash', md5(i::text), NULL::bigint FROM generate_series(1, {PODS}) AS i"
        ),
        format!("UPDATE pedia_meta SET revision = {PODS} WHERE id = 1"),
        "INSERT INTO pedia_cluster_resources VALUES ('c1', '', 'v1', 'pods', 'Pod', 1), ('c2', '', 'v1', 'pods', 'Pod', 1)".to_owned(),
        "ANALYZE pedia_resources".to_owned(),
        "ANALYZE pedia_labels".to_owned(),
    ];
    for sql in statements {
        admin
            .execute(sqlx::AssertSqlSafe(sql))
            .await
            .unwrap_or_else(|e| panic!("loading test data: {e}"));
    }
    let _ = admin.close().await;
}

fn assert_no_seq_scan(plan: &str) {
    for table in ["pedia_resources", "pedia_labels"] {
        // A sequential scan of `pedia_fields` may be fine: it holds no objects.
        assert!(
            !plan.contains(&format!("Seq Scan on {table}")),
            "sequential scan of {table}:\n{plan}"
        );
    }
}

#[test]
fn list_plans_use_the_indexes() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let (cfg, schema) = common::postgres_config().await;
        let storage = InternalStorage::connect(&cfg)
            .await
            .unwrap_or_else(|e| panic!("{}", e.detail()));
        load(&schema).await;
        let pods = GroupVersionResource::new("", "v1", "pods");

        // (a) A label-selector page: ~1% of the pods, 500 per page.
        let opts =
            ListOptions::from_query("labelSelector=app%3Dpayments&limit=500").expect("query");
        let plan = storage.explain_list(&pods, &opts).await.expect("explain");
        eprintln!("label-selector page:\n{plan}");
        assert!(
            plan.contains("pedia_labels_key_value"),
            "labels index unused:\n{plan}"
        );
        assert_no_seq_scan(&plan);

        // (b) An owner query by uid.
        let opts = ListOptions::from_query("clusters=c1&ownerUID=rs-123").expect("query");
        let plan = storage.explain_list(&pods, &opts).await.expect("explain");
        eprintln!("owner query:\n{plan}");
        assert!(
            plan.contains("pedia_resources_owner"),
            "owner index unused:\n{plan}"
        );
        assert_no_seq_scan(&plan);

        // The page itself is right.
        let resource = storage
            .resource_storage(&pedia_core::ResourceType::new(pods.clone(), "Pod", true))
            .await
            .expect("storage");
        let page = resource
            .list(
                &ListOptions::from_query(
                    "labelSelector=app%3Dpayments&limit=500&withRemainingCount=true",
                )
                .expect("query"),
            )
            .await
            .expect("list");
        assert_eq!(page.items.len(), 500);
        assert_eq!(page.remaining_count, Some(500));
        assert!(page.continue_token.is_some());

        storage.shutdown().await.expect("shutdown");
        common::drop_postgres_schema(schema).await;
    });
}

/// Pods among other objects, as in a real cluster: `FIELD_PODS` pods (1% `Pending`, 1%
/// without a status, the rest `Running`, on 20 nodes) and four times as many config maps.
const FIELD_PODS: i64 = 20_000;

async fn load_for_fields(cfg: &InternalStorageConfig, schema: &str) {
    let mut admin = common::pg_admin().await;
    let others = 4 * FIELD_PODS;
    let statements = [
        format!("SET search_path TO {schema}"),
        format!(
            "INSERT INTO pedia_resources (id, grp, version, resource, kind, cluster, namespace, name, uid, owner_uid, \
             resource_version, rv_num, created_at, revision, content_hash, labels_hash, object, synced_at) \
             SELECT i, '', 'v1', 'pods', 'Pod', 'c1', 'ns-' || (i % 50), 'pod-' || i, 'uid-' || i, '', \
             i::text, i, 1700000000000 + i * 1000, i, i, 0, \
             convert_to(json_strip_nulls(json_build_object('apiVersion', 'v1', 'kind', 'Pod', 'metadata', json_build_object( \
               'name', 'pod-' || i, 'namespace', 'ns-' || (i % 50), 'uid', 'uid-' || i, 'resourceVersion', i::text), \
             'spec', json_build_object('nodeName', 'node-' || (i % 20), 'restartPolicy', 'Always', \
               'schedulerName', 'default-scheduler', 'serviceAccountName', 'default', \
               'containers', json_build_array(json_build_object('name', 'app', 'args', repeat('x', 600)))), \
             'status', CASE WHEN i % 100 = 1 THEN NULL ELSE json_build_object( \
               'phase', CASE WHEN i % 100 = 0 THEN 'Pending' ELSE 'Running' END, 'podIP', '10.0.0.' || (i % 250)) END)) \
             ::text, 'UTF8'), 0 \
             FROM generate_series(1, {FIELD_PODS}) AS i"
        ),
        format!(
            "INSERT INTO pedia_resources (id, grp, version, resource, kind, cluster, namespace, name, uid, owner_uid, \
             resource_version, rv_num, created_at, revision, content_hash, labels_hash, object, synced_at) \
             SELECT i, '', 'v1', 'configmaps', 'ConfigMap', 'c1', 'ns-' || (i % 50), 'cm-' || i, 'uid-' || i, '', \
             i::text, i, 1700000000000 + i * 1000, i, i, 0, \
             convert_to(json_build_object('apiVersion', 'v1', 'kind', 'ConfigMap', 'metadata', json_build_object( \
               'name', 'cm-' || i, 'namespace', 'ns-' || (i % 50), 'uid', 'uid-' || i, 'resourceVersion', i::text), \
             'data', json_build_object('k', repeat('y', 600)))::text, 'UTF8'), 0 \
             FROM generate_series({FIELD_PODS} + 1, {FIELD_PODS} + {others}) AS i"
        ),
        format!("UPDATE pedia_meta SET revision = {FIELD_PODS} + {others} WHERE id = 1"),
        "INSERT INTO pedia_cluster_resources VALUES ('c1', '', 'v1', 'pods', 'Pod', 1), ('c1', '', 'v1', 'configmaps', 'ConfigMap', 1)".to_owned(),
        // The field index is built the way an upgrade builds it: from the stored objects
        // by the migration, on the next open.
        "DROP TABLE pedia_fields".to_owned(),
        "DELETE FROM pedia_schema_migrations WHERE description = 'indexed field values'".to_owned(),
        "ANALYZE pedia_resources".to_owned(),
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

#[test]
fn field_selector_plans_use_the_field_index() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let (cfg, schema) = common::postgres_config().await;
        let storage = InternalStorage::connect(&cfg)
            .await
            .unwrap_or_else(|e| panic!("{}", e.detail()));
        storage.shutdown().await.expect("shutdown");
        load_for_fields(&cfg, &schema).await;
        let storage = InternalStorage::connect(&cfg)
            .await
            .unwrap_or_else(|e| panic!("{}", e.detail()));
        let pods = GroupVersionResource::new("", "v1", "pods");
        let resource = storage
            .resource_storage(&pedia_core::ResourceType::new(pods.clone(), "Pod", true))
            .await
            .expect("storage");

        let pending = usize::try_from(FIELD_PODS / 100).expect("count");
        // (selector, items of the full list): negated ones with few matches (objects
        // without the field included) and unmatched ones.
        let cases = [
            ("status.phase!=Running", 2 * pending),
            ("status.phase notin (Running,Pending)", pending),
            ("!status.phase", pending),
            ("status.phase=Unknown", 0),
            ("status.phase in (Unknown,Failed)", 0),
            ("spec.nodeName!=node-0,status.phase!=Running", pending),
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
                let plan = storage.explain_list(&pods, &opts).await.expect("explain");
                eprintln!("{query}:\n{plan}");
                assert!(
                    plan.contains("using pedia_fields_")
                        || plan.contains("Index Scan on pedia_fields_"),
                    "{query}: no index of pedia_fields is used:\n{plan}"
                );
                assert!(
                    !plan.contains("json"),
                    "{query}: the stored JSON is evaluated:\n{plan}"
                );
                // A kubectl-sized page walks the key index in order, probing the field
                // index per row; an unmatched selector starts from the field index. A
                // whole list is read in keyset batches, each planned like a page.
                assert_no_seq_scan(&plan);
                let listed = resource.list(&opts).await.expect("list");
                assert_eq!(listed.items.len(), expected.min(500), "{query}");
            }
        }

        storage.shutdown().await.expect("shutdown");
        common::drop_postgres_schema(schema).await;
    });
}
