//! Soak: the production topology — `clustersynchro-manager` and `apiserver` as separate
//! processes over one PostgreSQL schema — under 64 concurrent readers, 8 watchers and churn
//! on two simulated clusters (updates, creates, deletes). Short by default
//! (`PEDIA_SOAK_SECONDS`, 20 s); longer runs use the same assertions.
//!
//! It checks that every request succeeds except by the documented limits (429 with
//! `Retry-After` beyond `--max-requests-inflight`, 429 for a watch beyond
//! `--max-watches-per-user`), that every watcher keeps receiving events, that the resident
//! memory of both processes stays bounded (no growth from the first half of the run to the
//! second beyond a margin, and under a fixed ceiling), and that once churn stops storage
//! holds exactly the clusters' objects.

mod common;

use common::{wait_all_converged, write_cluster};

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use kube_sim::{KubeSim, LoadSpec, SimConfig};
use pedia_storage::StorageFactory;
use pedia_testkit::databases::PgSchema;
use pedia_testkit::https::{Api, RESOURCES};
use pedia_testkit::workspace::build_workspace;
use serde_json::{Value, json};

const READERS: usize = 64;
const WATCHERS: usize = 8;
/// Below READERS + WATCHERS, so the inflight limit is reached and its 429s are exercised.
const MAX_INFLIGHT: usize = 48;
const READER_TOKEN: &str = "soak-reader-token";
const WATCHER_TOKEN: &str = "soak-watcher-token";
/// No process of the service may exceed this resident size.
const RSS_CEILING_KIB: u64 = 768 * 1024;
/// Allowed growth of peak RSS from the first half of the run to the second.
const RSS_GROWTH_KIB: u64 = 64 * 1024;

