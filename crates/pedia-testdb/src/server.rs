//! Private database servers: a real PostgreSQL or MariaDB/MySQL started by the test
//! process from the installed binaries, in a temporary directory on an ephemeral port of
//! 127.0.0.1. A watchdog shell, whose stdin is a pipe only this process holds, stops the
//! server and removes its directory as soon as that pipe closes — when the process exits
//! in any way (or the server value is dropped). Servers refuse to run as root, so as root
//! they run as the `postgres` / `mysql` user (or `nobody`).

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use sqlx::{AssertSqlSafe, Connection, Executor};

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Postgres,
    MySql,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Postgres => "PostgreSQL",
            Kind::MySql => "MariaDB/MySQL",
        }
    }
}

/// How long a private server may take to initialise and start.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// A server this process started (see the module docs).
#[derive(Debug)]
pub struct PrivateServer {
    kind: Kind,
    url: String,
    port: u16,
    dir: PathBuf,
    pid: u32,
    /// Closing this stops the server.
    watchdog: Mutex<Option<ChildStdin>>,
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        self.watchdog
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
    }
}

impl PrivateServer {
    /// The server of `kind` shared by this process's tests, started on first use.
    pub fn shared(kind: Kind) -> Result<&'static PrivateServer, String> {
        static POSTGRES: OnceLock<Result<PrivateServer, String>> = OnceLock::new();
        static MYSQL: OnceLock<Result<PrivateServer, String>> = OnceLock::new();
        let cell = match kind {
            Kind::Postgres => &POSTGRES,
            Kind::MySql => &MYSQL,
        };
        cell.get_or_init(|| Self::start(kind))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Starts a new server of `kind`, owned by the caller (stopped when dropped).
    pub fn start(kind: Kind) -> Result<PrivateServer, String> {
        let fail = |what: String| {
            format!(
                "a private {} server for the tests could not be started: {what}. Install the \
                 server package, start a server on the default port, or point {} at one.",
                kind.name(),
                match kind {
                    Kind::Postgres => crate::POSTGRES_URL_ENV,
                    Kind::MySql => crate::MYSQL_URL_ENV,
                }
            )
        };
        match kind {
            Kind::Postgres => start_postgres(),
            Kind::MySql => start_mysql(),
        }
        .map_err(fail)
    }

    /// `postgres://postgres@127.0.0.1:<port>/test` or `mysql://root@127.0.0.1:<port>/test`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The temporary directory holding the data, socket and logs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The server process.
    pub fn pid(&self) -> u32 {
        self.pid
    }
}

/// The uid and gid to run a server as: ours, or a service user's when we are root.
fn run_as(service_user: &str) -> Result<Option<(u32, u32)>, String> {
    let me = std::fs::metadata("/proc/self").map_err(|e| format!("reading /proc/self: {e}"))?;
    if me.uid() != 0 {
        return Ok(None);
    }
    let passwd =
        std::fs::read_to_string("/etc/passwd").map_err(|e| format!("reading /etc/passwd: {e}"))?;
    for user in [service_user, "nobody"] {
        let entry = passwd.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.len() > 3 && fields[0] == user).then(|| (fields[2].parse(), fields[3].parse()))
        });
        if let Some((Ok(uid), Ok(gid))) = entry {
            return Ok(Some((uid, gid)));
        }
    }
    Err(format!(
        "running as root and neither user {service_user:?} nor \"nobody\" exists to run the server as"
    ))
}

/// The first of `names` found in `dirs` or on `PATH`.
fn find_binary(names: &[&str], dirs: &[PathBuf]) -> Option<PathBuf> {
    let path_dirs = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    dirs.iter()
        .chain(&path_dirs)
        .flat_map(|d| names.iter().map(move |n| d.join(n)))
        .find(|p| p.is_file())
}

/// `/usr/lib/postgresql/<version>/bin`, newest version first.
fn postgres_bin_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| {
                    let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
                    Some((version, e.path().join("bin")))
                })
                .collect()
        })
        .unwrap_or_default();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.0));
    dirs.into_iter().map(|(_, d)| d).collect()
}

/// A port of 127.0.0.1 that was free a moment ago.
fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| format!("finding a free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("finding a free port: {e}"))
}

fn temp_dir(kind: &str, owner: Option<(u32, u32)>) -> Result<PathBuf, String> {
    let dir = tempfile::Builder::new()
        .prefix(&format!("pedia-testdb-{kind}-"))
        .tempdir()
        .map_err(|e| format!("creating a temporary directory: {e}"))?
        .keep();
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
            .map_err(|e| format!("handing {} to uid {uid}: {e}", dir.display()))?;
    }
    Ok(dir)
}

