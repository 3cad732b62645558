//! What the benchmark ran on (recorded with every result, since numbers only mean
//! something next to their machine and source commit) and process memory from `/proc`.

use serde::Serialize;

/// The machine a run was measured on.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Machine {
    pub(crate) cpus: usize,
    pub(crate) cpu_model: String,
    pub(crate) memory_gib: f64,
    pub(crate) kernel: String,
}

impl Machine {
    pub(crate) fn detect() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, m)| m.trim().to_owned())
            .unwrap_or_else(|| "unknown".to_owned());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_kib = status_kib(&meminfo, "MemTotal:").unwrap_or(0);
        Self {
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
            cpu_model,
            memory_gib: memory_kib as f64 / (1024.0 * 1024.0),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_owned())
                .unwrap_or_default(),
        }
    }
}

/// The measured source: `git describe --always --dirty` of the workspace the benchmark
/// was built from (a `-dirty` suffix: figures of uncommitted changes), `unknown` outside
/// a git checkout.
pub(crate) fn commit() -> String {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(env!("CARGO_MANIFEST_DIR"))
        .args(["describe", "--always", "--dirty"])
        .output();
    match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_owned(),
        _ => "unknown".to_owned(),
    }
}

/// A `Name:   123 kB` field of a `/proc` status-like file, in KiB.
fn status_kib(text: &str, field: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// Resident and peak resident memory of a process, in bytes.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct Rss {
    pub(crate) current: u64,
    /// `VmHWM`: the most the process ever had resident (the kernel tracks it, so no
    /// sampling can miss a short peak).
    pub(crate) peak: u64,
}

/// The memory of process `pid` (`None`: this process).
pub(crate) fn rss(pid: Option<u32>) -> Rss {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/status"),
        None => "/proc/self/status".to_owned(),
    };
    let text = std::fs::read_to_string(path).unwrap_or_default();
    Rss {
        current: status_kib(&text, "VmRSS:").unwrap_or(0) * 1024,
        peak: status_kib(&text, "VmHWM:").unwrap_or(0) * 1024,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_status_fields() {
        let text = "Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n";
        assert_eq!(status_kib(text, "VmRSS:"), Some(1024));
        assert_eq!(status_kib(text, "VmHWM:"), Some(2048));
        assert_eq!(status_kib(text, "VmSwap:"), None);
        assert!(rss(None).current > 0);
    }
}
