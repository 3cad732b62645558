//! SQL filters against the reference semantics: for many selectors over objects with
//! awkward fields (case, booleans, numbers as text and as JSON, nulls, objects, lists,
//! dotted keys, cluster-scoped objects), every database returns exactly the objects that
//! `pedia_storage::filter::ObjectFilter` accepts. Paths the layer indexes (`status.phase`,
//! `spec.nodeName`, `status.replicas`, `spec.hostNetwork`, `type`, ...) are checked with
//! the same awkward values, before and after the objects are rewritten.

mod common;

use std::collections::BTreeSet;

use pedia_core::{GroupVersionResource, ListOptions, Object, ResourceType};
use pedia_storage::conformance::Fixture;
use pedia_storage::filter::ObjectFilter;
use pedia_storage::{Fence, WriteOp};
use serde_json::json;

/// A value longer than the layer's indexed-value column.
fn long_value() -> String {
    "n".repeat(1100)
}

fn objects() -> Vec<serde_json::Value> {
    let ann = |v: serde_json::Value| json!({"shadow.clusterpedia.io/cluster-name": "c1", "team.example.com/owner": v});
    vec![
        json!({"metadata": {"name": "upper", "namespace": "ns", "annotations": ann(json!("Alice")), "labels": {"app": "Web", "n": "10"}},
               "spec": {"replicas": 3, "paused": true, "ratio": 1.5, "code": "007", "signed": "+4",
                        "nodeName": "node-1", "hostNetwork": true},
               "status": {"phase": "Running", "list": [{"v": 1}, {"v": 2}], "obj": {"a": 1}, "replicas": 3},
               "type": "Opaque"}),
        json!({"metadata": {"name": "lower", "namespace": "ns", "annotations": ann(json!("alice")), "labels": {"app": "web", "n": "3"}},
               "spec": {"replicas": -5, "paused": false, "code": "7", "signed": "-4",
                        "nodeName": {"name": "node-1"}, "hostNetwork": "true"},
               "status": {"phase": "running", "list": [], "obj": null, "replicas": "-5"},
               "type": 1.5}),
        json!({"metadata": {"name": "numbers", "namespace": "other", "annotations": ann(json!("bob")), "labels": {"n": "9223372036854775807"}},
               "spec": {"replicas": 9223372036854775807_i64, "code": "9223372036854775808", "signed": "--4",
                        "nodeName": ["node-1"], "hostNetwork": false},
               "status": {"phase": null, "replicas": 9223372036854775807_i64, "podIP": "10.0.0.1"},
               "type": null}),
        json!({"metadata": {"name": "text", "namespace": "other", "annotations": ann(json!("x\u{0}y"))},
               "spec": {"replicas": "12", "code": "12a", "signed": " 4", "nodeName": long_value()},
               "status": {"phase": "Pending", "list": "not a list", "replicas": "12a", "podIP": "10.0\u{0}.0.1"},
               "type": true}),
        json!({"metadata": {"name": "bare", "namespace": "ns", "annotations": {"shadow.clusterpedia.io/cluster-name": "c1"}}}),
        json!({"metadata": {"name": "Mixed-Case", "namespace": "ns", "annotations": ann(json!("ALICE")), "labels": {"app": "WEB"}},
               "spec": {"replicas": 0, "paused": "true", "nodeName": "node-2"},
               "status": "flat", "type": "Opaque"}),
    ]
}

/// The objects rewritten: indexed fields change, appear and disappear.
fn rewritten() -> Vec<serde_json::Value> {
    let mut objects = objects();
    for o in &mut objects {
        match o["metadata"]["name"].as_str() {
            Some("upper") => {
                o["status"]["phase"] = json!("Pending");
                o["spec"].as_object_mut().map(|s| s.remove("nodeName"));
                o["status"]["replicas"] = json!(4);
            }
            Some("bare") => {
                o["status"] = json!({"phase": "Running", "replicas": 1});
                o["spec"] = json!({"nodeName": "node-1"});
            }
            Some("text") => o["spec"]["nodeName"] = json!("node-2"),
            Some("numbers") => o["status"]["phase"] = json!("Running"),
            _ => {}
        }
    }
    objects
}