fn command(program: &Path, owner: Option<(u32, u32)>) -> Command {
    let mut cmd = Command::new(program);
    if let Some((uid, gid)) = owner {
        cmd.uid(uid).gid(gid);
    }
    // Its own process group: a Ctrl-C meant for the tests does not hit the server, which
    // the watchdog stops cleanly instead.
    cmd.process_group(0).stdin(Stdio::null());
    cmd
}

fn log_tail(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let _ = f.read_to_string(&mut text);
    }
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// Runs a command to completion with its output in `log`.
fn run_logged(mut cmd: Command, log: &Path, what: &str) -> Result<(), String> {
    let file =
        std::fs::File::create(log).map_err(|e| format!("creating {}: {e}", log.display()))?;
    let err = file
        .try_clone()
        .map_err(|e| format!("creating {}: {e}", log.display()))?;
    let status = cmd
        .stdout(file)
        .stderr(err)
        .status()
        .map_err(|e| format!("running {what}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({status}); its log {}:\n{}",
            log.display(),
            log_tail(log)
        ))
    }
}

/// Starts the server process with its output in `log`.
fn spawn_logged(mut cmd: Command, log: &Path, what: &str) -> Result<Child, String> {
    let file =
        std::fs::File::create(log).map_err(|e| format!("creating {}: {e}", log.display()))?;
    let err = file
        .try_clone()
        .map_err(|e| format!("creating {}: {e}", log.display()))?;
    cmd.stdout(file)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("starting {what}: {e}"))
}

/// The watchdog: waits for its stdin to close, then stops `pid` with `signal` (killing it
/// after 10 s) and removes `dir`.
fn watchdog(pid: u32, signal: &str, dir: &Path) -> Result<ChildStdin, String> {
    let script = r#"cat >/dev/null
kill -"$1" "$0" 2>/dev/null
i=0
while kill -0 "$0" 2>/dev/null && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i+1)); done
kill -KILL "$0" 2>/dev/null
rm -rf "$2""#;
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(script)
        .arg(pid.to_string())
        .arg(signal)
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("starting the server's watchdog: {e}"))?;
    child
        .stdin
        .take()
        .ok_or_else(|| "the watchdog has no stdin".to_owned())
}

/// Runs `fut` to completion on a runtime of its own, from sync or async callers alike.
fn block_on<T: Send + 'static>(
    fut: impl std::future::Future<Output = T> + Send + 'static,
) -> Result<T, String> {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map(|rt| rt.block_on(fut))
            .map_err(|e| format!("starting a runtime: {e}"))
    })
    .join()
    .map_err(|_| "the server setup thread panicked".to_owned())?
}

