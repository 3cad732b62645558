//! The build fingerprint: what it contains, where plugins store it, and how two
//! fingerprints are compared into an actionable message.

/// This build's fingerprint, e.g.
/// `pedia-fp/1;rustc=1.95.0;rustc-commit=5980...;target=x86_64-unknown-linux-gnu;api=0.1.0;lock=ab12...`.
pub const FINGERPRINT: &str = env!("PEDIA_BUILD_FINGERPRINT");

/// The ELF section each plugin carries its fingerprint in, readable from the file's bytes
/// before the library is loaded.
pub const SECTION: &str = ".pedia_fingerprint";

/// The ELF section with the plugin's identity, `name=<storage name>;interface=<version>`,
/// so tools can name a plugin without loading it.
pub const INFO_SECTION: &str = ".pedia_plugin";

/// The fingerprint as a fixed-size array, for the plugin's section static.
pub const fn fingerprint_bytes<const N: usize>() -> [u8; N] {
    concat_bytes::<N>(&[FINGERPRINT])
}

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

/// Explains how `plugin` differs from `host`, naming each differing part and the fix.
/// `None` when they are equal.
pub fn explain_mismatch(plugin: &str, host: &str) -> Option<String> {
    if plugin == host {
        return None;
    }
    let describe = |fp: &str| -> Vec<(&'static str, String)> {
        let get = |k: &str| field(fp, k).unwrap_or("unknown").to_owned();
        vec![
            (
                "rustc",
                format!("rustc {} ({})", get("rustc"), short(&get("rustc-commit"))),
            ),
            ("target", format!("target {}", get("target"))),
            ("api", format!("pedia-plugin-api {}", get("api"))),
            ("lock", format!("Cargo.lock {}", get("lock"))),
        ]
    };
    let p = describe(plugin);
    let h = describe(host);
    let diffs: Vec<String> = p
        .iter()
        .zip(&h)
        .filter(|(a, b)| a.1 != b.1)
        .map(|(a, b)| format!("built with {}, this binary with {}", a.1, b.1))
        .collect();
    let what = if diffs.is_empty() {
        format!("has fingerprint {plugin:?}, this binary {host:?}")
    } else {
        diffs.join("; ")
    };
    Some(format!(
        "{what}: rebuild the plugin and this binary from the same flake / lockfile and toolchain"
    ))
}

fn short(commit: &str) -> &str {
    commit.get(..9).unwrap_or(commit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_build_has_every_field() {
        for name in ["rustc", "rustc-commit", "target", "api", "lock"] {
            let value = field(FINGERPRINT, name).expect(name);
            assert!(
                !value.is_empty() && value != "unknown",
                "{name} = {value:?}"
            );
        }
        assert_eq!(field(FINGERPRINT, "api"), Some(env!("CARGO_PKG_VERSION")));
    }

    #[test]
    fn mismatch_names_the_compiler_versions() {
        let host = "pedia-fp/1;rustc=1.95.0;rustc-commit=def4567890;target=x;api=0.1.0;lock=aa";
        let plugin = "pedia-fp/1;rustc=1.93.0;rustc-commit=abc1234567;target=x;api=0.1.0;lock=aa";
        let msg = explain_mismatch(plugin, host).expect("differs");
        assert!(
            msg.contains(
                "built with rustc 1.93.0 (abc123456), this binary with rustc 1.95.0 (def456789)"
            ),
            "{msg}"
        );
        assert!(!msg.contains("target"), "{msg}");
        assert!(msg.contains("same flake / lockfile"));
        assert_eq!(explain_mismatch(host, host), None);
    }

    #[test]
    fn section_bytes_hold_the_fingerprint() {
        const N: usize = FINGERPRINT.len();
        let bytes = fingerprint_bytes::<N>();
        assert_eq!(&bytes[..], FINGERPRINT.as_bytes());
    }
}
