//! The `apiserver` binary: flags, logging, storage, serve until SIGINT/SIGTERM.

use clap::Parser;
use storage_setup::StorageOptions;

#[derive(Debug, Parser)]
#[command(
    name = "apiserver",
    version,
    about = "Clusterpedia-rs search API server"
)]
struct Cli {
    #[command(flatten)]
    serving: apiserver::ServingOptions,
    #[command(flatten)]
    storage: StorageOptions,
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let storage = cli.storage.open().await?;
    let server = apiserver::start(&cli.serving, storage, shutdown_signal()).await?;
    eprintln!(
        "serving https://{}/apis/clusterpedia.io/v1beta1/resources",
        server.addr
    );
    server.task.await?;
    Ok(())
}
