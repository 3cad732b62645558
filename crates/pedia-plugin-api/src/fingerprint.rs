//! The build fingerprint: what it contains, where plugins store it, and how two
//! fingerprints are compared into an actionable message that names what differs.

use std::collections::BTreeMap;

/// This build's fingerprint, one line, e.g. `pedia-fp/2;rustc=1.95.0;rustc-commit=5980...;
/// target=x86_64-unknown-linux-gnu;api=0.1.0;closure=ab12...`: what manifests record and
/// tools print. `closure` hashes [`CLOSURE`].
pub const FINGERPRINT: &str = env!("PEDIA_BUILD_FINGERPRINT");

/// What the fingerprint covers, one fact per line: the format, `rustc <release> <commit>`,
/// `target <triple>`, `interface pedia-plugin-api <version> <identity>`, then
/// `crate <name> <version> <identity>` for every package in `pedia-plugin-api`'s dependency
/// closure as the producing build resolved it. An identity is `registry <checksum>` or,
/// for path and git packages, `source <hash of src/ and build.rs>`.
pub const CLOSURE: &str = include_str!(concat!(env!("OUT_DIR"), "/fingerprint.txt"));

/// The length of the fingerprint section: the one-line fingerprint, a newline, the closure.
pub const SECTION_LEN: usize = FINGERPRINT.len() + 1 + CLOSURE.len();

/// The fingerprint section's bytes (for the plugin's section static).
pub const fn section_bytes() -> [u8; SECTION_LEN] {
    concat_bytes::<SECTION_LEN>(&[FINGERPRINT, "\n", CLOSURE])
}

static HOST_SECTION: [u8; SECTION_LEN] = section_bytes();

/// This binary's own fingerprint section text (what a plugin built with it carries).
pub fn section_text() -> &'static str {
    std::str::from_utf8(&HOST_SECTION).unwrap_or(FINGERPRINT)
}

/// The one-line fingerprint of a section's text.
pub fn id_of(section: &str) -> &str {
    section.lines().next().unwrap_or("")
}

/// The ELF section each plugin carries its fingerprint in, readable from the file's bytes
/// before the library is loaded.
pub const SECTION: &str = ".pedia_fingerprint";

/// The ELF section with the plugin's identity, `name=<storage name>;interface=<version>`,
/// so tools can name a plugin without loading it.
pub const INFO_SECTION: &str = ".pedia_plugin";

/// The length of the info section for a plugin called `name`.
pub const fn info_len(name: &str) -> usize {
    "name=".len() + name.len() + ";interface=".len() + crate::INTERFACE_VERSION.len()
}

/// The info section's bytes for a plugin called `name`.
pub const fn info_bytes<const N: usize>(name: &str) -> [u8; N] {
    concat_bytes::<N>(&["name=", name, ";interface=", crate::INTERFACE_VERSION])
}

const fn concat_bytes<const N: usize>(parts: &[&str]) -> [u8; N] {
    let mut out = [0u8; N];
    let mut at = 0;
    let mut p = 0;
    while p < parts.len() {
        let src = parts[p].as_bytes();
        let mut i = 0;
        while i < src.len() && at < N {
            out[at] = src[i];
            at += 1;
            i += 1;
        }
        p += 1;
    }
    out
}

/// One field of a fingerprint (`rustc`, `target`, ...).
pub fn field<'a>(fingerprint: &'a str, name: &str) -> Option<&'a str> {
    fingerprint
        .split(';')
        .filter_map(|part| part.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The facts of a fingerprint section, by kind.
#[derive(Debug, Default, PartialEq)]
struct Facts<'a> {
    format: &'a str,
    rustc: Option<&'a str>,
    target: Option<&'a str>,
    interface: Option<&'a str>,
    /// Crate name -> its `version identity` entries (a name may appear in several versions).
    crates: BTreeMap<&'a str, Vec<&'a str>>,
}

