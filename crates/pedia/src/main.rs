//! `pedia`: the user's command-line tool. Each subcommand is a thin shell over a library
//! crate; this file only parses arguments and prints.

mod demo;
mod kubeconfig;
mod load;
mod plugin;
mod plugin_build;
mod plugin_new;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "pedia", version, about = "Clusterpedia-rs command-line tool")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The quickstart: simulated (or real) clusters synced into SQLite, served to kubectl.
    Demo(demo::DemoArgs),
    /// Build, check and inspect storage plugin directories.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// Import objects from YAML/JSON files into a storage layer as if synced from a cluster.
    Load(load::LoadArgs),
    /// Write a kubeconfig for the search API: one context for all clusters, one per cluster.
    Kubeconfig(kubeconfig::KubeconfigArgs),
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Logs to stderr; `pedia demo` writes its components' INFO lines to its log file instead
/// (without colour codes) and keeps the terminal for its own progress and for warnings.
/// `RUST_LOG` overrides both filters.
fn init_logs(cli: &Cli) {
    use tracing_subscriber::{
        EnvFilter, Layer, fmt, layer::SubscriberExt, util::SubscriberInitExt,
    };
    let filter = |default: &str| {
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default))
    };
    if let Command::Demo(args) = &cli.command
        && let Some(file) = demo::log_file(args)
    {
        tracing_subscriber::registry()
            .with(
                fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_filter(filter("warn")),
            )
            .with(
                fmt::layer()
                    .with_ansi(false)
                    .with_writer(std::sync::Mutex::new(file))
                    .with_filter(filter("info")),
            )
            .init();
        return;
    }
    tracing_subscriber::fmt()
        .with_env_filter(filter("warn,clustersynchro_manager=info"))
        .with_writer(std::io::stderr)
        .init();
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logs(&cli);
    let result = match cli.command {
        Command::Plugin(cmd) => plugin::run(cmd),
        Command::Demo(args) => runtime().and_then(|rt| rt.block_on(demo::run(args))),
        Command::Load(args) => runtime().and_then(|rt| rt.block_on(load::run(args))),
        Command::Kubeconfig(args) => runtime().and_then(|rt| rt.block_on(kubeconfig::run(args))),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
