//! `cargo xtask image` builds OCI images from `cargo xtask dist` output, and they run under
//! podman as the Helm charts run them: the plugin image's shell copies `/plugins/*` into a
//! shared directory (the chart's init container), and the apiserver image, pointed at that
//! directory with `STORAGE_PLUGINS`, verifies and loads the plugin and serves.
//!
//! Containers run with `--network none` (these machines allow no other); a second container
//! joins the apiserver's network namespace to check that it listens.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use packaging_tests::{output, root, run_ok, tool, tool_or};
use serde_json::Value;

const TAG: &str = "test";

fn cargo_xtask(args: &[&str]) {
    run_ok(
        pedia_testkit::workspace::cargo()
            .current_dir(root())
            .args(["run", "--quiet", "--locked", "-p", "xtask", "--"])
            .args(args),
    );
}

/// podman with its own storage under `dir`, so the test leaves nothing behind.
struct Podman {
    dir: PathBuf,
    runtime: PathBuf,
}

impl Podman {
    fn cmd(&self) -> Command {
        let mut cmd = Command::new(tool("podman"));
        cmd.arg("--root")
            .arg(self.dir.join("root"))
            .arg("--runroot")
            .arg(self.dir.join("run"))
            .args(["--storage-driver", "vfs", "--cgroup-manager=cgroupfs"])
            .arg("--runtime")
            .arg(&self.runtime)
            .args(["--events-backend", "file"]);
        cmd
    }

    /// `podman run` with the flags every container here needs.
    fn run(&self) -> Command {
        let mut cmd = self.cmd();
        cmd.args(["run", "--network", "none"])
            // podman's default RLIMIT_NOFILE/NPROC exceed the hard limits of this sandbox,
            // and raising a hard limit needs CAP_SYS_RESOURCE, which it lacks.
            .args([
                "--ulimit",
                "nofile=1024:1024",
                "--ulimit",
                "nproc=1024:1024",
            ]);
        cmd
    }
}

/// The JSON blob `digest` of an OCI layout.
fn blob(layout: &Path, digest: &str) -> PathBuf {
    let hex = digest.strip_prefix("sha256:").expect("sha256 digest");
    layout.join("blobs/sha256").join(hex)
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("read")).expect("json")
}

