//! Ctrl-C stops `pedia demo` quietly: it exits successfully and prints no WARN or ERROR
//! line on the way out (no watch retrying against the simulators it is stopping); its
//! INFO lines went to `.pedia-demo/demo.log`, without colour codes, not to the terminal.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn ctrl_c_stops_the_demo_without_warnings() {
    let home = tempfile::tempdir().expect("dir");
    let stderr = std::fs::File::create(home.path().join("stderr")).expect("stderr file");
    let mut demo = Command::new(env!("CARGO_BIN_EXE_pedia"))
        .current_dir(home.path())
        .args(["demo", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("start pedia demo");
    let stdout = demo.stdout.take().expect("stdout");
    let rx = pedia_testkit::lines::lines(stdout);
    loop {
        match rx.recv_timeout(Duration::from_secs(180)) {
            Ok(line) if line.starts_with("Press Ctrl-C") => break,
            Ok(_) => continue,
            Err(_) => {
                let _ = demo.kill();
                panic!("pedia demo did not start serving");
            }
        }
    }
    // Let the watches settle into their steady state, as a user's Ctrl-C finds them.
    std::thread::sleep(Duration::from_secs(2));
    let sent = Command::new("kill")
        .args(["-INT", &demo.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = demo.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = demo.kill();
            let _ = demo.wait();
            panic!("pedia demo still running a minute after Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let log = std::fs::read_to_string(home.path().join("stderr")).expect("stderr");
    assert!(status.success(), "{status}: {log}");
    let noisy: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .collect();
    assert!(
        noisy.is_empty(),
        "{} noisy lines:\n{}",
        noisy.len(),
        noisy.join("\n")
    );
    assert!(log.contains("stopped"), "{log}");
    // The components' INFO lines went to the log file, without colour codes.
    assert!(!log.contains("INFO"), "{log}");
    let file = std::fs::read_to_string(home.path().join(".pedia-demo/demo.log")).expect("demo.log");
    assert!(file.contains(" INFO "), "{file}");
    assert!(!file.contains('\u{1b}'), "ANSI codes in demo.log:\n{file}");
}
