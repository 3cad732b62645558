//! `pedia plugin manifest|verify|inspect`: the build and operator side of plugin
//! verification, using exactly the checks the components run at start-up.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;
use pedia_plugin_host::{Verification, inspect_file, verify_dir, write_manifest};

#[derive(Debug, Subcommand)]
pub(crate) enum PluginCommand {
    /// Write manifest.json for the *.so plugins in DIR (built by this workspace).
    Manifest { dir: PathBuf },
    /// Check DIR as a component would before loading: exit 0 only if every check passes.
    Verify { dir: PathBuf },
    /// Print a plugin file's name, fingerprint, sha256 and interface version.
    Inspect { file: PathBuf },
    /// Create an out-of-tree plugin project NAME (crate and storage-layer name).
    New {
        name: String,
        /// The project directory (default: ./NAME); must not exist or be empty.
        #[arg(long)]
        path: Option<PathBuf>,
        /// Take the Clusterpedia-rs crates from this git repository (`URL` or `URL#rev`)
        /// instead of the checkout this pedia was built from.
        #[arg(long)]
        api_git: Option<String>,
    },
    /// Pin the plugin project's Cargo.lock so the crates it shares with the host (the
    /// plugin interface's dependency closure) have the versions of a release.
    Lock {
        /// A released binary (apiserver, clustersynchro-manager, ...), a plugin built with
        /// the release, or its plugin directory's manifest.json.
        #[arg(long)]
        against: PathBuf,
        /// The plugin project (default: the current directory).
        #[arg(long, default_value = ".")]
        path: PathBuf,
    },
    /// Build the plugin project (`cargo build --locked`) into a plugin directory with a
    /// manifest.json, ready for STORAGE_PLUGINS.
    Build {
        /// The plugin project (default: the current directory).
        #[arg(long, default_value = ".")]
        path: PathBuf,
        /// The plugin directory to write.
        #[arg(long, default_value = "plugins")]
        out: PathBuf,
        /// Cargo profile.
        #[arg(long, default_value = "release")]
        profile: String,
    },
}

pub(crate) fn run(cmd: PluginCommand) -> Result<()> {
    match cmd {
        PluginCommand::New {
            name,
            path,
            api_git,
        } => {
            let dir = path.unwrap_or_else(|| PathBuf::from(&name));
            let source = crate::plugin_new::Source::from_args(api_git)?;
            crate::plugin_new::scaffold(&name, &dir, &source)?;
            println!("created plugin project {} in {}", name, dir.display());
            Ok(())
        }
        PluginCommand::Lock { against, path } => crate::plugin_build::lock(&path, &against),
        PluginCommand::Build { path, out, profile } => {
            crate::plugin_build::build(&path, &out, &profile)
        }
        PluginCommand::Manifest { dir } => {
            let manifest = write_manifest(&dir)
                .with_context(|| format!("writing the manifest of {}", dir.display()))?;
            for p in &manifest.plugins {
                println!("{}  {}  {}", p.sha256, p.file, p.name);
            }
            println!(
                "wrote {} ({} plugins)",
                dir.join(pedia_plugin_host::MANIFEST_FILE).display(),
                manifest.plugins.len()
            );
            Ok(())
        }
        PluginCommand::Verify { dir } => {
            let plugins = verify_dir(&dir, Verification::Manifest)
                .with_context(|| format!("verifying {}", dir.display()))?;
            for p in &plugins {
                println!("ok  {}  {}", p.file_name(), p.info.name);
            }
            println!(
                "{}: {} plugins verified (sha256, fingerprint, names)",
                dir.display(),
                plugins.len()
            );
            Ok(())
        }
        PluginCommand::Inspect { file } => {
            let info = inspect_file(&file)?;
            let manifest = manifest_entry_check(&file, &info)?;
            let matches = if let Some(problem) = &manifest.problem {
                format!("no: {problem}")
            } else if info.fingerprint == pedia_plugin_api::fingerprint::FINGERPRINT {
                "yes".to_owned()
            } else {
                pedia_plugin_api::fingerprint::explain_mismatch(
                    &info.section,
                    pedia_plugin_host::host_section(),
                )
                .unwrap_or_default()
            };
            println!("file:              {}", file.display());
            println!("name:              {}", info.name);
            println!("interface version: {}", info.interface_version);
            println!("sha256:            {}", info.sha256);
            println!("fingerprint:       {}", info.fingerprint);
            println!("manifest:          {}", manifest.summary);
            println!("matches this pedia: {matches}");
            Ok(())
        }
    }
}

/// What the manifest.json beside a plugin file says about it.
struct ManifestCheck {
    summary: String,
    /// Why the components would refuse the file because of its manifest.
    problem: Option<String>,
}

fn manifest_entry_check(
    file: &std::path::Path,
    info: &pedia_plugin_host::PluginInfo,
) -> Result<ManifestCheck> {
    let dir = file.parent().unwrap_or(std::path::Path::new("."));
    let path = dir.join(pedia_plugin_host::MANIFEST_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(ManifestCheck {
                summary: format!("none in {}", dir.display()),
                problem: None,
            });
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let manifest = pedia_plugin_host::Manifest::parse(&text, &path)?;
    let name = file
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let check = match manifest.plugins.iter().find(|e| e.file == name) {
        None => ManifestCheck {
            summary: format!("{} does not list {name}", path.display()),
            problem: Some(format!("{} does not list it", path.display())),
        },
        Some(entry) if entry.sha256 != info.sha256 => ManifestCheck {
            summary: format!(
                "{} lists sha256 {}, the file has {}",
                path.display(),
                entry.sha256,
                info.sha256
            ),
            problem: Some(format!(
                "the file was changed after {} was written",
                path.display()
            )),
        },
        Some(entry) if entry.name != info.name => ManifestCheck {
            summary: format!("{} lists it as {:?}", path.display(), entry.name),
            problem: Some(format!(
                "it registers {:?}, the manifest says {:?}",
                info.name, entry.name
            )),
        },
        Some(_) => ManifestCheck {
            summary: format!("listed in {} (sha256 matches)", path.display()),
            problem: None,
        },
    };
    Ok(check)
}
