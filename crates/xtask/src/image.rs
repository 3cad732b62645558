//! `cargo xtask image`: OCI images of the components and storage plugins from the output of
//! `cargo xtask dist`, built with `umoci` (no container daemon, no base image to pull).
//!
//! The layout matches the Nix images (`nix/images.nix`) and what the Helm charts expect:
//! - a component image holds `/usr/local/bin/<component>` plus the shared libraries the
//!   binary *and every plugin* need (a plugin is loaded into the component's process), and
//!   runs as user 65532 with the binary as entrypoint;
//! - a plugin image holds `/plugins/<file>.so`, `/plugins/manifest.json` listing just that
//!   plugin, and a static busybox as `/bin/sh` and `/bin/cp`, because the chart's init
//!   container runs `cp /plugins/* <plugin dir>` in it.
//!
//! Timestamps (layer files, history, config) are fixed at the Unix epoch and layers are
//! tarred in name order, so rebuilding from the same `dist/` gives the same layers.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::Args;
use pedia_plugin_host::{MANIFEST_FILE, Manifest};

#[derive(Debug, Args)]
pub(crate) struct ImageArgs {
    /// The output of `cargo xtask dist`.
    #[arg(long, default_value = "dist")]
    dist: PathBuf,
    /// Where to write the images: one OCI image layout directory per image.
    #[arg(long, default_value = "dist/images")]
    out: PathBuf,
    /// The tag of every image.
    #[arg(long, default_value = env!("CARGO_PKG_VERSION"))]
    tag: String,
    /// Build only these images (component names or plugin storage-layer names); all by default.
    #[arg(long = "only", value_delimiter = ',')]
    only: Vec<String>,
}

/// The components that get an image (the CLI and the simulator are not deployed).
pub(crate) const COMPONENTS: [&str; 3] =
    ["apiserver", "clustersynchro-manager", "binding-apiserver"];

/// The fixed creation time of everything in the images.
const EPOCH: &str = "1970-01-01T00:00:00Z";

/// The unprivileged user the components run as (distroless' "nonroot").
const USER: &str = "65532:65532";

fn run(cmd: &mut Command) -> Result<()> {
    let shown = format!("{cmd:?}");
    let output = cmd
        .output()
        .with_context(|| format!("running {shown} (is it installed? see .ci/tools.sh)"))?;
    if !output.status.success() {
        bail!(
            "{shown} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// Shared libraries a dynamically linked ELF file needs, as absolute paths (by `ldd`).
fn shared_libraries(file: &Path) -> Result<Vec<PathBuf>> {
    let output = Command::new("ldd")
        .arg(file)
        .output()
        .context("running ldd")?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        // A static executable: `ldd` says "not a dynamic executable" and fails.
        return Ok(Vec::new());
    }
    let mut libs = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        // `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)` or the loader itself,
        // `/lib64/ld-linux-x86-64.so.2 (0x...)`; the vDSO has no file.
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.trim(),
            None => line,
        };
        let path = path.split(" (").next().unwrap_or_default().trim();
        if path.starts_with('/') {
            libs.push(PathBuf::from(path));
        } else if line.contains("not found") {
            bail!("{}: {line}", file.display());
        }
    }
    Ok(libs)
}

/// Copies `from` to `root` + `at` (an absolute path inside the image), following symlinks
/// so the image holds the file under the name the loader looks for.
fn stage(root: &Path, from: &Path, at: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let to = root.join(at.strip_prefix("/").unwrap_or(at));
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::copy(from, &to)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    std::fs::set_permissions(&to, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

/// A reproducible tar of the tree `dir`: sorted names, epoch mtimes, root ownership, no
/// access or change times.
fn tar(dir: &Path, to: &Path) -> Result<()> {
    run(Command::new("tar")
        .args([
            "--sort=name",
            "--mtime=@0",
            "--owner=0",
            "--group=0",
            "--numeric-owner",
            "--format=posix",
            "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime",
        ])
        .arg("-C")
        .arg(dir)
        .arg("-cf")
        .arg(to)
        .arg("."))
}

struct Builder<'a> {
    out: &'a Path,
    tag: &'a str,
}

impl Builder<'_> {
    /// Starts an empty image `name` (a fresh layout directory).
    fn new_image(&self, name: &str) -> Result<String> {
        let layout = self.out.join(name);
        if layout.exists() {
            std::fs::remove_dir_all(&layout)?;
        }
        run(Command::new("umoci")
            .args(["init", "--layout"])
            .arg(&layout))?;
        let image = format!("{}:{}", layout.display(), self.tag);
        run(Command::new("umoci").args(["new", "--image", &image]))?;
        Ok(image)
    }

    /// Adds the directory tree `tree` as one layer. The tar comes from GNU tar and is added
    /// verbatim: `umoci insert` (0.4.7) leaves out the padding of the last file and the
    /// end-of-archive blocks, which strict tar readers reject.
    fn layer(&self, image: &str, tree: &Path, what: &str) -> Result<()> {
        let archive = tree.with_extension("tar");
        tar(tree, &archive)?;
        run(Command::new("umoci")
            .args(["raw", "add-layer", "--image", image])
            .args(["--history.created", EPOCH])
            .args([
                "--history.created_by",
                &format!("cargo xtask image: {what}"),
            ])
            .arg(&archive))
    }

    fn config(&self, image: &str, settings: &[(&str, &str)]) -> Result<()> {
        let mut cmd = Command::new("umoci");
        cmd.args(["config", "--image", image])
            .args(["--created", EPOCH, "--history.created", EPOCH])
            .args(["--os", "linux", "--architecture", oci_arch()]);
        for (flag, value) in settings {
            cmd.arg(format!("--{flag}={value}"));
        }
        run(&mut cmd)?;
        // `insert` and `config` leave the replaced manifests and configs behind.
        let layout = image.rsplit_once(':').map(|(l, _)| l).unwrap_or(image);
        run(Command::new("umoci").args(["gc", "--layout", layout]))
    }
}

