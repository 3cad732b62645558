//! `kube-sim`: runs one simulated Kubernetes cluster until interrupted. Prints the server
//! URL on stdout once it serves (and the loaded objects are in place), so scripts can read
//! the first line and go.
//!
//! ```text
//! kube-sim --port 0 --token T --kubeconfig-out FILE --load pods=1000,deployments=100 --updates-per-second 10
//! ```

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use kube_sim::{KubeSim, LoadSpec, SimConfig};

/// A Kubernetes API server simulator.
#[derive(Debug, Parser)]
#[command(name = "kube-sim", version)]
struct Args {
    /// Cluster, user and context name in the kubeconfig.
    #[arg(long, default_value = "kube-sim")]
    name: String,
    /// Address to listen on.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    bind: IpAddr,
    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Bearer token clients must present (default: a random one, written to the kubeconfig).
    #[arg(long, env = "KUBE_SIM_TOKEN")]
    token: Option<String>,
    /// Accept requests without credentials (no token, no client certificate needed).
    #[arg(long, conflicts_with = "token")]
    anonymous: bool,
    /// PEM file of CAs whose client certificates authenticate.
    #[arg(long)]
    client_ca: Option<PathBuf>,
    /// Directory of the serving certificate (reused when present; default: a temporary one).
    #[arg(long)]
    cert_dir: Option<PathBuf>,
    /// Write a kubeconfig for the simulator here.
    #[arg(long)]
    kubeconfig_out: Option<PathBuf>,
    /// Objects to create, e.g. `pods=1000,deployments=100,configmaps=50,crontabs=10,namespaces=5`.
    #[arg(long)]
    load: Option<String>,
    /// Seed of the load generator and the update loop.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Label, annotation and status changes per second on the loaded objects.
    #[arg(long, default_value_t = 0.0)]
    updates_per_second: f64,
    /// Change events kept for watches and paging (older versions get 410 Gone).
    #[arg(long, default_value_t = 10_000)]
    history_size: usize,
    /// Authorize every request with RBAC over the stored roles and bindings (403 otherwise).
    #[arg(long)]
    rbac: bool,
    /// Milliseconds between watch bookmarks.
    #[arg(long, default_value_t = 1000)]
    bookmark_interval_ms: u64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let mut config = SimConfig::named(&args.name);
    if args.anonymous {
        config.token = None;
    } else if let Some(token) = args.token {
        config.token = Some(token);
    }
    config.client_ca = args.client_ca;
    config.bind = SocketAddr::new(args.bind, args.port);
    config.cert_dir = args.cert_dir;
    config.history_size = args.history_size;
    config.rbac = args.rbac;
    config.bookmark_interval = Duration::from_millis(args.bookmark_interval_ms.max(1));
    let sim = KubeSim::start(config).context("starting the simulator")?;
    if let Some(load) = &args.load {
        let mut spec = LoadSpec::parse(load)?;
        spec.seed = args.seed;
        let report = sim.load(&spec).context("loading objects")?;
        tracing::info!(created = ?report.created, revision = report.revision, "loaded");
    }
    if let Some(path) = &args.kubeconfig_out {
        sim.write_kubeconfig(path)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if args.updates_per_second > 0.0 {
        sim.run_updates_seeded(args.updates_per_second, args.seed);
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", sim.url())?;
    out.flush()?;
    drop(out);
    shutdown_signal().await;
    sim.shutdown();
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
