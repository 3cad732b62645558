//! Authorization and limits through the real HTTPS API: a policy file decides which
//! clusters, namespaces and resources each user reads (lists, gets, watches, collections),
//! it reloads when edited, Secrets can be served redacted, and the request limits answer
//! with the documented codes.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Server, serve};
use pedia_storage::StorageFactory;
use serde_json::{Value, json};

const PODS: &str = "/apis/clusterpedia.io/v1beta1/resources/api/v1/pods";

fn pod(ns: &str, name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "resourceVersion": "1"}})
}

async fn seeded() -> Arc<dyn StorageFactory> {
    let storage: Arc<dyn StorageFactory> = Arc::new(storage_memory::MemoryStorage::default());
    for (cluster, objects) in [
        (
            "c1",
            vec![
                pod("ns-a", "a1"),
                pod("ns-b", "b1"),
                json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "ns-a"}, "data": {"password": "aHVudGVyMg=="}}),
            ],
        ),
        (
            "c2",
            vec![
                pod("ns-a", "a2"),
                pod("ns-b", "b2"),
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "ns-b", "resourceVersion": "1"}}),
            ],
        ),
    ] {
        synchro_writer::load_objects(Arc::clone(&storage), cluster, objects, Default::default())
            .await
            .expect("load");
    }
    storage
}

fn curl(s: &Server, token: &str, args: &[&str], path: &str) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert"])
        .arg(s.ca())
        .args([
            "-H",
            &format!("Authorization: Bearer {token}"),
            "-w",
            "\n%{http_code}",
        ])
        .args(args)
        .arg(format!("https://127.0.0.1:{}{path}", s.port()))
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

/// `kind:cluster/namespace/name` of every item of a list or collection, in order.
fn ordered_ids(body: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    v["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            format!(
                "{}:{}/{}/{}",
                i["kind"].as_str().unwrap_or(""),
                i["metadata"]["annotations"]["shadow.clusterpedia.io/cluster-name"]
                    .as_str()
                    .unwrap_or(""),
                i["metadata"]["namespace"].as_str().unwrap_or(""),
                i["metadata"]["name"].as_str().unwrap_or("")
            )
        })
        .collect()
}

/// `cluster/namespace/name` of every item of a list, sorted.
fn ids(body: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    let mut out: Vec<String> = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            format!(
                "{}/{}/{}",
                i["metadata"]["annotations"]["shadow.clusterpedia.io/cluster-name"]
                    .as_str()
                    .unwrap_or(""),
                i["metadata"]["namespace"].as_str().unwrap_or(""),
                i["metadata"]["name"].as_str().unwrap_or("")
            )
        })
        .collect();
    out.sort();
    out
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The `name`s of the resources in an `APIResourceList`.
fn resource_names(body: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    v["resources"]
        .as_array()
        .unwrap_or_else(|| panic!("an APIResourceList: {body}"))
        .iter()
        .filter_map(|r| r["name"].as_str().map(str::to_owned))
        .collect()
}

