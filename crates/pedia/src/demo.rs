//! `pedia demo`: the one-command quickstart. Without arguments it starts two simulated
//! clusters with sample workloads (bulk plus the named ones of `kube_sim::load::demo`), syncs them into SQLite with a progress display, serves
//! the search API, writes a kubeconfig and prints the kubectl command to try. With
//! `--kubeconfig` (one cluster per context) or `--clusters-dir` it syncs real clusters.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use base64::Engine;
use clap::Args;
use clustersynchro_manager::ManagerOptions;
use kube_sim::{KubeSim, LoadSpec, SimConfig};
use storage_setup::StorageOptions;

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Working directory for the database, certificates, cluster manifests and kubeconfig.
    #[arg(long, default_value = ".pedia-demo")]
    dir: PathBuf,
    /// The search API's port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 6443)]
    port: u16,
    /// Sync the clusters of this kubeconfig (one per context) instead of simulated ones.
    #[arg(long, conflicts_with = "clusters_dir")]
    kubeconfig: Option<PathBuf>,
    /// Sync the PediaCluster manifests in this directory instead of simulated clusters.
    #[arg(long)]
    clusters_dir: Option<PathBuf>,
    /// Objects of sample workload per simulated cluster (roughly; pods dominate).
    #[arg(long, default_value_t = 300)]
    objects: usize,
    /// Storage: by default SQLite in --dir.
    #[command(flatten)]
    storage: StorageOptions,
}

/// The demo's log file, `demo.log` in its directory (created); `None` when it cannot be
/// written, and the logs then go to stderr.
pub(crate) fn log_file(args: &DemoArgs) -> Option<std::fs::File> {
    std::fs::create_dir_all(&args.dir).ok()?;
    std::fs::File::create(args.dir.join("demo.log")).ok()
}

/// What the demo syncs by default: the kinds users list most, plus all custom resources.
const SYNC_RESOURCES: &str = "  syncAllCustomResources: true\n  syncResources:\n  - group: \"\"\n    resources: [pods, services, configmaps, namespaces, nodes]\n  - group: apps\n    resources: [deployments, replicasets, statefulsets, daemonsets]\n  - group: batch\n    resources: [jobs, cronjobs]\n";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A random token for the demo's search API.
fn token() -> String {
    (0..4)
        .map(|_| format!("{:016x}", RandomState::new().build_hasher().finish()))
        .collect()
}

fn pediacluster(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: cluster.clusterpedia.io/v1alpha2\nkind: PediaCluster\nmetadata:\n  name: {name}\nspec:\n{spec}{SYNC_RESOURCES}"
    )
}

/// Writes one PediaCluster per context of a kubeconfig.
fn clusters_from_kubeconfig(path: &Path, out: &Path) -> Result<Vec<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let doc: serde_json::Value =
        serde_yaml_ng::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let mut names = Vec::new();
    for ctx in doc["contexts"].as_array().into_iter().flatten() {
        let Some(name) = ctx["name"].as_str() else {
            continue;
        };
        // A Kubernetes name: lower-case alphanumerics and dashes.
        let cluster: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        let mut one = doc.clone();
        one["current-context"] = serde_json::json!(name);
        let yaml = serde_yaml_ng::to_string(&one)?;
        let spec = format!("  kubeconfig: {}\n", b64(yaml.as_bytes()));
        std::fs::write(
            out.join(format!("{cluster}.yaml")),
            pediacluster(&cluster, &spec),
        )?;
        names.push(cluster);
    }
    anyhow::ensure!(!names.is_empty(), "{} has no contexts", path.display());
    Ok(names)
}

