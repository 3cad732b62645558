//! Every `kubectl` line of README.md's "Searching with kubectl" section, run as written
//! with real kubectl (1.33 and 1.27) against `pedia demo`: each prints rows, and the rows
//! the README promises (`-l app=web` only web pods, `limit=5` five, `!=Running` no running
//! pod, a label set with the simulated cluster's own kubeconfig shows up in search, ...).
//! The examples are read from the README itself, so an example added there is tested here.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use pedia_testkit::kubectl::kubectl;

/// Kills the demo when the test ends, also on a failed assertion.
struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `pedia demo` in `home` and waits until it serves.
fn start_demo(home: &Path) -> Demo {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pedia"))
        .current_dir(home)
        .args(["demo", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start pedia demo");
    let stdout = child.stdout.take().expect("stdout");
    let demo = Demo(child);
    let rx = pedia_testkit::lines::lines(stdout);
    loop {
        match rx.recv_timeout(Duration::from_secs(180)) {
            Ok(line) if line.starts_with("Press Ctrl-C") => return demo,
            Ok(_) => continue,
            Err(_) => panic!("pedia demo did not start serving"),
        }
    }
}

/// The `kubectl ...` lines of the section's code blocks, comments removed.
fn readme_examples() -> Vec<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md");
    let section = readme
        .split("\n## Searching with kubectl\n")
        .nth(1)
        .expect("a \"Searching with kubectl\" section")
        .split("\n## ")
        .next()
        .unwrap_or_default();
    let mut in_code = false;
    let mut out = Vec::new();
    for line in section.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        } else if in_code && line.starts_with("kubectl ") {
            out.push(strip_comment(line).trim().to_owned());
        }
    }
    out
}

/// The line up to an unquoted ` #`.
fn strip_comment(line: &str) -> &str {
    let mut quoted = false;
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            '#' if !quoted && prev.is_whitespace() => return &line[..i],
            _ => {}
        }
        prev = c;
    }
    line
}

/// Shell words: whitespace-separated, single quotes group (all the README uses).
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let (mut quoted, mut any) = (false, false);
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut word));
                    any = false;
                }
            }
            c => {
                word.push(c);
                any = true;
            }
        }
    }
    assert!(!quoted, "unbalanced quote in {line:?}");
    if any {
        out.push(word);
    }
    out
}

fn command(bin: &Path, home: &Path, args: &[String]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.current_dir(home)
        .env("KUBECONFIG", home.join(".pedia-demo/kubeconfig"))
        .env("HOME", home)
        .args(args)
        .arg("--cache-dir")
        .arg(home.join("cache"));
    cmd
}

