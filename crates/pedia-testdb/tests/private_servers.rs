//! The server choices, each in a child test process with its own environment: with
//! `PEDIA_TEST_PRIVATE_SERVERS=1` real PostgreSQL and MariaDB servers start from the
//! installed binaries, the helpers create, use and drop schemas and databases on them, and
//! both servers stop (port closed, directory removed) once the process has exited; with a
//! URL set to a server that is not there, the first use fails with instructions.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use pedia_testdb::{
    Kind, MYSQL_URL_ENV, MyDatabase, POSTGRES_URL_ENV, PRIVATE_SERVERS_ENV, PgSchema,
    PrivateServer, Source,
};
use sqlx::{AssertSqlSafe, Connection, Executor, Row};

/// Which role a child process plays (unset in the parent).
const ROLE: &str = "PEDIA_TESTDB_ROLE";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// The child's work: use both private servers through the public helpers.
async fn use_private_servers() {
    let pg = pedia_testdb::postgres();
    assert_eq!(pg.source, Source::Private, "{pg:?}");
    let schema = PgSchema::create("pedia_testdb").await;
    let mut conn = sqlx::PgConnection::connect(&schema.url)
        .await
        .expect("connect");
    conn.execute(AssertSqlSafe(format!(
        "CREATE TABLE \"{}\".t (v TEXT); INSERT INTO \"{}\".t VALUES ('pg')",
        schema.schema, schema.schema
    )))
    .await
    .expect("write");
    let row = conn
        .fetch_one(AssertSqlSafe(format!(
            "SELECT v FROM \"{}\".t",
            schema.schema
        )))
        .await
        .expect("read");
    assert_eq!(row.get::<String, _>(0), "pg");
    let _ = conn.close().await;
    schema.drop_schema().await;

    let my = pedia_testdb::mysql();
    assert_eq!(my.source, Source::Private, "{my:?}");
    let db = MyDatabase::create("pedia_testdb").await;
    let mut conn = sqlx::MySqlConnection::connect(&db.url)
        .await
        .expect("connect");
    conn.execute("CREATE TABLE t (v TEXT)")
        .await
        .expect("create");
    conn.execute("INSERT INTO t VALUES ('my')")
        .await
        .expect("write");
    let row = conn.fetch_one("SELECT v FROM t").await.expect("read");
    assert_eq!(row.get::<String, _>(0), "my");
    let _ = conn.close().await;
    db.drop_database().await;

    for kind in [Kind::Postgres, Kind::MySql] {
        let server = PrivateServer::shared(kind).expect("started");
        println!(
            "SERVER {} {} {}",
            server.port(),
            server.pid(),
            server.dir().display()
        );
    }
}

fn child(role: &str) -> std::process::Output {
    Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "server_choices", "--nocapture"])
        .env(ROLE, role)
        .env_remove(POSTGRES_URL_ENV)
        .env_remove(MYSQL_URL_ENV)
        .env(
            PRIVATE_SERVERS_ENV,
            if role == "private" { "1" } else { "0" },
        )
        .envs(
            (role == "unreachable")
                .then_some((POSTGRES_URL_ENV, "postgres://postgres@127.0.0.1:1/test")),
        )
        .output()
        .expect("run the child test")
}

fn port_closed(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(500),
    )
    .is_err()
}

#[test]
fn server_choices() {
    match std::env::var(ROLE).as_deref() {
        Ok("private") => return runtime().block_on(use_private_servers()),
        Ok("unreachable") => {
            return runtime().block_on(async {
                PgSchema::create("pedia_testdb").await;
            });
        }
        _ => {}
    }

    let out = child("private");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let servers: Vec<(u16, PathBuf)> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("SERVER "))
        .map(|l| {
            let mut parts = l.splitn(3, ' ');
            let port = parts.next().and_then(|p| p.parse().ok()).expect("port");
            let _pid = parts.next();
            (port, PathBuf::from(parts.next().expect("dir")))
        })
        .collect();
    assert_eq!(servers.len(), 2, "{stdout}");
    for (port, dir) in &servers {
        assert!(
            ![5432, 3306].contains(port),
            "a private server runs on an ephemeral port"
        );
        // The child has exited: its watchdogs stop the servers and remove their files.
        let deadline = Instant::now() + Duration::from_secs(60);
        while !port_closed(*port) || dir.exists() {
            assert!(
                Instant::now() < deadline,
                "the server on port {port} ({}) outlived its test process",
                dir.display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    let out = child("unreachable");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "an unreachable server must fail");
    assert!(stderr.contains(POSTGRES_URL_ENV), "{stderr}");
    assert!(stderr.contains("never skip"), "{stderr}");
    assert!(!stderr.contains("shared"), "{stderr}");
}
