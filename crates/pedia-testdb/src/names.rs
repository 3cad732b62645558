//! Names of test schemas and databases: `<prefix>_<pid>_<n>`, unique per test and telling
//! which process made them, so a later process can drop what dead ones left behind.

use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Prefixes are spliced into DDL: lowercase letters, digits and `_`, starting with a letter.
fn check_prefix(prefix: &str) {
    assert!(
        prefix.starts_with(|c: char| c.is_ascii_lowercase())
            && prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
        "not a test name prefix: {prefix:?}"
    );
}

/// A name this crate generated (checked before it is spliced into DDL).
pub(crate) fn check(name: &str) {
    assert!(
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
        "not a test database name: {name:?}"
    );
}

/// `<prefix>_<pid>_<n>`, fresh within this process.
pub fn unique_name(prefix: &str) -> String {
    check_prefix(prefix);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Whether `name` is `<prefix>_<pid>_<n>` of a process that no longer runs.
pub fn is_leftover(name: &str, prefix: &str) -> bool {
    let Some(rest) = name
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
    else {
        return false;
    };
    let mut parts = rest.split('_');
    let (Some(pid), Some(n), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let (Ok(pid), Ok(_)) = (pid.parse::<u32>(), n.parse::<u64>()) else {
        return false;
    };
    pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftovers_are_recognised_by_a_dead_pid() {
        let mine = unique_name("t");
        assert!(mine.starts_with(&format!("t_{}_", std::process::id())));
        assert!(!is_leftover(&mine, "t"));
        // Pids above the kernel's maximum never run.
        assert!(is_leftover("t_4000000000_1", "t"));
        assert!(!is_leftover("t_4000000000_1", "other"));
        assert!(!is_leftover("t_x_4000000000_1", "t"), "another prefix");
        assert!(!is_leftover("t_notapid_1", "t"));
        assert!(!is_leftover("t_4000000000", "t"));
    }

    #[test]
    #[should_panic(expected = "not a test name prefix")]
    fn prefixes_are_identifiers() {
        unique_name("x\"; DROP");
    }
}