fn facts(section: &str) -> Facts<'_> {
    let mut lines = section.lines();
    let _id = lines.next();
    let mut f = Facts {
        format: lines.next().unwrap_or(""),
        ..Facts::default()
    };
    for line in lines {
        match line.split_once(' ') {
            Some(("rustc", v)) => f.rustc = Some(v),
            Some(("target", v)) => f.target = Some(v),
            Some(("interface", v)) => f.interface = Some(v),
            Some(("crate", v)) => {
                if let Some((name, rest)) = v.split_once(' ') {
                    f.crates.entry(name).or_default().push(rest);
                }
            }
            _ => {}
        }
    }
    for versions in f.crates.values_mut() {
        versions.sort_unstable();
    }
    f
}

/// `1.0.140` of `1.0.140 registry <checksum>`, joined for several versions.
fn versions(entries: &[&str]) -> String {
    let mut out: Vec<&str> = entries
        .iter()
        .map(|e| e.split(' ').next().unwrap_or(""))
        .collect();
    out.dedup();
    out.join(" and ")
}

/// Explains how the fingerprint section `plugin` differs from `host` (both as
/// [`section_text`] gives them; a bare one-line fingerprint also works, with less detail),
/// naming each differing compiler, target and crate, and the fix. `None` when they agree.
pub fn explain_mismatch(plugin: &str, host: &str) -> Option<String> {
    if id_of(plugin) == id_of(host) {
        return None;
    }
    let this = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|f| f.to_string_lossy().into_owned()))
        .map_or_else(|| "this binary".to_owned(), |name| format!("this {name}"));
    let (p, h) = (facts(plugin), facts(host));
    if p.format != h.format || p.rustc.is_none() || h.rustc.is_none() {
        return Some(format!(
            "was built with fingerprint {:?}, {this} with {:?} (another fingerprint format or \
             release of pedia-plugin-api): rebuild the plugin against this release",
            id_of(plugin),
            id_of(host)
        ));
    }
    let mut diffs = Vec::new();
    let rustc = |v: Option<&str>| {
        let v = v.unwrap_or("");
        let (release, commit) = v.split_once(' ').unwrap_or((v, ""));
        format!("rustc {release} ({})", short(commit))
    };
    if p.rustc != h.rustc {
        diffs.push(format!(
            "was built with {}, {this} with {}",
            rustc(p.rustc),
            rustc(h.rustc)
        ));
    }
    if p.target != h.target {
        diffs.push(format!(
            "was built for target {}, {this} for {}",
            p.target.unwrap_or(""),
            h.target.unwrap_or("")
        ));
    }
    let mut crates = Vec::new();
    for (name, pv) in &p.crates {
        match h.crates.get(name) {
            Some(hv) if hv == pv => {}
            Some(hv) if versions(hv) != versions(pv) => {
                crates.push(format!(
                    "{name} {}, {this} with {}",
                    versions(pv),
                    versions(hv)
                ));
            }
            Some(_) => crates.push(format!(
                "{name} {} from another source or with other content than {this}'s",
                versions(pv)
            )),
            None => crates.push(format!(
                "{name} {}, which {this} does not have",
                versions(pv)
            )),
        }
    }
    for (name, hv) in &h.crates {
        if !p.crates.contains_key(name) {
            crates.push(format!("no {name} ({this} has {})", versions(hv)));
        }
    }
    let fix = if diffs.is_empty() {
        "rebuild the plugin with `pedia plugin lock --against <this binary or its plugin \
         manifest>` and `pedia plugin build`"
    } else {
        "rebuild the plugin and this binary with the same toolchain (rust-toolchain.toml, or one flake)"
    };
    if !crates.is_empty() {
        diffs.push(format!(
            "was built with {} (in the plugin interface's dependency set)",
            crates.join("; ")
        ));
    }
    if diffs.is_empty() {
        diffs.push(format!(
            "has fingerprint {:?}, {this} {:?}",
            id_of(plugin),
            id_of(host)
        ));
    }
    Some(format!("{}: {fix}", diffs.join("; ")))
}

