//! The apiserver as an aggregated API server of a (simulated) host cluster: this test plays
//! the aggregator. It presents a front-proxy client certificate whose CA comes from the
//! host's `extension-apiserver-authentication` ConfigMap, with `X-Remote-User` and
//! `X-Remote-Group`; answers follow the host's RBAC (changed with real `kubectl`), bearer
//! tokens are reviewed by the host, and a rotated front-proxy CA is used without a restart.
//! The apiserver reaches the host as a service account holding only the standard
//! delegation grants (`system:auth-delegator`, `extension-apiserver-authentication-reader`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kube_sim::{KubeSim, SimConfig, UserInfo};
use pedia_storage::StorageFactory;
use pedia_testkit::kubectl::kubectl;

const PODS: &str = "/apis/clusterpedia.io/v1beta1/resources/api/v1/pods";

/// Runs real kubectl against the simulator as its admin.
fn kubectl_admin(admin: &Path, args: &[&str]) {
    let out = Command::new(kubectl(33))
        .arg("--kubeconfig")
        .arg(admin)
        .args(args)
        .output()
        .expect("kubectl");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

struct Aggregator {
    server: common::Server,
    proxy_cert: PathBuf,
    proxy_key: PathBuf,
}

impl Aggregator {
    /// `GET path` as the front proxy would send it for `user` in `groups`.
    fn get_as(&self, user: &str, groups: &[&str], path: &str) -> (u16, String) {
        let mut args = vec![
            "--cert".to_owned(),
            self.proxy_cert.display().to_string(),
            "--key".to_owned(),
            self.proxy_key.display().to_string(),
            "-H".to_owned(),
            format!("X-Remote-User: {user}"),
        ];
        for g in groups {
            args.extend(["-H".to_owned(), format!("X-Remote-Group: {g}")]);
        }
        curl(&self.server, &args, path)
    }

    fn write_proxy_cert(&self, (cert, key): (String, String)) {
        std::fs::write(&self.proxy_cert, cert).expect("cert");
        std::fs::write(&self.proxy_key, key).expect("key");
    }
}

fn curl(server: &common::Server, args: &[String], path: &str) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert"])
        .arg(server.ca())
        .args(["-w", "\n%{http_code}"])
        .args(args)
        .arg(format!("https://127.0.0.1:{}{path}", server.port()))
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

/// Polls `probe` until it returns `want` (bounded: the caches' TTL is 1 s here).
async fn eventually(what: &str, want: u16, mut probe: impl FnMut() -> (u16, String)) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (code, body) = probe();
        if code == want {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: still {code}: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn start(sim: &KubeSim, dir: &Path) -> Aggregator {
    let admin = dir.join("admin.kubeconfig");
    sim.write_kubeconfig(&admin).expect("admin kubeconfig");
    kubectl_admin(&admin, &["create", "namespace", "clusterpedia-system"]);
    kubectl_admin(
        &admin,
        &[
            "-n",
            "clusterpedia-system",
            "create",
            "serviceaccount",
            "clusterpedia-apiserver",
        ],
    );
    kubectl_admin(
        &admin,
        &[
            "create",
            "clusterrolebinding",
            "clusterpedia-apiserver:auth-delegator",
            "--clusterrole=system:auth-delegator",
            "--serviceaccount=clusterpedia-system:clusterpedia-apiserver",
        ],
    );
    kubectl_admin(
        &admin,
        &[
            "-n",
            "kube-system",
            "create",
            "rolebinding",
            "clusterpedia-apiserver:auth-reader",
            "--role=extension-apiserver-authentication-reader",
            "--serviceaccount=clusterpedia-system:clusterpedia-apiserver",
        ],
    );
    let token = sim
        .service_account_token("clusterpedia-system", "clusterpedia-apiserver", &[], 3600)
        .expect("service account token");
    let host = dir.join("host.kubeconfig");
    std::fs::write(&host, sim.kubeconfig_with_token(&token)).expect("host kubeconfig");

    let storage: Arc<dyn StorageFactory> = Arc::new(storage_memory::MemoryStorage::default());
    let pods = common::resource("", "v1", "pods", "Pod", true);
    common::put_raw(&storage, &pods, "c1", common::fixture("pod-web.json")).await;
    let host = host.display().to_string();
    let server = common::serve(
        storage,
        None,
        &[
            "--kubeconfig",
            &host,
            "--authentication-token-webhook-cache-ttl",
            "1s",
            "--authorization-webhook-cache-authorized-ttl",
            "1s",
            "--authorization-webhook-cache-unauthorized-ttl",
            "1s",
        ],
    )
    .await;
    let aggregator = Aggregator {
        proxy_cert: server.dir.path().join("front-proxy.crt"),
        proxy_key: server.dir.path().join("front-proxy.key"),
        server,
    };
    aggregator.write_proxy_cert(
        sim.front_proxy_client_cert(kube_sim::bootstrap::FRONT_PROXY_CLIENT)
            .expect("front-proxy certificate"),
    );
    aggregator
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_cluster_authenticates_and_its_rbac_authorizes() {
    let sim = KubeSim::start(SimConfig {
        rbac: true,
        ..SimConfig::default()
    })
    .expect("simulator");
    let dir = tempfile::tempdir().expect("dir");
    let agg = start(&sim, dir.path()).await;
    let admin = dir.path().join("admin.kubeconfig");

    // The aggregator's own availability check, as kube-aggregator sends it.
    let (code, body) = agg.get_as(
        "system:kube-aggregator",
        &["system:masters"],
        "/apis/clusterpedia.io/v1beta1",
    );
    assert_eq!(code, 200, "{body}");

    // No binding yet: 403, worded like kube-apiserver, naming the verb and the resource.
    let (code, body) = agg.get_as("alice", &["devs"], PODS);
    assert_eq!(code, 403, "{body}");
    let status: serde_json::Value = serde_json::from_str(&body).expect("a Status");
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["reason"], "Forbidden");
    let message = status["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(
            r#"User "alice" cannot get resource "resources/v1" in API group "clusterpedia.io""#
        ),
        "{message}"
    );

    // A ClusterRole written for Clusterpedia, bound with real kubectl, flips the decision
    // once the denied answer's TTL has passed.
    let role = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/clusterrole-clusterpedia-reader.yaml");
    kubectl_admin(&admin, &["apply", "-f", role.to_str().expect("path")]);
    kubectl_admin(
        &admin,
        &[
            "create",
            "clusterrolebinding",
            "alice-reads",
            "--clusterrole=clusterpedia-reader",
            "--user=alice",
        ],
    );
    eventually("alice after the binding", 200, || {
        agg.get_as("alice", &["devs"], PODS)
    })
    .await;
    let (_, body) = agg.get_as("alice", &["devs"], PODS);
    assert!(body.contains("\"web-0\""), "{body}");
    let (code, _) = agg.get_as("bob", &["devs"], PODS);
    assert_eq!(code, 403, "bob has no binding");
    let (code, _) = agg.get_as("bob", &["system:masters"], PODS);
    assert_eq!(code, 200, "system:masters needs no binding");
    // A group binding works as well.
    kubectl_admin(
        &admin,
        &[
            "create",
            "clusterrolebinding",
            "devs-read",
            "--clusterrole=clusterpedia-reader",
            "--group=devs",
        ],
    );
    eventually("bob through his group", 200, || {
        agg.get_as("bob", &["devs"], PODS)
    })
    .await;

    // RBAC can narrow to one member cluster: `resources/c1` named `clusters`.
    let c1 = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/clusterrole-clusterpedia-c1-reader.yaml");
    kubectl_admin(&admin, &["apply", "-f", c1.to_str().expect("path")]);
    kubectl_admin(
        &admin,
        &[
            "create",
            "clusterrolebinding",
            "carol-c1",
            "--clusterrole=clusterpedia-c1-reader",
            "--user=carol",
        ],
    );
    let c1_pods = "/apis/clusterpedia.io/v1beta1/resources/clusters/c1/api/v1/pods";
    eventually("carol on c1", 200, || agg.get_as("carol", &[], c1_pods)).await;
    let (code, _) = agg.get_as("carol", &[], PODS);
    assert_eq!(code, 403, "carol may not search all clusters");
    let (code, _) = agg.get_as(
        "carol",
        &[],
        "/apis/clusterpedia.io/v1beta1/resources/clusters/c2/api/v1/pods",
    );
    assert_eq!(code, 403, "nor another cluster");

    // Identity headers without the front proxy's certificate are not trusted.
    let (code, _) = curl(
        &agg.server,
        &["-H".into(), "X-Remote-User: alice".into()],
        PODS,
    );
    assert_eq!(code, 401);

    // Bearer tokens are reviewed by the host cluster: valid, invalid, revoked.
    let token = sim.issue_token(UserInfo::new("alice"));
    let bearer = |t: &str| vec!["-H".to_owned(), format!("Authorization: Bearer {t}")];
    let (code, body) = curl(&agg.server, &bearer(&token), PODS);
    assert_eq!(code, 200, "{body}");
    let (code, _) = curl(&agg.server, &bearer("not-a-token"), PODS);
    assert_eq!(code, 401);
    assert!(sim.revoke_token(&token));
    eventually("a revoked token", 401, || {
        curl(&agg.server, &bearer(&token), PODS)
    })
    .await;

    // The front-proxy CA rotates in the ConfigMap: the new proxy certificate is accepted and
    // the old one refused, without a restart.
    let old_cert = std::fs::read(&agg.proxy_cert).expect("old cert");
    let old_key = std::fs::read(&agg.proxy_key).expect("old key");
    sim.rotate_front_proxy_ca(false).expect("rotate");
    agg.write_proxy_cert(
        sim.front_proxy_client_cert(kube_sim::bootstrap::FRONT_PROXY_CLIENT)
            .expect("new front-proxy certificate"),
    );
    eventually("the rotated front proxy", 200, || {
        agg.get_as("alice", &[], PODS)
    })
    .await;
    std::fs::write(&agg.proxy_cert, old_cert).expect("write");
    std::fs::write(&agg.proxy_key, old_key).expect("write");
    let (code, _) = agg.get_as("alice", &[], PODS);
    assert_eq!(code, 401, "the old front-proxy CA is no longer trusted");
    sim.shutdown();
}
