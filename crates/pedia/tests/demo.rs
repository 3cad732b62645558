//! `pedia demo` as a new user runs it: it prints a kubectl command, and that command lists
//! pods from both simulated clusters.

use std::process::{Command, Stdio};
use std::time::Duration;

use pedia_testkit::kubectl::kubectl;

#[test]
fn demo_prints_a_kubectl_command_that_lists_both_clusters() {
    let home = tempfile::tempdir().expect("dir");
    let mut demo = Command::new(env!("CARGO_BIN_EXE_pedia"))
        .current_dir(home.path())
        .args(["demo", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start pedia demo");
    let stdout = demo.stdout.take().expect("stdout");
    let rx = pedia_testkit::lines::lines(stdout);
    let command = loop {
        match rx.recv_timeout(Duration::from_secs(180)) {
            Ok(line)
                if line.trim_start().starts_with("kubectl ")
                    && line.trim_end().ends_with("get pods -A") =>
            {
                break line.trim().to_owned();
            }
            Ok(_) => continue,
            Err(_) => {
                let _ = demo.kill();
                panic!("pedia demo printed no kubectl command");
            }
        }
    };

    // Run exactly what was printed, with the installed kubectl release.
    let mut words = command.split_whitespace();
    assert_eq!(words.next(), Some("kubectl"));
    let out = Command::new(kubectl(33))
        .current_dir(home.path())
        .args(words)
        .arg("--cache-dir")
        .arg(home.path().join("cache"))
        .output()
        .expect("kubectl");
    let _ = demo.kill();
    let _ = demo.wait();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let header = text.lines().next().unwrap_or_default();
    assert!(
        header.contains("CLUSTER") && header.contains("NAME"),
        "{text}"
    );
    for cluster in ["cluster-1", "cluster-2"] {
        let rows = text
            .lines()
            .filter(|l| l.split_whitespace().nth(1) == Some(cluster))
            .count();
        assert!(rows > 10, "{cluster} has {rows} pods listed:\n{text}");
    }
}
