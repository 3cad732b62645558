//! `cargo xtask`: build helpers for this workspace, in Rust so they run wherever cargo does.

mod bench;
mod crds;
mod dist;
mod image;
mod test;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "Build helpers for Clusterpedia-rs")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build every binary and storage plugin from the one lockfile and toolchain into
    /// dist/bin and dist/plugins (with manifest.json).
    Dist(dist::DistArgs),
    /// Build OCI images of the components and plugins from `cargo xtask dist` output (umoci).
    Image(image::ImageArgs),
    /// Write the cluster API CRDs (generated from the Rust types) into the Helm charts.
    Crds(crds::CrdsArgs),
    /// Benchmark every storage layer (release build; --quick: smoke-test sizes, dev build)
    /// and write the table and JSON under target/bench.
    Bench(bench::BenchArgs),
    /// The README's test command: install what the tests need (`.ci/tools.sh`), then
    /// `cargo test --workspace` with it on PATH.
    Test(test::TestArgs),
}

/// The workspace root (this crate lives in crates/xtask).
fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .to_path_buf()
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Dist(args) => dist::run(&args),
        Command::Image(args) => image::run_image(&args, &workspace_root()),
        Command::Crds(args) => crds::run(&args, &workspace_root()),
        Command::Bench(args) => bench::run(&args, &workspace_root()),
        Command::Test(args) => test::run(&args, &workspace_root()),
    }
}
