//! Query plans on PostgreSQL with 100k pods: label-selector pages and owner queries must
//! use their indexes, never a sequential scan of the big tables.

mod common;

use pedia_core::{GroupVersionResource, ListOptions};
use pedia_storage::StorageFactory;
use sqlx::{Connection, Executor};
use storage_internal::InternalStorage;

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
