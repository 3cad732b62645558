//! Discovery lists every resource type a cluster syncs, objects or not (from the published
//! PediaClusters' status, as Clusterpedia does), so kubectl answers "No resources found"
//! for a synced type with no objects rather than "the server doesn't have a resource type".

mod common;

use std::process::Command;
use std::sync::Arc;

use pedia_storage::StorageFactory;
use pedia_testkit::kubectl::kubectl;

const RESOURCES: &str = "/apis/clusterpedia.io/v1beta1/resources";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synced_types_without_objects_are_served() {
    let storage: Arc<dyn StorageFactory> = Arc::new(storage_memory::MemoryStorage::default());
    let pods = common::resource("", "v1", "pods", "Pod", true);
    let clusters = common::resource(
        "cluster.clusterpedia.io",
        "v1alpha2",
        "pediaclusters",
        "PediaCluster",
        false,
    );
    common::put_raw(&storage, &pods, "c2", common::fixture("pod-web.json")).await;
    common::put_raw(
        &storage,
        &clusters,
        "_control",
        common::fixture("pediacluster-c2-syncing.json"),
    )
    .await;
    let s = common::serve(storage, None, &[]).await;
    let api = s.api("root-token");
    let get_json = |path: String| {
        let api = &api;
        async move {
            let body = api.get_ok(&path, None).await?;
            anyhow::Ok(serde_json::from_slice::<serde_json::Value>(&body)?)
        }
    };

    let core = get_json(format!("{RESOURCES}/api/v1"))
        .await
        .expect("discovery");
    let names: Vec<&str> = core["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(names, ["nodes", "pods"], "{core}");
    let apps = get_json(format!("{RESOURCES}/clusters/c2/apis/apps/v1"))
        .await
        .expect("per-cluster discovery");
    assert_eq!(apps["resources"][0]["name"], "statefulsets", "{apps}");
    let nodes = get_json(format!("{RESOURCES}/clusters/c2/api/v1/nodes"))
        .await
        .expect("an empty list");
    assert_eq!(nodes["kind"], "NodeList");
    assert_eq!(nodes["items"], serde_json::json!([]));

    let kubeconfig = |name: &str, path: &str| {
        let file = s.dir.path().join(name);
        std::fs::write(
            &file,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: s\n  cluster:\n    server: https://127.0.0.1:{}{path}\n    certificate-authority: {}\nusers:\n- name: u\n  user:\n    token: root-token\ncontexts:\n- name: s\n  context: {{cluster: s, user: u}}\ncurrent-context: s\n",
                s.port(),
                s.ca().display()
            ),
        )
        .expect("kubeconfig");
        file
    };
    let all_clusters = kubeconfig("all.kubeconfig", RESOURCES);
    let c2 = kubeconfig("c2.kubeconfig", &format!("{RESOURCES}/clusters/c2"));
    let manifest = s.dir.path().join("pod.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: new, namespace: default}\nspec:\n  containers: [{name: c, image: nginx}]\n",
    )
    .expect("manifest");
    let manifest = manifest.display().to_string();
    for version in [33, 27] {
        let cases: [(&std::path::Path, &[&str], &[&str]); 5] = [
            (&all_clusters, &["get", "nodes"], &["No resources found"]),
            (
                &all_clusters,
                &["get", "statefulsets", "-A"],
                &["No resources found"],
            ),
            (
                &all_clusters,
                &["explain", "pods"],
                &["KIND:", "Pod", "spec"],
            ),
            (
                &all_clusters,
                &["explain", "pods.spec.containers.image"],
                &["FIELD:", "image"],
            ),
            (&c2, &["apply", "-f", &manifest], &["MethodNotAllowed"]),
        ];
        for (config, args, expect) in cases {
            let out = Command::new(kubectl(version))
                .arg("--kubeconfig")
                .arg(config)
                .arg("--cache-dir")
                .arg(s.dir.path().join(format!("cache-{version}")))
                .args(args)
                .output()
                .expect("kubectl");
            let all = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let refused = args[0] == "apply";
            assert_eq!(
                out.status.success(),
                !refused,
                "kubectl 1.{version} {args:?}: {all}"
            );
            for e in expect {
                assert!(all.contains(e), "kubectl 1.{version} {args:?}: {all}");
            }
            assert!(
                !all.contains("openapi"),
                "kubectl 1.{version} {args:?}: {all}"
            );
        }
    }
}
