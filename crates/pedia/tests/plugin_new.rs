//! `pedia plugin new` end to end, out of tree: the project it writes into a temporary
//! directory outside the workspace takes a dependency the workspace's Cargo.lock does not
//! have, passes the conformance suite with its own `cargo test`, builds a plugin, and
//! `pedia plugin manifest` + `pedia plugin verify` accept that plugin (its fingerprint,
//! from the project's own Cargo.lock, matches this pedia's).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, ensure};

/// Runs `cmd`, failing with its output if it does not succeed.
fn run(mut cmd: Command, what: &str) -> Result<String> {
    let out = cmd.output().with_context(|| format!("starting {what}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    ensure!(
        out.status.success(),
        "{what} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(stdout)
}

/// `cargo` in the generated project, as its author would run it there.
fn cargo(project: &Path, args: &[&str]) -> Command {
    let mut cmd = user_cargo::command();
    cmd.args(args).current_dir(project);
    // Our own test run has the workspace's [env] value; the project must use its own.
    cmd.env_remove("PEDIA_BUILD_WORKSPACE");
    // A target dir of these tests' own (not the workspace's artifacts), reused across runs.
    cmd.env(
        "CARGO_TARGET_DIR",
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-new-target"),
    );
    cmd
}

/// `pedia plugin new my-layer` into `dir`; the project's path.
fn new_project(dir: &Path) -> Result<PathBuf> {
    let project = dir.join("my-layer");
    let mut new = Command::new(env!("CARGO_BIN_EXE_pedia"));
    new.args(["plugin", "new", "my-layer", "--path"])
        .arg(&project);
    run(new, "pedia plugin new")?;
    Ok(project)
}

#[test]
fn a_new_plugin_project_builds_out_of_tree_and_verifies() -> Result<()> {
    let pedia = env!("CARGO_BIN_EXE_pedia");
    let tmp = tempfile::tempdir()?;
    let project = new_project(tmp.path())?;

    // A dependency of the plugin's own, absent from the workspace's Cargo.lock.
    let workspace_lock =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.lock"))?;
    ensure!(!workspace_lock.contains("name = \"static_assertions\""));
    let manifest = project.join("Cargo.toml");
    let toml = std::fs::read_to_string(&manifest)?.replace(
        "[dev-dependencies]",
        "static_assertions = \"1.1.0\"\n\n[dev-dependencies]",
    );
    std::fs::write(&manifest, toml)?;
    let lib = project.join("src/lib.rs");
    let code = std::fs::read_to_string(&lib)?
        + "\nstatic_assertions::const_assert!(!LAYER_NAME.is_empty());\n";
    std::fs::write(&lib, code)?;

    let tests = run(cargo(&project, &["test"]), "cargo test in the project")?;
    ensure!(tests.contains("test result: ok"), "{tests}");
    run(cargo(&project, &["build"]), "cargo build in the project")?;
    let lock = std::fs::read_to_string(project.join("Cargo.lock"))?;
    ensure!(lock.contains("name = \"static_assertions\""), "{lock}");

    let so = Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-new-target/debug/libmy_layer.so");
    let plugins = tmp.path().join("plugins");
    std::fs::create_dir(&plugins)?;
    std::fs::copy(&so, plugins.join("libmy_layer.so"))
        .with_context(|| format!("copying {}", so.display()))?;
    let mut manifest = Command::new(pedia);
    manifest.args(["plugin", "manifest"]).arg(&plugins);
    let out = run(manifest, "pedia plugin manifest")?;
    ensure!(out.contains("my-layer"), "{out}");
    let mut verify = Command::new(pedia);
    verify.args(["plugin", "verify"]).arg(&plugins);
    let out = run(verify, "pedia plugin verify")?;
    ensure!(out.contains("ok  libmy_layer.so  my-layer"), "{out}");

    released_binaries_load_it_only_when_shared_crates_match(pedia, tmp.path(), &project)
}

/// The released components (`dist/bin/apiserver`) and the project's plugin: one
/// crate of the plugin interface's closure moved to another version is refused before the
/// library is opened, naming the crate and both versions; `pedia plugin lock --against` the
/// apiserver pins it back, `pedia plugin build` writes a plugin directory, and the
/// apiserver loads it and serves kubectl.
fn released_binaries_load_it_only_when_shared_crates_match(
    pedia: &str,
    tmp: &Path,
    project: &Path,
) -> Result<()> {
    // The released components: `cargo xtask dist` (dev profile: the tests' own build).
    pedia_testkit::workspace::build_workspace();
    let dist = tmp.join("dist");
    let mut xtask = pedia_testkit::workspace::cargo();
    xtask
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .args(["run", "--quiet", "--locked", "-p", "xtask", "--"])
        .args(["dist", "--profile", "dev", "--out"])
        .arg(&dist);
    run(xtask, "cargo xtask dist")?;
    let apiserver = dist.join("bin/apiserver");
    let host = pedia_plugin_host::fingerprint_of_file(&apiserver)?;
    let itoa = host
        .lines()
        .find_map(|l| l.strip_prefix("crate itoa "))
        .and_then(|rest| rest.split(' ').next())
        .context("itoa in the apiserver's shared crates")?
        .to_owned();
    let (series, patch) = itoa.rsplit_once('.').context("a x.y.z version")?;
    let patch: u32 = patch.parse()?;
    ensure!(
        patch > 0,
        "itoa {itoa}: no earlier patch release to move to"
    );
    let older = format!("{series}.{}", patch - 1);
    run(
        cargo(
            project,
            &["update", "--package", "itoa", "--precise", &older],
        ),
        "cargo update --precise",
    )?;
    run(
        cargo(project, &["build", "--lib"]),
        "cargo build after the bump",
    )?;
    let so = Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-new-target/debug/libmy_layer.so");
    let unverified = tmp.join("unverified");
    std::fs::create_dir(&unverified)?;
    std::fs::copy(&so, unverified.join("libmy_layer.so"))?;
    // Without a manifest (a developer's directory); fingerprints are checked all the same.
    let refused = Command::new(&apiserver)
        .env("STORAGE_PLUGINS", &unverified)
        .args(["--storage-name", "my-layer", "--allow-unverified-plugins"])
        .args(["--bind-address", "127.0.0.1", "--secure-port", "0"])
        .output()?;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    ensure!(
        !refused.status.success(),
        "the bumped plugin was loaded:\n{stderr}"
    );
    ensure!(
        stderr.contains(&format!("itoa {older}, this apiserver with {itoa}"))
            && stderr.contains("pedia plugin lock --against"),
        "the refusal does not name the crate and both versions:\n{stderr}"
    );

    let mut lock = Command::new(pedia);
    lock.args(["plugin", "lock", "--against"])
        .arg(&apiserver)
        .arg("--path")
        .arg(project)
        .env(
            "CARGO_TARGET_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-new-target"),
        )
        .env_remove("PEDIA_BUILD_WORKSPACE");
    let out = run(lock, "pedia plugin lock")?;
    ensure!(
        out.contains(&format!("pinned itoa {older} -> {itoa}")),
        "{out}"
    );

    let plugins = tmp.join("released-plugins");
    let mut build = Command::new(pedia);
    build
        .args(["plugin", "build", "--profile", "dev", "--path"])
        .arg(project)
        .arg("--out")
        .arg(&plugins)
        .env(
            "CARGO_TARGET_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-new-target"),
        )
        .env_remove("PEDIA_BUILD_WORKSPACE");
    let out = run(build, "pedia plugin build")?;
    ensure!(out.contains("libmy_layer.so  my-layer"), "{out}");
    serves_kubectl(&apiserver, &plugins, tmp)
}