/// Starts two simulated clusters with sample workloads and writes their PediaClusters into
/// `out`, and a kubeconfig for each into `dir` (`<name>.kubeconfig`: the cluster itself, to
/// change it with kubectl).
fn simulated_clusters(objects: usize, out: &Path, dir: &Path) -> Result<Vec<KubeSim>> {
    let mut sims = Vec::new();
    for (i, name) in ["cluster-1", "cluster-2"].into_iter().enumerate() {
        let sim = KubeSim::start(SimConfig::named(name)).context("starting a simulated cluster")?;
        let pods = objects * 6 / 10;
        let spec = LoadSpec::parse(&format!(
            "pods={pods},deployments={},configmaps={},services={},crontabs={},nodes=3,namespaces=4,seed={}",
            (objects / 15).max(1),
            (objects / 10).max(1),
            (objects / 20).max(1),
            (objects / 30).max(1),
            i + 1
        ))?;
        let report = sim.load(&spec).context("loading sample workloads")?;
        // The named workloads the README's examples show (web, db-0, jobs, every pod phase).
        let named = kube_sim::load::demo::load(sim.store(), i as u64 + 1)
            .context("loading the named sample workloads")?;
        // A little churn, so watches have something to show.
        sim.run_updates(0.5);
        let spec = format!(
            "  apiserver: {}\n  caData: {}\n  tokenData: {}\n",
            sim.url(),
            b64(sim.ca_pem().as_bytes()),
            b64(sim.token().unwrap_or_default().as_bytes())
        );
        std::fs::write(out.join(format!("{name}.yaml")), pediacluster(name, &spec))?;
        sim.write_kubeconfig(&dir.join(format!("{name}.kubeconfig")))?;
        let objects: usize =
            report.created.values().sum::<usize>() + named.created.values().sum::<usize>();
        eprintln!(
            "started simulated cluster {name} at {} ({objects} objects)",
            sim.url()
        );
        sims.push(sim);
    }
    Ok(sims)
}