fn soak_duration() -> Duration {
    let secs = std::env::var("PEDIA_SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(20);
    Duration::from_secs(secs.max(4))
}

/// A child process killed when the test ends, its stderr in a file for failure messages.
struct Process {
    name: &'static str,
    child: Child,
    log: std::path::PathBuf,
}

impl Process {
    fn spawn(name: &'static str, cmd: &mut Command, dir: &Path) -> Self {
        let log = dir.join(format!("{name}.log"));
        let child = cmd
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Self { name, child, log }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Resident set size in KiB, from /proc.
    fn rss_kib(&mut self) -> u64 {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited ({status}):\n{}", self.name, self.log_text());
        }
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The apiserver's address, from the line it prints once serving.
async fn served_addr(p: &mut Process) -> std::net::SocketAddr {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = p.log_text();
        if let Some(addr) = text
            .lines()
            .find_map(|l| l.strip_prefix("serving https://"))
            .and_then(|rest| rest.split('/').next())
        {
            return addr.parse().expect("address");
        }
        p.rss_kib(); // panics with the log if it exited
        assert!(
            Instant::now() < deadline,
            "apiserver did not start:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    limited: AtomicU64,
    events: AtomicU64,
}

/// One reader: a rotating mix of the queries users send, recording every outcome. Any
/// answer other than 200, or 429 with `Retry-After`, fails the test.
async fn reader(
    api: Api,
    id: usize,
    names: Arc<Vec<(String, String, String)>>,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
) {
    let mut i = id;
    while !stop.load(Ordering::Relaxed) {
        let (cluster, ns, name) = &names[i % names.len()];
        let (path, accept) = match i % 6 {
            0 => (
                format!("{RESOURCES}/clusters/{cluster}/api/v1/namespaces/{ns}/pods/{name}"),
                None,
            ),
            1 => (
                format!("{RESOURCES}/api/v1/pods?limit=100&labelSelector=app%3Dweb"),
                None,
            ),
            2 => (
                format!("{RESOURCES}/api/v1/namespaces/{ns}/pods?limit=50"),
                Some("application/json;as=Table;v=v1;g=meta.k8s.io"),
            ),
            3 => (
                format!("{RESOURCES}/api/v1/configmaps?limit=200&orderby=created_at%20desc"),
                None,
            ),
            4 => (
                "/apis/clusterpedia.io/v1beta1/collectionresources/workloads?limit=20".to_owned(),
                None,
            ),
            _ => (
                format!(
                    "{RESOURCES}/api/v1/pods?limit=500&clusters={cluster}&withRemainingCount=true"
                ),
                None,
            ),
        };
        let (status, headers, body) = api
            .get_with_headers(&path, accept)
            .await
            .unwrap_or_else(|e| panic!("reader {id}: GET {path}: {e:#}"));
        match status.as_u16() {
            200 => {
                tally.ok.fetch_add(1, Ordering::Relaxed);
            }
            429 => {
                assert!(
                    headers.contains_key("retry-after"),
                    "a 429 without Retry-After: {}",
                    String::from_utf8_lossy(&body)
                );
                tally.limited.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => panic!(
                "reader {id}: GET {path}: {other}: {}",
                String::from_utf8_lossy(&body[..body.len().min(400)])
            ),
        }
        i += 7;
    }
}

/// One watcher: watches every cluster's pods from the list's revision and counts events,
/// re-opening the watch when the server ends it (as client-go's reflector does).
async fn watcher(api: Api, stop: Arc<AtomicBool>, tally: Arc<Tally>, per_watcher: Arc<AtomicU64>) {
    while !stop.load(Ordering::Relaxed) {
        let (status, body) = api
            .get(&format!("{RESOURCES}/api/v1/pods?limit=1"), None)
            .await
            .expect("list for a resourceVersion");
        if status.as_u16() == 429 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        assert_eq!(status.as_u16(), 200, "{}", String::from_utf8_lossy(&body));
        let list: Value = serde_json::from_slice(&body).expect("list JSON");
        let rv = list["metadata"]["resourceVersion"]
            .as_str()
            .expect("rv")
            .to_owned();
        let path =
            format!("{RESOURCES}/api/v1/pods?watch=true&resourceVersion={rv}&timeoutSeconds=10");
        let mut stream = match api.stream(&path).await {
            Ok(s) => s,
            Err(e) if e.to_string().contains("429") => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            Err(e) => panic!("watch: {e:#}"),
        };
        loop {
            let frame = tokio::select! {
                f = stream.frame() => f,
                () = tokio::time::sleep(Duration::from_millis(200)) => {
                    if stop.load(Ordering::Relaxed) { return; }
                    continue;
                }
            };
            let Some(frame) = frame else { break };
            let frame = frame.expect("watch stream read");
            if let Ok(data) = frame.into_data() {
                let n = data.iter().filter(|b| **b == b'\n').count() as u64;
                let error_event = b"\"type\":\"ERROR\"";
                assert!(
                    !data.windows(error_event.len()).any(|w| w == error_event),
                    "watch sent an ERROR event: {}",
                    String::from_utf8_lossy(&data)
                );
                tally.events.fetch_add(n, Ordering::Relaxed);
                per_watcher.fetch_add(n, Ordering::Relaxed);
            }
        }
    }
}

/// Creates and deletes pods on a simulator while `stop` is false.
async fn create_delete_churn(sim: Arc<KubeSim>, stop: Arc<AtomicBool>) {
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let name = format!("soak-{n}");
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "labels": {"app": "web", "soak": "yes"}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}
        });
        sim.store().create(pod).expect("create pod");
        if n >= 5 {
            sim.store()
                .delete("pods", Some("default"), &format!("soak-{}", n - 5))
                .expect("delete pod");
        }
        n += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn soak_readers_watchers_and_churn_hold_within_limits() {
    let bin = build_workspace();
    let dir = tempfile::tempdir().expect("dir");
    let schema = PgSchema::create("pedia_soak").await;
    let storage_config = dir.path().join("storage.yaml");
    let config_text = format!(
        "type: postgres\ndsn: {}\nparams:\n  search_path: {}\n",
        schema.url, schema.schema
    );
    std::fs::write(&storage_config, &config_text).expect("config");

    let sims: Vec<Arc<KubeSim>> = ["c1", "c2"]
        .into_iter()
        .map(|name| {
            let sim = KubeSim::start(SimConfig::named(name)).expect("simulator");
            sim.load(&LoadSpec::parse("pods=1500,configmaps=400,seed=3").expect("spec"))
                .expect("load");
            Arc::new(sim)
        })
        .collect();
    let clusters = dir.path().join("clusters");
    std::fs::create_dir(&clusters).expect("clusters dir");
    for sim in &sims {
        write_cluster(&clusters, sim);
    }

    let mut manager = Process::spawn(
        "clustersynchro-manager",
        Command::new(bin.join("clustersynchro-manager"))
            .arg("--clusters-dir")
            .arg(&clusters)
            .args([
                "--leader-elect=false",
                "--metrics-bind-address",
                "127.0.0.1:0",
            ])
            .args(["--storage-name", "internal", "--storage-config"])
            .arg(&storage_config),
        dir.path(),
    );
    let tokens = dir.path().join("tokens.csv");
    std::fs::write(
        &tokens,
        format!("{READER_TOKEN},reader,1,readers\n{WATCHER_TOKEN},watcher,2,watchers\n"),
    )
    .expect("tokens");
    let mut apiserver = Process::spawn(
        "apiserver",
        Command::new(bin.join("apiserver"))
            .args(["--bind-address", "127.0.0.1", "--secure-port", "0"])
            .arg("--cert-dir")
            .arg(dir.path().join("certs"))
            .arg("--token-auth-file")
            .arg(&tokens)
            .args(["--max-requests-inflight", &MAX_INFLIGHT.to_string()])
            .args(["--max-watches-per-user", &WATCHERS.to_string()])
            .args(["--storage-name", "internal", "--storage-config"])
            .arg(&storage_config),
        dir.path(),
    );
    let addr = served_addr(&mut apiserver).await;
    let ca = dir.path().join("certs/apiserver.crt");
    let reader_api = Api::new(addr, &ca, READER_TOKEN).expect("client");
    let watcher_api = Api::new(addr, &ca, WATCHER_TOKEN).expect("client");

    // Direct access to the same schema, for the comparer.
    let cfg = storage_internal::InternalStorageConfig::from_yaml(&config_text).expect("config");
    let storage: Arc<dyn StorageFactory> = Arc::new(
        storage_internal::InternalStorage::connect(&cfg)
            .await
            .expect("storage"),
    );
    wait_all_converged(&storage, &sims, Duration::from_secs(120)).await;

    // Names for GETs by name, from the initial set.
    let mut names = Vec::new();
    for sim in &sims {
        for pod in sim
            .store()
            .list("pods", None)
            .expect("pods")
            .iter()
            .step_by(25)
        {
            names.push((
                sim.name().to_owned(),
                pod["metadata"]["namespace"]
                    .as_str()
                    .expect("ns")
                    .to_owned(),
                pod["metadata"]["name"].as_str().expect("name").to_owned(),
            ));
        }
    }
    let names = Arc::new(names);

    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    for sim in &sims {
        sim.run_updates(150.0);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for sim in &sims {
        tasks.spawn(create_delete_churn(Arc::clone(sim), Arc::clone(&stop)));
    }
    let per_watcher: Vec<Arc<AtomicU64>> = (0..WATCHERS).map(|_| Arc::default()).collect();
    for counter in &per_watcher {
        tasks.spawn(watcher(
            watcher_api.clone(),
            Arc::clone(&stop),
            Arc::clone(&tally),
            Arc::clone(counter),
        ));
    }
    for id in 0..READERS {
        tasks.spawn(reader(
            reader_api.clone(),
            id,
            Arc::clone(&names),
            Arc::clone(&stop),
            Arc::clone(&tally),
        ));
    }

    // Sample memory through the run; meanwhile check that a watch beyond the per-user
    // limit is refused while the watchers hold theirs.
    let run = soak_duration();
    let started = Instant::now();
    let (mut first_half, mut second_half) = ([0u64; 2], [0u64; 2]);
    let mut extra_watch_refused = false;
    while started.elapsed() < run {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let rss = [manager.rss_kib(), apiserver.rss_kib()];
        let half = if started.elapsed() < run / 2 {
            &mut first_half
        } else {
            &mut second_half
        };
        for (peak, now) in half.iter_mut().zip(rss) {
            *peak = (*peak).max(now);
        }
        if !extra_watch_refused && started.elapsed() > run / 4 {
            let open: usize = per_watcher
                .iter()
                .filter(|c| c.load(Ordering::Relaxed) > 0)
                .count();
            if open == WATCHERS {
                match watcher_api
                    .stream(&format!("{RESOURCES}/api/v1/configmaps?watch=true"))
                    .await
                {
                    Err(e) if e.to_string().contains("429") => extra_watch_refused = true,
                    Err(e) if e.to_string().contains("too many requests in flight") => {}
                    Err(e) => panic!("an extra watch failed unexpectedly: {e:#}"),
                    Ok(_) => {
                        // A watcher was between two watches; try again later.
                    }
                }
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    for sim in &sims {
        sim.run_updates(0.0);
    }
    while let Some(result) = tasks.join_next().await {
        result.expect("a load task failed");
    }

    let ok = tally.ok.load(Ordering::Relaxed);
    let limited = tally.limited.load(Ordering::Relaxed);
    let events = tally.events.load(Ordering::Relaxed);
    eprintln!(
        "soak {run:?}: {ok} reads ok, {limited} limited (429), {events} watch events; \
         peak RSS KiB [manager, apiserver]: first half {first_half:?}, second half {second_half:?}"
    );
    assert!(ok >= (READERS as u64) * 4, "readers made progress: {ok}");
    for (i, c) in per_watcher.iter().enumerate() {
        assert!(
            c.load(Ordering::Relaxed) > 0,
            "watcher {i} received no events"
        );
    }
    assert!(
        extra_watch_refused,
        "a watch beyond --max-watches-per-user got 429"
    );
    for (i, name) in ["clustersynchro-manager", "apiserver"]
        .into_iter()
        .enumerate()
    {
        assert!(
            second_half[i] <= RSS_CEILING_KIB && first_half[i] <= RSS_CEILING_KIB,
            "{name} peak RSS {} KiB is over the {RSS_CEILING_KIB} KiB ceiling",
            first_half[i].max(second_half[i])
        );
        assert!(
            second_half[i] <= first_half[i] + RSS_GROWTH_KIB,
            "{name} RSS grew from {} KiB to {} KiB during the run",
            first_half[i],
            second_half[i]
        );
    }

    // Nothing lost: once churn stops, storage converges to the clusters' objects.
    wait_all_converged(&storage, &sims, Duration::from_secs(120)).await;
    assert!(
        !manager.log_text().contains("panicked") && !apiserver.log_text().contains("panicked"),
        "a component panicked:\n{}\n{}",
        manager.log_text(),
        apiserver.log_text()
    );
    drop(storage);
    drop(manager);
    drop(apiserver);
    schema.drop_schema().await;
}