const SELECTORS: &[&str] = &[
    "fieldSelector=status.phase=Running",
    "fieldSelector=status.phase=running",
    "fieldSelector=status.phase!=Running",
    "fieldSelector=status.phase",
    "fieldSelector=!status.phase",
    "fieldSelector=status.phase in (Running,Pending)",
    "fieldSelector=status.phase notin (Running)",
    "fieldSelector=spec.paused=true",
    "fieldSelector=spec.paused!=true",
    "fieldSelector=spec.paused=false",
    "fieldSelector=spec.replicas=3",
    "fieldSelector=spec.replicas=12",
    "fieldSelector=spec.replicas>2",
    "fieldSelector=spec.replicas<0",
    "fieldSelector=spec.replicas>9223372036854775806",
    "fieldSelector=spec.code>6",
    "fieldSelector=spec.code<10",
    "fieldSelector=spec.signed>0",
    "fieldSelector=spec.signed<0",
    "fieldSelector=spec.ratio=1.5",
    "fieldSelector=status.list",
    "fieldSelector=!status.list",
    "fieldSelector=status.list!=x",
    "fieldSelector=status.list=x",
    "fieldSelector=status.obj",
    "fieldSelector=!status.obj",
    "fieldSelector=status.list[0].v=1",
    "fieldSelector=status.list[1].v>1",
    "fieldSelector=metadata.annotations['team.example.com/owner']=alice",
    "fieldSelector=metadata.annotations['team.example.com/owner']!=alice",
    "fieldSelector=metadata.annotations['team.example.com/owner'] in (Alice,ALICE)",
    "fieldSelector=spec.nodeName=node-1",
    "fieldSelector=spec.nodeName!=node-1",
    "fieldSelector=spec.nodeName in (node-1,node-2)",
    "fieldSelector=spec.nodeName notin (node-1,node-2)",
    "fieldSelector=spec.nodeName",
    "fieldSelector=!spec.nodeName",
    "fieldSelector=spec.nodeName=LONG",
    "fieldSelector=spec.nodeName!=LONG",
    "fieldSelector=spec.hostNetwork=true",
    "fieldSelector=spec.hostNetwork!=true",
    "fieldSelector=spec.hostNetwork=false",
    "fieldSelector=status.replicas=3",
    "fieldSelector=status.replicas>2",
    "fieldSelector=status.replicas<0",
    "fieldSelector=status.replicas>9223372036854775806",
    "fieldSelector=status.replicas!=3",
    "fieldSelector=status.podIP=10.0.0.1",
    "fieldSelector=status.podIP!=10.0.0.1",
    "fieldSelector=status.podIP",
    "fieldSelector=type=Opaque",
    "fieldSelector=type=1.5",
    "fieldSelector=type=true",
    "fieldSelector=type!=Opaque",
    "fieldSelector=!type",
    "fieldSelector=status.phase=Running,spec.nodeName!=node-2",
    "fieldSelector=status.phase=Unknown",
    "fieldSelector=status.phase!=Unknown",
    "fieldSelector=metadata.name=upper",
    "fieldSelector=metadata.name=UPPER",
    "fieldSelector=metadata.name!=upper",
    "fieldSelector=metadata.namespace=other",
    "fieldSelector=metadata.namespace notin (other)",
    "fieldSelector=!metadata.namespace",
    "fieldSelector=metadata.namespace",
    "labelSelector=app=web",
    "labelSelector=app=Web",
    "labelSelector=app in (web,WEB)",
    "labelSelector=app!=web",
    "labelSelector=n>0",
    "labelSelector=n<5",
    "labelSelector=n>9223372036854775806",
    "labelSelector=internalstorage.clusterpedia.io/fuzzy-name=case",
    "labelSelector=internalstorage.clusterpedia.io/fuzzy-name=Case",
    "labelSelector=internalstorage.clusterpedia.io/fuzzy-name notin (e)",
    "names=upper,UPPER,Mixed-Case",
    "namespaces=NS",
];