/// Shows initial-sync progress until every resource is synced (or a minute passes).
async fn show_progress(
    progress: &clustersynchro_manager::progress::Progress,
    expected_clusters: usize,
) {
    let started = Instant::now();
    let mut last = String::new();
    loop {
        let snapshot = progress.snapshot();
        let mut line = String::new();
        let mut done = snapshot.len() >= expected_clusters;
        for (cluster, (health, resources)) in &snapshot {
            let synced: u64 = resources
                .iter()
                .map(|r| r.synced.load(Ordering::Relaxed))
                .sum();
            let finished = resources
                .iter()
                .filter(|r| r.initial_done.load(Ordering::Relaxed))
                .count();
            done &= !resources.is_empty() && finished == resources.len();
            line.push_str(&format!(
                "  {cluster}: {}{finished}/{} resources, {synced} objects",
                if health.healthy { "" } else { "(unreachable) " },
                resources.len()
            ));
        }
        if line != last {
            eprintln!("syncing{line}");
            last = line;
        }
        if done {
            eprintln!(
                "initial sync done in {:.1}s",
                started.elapsed().as_secs_f64()
            );
            return;
        }
        if started.elapsed() > Duration::from_secs(60) {
            eprintln!("still syncing; serving what is stored so far");
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

pub(crate) async fn run(args: DemoArgs) -> Result<()> {
    let dir = &args.dir;
    let clusters_dir = dir.join("clusters");
    std::fs::create_dir_all(&clusters_dir)
        .with_context(|| format!("creating {}", clusters_dir.display()))?;

    let mut storage_options = args.storage.clone();
    if storage_options.storage_config.is_none() && storage_options.storage_name == "internal" {
        let config = dir.join("storage.yaml");
        let db = std::fs::canonicalize(dir)?.join("pedia.db");
        std::fs::write(&config, format!("type: sqlite\ndsn: {}\n", db.display()))?;
        storage_options.storage_config = Some(config);
    }
    let storage = storage_options.open().await?;

    // Keep the simulators alive for the whole demo.
    let (sims, clusters_dir, expected) = match (&args.clusters_dir, &args.kubeconfig) {
        (Some(d), _) => (Vec::new(), d.clone(), 1),
        (None, Some(k)) => {
            let names = clusters_from_kubeconfig(k, &clusters_dir)?;
            (Vec::new(), clusters_dir, names.len())
        }
        (None, None) => {
            let sims = simulated_clusters(args.objects, &clusters_dir, dir)?;
            let n = sims.len();
            (sims, clusters_dir, n)
        }
    };

    let manager_options = ManagerOptions::standalone(&clusters_dir);
    let manager = clustersynchro_manager::start(&manager_options, Arc::clone(&storage)).await?;
    show_progress(&manager.progress, expected).await;

    let token = token();
    std::fs::write(
        dir.join("tokens.csv"),
        format!("{token},demo-user,demo,\"system:masters\"\n"),
    )?;
    let serving = serving(dir, args.port)?;
    let server = apiserver::start(&serving, Arc::clone(&storage), async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;

    let mut clusters: Vec<String> = manager.progress.snapshot().keys().cloned().collect();
    clusters.sort();
    let kubeconfig = dir.join("kubeconfig");
    let doc = crate::kubeconfig::kubeconfig(
        &format!("https://127.0.0.1:{}", server.addr.port()),
        &clusters,
        &serde_json::json!({"certificate-authority-data": b64(&std::fs::read(dir.join("certs/apiserver.crt"))?)}),
        &serde_json::json!({"token": token}),
    );
    std::fs::write(&kubeconfig, serde_yaml_ng::to_string(&doc)?)?;

    println!();
    println!(
        "Clusterpedia search API: https://127.0.0.1:{}/apis/clusterpedia.io/v1beta1/resources",
        server.addr.port()
    );
    println!(
        "Contexts: clusterpedia (all clusters){}",
        clusters
            .iter()
            .map(|c| format!(", {c}"))
            .collect::<String>()
    );
    println!("Try:");
    println!(
        "  kubectl --kubeconfig {} get pods -A",
        kubeconfig.display()
    );
    println!(
        "  kubectl --kubeconfig {} get deployments -A -l 'search.clusterpedia.io/clusters in ({})'",
        kubeconfig.display(),
        clusters.first().map(String::as_str).unwrap_or("cluster-1")
    );
    println!(
        "  kubectl --kubeconfig {} get pediaclusters",
        kubeconfig.display()
    );
    if let Some(first) = sims.first() {
        // The simulator stores what kubectl writes but runs no controllers (a scaled
        // deployment keeps its pods): labels and annotations are the changes to try.
        println!("Change a simulated cluster, then see the change through search:");
        println!(
            "  kubectl --kubeconfig {} label deployment web -n default tier=frontend --overwrite",
            dir.join(format!("{}.kubeconfig", first.name())).display()
        );
        println!(
            "  kubectl --kubeconfig {} get deployments -A -l tier=frontend",
            kubeconfig.display()
        );
    }
    println!("Logs: {}", dir.join("demo.log").display());
    println!("Press Ctrl-C to stop.");

    let mut manager_task = manager.task;
    let mut server_task = server.task;
    tokio::select! {
        result = &mut manager_task => { result??; }
        result = &mut server_task => { result?; }
    }
    // Shut down in order, quietly: first the manager (dropping it aborts every cluster's
    // watches, which would otherwise see the simulated clusters vanish and retry loudly),
    // then the storage; the simulators stop last, when `sims` drops at the end.
    manager_task.abort();
    let _ = manager_task.await;
    // Aborted watch tasks are cancelled at their next poll: give them that poll while
    // the simulators still answer.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = storage.shutdown().await;
    eprintln!("stopped");
    Ok(())
}

fn serving(dir: &Path, port: u16) -> Result<apiserver::ServingOptions> {
    use clap::Parser;
    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        serving: apiserver::ServingOptions,
    }
    let certs = dir.join("certs");
    let tokens = dir.join("tokens.csv");
    Ok(Flags::try_parse_from([
        "apiserver".to_owned(),
        "--bind-address".to_owned(),
        "127.0.0.1".to_owned(),
        "--secure-port".to_owned(),
        port.to_string(),
        "--cert-dir".to_owned(),
        certs.to_string_lossy().into_owned(),
        "--token-auth-file".to_owned(),
        tokens.to_string_lossy().into_owned(),
    ])?
    .serving)
}