/// The image config and the file list of every layer of the image tagged TAG.
fn inspect(layout: &Path) -> (Value, Vec<String>) {
    let index = json(&layout.join("index.json"));
    let entry = index["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == TAG)
        .expect("the tag");
    let manifest = json(&blob(layout, entry["digest"].as_str().expect("digest")));
    let config = json(&blob(
        layout,
        manifest["config"]["digest"].as_str().expect("config"),
    ));
    let mut files = Vec::new();
    for layer in manifest["layers"].as_array().expect("layers") {
        let list = run_ok(
            Command::new("tar")
                .arg("tzf")
                .arg(blob(layout, layer["digest"].as_str().expect("layer"))),
        );
        files.extend(list.lines().map(|l| l.trim_start_matches("./").to_owned()));
    }
    (config, files)
}

/// A scratch directory with a lower-case path: podman names an `oci:` image after its path,
/// and image names may not contain upper-case letters (tempfile's names do).
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() % 1_000_000)
            .unwrap_or_default();
        // Short: podman refuses a --runroot longer than 50 characters.
        let dir = std::env::temp_dir().join(format!("pedia-img-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Self(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn images_run_the_chart_flow_under_podman() {
    let work = Scratch::new();
    let dist = work.path().join("dist");
    let images = work.path().join("images");
    // The dev profile keeps this to the tests' own incremental build.
    cargo_xtask(&[
        "dist",
        "--profile",
        "dev",
        "--out",
        dist.to_str().expect("utf-8"),
    ]);
    cargo_xtask(&[
        "image",
        "--dist",
        dist.to_str().expect("utf-8"),
        "--out",
        images.to_str().expect("utf-8"),
        "--tag",
        TAG,
    ]);

    // The layouts: what the charts and the Nix images promise.
    for component in ["apiserver", "clustersynchro-manager", "binding-apiserver"] {
        let (config, files) = inspect(&images.join(component));
        assert_eq!(
            config["config"]["Entrypoint"],
            serde_json::json!([format!("/usr/local/bin/{component}")])
        );
        assert_eq!(config["config"]["User"], "65532:65532");
        assert_eq!(config["created"], "1970-01-01T00:00:00Z", "reproducible");
        assert!(
            files.contains(&format!("usr/local/bin/{component}")),
            "{files:?}"
        );
        assert!(
            files
                .iter()
                .any(|f| f.starts_with("lib64/ld-linux") || f.starts_with("lib/ld-linux")),
            "the dynamic loader is in the image: {files:?}"
        );
    }
    // Reproducible: building again gives the same manifest, layers and config.
    let again = work.path().join("images-again");
    cargo_xtask(&[
        "image",
        "--dist",
        dist.to_str().expect("utf-8"),
        "--out",
        again.to_str().expect("utf-8"),
        "--tag",
        TAG,
        "--only",
        "apiserver,sample-storage-layer",
    ]);
    for name in ["apiserver", "sample-storage-layer"] {
        let digest =
            |dir: &Path| json(&dir.join(name).join("index.json"))["manifests"][0]["digest"].clone();
        assert_eq!(
            digest(&images),
            digest(&again),
            "{name} is not reproducible"
        );
    }

    let plugin_layout = images.join("sample-storage-layer");
    let (_, files) = inspect(&plugin_layout);
    for f in [
        "plugins/libsample_storage.so",
        "plugins/manifest.json",
        "bin/sh",
        "bin/cp",
    ] {
        assert!(files.iter().any(|x| x == f), "{f} not in {files:?}");
    }

    let podman = Podman {
        dir: work.path().join("podman"),
        runtime: tool_or("runc", &["/usr/sbin/runc"]),
    };
    let image = |name: &str| format!("oci:{}:{TAG}", images.join(name).display());

    // --help from the apiserver image.
    let help = run_ok(podman.run().args(["--rm", &image("apiserver"), "--help"]));
    assert!(
        help.contains("Clusterpedia-rs search API server") && help.contains("--storage-name"),
        "{help}"
    );

    // The chart's init container: the plugin image's own shell copies /plugins/* into the
    // shared plugin directory.
    let plugin_dir = work.path().join("plugins");
    std::fs::create_dir(&plugin_dir).expect("mkdir");
    run_ok(Command::new("chmod").arg("0777").arg(&plugin_dir));
    run_ok(podman.run().args([
        "--rm",
        "--user",
        "65532:65532",
        "-v",
        &format!("{}:/var/lib/clusterpedia/plugins", plugin_dir.display()),
        &image("sample-storage-layer"),
        "/bin/sh",
        "-ec",
        "cp /plugins/* /var/lib/clusterpedia/plugins/",
    ]));
    let verify = run_ok(
        Command::new(dist.join("bin/pedia"))
            .args(["plugin", "verify"])
            .arg(&plugin_dir),
    );
    assert!(verify.contains("sample-storage-layer"), "{verify}");

    // The component, as the chart runs it: STORAGE_PLUGINS, the config mounted read-only.
    let config_dir = work.path().join("config");
    std::fs::create_dir(&config_dir).expect("mkdir");
    std::fs::write(
        config_dir.join("config.yaml"),
        "type: sqlite\ndsn: /tmp/clusterpedia.db\n",
    )
    .expect("config");
    let name = "pedia-image-test-apiserver";
    run_ok(podman.run().args([
        "-d",
        "--name",
        name,
        "--read-only",
        "--tmpfs",
        "/tmp",
        "-v",
        &format!("{}:/var/lib/clusterpedia/plugins:ro", plugin_dir.display()),
        "-v",
        &format!("{}:/etc/clusterpedia/storage:ro", config_dir.display()),
        "-e",
        "STORAGE_PLUGINS=/var/lib/clusterpedia/plugins",
        &image("apiserver"),
        "--cert-dir=/tmp/certificates",
        "--storage-name=sample-storage-layer",
        "--storage-config=/etc/clusterpedia/storage/config.yaml",
    ]));
    let deadline = Instant::now() + Duration::from_secs(60);
    let logs = loop {
        let out = output(podman.cmd().args(["logs", name]));
        let logs = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if logs.contains("serving https://") || Instant::now() > deadline {
            break logs;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    // Listening: a container in the apiserver's network namespace reads that namespace's
    // socket table (Debian's static busybox has no `nc -z`).
    let probe = output(podman.cmd().args([
        "run",
        "--rm",
        "--network",
        &format!("container:{name}"),
        "--ulimit",
        "nofile=1024:1024",
        "--ulimit",
        "nproc=1024:1024",
        &image("sample-storage-layer"),
        "/bin/busybox",
        "cat",
        "/proc/net/tcp",
        "/proc/net/tcp6",
    ]));
    let _ = output(podman.cmd().args(["rm", "-f", name]));
    assert!(
        logs.contains("storage plugins registered")
            && logs.contains("sample-storage-layer")
            && logs.contains("serving https://"),
        "the apiserver did not load the plugin and serve:\n{logs}"
    );
    let sockets = String::from_utf8_lossy(&probe.stdout);
    // Columns: slot, local address:port (hex), remote, state (0A = LISTEN).
    let listening = sockets.lines().any(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        cols.len() > 3 && cols[1].ends_with(":192B") && cols[3] == "0A"
    });
    assert!(
        listening,
        "nothing listens on 6443 in the apiserver container:\n{sockets}\n{}",
        String::from_utf8_lossy(&probe.stderr)
    );
}
