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

    let kubeconfig = s.dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: s\n  cluster:\n    server: https://127.0.0.1:{}{RESOURCES}\n    certificate-authority: {}\nusers:\n- name: u\n  user:\n    token: root-token\ncontexts:\n- name: s\n  context: {{cluster: s, user: u}}\ncurrent-context: s\n",
            s.port(),
            s.ca().display()
        ),
    )
    .expect("kubeconfig");
    for version in [27, 33] {
        for (args, expect) in [
            (&["get", "nodes"][..], "No resources found"),
            (&["get", "statefulsets", "-A"][..], "No resources found"),
        ] {
            let out = Command::new(kubectl(version))
                .arg("--kubeconfig")
                .arg(&kubeconfig)
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
            assert!(
                out.status.success() && all.contains(expect),
                "kubectl 1.{version} {args:?}: {all}"
            );
        }
    }
}