fn encode(query: &str) -> String {
    // Encode the value after the first '=' of each parameter.
    query
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((k, v)) => format!("{k}={}", form_urlencode(v)),
            None => p.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn form_urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Writes `values` and compares every selector's list with the reference; returns how
/// many selectors select a proper, non-empty subset.
async fn compare(
    fx: &Fixture,
    pods: &dyn pedia_storage::ResourceStorage,
    values: Vec<serde_json::Value>,
) -> usize {
    let objects: Vec<Object> = values
        .into_iter()
        .map(|v| Object::from_json(bytes::Bytes::from(v.to_string())).expect("object"))
        .collect();
    pods.apply_batch(
        "c1",
        Fence::Unfenced,
        objects.iter().cloned().map(WriteOp::Upsert).collect(),
    )
    .await
    .expect("write");
    let mut selective = 0;
    for selector in SELECTORS {
        let selector = selector.replace("LONG", &long_value());
        let opts = ListOptions::from_query(&encode(&selector))
            .unwrap_or_else(|e| panic!("{selector}: {e}"));
        let filter = ObjectFilter::new(&opts);
        let expected: BTreeSet<String> = objects
            .iter()
            .filter(|o| filter.matches("c1", &o.meta, &o.raw))
            .map(|o| o.meta.name.clone())
            .collect();
        let got: BTreeSet<String> = pods
            .list(&opts)
            .await
            .unwrap_or_else(|e| panic!("{selector}: {}", e.detail()))
            .items
            .iter()
            .map(|raw| Object::from_json(raw.clone()).expect("object").meta.name)
            .collect();
        assert_eq!(got, expected, "{} on {}", selector, fx.factory.layer_name());
        if !expected.is_empty() && expected.len() < objects.len() {
            selective += 1;
        }
    }
    selective
}

async fn check(fx: Fixture) {
    let rt = ResourceType::new(GroupVersionResource::new("", "v1", "pods"), "Pod", true);
    let pods = fx.factory.resource_storage(&rt).await.expect("storage");
    // The selectors really split the objects (the comparison is not vacuous).
    for (round, values) in [objects(), rewritten()].into_iter().enumerate() {
        let selective = compare(&fx, pods.as_ref(), values).await;
        assert!(
            selective >= 55,
            "round {round}: only {selective} selectors select a proper subset"
        );
    }

    // Text that no stored key can hold matches nothing (MySQL would otherwise refuse to
    // compare it with its ASCII columns).
    for query in [
        "clusters=c1&ownerUID=%C3%BC",
        "clusters=c1&ownerName=%C3%BC&ownerGR=%C3%BC.apps",
        "clusters=%C3%BC",
        "fieldSelector=metadata.name%3D%C3%BC",
    ] {
        let opts = ListOptions::from_query(query).expect("query");
        let page = pods
            .list(&opts)
            .await
            .unwrap_or_else(|e| panic!("{query}: {}", e.detail()));
        assert!(page.items.is_empty(), "{query}");
    }
    // A well-formed continue token with a non-ASCII key was forged: a bad request.
    let opts = ListOptions::from_query("limit=1").expect("query");
    let forged = pedia_core::Cursor {
        values: ["\u{fc}", "ns", "x"]
            .iter()
            .map(|v| pedia_core::CursorValue::Str((*v).to_owned()))
            .collect(),
        revision: 1,
    }
    .encode(opts.fingerprint("/v1/pods"));
    let mut with_token = opts.clone();
    with_token.continue_token = Some(forged);
    let err = pods.list(&with_token).await.expect_err("forged token");
    assert_eq!(
        err.kind(),
        pedia_storage::ErrorKind::BadRequest,
        "{}",
        err.detail()
    );
    fx.finish().await;
}

/// Names whose byte order differs from locale-aware orders (case, punctuation, digits).
const AWKWARD_NAMES: &[&str] = &[
    "a-b", "a_b", "aB", "Ab", "a.b", "a~", "A", "a", "b", "a0", "a9", "a10", "Z",
];

/// Lists and pages order text byte-wise on every database, and paging follows that order.
async fn check_order(fx: Fixture) {
    let rt = ResourceType::new(
        GroupVersionResource::new("", "v1", "configmaps"),
        "ConfigMap",
        true,
    );
    let cms = fx.factory.resource_storage(&rt).await.expect("storage");
    let ops = AWKWARD_NAMES
        .iter()
        .map(|n| {
            let v = json!({"metadata": {"name": n, "namespace": n.to_lowercase(),
                "annotations": {"shadow.clusterpedia.io/cluster-name": "c1"}}});
            WriteOp::Upsert(Object::from_json(bytes::Bytes::from(v.to_string())).expect("object"))
        })
        .collect();
    cms.apply_batch("c1", Fence::Unfenced, ops)
        .await
        .expect("write");
    let mut expected: Vec<String> = AWKWARD_NAMES.iter().map(|s| (*s).to_owned()).collect();
    expected.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    for query in [
        "orderby=name",
        "orderby=name&limit=2",
        "orderby=name&limit=5",
    ] {
        let mut opts = ListOptions::from_query(query).expect("query");
        let mut names = Vec::new();
        loop {
            let page = cms
                .list(&opts)
                .await
                .unwrap_or_else(|e| panic!("{}", e.detail()));
            names.extend(
                page.items
                    .iter()
                    .map(|raw| Object::from_json(raw.clone()).expect("object").meta.name),
            );
            match page.continue_token {
                Some(t) => opts.continue_token = Some(t),
                None => break,
            }
        }
        assert_eq!(names, expected, "{query} on {}", fx.factory.layer_name());
    }
    let mut desc = expected.clone();
    desc.reverse();
    let opts = ListOptions::from_query("orderby=name%20desc&limit=3").expect("query");
    let first = cms.list(&opts).await.expect("list");
    let got: Vec<String> = first
        .items
        .iter()
        .map(|raw| Object::from_json(raw.clone()).expect("object").meta.name)
        .collect();
    assert_eq!(got, desc[..3].to_vec());
    fx.finish().await;
}

#[test]
fn sqlite_orders_bytewise() {
    run(async { check_order(common::open_sqlite().await).await });
}

#[test]
fn postgres_orders_bytewise() {
    run(async { check_order(common::open_postgres().await).await });
}

#[test]
fn mysql_orders_bytewise() {
    run(async { check_order(common::open_mysql().await).await });
}

fn run(f: impl std::future::Future<Output = ()>) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f);
}

#[test]
fn sqlite_matches_the_reference() {
    run(async { check(common::open_sqlite().await).await });
}

#[test]
fn postgres_matches_the_reference() {
    run(async { check(common::open_postgres().await).await });
}

#[test]
fn mysql_matches_the_reference() {
    run(async { check(common::open_mysql().await).await });
}
