//! The driver's handle on a `pedia-bench serve` child: spawning it, its protocol lines,
//! its memory, and an HTTPS client of its apiserver.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

use crate::client::Api;
use crate::layers::{Layer, Prepared};
use crate::machine::{Rss, rss};
use crate::serve::{SyncProgress, TOKEN, ca_path};

/// How long a child may take to open its storage and serve.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// A running child serving one layer.
#[derive(Debug)]
pub(crate) struct Server {
    pub(crate) layer: Layer,
    pub(crate) api: Api,
    pid: u32,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
    log: PathBuf,
}

#[derive(Debug, Deserialize)]
struct Ready {
    addr: SocketAddr,
}

impl Server {
    /// Starts a child for `layer` whose files go to `work`; returns once it serves.
    pub(crate) async fn spawn(
        layer: Layer,
        prepared: &Prepared,
        plugin_dir: Option<&Path>,
        clusters_dir: &Path,
        work: &Path,
    ) -> Result<Self> {
        std::fs::create_dir_all(work)?;
        let log = work.join("server.log");
        let mut cmd = tokio::process::Command::new(std::env::current_exe()?);
        cmd.arg("serve")
            .arg("--layer")
            .arg(layer.key())
            .arg("--clusters-dir")
            .arg(clusters_dir)
            .arg("--work")
            .arg(work);
        if let Some(config) = &prepared.config {
            cmd.arg("--storage-config").arg(config);
        }
        if let Some(dir) = plugin_dir {
            cmd.arg("--plugin-dir").arg(dir);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log)?)
            .kill_on_drop(true)
            .spawn()
            .context("starting a pedia-bench serve child")?;
        let pid = child.id().context("the child has no pid")?;
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().context("child stdout")?).lines();
        let line = tokio::time::timeout(START_TIMEOUT, stdout.next_line())
            .await
            .ok()
            .and_then(|l| l.ok().flatten());
        let Some(line) = line else {
            bail!("the {} server did not start: {}", layer.key(), tail(&log));
        };
        let ready: Ready = serde_json::from_str(&line)
            .with_context(|| format!("unexpected line from the child: {line}"))?;
        let api = Api::new(ready.addr, &ca_path(work), TOKEN)?;
        Ok(Self {
            layer,
            api,
            pid,
            child,
            stdin,
            stdout,
            log,
        })
    }

    /// Starts the synchro manager in the child.
    pub(crate) async fn start_sync(&mut self) -> Result<()> {
        let stdin = self.stdin.as_mut().context("child stdin closed")?;
        stdin.write_all(b"sync\n").await?;
        stdin.flush().await?;
        match tokio::time::timeout(START_TIMEOUT, self.stdout.next_line()).await {
            Ok(Ok(Some(_))) => Ok(()),
            _ => bail!(
                "the {} manager did not start: {}",
                self.layer.key(),
                tail(&self.log)
            ),
        }
    }

    /// The manager's progress (asked over stdin).
    pub(crate) async fn progress(&mut self) -> Result<SyncProgress> {
        let stdin = self.stdin.as_mut().context("child stdin closed")?;
        stdin.write_all(b"progress\n").await?;
        stdin.flush().await?;
        match tokio::time::timeout(START_TIMEOUT, self.stdout.next_line()).await {
            Ok(Ok(Some(line))) => Ok(serde_json::from_str(&line)?),
            _ => bail!(
                "the {} server stopped answering: {}",
                self.layer.key(),
                tail(&self.log)
            ),
        }
    }

    pub(crate) fn rss(&self) -> Rss {
        rss(Some(self.pid))
    }

    /// The end of the child's log, for error messages.
    pub(crate) fn log_tail(&self) -> String {
        tail(&self.log)
    }

    /// Stops the child: closes stdin, waits a little, then kills it.
    pub(crate) async fn stop(mut self) {
        drop(self.stdin.take());
        if tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(15);
    format!(
        "last lines of {}:\n{}",
        log.display(),
        lines[start..].join("\n")
    )
}