const POLICY: &str = "rules:\n- groups: [pay]\n  clusters: [c1]\n  namespaces: [ns-a]\n  resources: [pods]\n- users: [bob]\n  namespaces: [ns-b]\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_limits_lists_gets_watches_and_collections() {
    let storage = seeded().await;
    let s = serve(Arc::clone(&storage), Some(POLICY), &["--redact-secrets"]).await;

    let (code, body) = curl(&s, "alice-token", &[], PODS);
    assert_eq!(code, 200, "{body}");
    assert_eq!(ids(&body), vec!["c1/ns-a/a1"]);
    let (_, body) = curl(&s, "alice-token", &[], &format!("{PODS}?clusters=c2"));
    assert!(
        ids(&body).is_empty(),
        "outside the grants the list is empty"
    );
    let (code, body) = curl(
        &s,
        "alice-token",
        &[],
        "/apis/clusterpedia.io/v1beta1/resources/clusters/c1/api/v1/namespaces/ns-b/pods/b1",
    );
    assert_eq!(code, 403, "a namespace outside the grants: {body}");
    assert!(body.contains("\"reason\":\"Forbidden\""), "{body}");
    let (code, body) = curl(
        &s,
        "alice-token",
        &[],
        "/apis/clusterpedia.io/v1beta1/resources/clusters/c2/api/v1/namespaces/ns-a/pods/a2",
    );
    assert_eq!(
        code, 400,
        "a cluster outside the grants is not found: {body}"
    );
    let (code, _) = curl(
        &s,
        "alice-token",
        &[],
        "/apis/clusterpedia.io/v1beta1/resources/api/v1/secrets",
    );
    assert_eq!(code, 403, "alice may not read secrets");
    let (code, _) = curl(&s, "eve-token", &[], PODS);
    assert_eq!(code, 403, "no rule, no access");

    let (_, body) = curl(&s, "bob-token", &[], PODS);
    assert_eq!(ids(&body), vec!["c1/ns-b/b1", "c2/ns-b/b2"]);
    let (code, body) = curl(
        &s,
        "bob-token",
        &[],
        "/apis/clusterpedia.io/v1beta1/collectionresources/any",
    );
    assert_eq!(code, 200, "{body}");
    let bob_any = ["Pod:c1/ns-b/b1", "Pod:c2/ns-b/b2", "ConfigMap:c2/ns-b/cfg"];
    assert_eq!(
        ordered_ids(&body),
        bob_any,
        "exactly bob's namespace in every cluster, in collection order"
    );
    // Paging a collection stays inside the grants and visits each item once.
    let mut seen = Vec::new();
    let mut next = String::new();
    loop {
        let (code, body) = curl(
            &s,
            "bob-token",
            &[],
            &format!(
                "/apis/clusterpedia.io/v1beta1/collectionresources/any?limit=1&withRemainingCount=true{next}"
            ),
        );
        assert_eq!(code, 200, "{body}");
        let page: Value = serde_json::from_str(&body).expect("json");
        seen.extend(ordered_ids(&body));
        assert_eq!(
            page["remainingItemCount"].as_u64(),
            Some((bob_any.len() - seen.len()) as u64),
            "{body}"
        );
        match page["continue"].as_str() {
            Some(token) => next = format!("&continue={}", urlencode(token)),
            None => break,
        }
        assert!(seen.len() <= bob_any.len(), "paging does not end: {seen:?}");
    }
    assert_eq!(seen, bob_any);
    let (code, _) = curl(
        &s,
        "alice-token",
        &[],
        "/apis/clusterpedia.io/v1beta1/collectionresources/any",
    );
    assert_eq!(code, 403, "a collection needs a rule for every resource");

    let (_, body) = curl(&s, "root-token", &[], PODS);
    assert_eq!(ids(&body).len(), 4, "system:masters reads everything");
    let (code, body) = curl(
        &s,
        "root-token",
        &[],
        "/apis/clusterpedia.io/v1beta1/resources/clusters/c1/api/v1/namespaces/ns-a/secrets/s",
    );
    assert_eq!(code, 200, "{body}");
    let secret: Value = serde_json::from_str(&body).expect("json");
    assert!(secret.get("data").is_none(), "--redact-secrets: {body}");
    assert_eq!(secret["metadata"]["name"], "s");

    // A watch sees only what the grants cover.
    let mut watch = Command::new("curl")
        .args(["-sSN", "--max-time", "20", "--cacert"])
        .arg(s.ca())
        .args(["-H", "Authorization: Bearer alice-token"])
        .arg(format!(
            "https://127.0.0.1:{}{PODS}?watch=true&resourceVersion=0",
            s.port()
        ))
        .stdout(Stdio::piped())
        .spawn()
        .expect("curl watch");
    tokio::time::sleep(Duration::from_millis(800)).await;
    synchro_writer::load_objects(
        Arc::clone(&storage),
        "c1",
        vec![pod("ns-b", "hidden"), pod("ns-a", "visible")],
        Default::default(),
    )
    .await
    .expect("load");
    let reader = BufReader::new(watch.stdout.take().expect("stdout"));
    let mut names = Vec::new();
    for line in reader.lines().map_while(Result::ok) {
        let event: Value = serde_json::from_str(&line).expect("event");
        names.push(
            event["object"]["metadata"]["name"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
        );
        if names.contains(&"visible".to_owned()) {
            break;
        }
    }
    let _ = watch.kill();
    let _ = watch.wait();
    assert_eq!(
        names,
        vec!["a1", "visible"],
        "initial state and later changes, within the grants"
    );

    // Editing the policy takes effect without a restart.
    std::fs::write(
        s.dir.path().join("policy.yaml"),
        POLICY.replace("clusters: [c1]", "clusters: [c2]"),
    )
    .expect("edit");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, body) = curl(&s, "alice-token", &[], PODS);
        if ids(&body) == vec!["c2/ns-a/a2"] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the edited policy was not applied: {body}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // A broken edit keeps the last good policy.
    std::fs::write(s.dir.path().join("policy.yaml"), "rules: [[[").expect("edit");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, body) = curl(&s, "alice-token", &[], PODS);
    assert_eq!(ids(&body), vec!["c2/ns-a/a2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_limits_answer_with_their_codes() {
    let s = serve(
        seeded().await,
        None,
        &[
            "--max-list-limit",
            "2",
            "--max-watches-per-user",
            "1",
            "--max-request-body-bytes",
            "16",
        ],
    )
    .await;

    // A huge limit is lowered; the page carries a continue token.
    let (code, body) = curl(&s, "root-token", &[], &format!("{PODS}?limit=999999999"));
    assert_eq!(code, 200, "{body}");
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["items"].as_array().map(Vec::len), Some(2));
    assert!(v["metadata"]["continue"].is_string());

    // Writes and bodies.
    let (code, body) = curl(&s, "root-token", &["-X", "POST", "-d", "{}"], PODS);
    assert_eq!(code, 405, "{body}");
    assert!(body.contains("read-only"), "{body}");
    let (code, _) = curl(
        &s,
        "root-token",
        &[
            "-X",
            "GET",
            "--data-binary",
            "this body is too large for the limit",
        ],
        PODS,
    );
    assert_eq!(code, 413);

    // One watch per user: the second gets 429 while the first is open.
    let first_headers = s.dir.path().join("first-watch-headers");
    let first = Command::new("curl")
        .args(["-sSN", "--max-time", "30", "--cacert"])
        .arg(s.ca())
        .args(["-H", "Authorization: Bearer bob-token", "-D"])
        .arg(&first_headers)
        .arg(format!("https://127.0.0.1:{}{PODS}?watch=true", s.port()))
        .stdout(Stdio::null())
        .spawn()
        .expect("watch");
    let mut first = first;
    // Only once the first watch holds its slot may the second be refused.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&first_headers).is_ok_and(|h| h.contains(" 200")) {
        assert!(Instant::now() < deadline, "the first watch did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut code = 0;
    while Instant::now() < deadline {
        code = curl(
            &s,
            "bob-token",
            &["--max-time", "2"],
            &format!("{PODS}?watch=true"),
        )
        .0;
        if code == 429 {
            break;
        }
    }
    assert_eq!(code, 429, "a second concurrent watch of the same user");
    let _ = first.kill();
    let _ = first.wait();
    // Another user is not affected.
    let (code, _) = curl(
        &s,
        "root-token",
        &["--max-time", "2"],
        &format!("{PODS}?watch=true&timeoutSeconds=1"),
    );
    assert_eq!(code, 200);
}

const RESOURCES: &str = "/apis/clusterpedia.io/v1beta1/resources";
const AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// The resource names of an aggregated discovery document's core group.
fn aggregated_core(body: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    v["items"]
        .as_array()
        .expect("items")
        .iter()
        .flat_map(|g| {
            g["versions"][0]["resources"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|r| r["resource"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_clusters_and_metrics_follow_the_policy() {
    let storage = seeded().await;
    common::put_raw(
        &storage,
        &common::resource(
            "cluster.clusterpedia.io",
            "v1alpha2",
            "pediaclusters",
            "PediaCluster",
            false,
        ),
        "_control",
        common::fixture("pediacluster-c9.json"),
    )
    .await;
    let s = serve(storage, Some(POLICY), &[]).await;

    // Discovery lists what the user may read: alice only pods (of c1), bob everything in
    // ns-b (which the stored clusters have pods and configmaps in, and c1 a secret).
    let (code, body) = curl(&s, "alice-token", &[], &format!("{RESOURCES}/api/v1"));
    assert_eq!(code, 200, "{body}");
    assert_eq!(resource_names(&body), ["pods"]);
    let (_, body) = curl(
        &s,
        "alice-token",
        &[],
        &format!("{RESOURCES}/clusters/c1/api/v1"),
    );
    assert_eq!(
        resource_names(&body),
        ["pods"],
        "not secrets, though c1 has some"
    );
    let (_, body) = curl(
        &s,
        "alice-token",
        &["-H", &format!("Accept: {AGGREGATED}")],
        &format!("{RESOURCES}/api"),
    );
    assert_eq!(aggregated_core(&body), ["pods"]);
    let (_, body) = curl(&s, "bob-token", &[], &format!("{RESOURCES}/api/v1"));
    assert_eq!(resource_names(&body), ["configmaps", "pods", "secrets"]);
    let (_, body) = curl(
        &s,
        "bob-token",
        &[],
        &format!("{RESOURCES}/clusters/c2/api/v1"),
    );
    assert_eq!(resource_names(&body), ["configmaps", "pods"]);
    // Published PediaClusters name every cluster: only users granted the control plane's
    // objects (a rule for every cluster) see them.
    let (_, body) = curl(
        &s,
        "root-token",
        &[],
        &format!("{RESOURCES}/apis/cluster.clusterpedia.io/v1alpha2"),
    );
    assert_eq!(resource_names(&body), ["pediaclusters"]);
    for user in ["alice-token", "eve-token"] {
        let (code, body) = curl(&s, user, &[], &format!("{RESOURCES}/apis"));
        assert_eq!(code, 200, "{body}");
        let v: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(v["groups"], json!([]), "{user}: {body}");
    }
    let (_, body) = curl(&s, "eve-token", &[], &format!("{RESOURCES}/api"));
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["versions"], json!([]), "no rule, no resources: {body}");
    let (code, body) = curl(&s, "eve-token", &[], &format!("{RESOURCES}/api/v1"));
    assert_eq!(code, 404, "{body}");

    // A cluster the user has no grant on answers exactly as one that does not exist.
    for (user, hidden) in [
        ("alice-token", "c2"),
        ("eve-token", "c1"),
        ("alice-token", "c9"),
    ] {
        for path in [
            "api/v1/pods",
            "api/v1/namespaces/ns-a/pods/a2",
            "api/v1/secrets",
        ] {
            let (code, body) = curl(
                &s,
                user,
                &[],
                &format!("{RESOURCES}/clusters/{hidden}/{path}"),
            );
            let unknown = curl(&s, user, &[], &format!("{RESOURCES}/clusters/nope/{path}"));
            assert_eq!((code, body.clone()), unknown, "{user} {hidden} {path}");
            assert_eq!(code, 400, "{body}");
            let status: Value = serde_json::from_str(&body).expect("Status");
            assert_eq!(status["kind"], "Status");
            assert_eq!(status["reason"], "BadRequest");
            assert_eq!(
                status["message"],
                "the server could not find the requested cluster"
            );
        }
        for path in ["api", "api/v1", "apis"] {
            let (code, body) = curl(
                &s,
                user,
                &[],
                &format!("{RESOURCES}/clusters/{hidden}/{path}"),
            );
            let (ucode, ubody) = curl(&s, user, &[], &format!("{RESOURCES}/clusters/nope/{path}"));
            assert_eq!(code, 404, "{user} {hidden} {path}: {body}");
            assert_eq!(
                (code, body.replace(hidden, "nope")),
                (ucode, ubody),
                "{user} {path}"
            );
        }
    }
    // Everyone allowed gets the same for an unknown cluster; a cluster known only from its
    // published PediaCluster (nothing synced yet) exists.
    let (code, body) = curl(
        &s,
        "root-token",
        &[],
        &format!("{RESOURCES}/clusters/nope/api/v1/pods"),
    );
    assert_eq!(code, 400, "{body}");
    assert!(
        body.contains("the server could not find the requested cluster"),
        "{body}"
    );
    let (code, body) = curl(
        &s,
        "root-token",
        &[],
        &format!("{RESOURCES}/clusters/c9/api"),
    );
    assert_eq!(code, 200, "{body}");
    let (code, body) = curl(
        &s,
        "root-token",
        &[],
        &format!("{RESOURCES}/clusters/c9/api/v1/pods"),
    );
    assert_eq!(code, 404, "c9 has no pods yet: {body}");
    assert!(
        body.contains("could not find the requested resource pods in v1"),
        "{body}"
    );
    let (code, body) = curl(
        &s,
        "root-token",
        &[],
        &format!("{RESOURCES}/clusters/_control/api/v1/pods"),
    );
    assert_eq!(
        code, 400,
        "the control plane is not a member cluster: {body}"
    );

    // A denied resource is 403 whether or not it exists: no probing for resource types.
    for resource in ["secrets", "nothings"] {
        let (code, body) = curl(
            &s,
            "alice-token",
            &[],
            &format!("{RESOURCES}/api/v1/{resource}"),
        );
        assert_eq!(code, 403, "{resource}: {body}");
    }
    let (code, _) = curl(
        &s,
        "root-token",
        &[],
        &format!("{RESOURCES}/api/v1/nothings"),
    );
    assert_eq!(code, 404);

    // /metrics describes all traffic: only for users who may read everything.
    for user in ["alice-token", "bob-token", "eve-token"] {
        let (code, body) = curl(&s, user, &[], "/metrics");
        assert_eq!(code, 403, "{user}: {body}");
        assert!(!body.contains("pedia_apiserver_requests_total"), "{body}");
    }
    let (code, body) = curl(&s, "root-token", &[], "/metrics");
    assert_eq!(code, 200, "{body}");
    assert!(
        body.contains("pedia_apiserver_requests_total{verb=\"get\",code=\"400\"}"),
        "{body}"
    );
    for cluster in ["c1", "c2", "c9", "nope"] {
        assert!(!body.contains(cluster), "metrics name no cluster: {body}");
    }
}