/// Starts `apiserver` on the plugin directory and reads its discovery with kubectl: the
/// resources it lists come from the plugin's `stored_resources` (none synced yet).
fn serves_kubectl(apiserver: &Path, plugins: &Path, tmp: &Path) -> Result<()> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let tokens = tmp.join("tokens.csv");
    std::fs::write(&tokens, "t0ken,admin,1,system:masters\n")?;
    let mut child = Command::new(apiserver)
        .env("STORAGE_PLUGINS", plugins)
        .args(["--storage-name", "my-layer", "--bind-address", "127.0.0.1"])
        .args(["--secure-port", &port.to_string()])
        .arg("--cert-dir")
        .arg(tmp.join("certs"))
        .arg("--token-auth-file")
        .arg(&tokens)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let kubeconfig = tmp.join("search.kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:{port}/apis/clusterpedia.io/v1beta1/resources\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  user:\n    token: t0ken\ncontexts:\n- name: c\n  context: {{cluster: c, user: u}}\ncurrent-context: c\n"
        ),
    )?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let result = loop {
        if let Some(status) = child.try_wait()? {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                std::io::Read::read_to_string(&mut e, &mut err)?;
            }
            break Err(anyhow::anyhow!("the apiserver exited ({status}):\n{err}"));
        }
        let out = Command::new(pedia_testkit::kubectl::kubectl(33))
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            // `--raw` paths are absolute: the server URL's path is not prefixed.
            .args([
                "get",
                "--raw",
                "/apis/clusterpedia.io/v1beta1/resources/api",
            ])
            .output()?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            break if stdout.contains("\"kind\":\"APIVersions\"") {
                Ok(())
            } else {
                Err(anyhow::anyhow!("not a resource list: {stdout}"))
            };
        }
        if std::time::Instant::now() > deadline {
            break Err(anyhow::anyhow!(
                "kubectl never got an answer: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    };
    let _ = child.kill();
    let _ = child.wait();
    result
}

/// The generated advanced chart renders on clusterpedia-core: the plugin image copied in by
/// the init container and `--storage-name` set to the new layer.
#[test]
fn the_generated_chart_renders_on_clusterpedia_core() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let project = new_project(tmp.path())?;
    let chart = project.join("charts/my-layer");
    let helm = packaging_tests::tool("helm");
    let mut deps = Command::new(&helm);
    deps.args(["dependency", "build"])
        .arg(&chart)
        .env("HOME", tmp.path());
    run(deps, "helm dependency build")?;
    let mut template = Command::new(&helm);
    template
        .args(["template", "x"])
        .arg(&chart)
        .env("HOME", tmp.path());
    let out = run(template, "helm template")?;
    ensure!(out.contains("--storage-name=my-layer"), "{out}");
    ensure!(out.contains("image: my-layer:0.1.0"), "{out}");
    Ok(())
}

/// The generated flake.nix is valid Nix and names `clusterpedia.lib.mkStoragePlugin` with
/// the new layer (only parsed: nixpkgs cannot be fetched here to evaluate it).
#[test]
fn the_generated_flake_parses_and_uses_mk_storage_plugin() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let project = new_project(tmp.path())?;
    let mut parse = Command::new(packaging_tests::tool("nix-instantiate"));
    parse.arg("--parse").arg(project.join("flake.nix"));
    run(parse, "nix-instantiate --parse flake.nix")?;
    let flake = std::fs::read_to_string(project.join("flake.nix"))?;
    ensure!(
        flake.contains("clusterpedia.lib.mkStoragePlugin"),
        "{flake}"
    );
    ensure!(flake.contains(r#"name = "my-layer";"#), "{flake}");
    Ok(())
}