fn oci_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

pub(crate) fn run_image(args: &ImageArgs, root: &Path) -> Result<()> {
    let dist = root.join(&args.dist);
    let out = root.join(&args.out);
    let bin_dir = dist.join("bin");
    let plugin_dir = dist.join("plugins");
    let manifest_path = plugin_dir.join(MANIFEST_FILE);
    if !bin_dir.is_dir() || !manifest_path.is_file() {
        bail!(
            "{} has no bin/ or plugins/{MANIFEST_FILE}: run `cargo xtask dist` first",
            dist.display()
        );
    }
    let manifest_text = std::fs::read_to_string(&manifest_path)?;
    let manifest = Manifest::parse(&manifest_text, &manifest_path)?;
    std::fs::create_dir_all(&out)?;
    let wanted = |name: &str| args.only.is_empty() || args.only.iter().any(|o| o == name);
    for name in &args.only {
        let known =
            COMPONENTS.contains(&name.as_str()) || manifest.plugins.iter().any(|p| &p.name == name);
        if !known {
            bail!(
                "--only {name}: no such component or plugin in {}",
                dist.display()
            );
        }
    }
    let builder = Builder {
        out: &out,
        tag: &args.tag,
    };
    let scratch = tempfile_dir(&out)?;

    // The libraries of every binary and plugin, so a plugin copied in by the chart's init
    // container finds what it links against.
    let mut elf_files: Vec<PathBuf> = COMPONENTS.iter().map(|c| bin_dir.join(c)).collect();
    elf_files.extend(manifest.plugins.iter().map(|p| plugin_dir.join(&p.file)));
    let mut libs = BTreeSet::new();
    for file in &elf_files {
        libs.extend(shared_libraries(file)?);
    }

    for component in COMPONENTS.iter().filter(|c| wanted(c)) {
        let image = builder.new_image(component)?;
        let base = scratch.join(format!("{component}-base"));
        for lib in &libs {
            stage(&base, lib, lib, 0o755)?;
        }
        // A world-writable /tmp: the apiserver's self-signed certificate and SQLite files
        // need somewhere to go when no volume is mounted.
        let tmp = base.join("tmp");
        std::fs::create_dir_all(&tmp)?;
        std::fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(0o1777))?;
        builder.layer(&image, &base, "runtime libraries")?;
        let app = scratch.join(format!("{component}-app"));
        stage(
            &app,
            &bin_dir.join(component),
            &Path::new("/usr/local/bin").join(component),
            0o755,
        )?;
        builder.layer(&image, &app, component)?;
        builder.config(
            &image,
            &[
                ("config.entrypoint", &format!("/usr/local/bin/{component}")),
                ("config.user", USER),
                ("config.workingdir", "/tmp"),
                ("config.env", "PATH=/usr/local/bin:/usr/bin:/bin"),
                (
                    "config.label",
                    &format!("org.opencontainers.image.title={component}"),
                ),
            ],
        )?;
        println!("image    {}:{}", out.join(component).display(), args.tag);
    }

    for plugin in manifest.plugins.iter().filter(|p| wanted(&p.name)) {
        let image = builder.new_image(&plugin.name)?;
        let shell = scratch.join(format!("{}-shell", plugin.name));
        let busybox = which("busybox")?;
        if !shared_libraries(&busybox)?.is_empty() {
            bail!(
                "{} is dynamically linked; the plugin image needs a static busybox (Debian: busybox-static)",
                busybox.display()
            );
        }
        stage(&shell, &busybox, Path::new("/bin/busybox"), 0o755)?;
        for applet in ["sh", "cp", "ls", "cat"] {
            std::os::unix::fs::symlink("busybox", shell.join("bin").join(applet))?;
        }
        builder.layer(&image, &shell, "busybox for the init container's cp")?;
        let files = scratch.join(format!("{}-plugins", plugin.name));
        stage(
            &files,
            &plugin_dir.join(&plugin.file),
            &Path::new("/plugins").join(&plugin.file),
            0o644,
        )?;
        // The image's manifest lists only its own plugin: a component refuses a manifest
        // naming files that are not there.
        let own = Manifest {
            version: manifest.version,
            fingerprint: manifest.fingerprint.clone(),
            plugins: vec![plugin.clone()],
        };
        std::fs::write(files.join("plugins").join(MANIFEST_FILE), own.to_json())?;
        builder.layer(&image, &files, &plugin.name)?;
        builder.config(
            &image,
            &[
                ("config.cmd", "/bin/sh"),
                (
                    "config.label",
                    &format!("org.opencontainers.image.title={}", plugin.name),
                ),
                (
                    "config.label",
                    &format!("io.clusterpedia.storage-layer={}", plugin.name),
                ),
            ],
        )?;
        println!("image    {}:{}", out.join(&plugin.name).display(), args.tag);
    }
    std::fs::remove_dir_all(&scratch)?;
    Ok(())
}

/// A scratch directory next to the output (same filesystem, removed at the end).
fn tempfile_dir(out: &Path) -> Result<PathBuf> {
    let dir = out.join(".staging");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn which(tool: &str) -> Result<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
        .with_context(|| format!("{tool} is not on PATH (see .ci/tools.sh)"))
}