fn short(commit: &str) -> &str {
    commit.get(..9).unwrap_or(commit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_build_has_every_field() {
        for name in ["rustc", "rustc-commit", "target", "api", "closure"] {
            let value = field(FINGERPRINT, name).expect(name);
            assert!(
                !value.is_empty() && value != "unknown",
                "{name} = {value:?}"
            );
        }
        assert_eq!(field(FINGERPRINT, "api"), Some(env!("CARGO_PKG_VERSION")));
        // The closure names this crate and what it links, never its dev-dependencies.
        assert!(
            CLOSURE.contains("\ninterface pedia-plugin-api "),
            "{CLOSURE}"
        );
        for linked in ["abi_stable", "serde_json", "pedia-core", "tokio"] {
            assert!(CLOSURE.contains(&format!("\ncrate {linked} ")), "{linked}");
        }
        assert!(
            !CLOSURE.contains("\ncrate tempfile "),
            "dev-dependencies are not in it"
        );
        assert_eq!(id_of(section_text()), FINGERPRINT);
    }

    fn section(rustc: &str, crates: &[&str]) -> String {
        let mut doc = format!(
            "pedia-fp/2\nrustc {rustc}\ntarget x\ninterface pedia-plugin-api 0.1.0 source aa\n"
        );
        for c in crates {
            doc.push_str(&format!("crate {c}\n"));
        }
        // The one-line id only has to differ when the facts do.
        format!("pedia-fp/2;facts={}\n{doc}", doc.replace('\n', "|"))
    }

    #[test]
    fn a_mismatch_names_the_crate_and_both_versions() {
        let host = section(
            "1.95.0 def4567890",
            &["serde_json 1.0.145 registry c1", "tokio 1.40.0 registry t1"],
        );
        let plugin = section(
            "1.95.0 def4567890",
            &["serde_json 1.0.140 registry c0", "tokio 1.40.0 registry t1"],
        );
        let msg = explain_mismatch(&plugin, &host).expect("differs");
        assert!(msg.contains("serde_json 1.0.140, this "), "{msg}");
        assert!(
            msg.contains("with 1.0.145 (in the plugin interface's dependency set)"),
            "{msg}"
        );
        assert!(msg.contains("pedia plugin lock --against"), "{msg}");
        assert!(!msg.contains("tokio"), "{msg}");
        assert_eq!(explain_mismatch(&host, &host), None);

        let same_version = section(
            "1.95.0 def4567890",
            &["serde_json 1.0.145 registry zz", "tokio 1.40.0 registry t1"],
        );
        let msg = explain_mismatch(&same_version, &host).expect("differs");
        assert!(
            msg.contains("serde_json 1.0.145 from another source"),
            "{msg}"
        );
    }

    #[test]
    fn a_mismatch_names_the_compiler_versions() {
        let host = section("1.95.0 def4567890", &[]);
        let plugin = section("1.93.0 abc1234567", &[]);
        let msg = explain_mismatch(&plugin, &host).expect("differs");
        assert!(
            msg.contains("was built with rustc 1.93.0 (abc123456)"),
            "{msg}"
        );
        assert!(msg.contains("with rustc 1.95.0 (def456789)"), "{msg}");
        assert!(msg.contains("same toolchain"), "{msg}");
        assert!(!msg.contains("target"), "{msg}");
    }

    #[test]
    fn an_old_format_is_named() {
        let msg = explain_mismatch("pedia-fp/1;rustc=1.95.0;lock=aa", &section("1.95.0 d", &[]))
            .expect("differs");
        assert!(
            msg.contains("pedia-fp/1") && msg.contains("rebuild the plugin"),
            "{msg}"
        );
    }

    #[test]
    fn section_bytes_hold_the_fingerprint_then_the_closure() {
        let bytes = section_bytes();
        let text = std::str::from_utf8(&bytes).expect("utf-8");
        assert_eq!(id_of(text), FINGERPRINT);
        assert!(text.ends_with(CLOSURE));
    }
}
