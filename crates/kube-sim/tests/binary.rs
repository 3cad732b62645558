//! The `kube-sim` binary: starts with a load and a kubeconfig, prints its URL, serves
//! kubectl, and exits on SIGTERM.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::Kubectl;

#[test]
fn binary_serves_a_loaded_cluster() {
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    let mut child = Command::new(env!("CARGO_BIN_EXE_kube-sim"))
        .args([
            "--port",
            "0",
            "--token",
            "T0ken",
            "--updates-per-second",
            "5",
        ])
        .arg("--kubeconfig-out")
        .arg(&kubeconfig)
        .args(["--load", "pods=30,deployments=3,configmaps=2,namespaces=2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kube-sim runs");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let url = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the URL within 30 s");
    assert!(url.trim().starts_with("https://127.0.0.1:"), "{url}");
    let text = std::fs::read_to_string(&kubeconfig).expect("kubeconfig written");
    assert!(
        text.contains("token: T0ken") && text.contains(url.trim()),
        "{text}"
    );

    let k = Kubectl::new(33, &text);
    let pods = k.run(&["get", "pods", "-A", "-o", "name"]);
    assert_eq!(pods.lines().count(), 30);
    let deploy = k.run(&["get", "deploy", "-A"]);
    assert_eq!(deploy.lines().count(), 4, "{deploy}");

    // SIGTERM ends it.
    let pid = child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let out = common::wait_with_deadline(child, Duration::from_secs(10));
    assert!(out.status.success(), "{:?}", out.status);
}
