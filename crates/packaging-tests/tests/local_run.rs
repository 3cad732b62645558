//! The "Local Run" of Clusterpedia's storage plugin guide, as its command lines are written:
//! `cargo xtask dist` gives `./bin` and `./plugins`, the certificates come from the guide's
//! `openssl` commands, `~/.kube/config` points at a (simulated) host cluster holding a
//! PediaCluster, `./config.yaml` is the sample plugin's configuration in the guide's shape
//! pointed at a MySQL/MariaDB database, and then
//!
//! ```text
//! STORAGE_PLUGINS=./plugins ./bin/clustersynchro-manager --kubeconfig ~/.kube/config ...
//! STORAGE_PLUGINS=./plugins ./bin/apiserver --client-ca-file ca.crt --secure-port 8443 ...
//! ```
//!
//! run through `sh` exactly as written (only the port is a free one instead of 8443), and
//! real kubectl with the guide's client certificate (`CN=development`, `O=system:masters`)
//! lists the member cluster's pods. The host cluster enforces RBAC: a certificate without
//! `system:masters` is refused by the host's authorization.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kube_sim::{KubeSim, LoadSpec, SimConfig};
use packaging_tests::{output, root, run_ok, tool};
use pedia_testkit::databases::MyDatabase;
use pedia_testkit::kubectl::kubectl;
use serde_json::Value;

/// The guide's command lines (section "Local Run"), joined into one line each.
const MANAGER: &str = "STORAGE_PLUGINS=./plugins ./bin/clustersynchro-manager --kubeconfig ~/.kube/config \
    --storage-name=sample-storage-layer \
    --storage-config ./config.yaml";
const APISERVER: &str = "STORAGE_PLUGINS=./plugins ./bin/apiserver --client-ca-file ca.crt  --secure-port 8443 \
    --kubeconfig ~/.kube/config \
    --authentication-kubeconfig ~/.kube/config \
    --authorization-kubeconfig ~/.kube/config \
    --storage-name=sample-storage-layer \
    --storage-config ./config.yaml";
/// The guide's certificate commands. The first one prompts for a subject in the guide;
/// `-subj` answers it.
const CERTIFICATES: &[&str] = &[
    "openssl req -nodes -new -x509 -keyout ca.key -out ca.crt -subj /CN=local-run-ca",
    r#"openssl req -out client.csr -new -newkey rsa:4096 -nodes -keyout client.key -subj "/CN=development/O=system:masters""#,
    "openssl x509 -req -days 365 -in client.csr -CA ca.crt -CAkey ca.key -set_serial 01 -sha256 -out client.crt",
    // Not in the guide: a user the host's RBAC grants nothing.
    r#"openssl req -out visitor.csr -new -newkey rsa:2048 -nodes -keyout visitor.key -subj "/CN=visitor/O=guests""#,
    "openssl x509 -req -days 365 -in visitor.csr -CA ca.crt -CAkey ca.key -set_serial 02 -sha256 -out visitor.crt",
];

/// A component started from a command line; killed when dropped. Its output goes to
/// `<name>.log` in the work directory, shown when the test fails.
struct Component {
    child: Child,
    log: PathBuf,
}

impl Component {
    fn start(work: &Path, name: &str, command_line: &str) -> Self {
        let log = work.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("log file");
        let child = Command::new("sh")
            .arg("-c")
            // `exec` so that killing the child stops the component, not only the shell.
            .arg(format!("exec env {command_line}"))
            .current_dir(work)
            .env("HOME", work.join("home"))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        Self { child, log }
    }

    /// Panics with the log if the component has exited.
    fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "{} exited ({status}):\n{}",
                self.log.display(),
                self.log_text()
            );
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Component {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A host cluster with the charts' CRDs, the components' namespace and RBAC enforced, and
/// a PediaCluster for `member` syncing pods.
fn host_cluster(member: &KubeSim) -> KubeSim {
    let host = KubeSim::start(SimConfig {
        rbac: true,
        ..SimConfig::named("host")
    })
    .expect("host cluster");
    let crds = root().join("charts/clusterpedia-core/crds");
    for name in [
        "cluster.clusterpedia.io_pediaclusters.yaml",
        "cluster.clusterpedia.io_clustersyncresources.yaml",
    ] {
        create_yaml(
            &host,
            &std::fs::read_to_string(crds.join(name)).expect("CRD"),
        );
    }
    create_yaml(
        &host,
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: clusterpedia-system\n",
    );
    create_yaml(
        &host,
        &member.pediacluster("  syncResources:\n  - group: \"\"\n    resources: [pods]\n"),
    );
    host
}

fn create_yaml(sim: &KubeSim, yaml: &str) {
    for doc in serde_yaml_ng::Deserializer::from_str(yaml) {
        let value: Value = serde::Deserialize::deserialize(doc).expect("YAML");
        if !value.is_null() {
            sim.store().create(value).expect("create");
        }
    }
}

/// `config.yaml` from the fixture, pointed at `database`.
fn storage_config(database: &MyDatabase) -> String {
    let parts = database.parts();
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/local-run-config.yaml"),
    )
    .expect("fixture")
    .replace("${HOST}", &parts.host)
    .replace("${PORT}", &parts.port.to_string())
    .replace("${USER}", &parts.user)
    .replace("${PASSWORD}", parts.password.as_deref().unwrap_or(""))
    .replace("${DATABASE}", &parts.database)
}

