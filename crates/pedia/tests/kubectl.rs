//! End to end with real kubectl (1.27 and 1.33): objects of two clusters are loaded with
//! `pedia load`, the apiserver serves them over TLS, and kubectl reads them through a
//! kubeconfig written by `pedia kubeconfig`. Once per storage layer: memory, SQLite,
//! PostgreSQL.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use pedia_storage::StorageFactory;
use pedia_testkit::databases::PgSchema;
use pedia_testkit::kubectl::kubectl;
use serde_json::Value;
use storage_setup::StorageOptions;

const TOKEN: &str = "e2e-token-0123456789";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn pedia(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pedia"))
        .args(args)
        .output()
        .expect("run pedia")
}

enum Layer {
    Memory,
    Sqlite,
    Postgres,
}

/// A running apiserver over a loaded storage layer, and a kubeconfig for it.
struct Env {
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
    storage: Arc<dyn StorageFactory>,
    config: Option<PathBuf>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    schema: Option<PgSchema>,
}

impl Env {
    async fn start(layer: Layer) -> Env {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut schema = None;
        let config = match layer {
            Layer::Memory => None,
            Layer::Sqlite => {
                let path = dir.path().join("storage.yaml");
                std::fs::write(
                    &path,
                    format!(
                        "type: sqlite\ndsn: {}\n",
                        dir.path().join("pedia.db").display()
                    ),
                )
                .expect("config");
                Some(path)
            }
            Layer::Postgres => {
                let s = PgSchema::create("pedia_e2e").await;
                let path = dir.path().join("storage.yaml");
                std::fs::write(
                    &path,
                    format!(
                        "type: postgres\ndsn: {}\nparams:\n  search_path: {}\n",
                        s.url, s.schema
                    ),
                )
                .expect("config");
                schema = Some(s);
                Some(path)
            }
        };
        let storage: Arc<dyn StorageFactory> = match &config {
            None => {
                let storage: Arc<dyn StorageFactory> =
                    Arc::new(storage_memory::MemoryStorage::default());
                for (cluster, file) in [("c1", "cluster-a.yaml"), ("c2", "cluster-b.yaml")] {
                    let objects = synchro_writer::read_objects(&[fixture(file)]).expect("fixture");
                    synchro_writer::load_objects(
                        Arc::clone(&storage),
                        cluster,
                        objects,
                        Default::default(),
                    )
                    .await
                    .expect("load");
                }
                storage
            }
            Some(config) => {
                let cfg = config.to_str().expect("utf-8 path");
                for (cluster, file) in [("c1", "cluster-a.yaml"), ("c2", "cluster-b.yaml")] {
                    let out = pedia(&[
                        "load",
                        "--storage-name",
                        "internal",
                        "--storage-config",
                        cfg,
                        "--cluster",
                        cluster,
                        fixture(file).to_str().expect("utf-8"),
                    ]);
                    assert!(out.status.success(), "pedia load: {}", text(&out));
                }
                options(config).open().await.expect("open storage")
            }
        };

        std::fs::write(
            dir.path().join("tokens.csv"),
            format!("{TOKEN},alice,uid-alice,\"dev\"\n"),
        )
        .expect("tokens");
        let serving = serving(dir.path());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = apiserver::start(&serving, Arc::clone(&storage), async {
            let _ = rx.await;
        })
        .await
        .expect("apiserver starts");

        let kubeconfig = dir.path().join("kubeconfig");
        let out = pedia(&[
            "kubeconfig",
            "--server",
            &format!("https://127.0.0.1:{}", server.addr.port()),
            "--token",
            TOKEN,
            "--certificate-authority",
            dir.path()
                .join("certs/apiserver.crt")
                .to_str()
                .expect("utf-8"),
            "--clusters",
            "c1,c2",
            "-o",
            kubeconfig.to_str().expect("utf-8"),
        ]);
        assert!(out.status.success(), "pedia kubeconfig: {}", text(&out));
        Env {
            dir,
            kubeconfig,
            storage,
            config,
            shutdown: Some(tx),
            schema,
        }
    }

    fn kubectl(&self, minor: u32, args: &[&str]) -> Output {
        Command::new(kubectl(minor))
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.dir.path().join(format!("kube-cache-{minor}")))
            .args(args)
            .output()
            .expect("run kubectl")
    }

    /// Runs kubectl and returns its standard output, failing on a non-zero exit or any
    /// warning.
    fn ok(&self, minor: u32, args: &[&str]) -> String {
        let out = self.kubectl(minor, args);
        assert!(
            out.status.success(),
            "kubectl 1.{minor} {args:?}: {}",
            text(&out)
        );
        // Discovery problems show up as warnings on standard error.
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.trim().is_empty(),
            "kubectl 1.{minor} {args:?} warned: {stderr}"
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = self.storage.shutdown().await;
        if let Some(s) = self.schema.take() {
            s.drop_schema().await;
        }
    }
}

