//! What the integration tests share: starting a simulator, running real kubectl against
//! it with a deadline, kube-rs clients from its kubeconfig, fixture files.

#![allow(dead_code, unreachable_pub)]

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use kube_sim::{KubeSim, SimConfig};

/// Every kubectl invocation must finish within this.
pub const KUBECTL_DEADLINE: Duration = Duration::from_secs(30);

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub fn fixture_text(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).expect("fixture")
}

/// A simulator with fast bookmarks, for tests.
pub fn start() -> KubeSim {
    let mut config = SimConfig::named("test-cluster");
    config.bookmark_interval = Duration::from_millis(200);
    KubeSim::start(config).expect("simulator starts")
}

/// Waits for `child` up to `deadline`, killing it when late; returns its output.
pub fn wait_with_deadline(mut child: Child, deadline: Duration) -> Output {
    let started = Instant::now();
    loop {
        match child.try_wait().expect("wait") {
            Some(_) => break,
            None if started.elapsed() > deadline => {
                let _ = child.kill();
                break;
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    let status = child.wait().expect("status");
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_end(&mut stdout);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_end(&mut stderr);
    }
    Output {
        status,
        stdout,
        stderr,
    }
}

/// A real kubectl release talking to one simulator, with its own kubeconfig and cache.
pub struct Kubectl {
    pub minor: u32,
    binary: PathBuf,
    dir: tempfile::TempDir,
}

impl Kubectl {
    pub fn new(minor: u32, kubeconfig: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("kubeconfig"), kubeconfig).expect("kubeconfig");
        Self {
            minor,
            binary: pedia_testkit::kubectl::kubectl(minor),
            dir,
        }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.binary);
        cmd.args(args)
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .env("KUBECONFIG", self.dir.path().join("kubeconfig"))
            .env("HOME", self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Runs kubectl; returns (success, stdout, stderr).
    pub fn try_run(&self, args: &[&str]) -> (bool, String, String) {
        let child = self.command(args).spawn().expect("kubectl runs");
        let out = wait_with_deadline(child, KUBECTL_DEADLINE);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs kubectl and returns stdout; panics with stderr on failure.
    #[track_caller]
    pub fn run(&self, args: &[&str]) -> String {
        let (ok, stdout, stderr) = self.try_run(args);
        assert!(
            ok,
            "kubectl 1.{} {args:?} failed:\nstdout: {stdout}\nstderr: {stderr}",
            self.minor
        );
        stdout
    }
}

/// A kube-rs client from a kubeconfig text.
pub async fn client_from(kubeconfig: &str) -> kube::Client {
    let kc = kube::config::Kubeconfig::from_yaml(kubeconfig).expect("kubeconfig parses");
    let config =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .expect("kube config");
    kube::Client::try_from(config).expect("client")
}

/// A kube-rs client for `sim`.
pub async fn client(sim: &KubeSim) -> kube::Client {
    client_from(&sim.kubeconfig()).await
}

/// Polls `check` every 20 ms until it holds or `deadline` passes.
pub async fn eventually(deadline: Duration, mut check: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check()
}