/// A kubeconfig for the search API as `user` (files in `work`).
fn search_kubeconfig(work: &Path, port: u16, user: &str) -> PathBuf {
    let path = work.join(format!("{user}.kubeconfig"));
    let dir = work.display();
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: clusterpedia\n  cluster:\n    server: https://127.0.0.1:{port}/apis/clusterpedia.io/v1beta1/resources\n    insecure-skip-tls-verify: true\nusers:\n- name: {user}\n  user:\n    client-certificate: {dir}/{user}.crt\n    client-key: {dir}/{user}.key\ncontexts:\n- name: clusterpedia\n  context:\n    cluster: clusterpedia\n    user: {user}\ncurrent-context: clusterpedia\n"
        ),
    )
    .expect("kubeconfig");
    path
}

fn kubectl_get_pods(kubeconfig: &Path) -> std::process::Output {
    output(
        Command::new(kubectl(33))
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(["get", "pods", "-A", "--request-timeout=10s"]),
    )
}

#[test]
fn the_guides_local_run_serves_kubectl() {
    let scratch = tempfile::tempdir().expect("dir");
    let work = scratch.path();
    // ./bin and ./plugins, as `make build-components` and `make build-plugin` leave them.
    // The dev profile keeps this to the tests' own incremental build.
    run_ok(
        pedia_testkit::workspace::cargo()
            .current_dir(root())
            .args(["run", "--quiet", "--locked", "-p", "xtask", "--"])
            .args(["dist", "--profile", "dev", "--out"])
            .arg(work),
    );
    for cmd in CERTIFICATES {
        run_ok(Command::new(tool("sh")).args(["-c", cmd]).current_dir(work));
    }

    let member = KubeSim::start(SimConfig::named("member-1")).expect("member cluster");
    member
        .load(&LoadSpec::parse("pods=24,seed=11").expect("spec"))
        .expect("load");
    let pods: Vec<String> = member
        .store()
        .list("pods", None)
        .expect("pods")
        .iter()
        .map(|p| p["metadata"]["name"].as_str().expect("name").to_owned())
        .collect();
    assert_eq!(pods.len(), 24);
    let host = host_cluster(&member);
    std::fs::create_dir_all(work.join("home/.kube")).expect("~/.kube");
    host.write_kubeconfig(&work.join("home/.kube/config"))
        .expect("~/.kube/config");

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let database = runtime.block_on(MyDatabase::create("pedia_local_run"));
    std::fs::write(work.join("config.yaml"), storage_config(&database)).expect("config.yaml");

    let port = free_port();
    let mut manager = Component::start(work, "clustersynchro-manager", MANAGER);
    let mut apiserver = Component::start(
        work,
        "apiserver",
        &APISERVER.replace("--secure-port 8443", &format!("--secure-port {port}")),
    );

    // kubectl with the guide's certificate lists every pod of the member cluster once the
    // manager has synced it (bounded: a few seconds on an idle machine).
    let development = search_kubeconfig(work, port, "client");
    let deadline = Instant::now() + Duration::from_secs(120);
    let listed = loop {
        manager.assert_running();
        apiserver.assert_running();
        let out = kubectl_get_pods(&development);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() && pods.iter().all(|p| stdout.contains(p.as_str())) {
            break stdout;
        }
        assert!(
            Instant::now() < deadline,
            "kubectl get pods -A never listed the member's {} pods:\nstdout:\n{stdout}\nstderr:\n{}\nmanager log:\n{}\napiserver log:\n{}",
            pods.len(),
            String::from_utf8_lossy(&out.stderr),
            manager.log_text(),
            apiserver.log_text()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    // A header and one row per pod: nothing from elsewhere, nothing twice.
    assert_eq!(listed.lines().count(), pods.len() + 1, "{listed}");
    assert!(listed.starts_with("NAMESPACE"), "{listed}");

    // The host cluster's RBAC decides: the visitor's certificate is valid, its user has no
    // grant.
    let visitor = search_kubeconfig(work, port, "visitor");
    let out = kubectl_get_pods(&visitor);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the visitor was served");
    assert!(
        stderr.contains("Forbidden") && stderr.contains("visitor"),
        "{stderr}"
    );

    drop(apiserver);
    drop(manager);
    runtime.block_on(database.drop_database());
}