fn options(config: &Path) -> StorageOptions {
    StorageOptions {
        storage_name: "internal".to_owned(),
        storage_config: Some(config.to_owned()),
        storage_plugins: None,
        allow_unverified_plugins: false,
        plugin_manifest_sha256: None,
    }
}

fn serving(dir: &Path) -> apiserver::ServingOptions {
    use clap::Parser;
    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        serving: apiserver::ServingOptions,
    }
    let cert_dir = dir.join("certs");
    let tokens = dir.join("tokens.csv");
    Flags::parse_from([
        "apiserver",
        "--bind-address",
        "127.0.0.1",
        "--secure-port",
        "0",
        "--cert-dir",
        cert_dir.to_str().expect("utf-8"),
        "--token-auth-file",
        tokens.to_str().expect("utf-8"),
    ])
    .serving
}

/// Rows of a kubectl table: header names and cells split on runs of spaces.
fn rows(output: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut lines = output.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<String> = lines
        .next()
        .unwrap_or_default()
        .split("  ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let rows = lines
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

fn names_by_cluster(output: &str) -> Vec<String> {
    let (header, rows) = rows(output);
    let cluster = header
        .iter()
        .position(|h| h == "CLUSTER")
        .expect("CLUSTER column");
    let name = header
        .iter()
        .position(|h| h == "NAME")
        .expect("NAME column");
    let mut v: Vec<String> = rows
        .iter()
        .map(|r| format!("{}/{}", r[cluster], r[name]))
        .collect();
    v.sort();
    v
}

async fn scenario(layer: Layer) {
    let env = Env::start(layer).await;
    for minor in [27, 33] {
        // Every pod of both clusters, with the CLUSTER column.
        let all = env.ok(minor, &["get", "pods", "-A"]);
        let (header, _) = rows(&all);
        assert_eq!(&header[..3], ["NAMESPACE", "CLUSTER", "NAME"], "{all}");
        assert!(
            header.contains(&"READY".to_owned()) && header.contains(&"STATUS".to_owned()),
            "{all}"
        );
        assert_eq!(
            names_by_cluster(&all),
            vec![
                "c1/db-0",
                "c1/web-7d4b9c-abcde",
                "c1/web-7d4b9c-fghij",
                "c2/batch-job-xyz",
                "c2/web-5f6a7b-klmno"
            ]
        );
        assert!(
            all.contains("ContainerCreating") && all.contains("Completed"),
            "{all}"
        );

        let web = env.ok(minor, &["get", "pods", "-A", "-l", "app=web"]);
        assert_eq!(names_by_cluster(&web).len(), 3, "{web}");
        let c1 = env.ok(
            minor,
            &[
                "get",
                "pods",
                "-A",
                "-l",
                "search.clusterpedia.io/clusters in (c1)",
            ],
        );
        assert!(
            names_by_cluster(&c1).iter().all(|n| n.starts_with("c1/")),
            "{c1}"
        );
        assert_eq!(names_by_cluster(&c1).len(), 3);
        let running = env.ok(
            minor,
            &[
                "get",
                "pods",
                "-A",
                "--field-selector",
                "status.phase=Running",
            ],
        );
        assert_eq!(
            names_by_cluster(&running),
            vec!["c1/db-0", "c1/web-7d4b9c-abcde", "c2/web-5f6a7b-klmno"]
        );
        let wide = env.ok(minor, &["get", "pods", "-A", "-o", "wide"]);
        assert!(
            wide.contains("10.1.0.11") && wide.contains("node-b2"),
            "{wide}"
        );
        let (wide_header, _) = rows(&wide);
        assert!(wide_header.contains(&"NODE".to_owned()), "{wide}");

        let deploys = env.ok(minor, &["get", "deploy", "-n", "ns1"]);
        assert_eq!(
            names_by_cluster(&deploys),
            vec!["c1/web", "c2/web"],
            "{deploys}"
        );
        assert!(
            deploys.contains("2/2") && deploys.contains("1/3"),
            "{deploys}"
        );

        // One cluster's context: objects by name, round-tripping the stored object.
        let json = env.ok(
            minor,
            &[
                "--context",
                "c1",
                "get",
                "pod",
                "-n",
                "ns1",
                "web-7d4b9c-abcde",
                "-o",
                "json",
            ],
        );
        let got: Value = serde_json::from_str(&json).expect("kubectl -o json");
        let stored: Value = serde_json::from_slice(
            &env.storage
                .resource_storage(&synchro_writer::resource_of("v1", "Pod", true))
                .await
                .expect("storage")
                .get("c1", "ns1", "web-7d4b9c-abcde")
                .await
                .expect("stored"),
        )
        .expect("json");
        assert_eq!(got, stored, "kubectl -o json returns the stored object");
        let yaml = env.ok(
            minor,
            &[
                "--context",
                "c2",
                "get",
                "deploy",
                "-n",
                "ns1",
                "web",
                "-o",
                "yaml",
            ],
        );
        assert!(yaml.contains("image: registry.example/web:1.5.0"), "{yaml}");
        assert!(
            yaml.contains("shadow.clusterpedia.io/cluster-name: c2"),
            "{yaml}"
        );
        assert!(!yaml.contains("managedFields"), "{yaml}");

        // A GET by name needs a cluster.
        let out = env.kubectl(minor, &["get", "pod", "-n", "ns1", "web-7d4b9c-abcde"]);
        assert!(!out.status.success());
        assert!(text(&out).contains("needs a cluster"), "{}", text(&out));

        let raw = env.ok(
            minor,
            &[
                "get",
                "--raw",
                "/apis/clusterpedia.io/v1beta1/collectionresources/workloads",
            ],
        );
        let coll: Value = serde_json::from_str(&raw).expect("collection JSON");
        assert_eq!(coll["kind"], "CollectionResource");
        assert_eq!(coll["items"].as_array().map(Vec::len), Some(2), "{raw}");

        let resources = env.ok(minor, &["api-resources"]);
        for name in ["pods", "deployments", "namespaces", "configmaps"] {
            assert!(
                resources.lines().any(|l| l.starts_with(name)),
                "{resources}"
            );
        }
        assert!(
            !resources.contains("secrets"),
            "nothing that was not loaded: {resources}"
        );
        let errors = env.kubectl(minor, &["get", "secrets", "-A"]);
        assert!(!errors.status.success());
    }
    watch_sees_a_later_change(&env).await;
    env.stop().await;
}

/// `kubectl get pods -w` prints a pod written after the watch started.
async fn watch_sees_a_later_change(env: &Env) {
    let mut child = Command::new(kubectl(33))
        .arg("--kubeconfig")
        .arg(&env.kubeconfig)
        .arg("--cache-dir")
        .arg(env.dir.path().join("kube-cache-watch"))
        .args(["get", "pods", "-A", "-w", "--request-timeout", "30s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("kubectl -w");
    // Let kubectl list and open its watch before the change.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let late = env.dir.path().join("late.yaml");
    std::fs::write(
        &late,
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: late-arrival\n  namespace: ns9\n  resourceVersion: \"5000\"\n  creationTimestamp: \"2024-07-01T00:00:00Z\"\nspec:\n  containers: [{name: x, image: x}]\nstatus:\n  phase: Pending\n",
    )
    .expect("write");
    match &env.config {
        None => {
            let objects = synchro_writer::read_objects(&[late]).expect("read");
            synchro_writer::load_objects(
                Arc::clone(&env.storage),
                "c2",
                objects,
                Default::default(),
            )
            .await
            .expect("load");
        }
        Some(config) => {
            let out = pedia(&[
                "load",
                "--storage-name",
                "internal",
                "--storage-config",
                config.to_str().expect("utf-8"),
                "--cluster",
                "c2",
                late.to_str().expect("utf-8"),
            ]);
            assert!(out.status.success(), "{}", text(&out));
        }
    }
    // The watch output is read until the pod shows up (bounded by kubectl's own timeout).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut output = String::new();
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        use std::io::Read;
        let mut buf = [0u8; 4096];
        let mut acc = String::new();
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            acc.push_str(&String::from_utf8_lossy(&buf[..n]));
            if acc.contains("late-arrival") {
                break;
            }
        }
        acc
    });
    while !reader.is_finished() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    if let Ok(text) = reader.join() {
        output = text;
    }
    assert!(
        output.contains("late-arrival") && output.contains("c2"),
        "watch output: {output}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_over_memory_storage() {
    scenario(Layer::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_over_sqlite_storage() {
    scenario(Layer::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_over_postgres_storage() {
    scenario(Layer::Postgres).await;
}