/// A watch's first lines: the header and the initial rows (all present objects), read
/// until no line came for a few seconds after at least one row, then kubectl is killed.
fn watch(mut cmd: Command) -> String {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl -w");
    let stdout = child.stdout.take().expect("stdout");
    let rx = pedia_testkit::lines::lines(stdout);
    let mut lines = Vec::new();
    let mut wait = Duration::from_secs(60);
    while let Ok(line) = rx.recv_timeout(wait) {
        lines.push(line);
        if lines.len() >= 2 {
            wait = Duration::from_secs(3);
        }
        if lines.len() > 1000 {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    lines.join("\n")
}

/// A table: the header's words and each row's words.
fn table(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut lines = text.lines();
    let header = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let rows = lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

fn column(header: &[String], name: &str) -> usize {
    header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no {name} column in {header:?}"))
}

/// Runs one README example and checks what it prints.
fn check(bin: &Path, home: &Path, line: &str) {
    let args: Vec<String> = words(line).into_iter().skip(1).collect();
    let run = || {
        let cmd = command(bin, home, &args);
        if args.iter().any(|a| a == "-w" || a == "--watch") {
            watch(cmd)
        } else {
            let mut cmd = cmd;
            let out = cmd.output().expect("run kubectl");
            assert!(
                out.status.success(),
                "{line}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        }
    };
    let mut text = run();
    // The example that shows a change made in a member cluster: search has it once the
    // manager has synced it (a watch event, well under a second; bounded here).
    if line.contains("-l tier=frontend") {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while table(&text).1.is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(300));
            text = run();
        }
    }
    let context = format!("{line} ({}):\n{text}", bin.display());
    if args.iter().any(|a| a == "label") {
        // `deployment.apps/web labeled` (or `not labeled` on the second kubectl's run).
        assert!(text.contains("deployment.apps/web"), "{context}");
        return;
    }

    if args.iter().any(|a| a == "--raw") {
        let doc: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        let items = doc["items"].as_array().expect("items");
        assert!(!items.is_empty(), "no items: {context}");
        if line.contains("ownerName=web") {
            for item in items {
                let labels = if item["kind"] == "Pod" {
                    &item["metadata"]["labels"]
                } else {
                    panic!("not a pod: {context}")
                };
                assert_eq!(labels["app"], "web", "{context}");
                assert_eq!(
                    item["metadata"]["annotations"]["shadow.clusterpedia.io/cluster-name"],
                    "cluster-1",
                    "{context}"
                );
            }
        }
        return;
    }
    if args.iter().any(|a| a == "yaml") {
        // `get pod -n NS NAME -o yaml`: the name comes just before `-o`.
        let o = args.iter().position(|a| a == "-o").expect("-o");
        let name = &args[o - 1];
        assert!(text.contains("kind: Pod"), "{context}");
        assert!(text.contains(&format!("  name: {name}\n")), "{context}");
        return;
    }

    let (header, rows) = table(&text);
    assert!(!rows.is_empty(), "no rows: {context}");
    if args.iter().any(|a| a == "-A") {
        // What the README says of the columns with -A.
        assert_eq!(header[..2], ["NAMESPACE", "CLUSTER"], "{context}");
    }
    let name = column(&header, "NAME");
    let cluster = || column(&header, "CLUSTER");
    if line.contains("-l app=web") {
        for row in &rows {
            assert!(row[name].starts_with("web-"), "{context}");
        }
    }
    if line.contains("clusters in (cluster-1)") {
        for row in &rows {
            assert_eq!(row[cluster()], "cluster-1", "{context}");
        }
    }
    if line.contains("limit=5") {
        assert_eq!(rows.len(), 5, "{context}");
    }
    if line.contains("status.phase!=Running") {
        let status = column(&header, "STATUS");
        for row in &rows {
            assert_ne!(row[status], "Running", "{context}");
        }
        assert!(rows.iter().any(|r| r[status] == "Pending"), "{context}");
    }
    if args.iter().any(|a| a == "-w") {
        for c in ["cluster-1", "cluster-2"] {
            assert!(rows.iter().any(|r| r[cluster()] == c), "{c}: {context}");
        }
    }
    if line.contains("-l tier=frontend") {
        assert_eq!(rows.len(), 1, "{context}");
        assert_eq!(rows[0][name], "web", "{context}");
        assert_eq!(rows[0][cluster()], "cluster-1", "{context}");
    }
    if line.contains("pediaclusters") {
        assert_eq!(
            header,
            ["NAME", "READY", "VERSION", "APISERVER"],
            "{context}"
        );
        assert_eq!(rows.len(), 2, "{context}");
    }
}

#[test]
fn every_readme_kubectl_example_prints_what_it_promises() {
    let examples = readme_examples();
    assert!(examples.len() >= 8, "README examples: {examples:?}");
    let home = tempfile::tempdir().expect("dir");
    let _demo = start_demo(home.path());
    let binaries: Vec<PathBuf> = vec![kubectl(33), kubectl(27)];
    for bin in &binaries {
        for line in &examples {
            check(bin, home.path(), line);
        }
        // By name in the all-clusters context (describe and logs do this): the refusal
        // tells a kubectl user which flag picks the cluster.
        let args: Vec<String> = ["get", "pod", "-n", "default", "db-0"]
            .map(String::from)
            .to_vec();
        let out = command(bin, home.path(), &args).output().expect("kubectl");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains("--context <cluster>"),
            "{}: {stderr}",
            bin.display()
        );
    }
}

#[test]
fn readme_parsing() {
    assert_eq!(
        words("kubectl get pods -l 'a in (b)'  # note"),
        ["kubectl", "get", "pods", "-l", "a in (b)", "#", "note"]
    );
    assert_eq!(strip_comment("kubectl get x   # y").trim(), "kubectl get x");
    assert_eq!(strip_comment("kubectl get 'a#b'"), "kubectl get 'a#b'");
}