/// Waits until `connect` succeeds (it also prepares the database), while `child` runs.
fn wait_ready(
    child: &mut Child,
    log: &Path,
    what: &str,
    mut connect: impl FnMut() -> Result<(), String>,
) -> Result<(), String> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "{what} exited ({status}); its log {}:\n{}",
                log.display(),
                log_tail(log)
            ));
        }
        match connect() {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() > deadline => {
                return Err(format!(
                    "{what} did not accept connections within {START_TIMEOUT:?} ({e}); its log {}:\n{}",
                    log.display(),
                    log_tail(log)
                ));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Stops a server that did not come up.
fn abandon(mut child: Child, dir: &Path) {
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(dir);
}

fn start_postgres() -> Result<PrivateServer, String> {
    let dirs = postgres_bin_dirs();
    let initdb = find_binary(&["initdb"], &dirs)
        .ok_or("no initdb in /usr/lib/postgresql/*/bin or on PATH")?;
    let postgres = initdb
        .parent()
        .map(|d| d.join("postgres"))
        .filter(|p| p.is_file())
        .or_else(|| find_binary(&["postgres"], &dirs))
        .ok_or("no postgres binary beside initdb or on PATH")?;
    let owner = run_as("postgres")?;
    let dir = temp_dir("pg", owner)?;
    let data = dir.join("data");
    let mut init = command(&initdb, owner);
    init.arg("-D").arg(&data).args([
        "-U",
        "postgres",
        "--auth=trust",
        "-E",
        "UTF8",
        "--locale=C",
        "--no-sync",
    ]);
    if let Err(e) = run_logged(init, &dir.join("initdb.log"), "initdb") {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(e);
    }
    let port = free_port()?;
    let log = dir.join("server.log");
    let mut server = command(&postgres, owner);
    server
        .arg("-D")
        .arg(&data)
        .arg("-p")
        .arg(port.to_string())
        .arg("-k")
        .arg(&dir)
        .args([
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "max_connections=400",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ]);
    let mut child = spawn_logged(server, &log, "postgres")?;
    let pid = child.id();
    let stdin = match watchdog(pid, "INT", &dir) {
        Ok(stdin) => stdin,
        Err(e) => {
            abandon(child, &dir);
            return Err(e);
        }
    };
    let admin = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let ready = wait_ready(&mut child, &log, "postgres", || {
        let admin = admin.clone();
        block_on(async move {
            let mut conn = sqlx::PgConnection::connect(&admin)
                .await
                .map_err(|e| e.to_string())?;
            conn.execute(AssertSqlSafe("CREATE DATABASE test"))
                .await
                .map_err(|e| e.to_string())?;
            let _ = conn.close().await;
            Ok::<_, String>(())
        })?
    });
    if let Err(e) = ready {
        drop(stdin);
        return Err(e);
    }
    Ok(PrivateServer {
        kind: Kind::Postgres,
        url: format!("postgres://postgres@127.0.0.1:{port}/test"),
        port,
        dir,
        pid,
        watchdog: Mutex::new(Some(stdin)),
    })
}

fn start_mysql() -> Result<PrivateServer, String> {
    let sbin = [PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")];
    let install = find_binary(&["mariadb-install-db", "mysql_install_db"], &sbin)
        .ok_or("no mariadb-install-db or mysql_install_db on PATH")?;
    let mariadbd = find_binary(&["mariadbd", "mysqld"], &sbin)
        .ok_or("no mariadbd or mysqld in /usr/sbin or on PATH")?;
    let owner = run_as("mysql")?;
    let dir = temp_dir("my", owner)?;
    let data = dir.join("data");
    let user = |cmd: &mut Command| {
        // mariadbd switches to the user itself when started as root.
        if owner.is_some() {
            let name = if std::fs::read_to_string("/etc/passwd")
                .is_ok_and(|p| p.lines().any(|l| l.starts_with("mysql:")))
            {
                "mysql"
            } else {
                "nobody"
            };
            cmd.arg(format!("--user={name}"));
        }
    };
    let mut init = command(&install, None);
    init.arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()));
    user(&mut init);
    init.args([
        "--auth-root-authentication-method=normal",
        "--skip-test-db",
        "--skip-name-resolve",
    ]);
    if let Err(e) = run_logged(init, &dir.join("install.log"), "mariadb-install-db") {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(e);
    }
    let port = free_port()?;
    let log = dir.join("server.log");
    let mut server = command(&mariadbd, None);
    server
        .arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()));
    user(&mut server);
    server
        .arg(format!("--port={port}"))
        .arg(format!("--socket={}", dir.join("mysqld.sock").display()))
        .arg(format!("--pid-file={}", dir.join("mysqld.pid").display()))
        .arg(format!("--log-error={}", log.display()))
        .args([
            "--bind-address=127.0.0.1",
            "--skip-name-resolve",
            "--max-connections=500",
            "--innodb-flush-log-at-trx-commit=0",
        ]);
    let mut child = spawn_logged(server, &dir.join("stdout.log"), "mariadbd")?;
    let pid = child.id();
    let stdin = match watchdog(pid, "TERM", &dir) {
        Ok(stdin) => stdin,
        Err(e) => {
            abandon(child, &dir);
            return Err(e);
        }
    };
    let admin = format!("mysql://root@127.0.0.1:{port}/");
    let ready = wait_ready(&mut child, &log, "mariadbd", || {
        let admin = admin.clone();
        block_on(async move {
            let mut conn = sqlx::MySqlConnection::connect(&admin)
                .await
                .map_err(|e| e.to_string())?;
            conn.execute(AssertSqlSafe("CREATE DATABASE IF NOT EXISTS test"))
                .await
                .map_err(|e| e.to_string())?;
            let _ = conn.close().await;
            Ok::<_, String>(())
        })?
    });
    if let Err(e) = ready {
        drop(stdin);
        return Err(e);
    }
    Ok(PrivateServer {
        kind: Kind::MySql,
        url: format!("mysql://root@127.0.0.1:{port}/test"),
        port,
        dir,
        pid,
        watchdog: Mutex::new(Some(stdin)),
    })
}
