//! Authentication and bad requests against the real `apiserver` binary: bearer tokens,
//! client certificates, front-proxy headers, anonymous access; 401 and 400 answers that
//! are not logged as server errors.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pedia_testkit::kubectl::kubectl;

const TOKEN: &str = "s3cret-token-for-alice";

struct Ca {
    cert: rcgen::Certificate,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

fn ca(name: &str) -> Ca {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let cert = params.self_signed(&key).expect("ca cert");
    Ca {
        cert,
        issuer: rcgen::Issuer::new(params, key),
    }
}

/// A client certificate (PEM cert, PEM key) with CN `user` and O `groups`, signed by `ca`.
fn client_cert(ca: &Ca, user: &str, groups: &[&str]) -> (String, String) {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, user);
    for g in groups {
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, *g);
    }
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.signed_by(&key, &ca.issuer).expect("client cert");
    (cert.pem(), key.serialize_pem())
}

struct Server {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Server {
    fn base(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Stops the server and returns everything it logged.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut log = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            let _ = err.read_to_string(&mut log);
        }
        log
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

async fn start(extra: &[&str], write: impl FnOnce(&Path)) -> Server {
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("storage.yaml");
    std::fs::write(
        &config,
        format!(
            "type: sqlite\ndsn: {}\n",
            dir.path().join("db.sqlite").display()
        ),
    )
    .expect("config");
    // Load a pod so there is something to read.
    {
        let storage = storage_setup::StorageOptions {
            storage_name: "internal".into(),
            storage_config: Some(config.clone()),
            storage_plugins: None,
            allow_unverified_plugins: false,
            plugin_manifest_sha256: None,
        }
        .open()
        .await
        .expect("storage");
        let pod = serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "ns", "resourceVersion": "1"}
        });
        synchro_writer::load_objects(Arc::clone(&storage), "c1", vec![pod], Default::default())
            .await
            .expect("load");
        storage.shutdown().await.expect("shutdown");
    }
    std::fs::write(
        dir.path().join("tokens.csv"),
        format!("{TOKEN},alice,uid-1,\"team\"\n"),
    )
    .expect("tokens");
    write(dir.path());
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_apiserver"))
        .current_dir(dir.path())
        .args([
            "--bind-address",
            "127.0.0.1",
            "--secure-port",
            &port.to_string(),
            "--cert-dir",
            "certs",
            "--token-auth-file",
            "tokens.csv",
            "--storage-name",
            "internal",
            "--storage-config",
            "storage.yaml",
        ])
        .args(extra)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start apiserver");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "apiserver did not start listening"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Server { child, port, dir }
}

fn curl(server: &Server, args: &[&str], path: &str) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert"])
        .arg(server.path("certs/apiserver.crt"))
        .args(["-w", "\n%{http_code}"])
        .args(args)
        .arg(format!("{}{}", server.base(), path))
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

fn kubeconfig(server: &Server, user: &str) -> PathBuf {
    let path = server.path(&format!("kubeconfig-{}", user.len()));
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: s\n  cluster:\n    server: {}/apis/clusterpedia.io/v1beta1/resources\n    certificate-authority: {}\nusers:\n- name: u\n  user:\n{user}\ncontexts:\n- name: s\n  context: {{cluster: s, user: u}}\ncurrent-context: s\n",
        server.base(),
        server.path("certs/apiserver.crt").display(),
    );
    std::fs::write(&path, text).expect("kubeconfig");
    path
}

fn kubectl_get(server: &Server, config: &Path) -> Output {
    Command::new(kubectl(33))
        .arg("--kubeconfig")
        .arg(config)
        .arg("--cache-dir")
        .arg(server.path("cache"))
        .args(["get", "pods", "-A"])
        .output()
        .expect("kubectl")
}

const PODS: &str = "/apis/clusterpedia.io/v1beta1/resources/api/v1/pods";

fn assert_not_logged_as_errors(log: &str) {
    for line in log.lines() {
        assert!(
            !line.contains("ERROR") && !line.contains("WARN"),
            "unexpected server log: {line}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_wrong_credentials_and_bad_queries() {
    let server = start(&[], |_| {}).await;

    // kubectl with the right token, a wrong one, none.
    let ok = kubectl_get(
        &server,
        &kubeconfig(&server, &format!("    token: {TOKEN}")),
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("c1"));
    let out = kubectl_get(&server, &kubeconfig(&server, "    token: not-the-token"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Unauthorized"), "{err}");
    // (Without any credentials kubectl would prompt for a password; curl shows the 401.)

    let auth = format!("Authorization: Bearer {TOKEN}");
    let (code, body) = curl(&server, &[], PODS);
    assert_eq!(code, 401, "{body}");
    assert!(
        body.contains("\"kind\":\"Status\"") && body.contains("\"code\":401"),
        "{body}"
    );
    let (code, _) = curl(&server, &["-H", "Authorization: Bearer wrong"], PODS);
    assert_eq!(code, 401);
    // Health probes need no credentials.
    for probe in ["/healthz", "/readyz", "/livez"] {
        let (code, body) = curl(&server, &[], probe);
        assert_eq!((code, body.as_str()), (200, "ok"), "{probe}");
    }

    // Malformed queries: 400 naming the parameter.
    for (query, param) in [
        ("limit=-1", "limit"),
        ("limit=abc", "limit"),
        ("orderby=password", "orderby"),
        ("labelSelector=app%3D%3D%3D", "labelSelector"),
        ("since=yesterday", "since"),
        ("continue=forged", "continue"),
        ("ownerName=x", "ownerName"),
        ("whereSQL=1%3D1", "whereSQL"),
    ] {
        let (code, body) = curl(&server, &["-H", &auth], &format!("{PODS}?{query}"));
        assert_eq!(code, 400, "{query}: {body}");
        assert!(body.contains(param), "{query}: {body}");
    }
    let (code, _) = curl(
        &server,
        &["-H", &auth],
        "/apis/clusterpedia.io/v1beta1/resources/api/v1/nothings",
    );
    assert_eq!(code, 404);
    let (code, body) = curl(&server, &["-H", &auth], "/metrics");
    assert_eq!(code, 200);
    assert!(
        body.contains("pedia_apiserver_requests_total{verb=\"get\",code=\"401\"}"),
        "{body}"
    );

    let log = server.stop();
    assert_not_logged_as_errors(&log);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_front_proxy_and_anonymous() {
    let client_ca = ca("client-ca");
    let proxy_ca = ca("front-proxy-ca");
    let other_ca = ca("someone-else");
    let server = start(
        &[
            "--client-ca-file",
            "client-ca.crt",
            "--requestheader-client-ca-file",
            "proxy-ca.crt",
            "--requestheader-allowed-names",
            "front-proxy-client",
        ],
        |dir| {
            std::fs::write(dir.join("client-ca.crt"), client_ca.cert.pem()).expect("write");
            std::fs::write(dir.join("proxy-ca.crt"), proxy_ca.cert.pem()).expect("write");
        },
    )
    .await;

    let write_pair = |name: &str, (cert, key): (String, String)| {
        std::fs::write(server.path(&format!("{name}.crt")), cert).expect("write");
        std::fs::write(server.path(&format!("{name}.key")), key).expect("write");
        (
            server.path(&format!("{name}.crt")),
            server.path(&format!("{name}.key")),
        )
    };
    let (bob_crt, bob_key) = write_pair("bob", client_cert(&client_ca, "bob", &["devs"]));
    let (eve_crt, eve_key) = write_pair("eve", client_cert(&other_ca, "eve", &[]));
    let (proxy_crt, proxy_key) =
        write_pair("proxy", client_cert(&proxy_ca, "front-proxy-client", &[]));
    let (rogue_crt, rogue_key) = write_pair("rogue", client_cert(&proxy_ca, "not-allowed", &[]));

    let user = |crt: &Path, key: &Path| {
        format!(
            "    client-certificate: {}\n    client-key: {}",
            crt.display(),
            key.display()
        )
    };
    let ok = kubectl_get(&server, &kubeconfig(&server, &user(&bob_crt, &bob_key)));
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    // A certificate from an unknown CA is refused in the handshake or with 401.
    let (code, _) = curl(
        &server,
        &[
            "--cert",
            eve_crt.to_str().expect("p"),
            "--key",
            eve_key.to_str().expect("p"),
        ],
        PODS,
    );
    assert!(code == 401 || code == 0, "unknown CA got {code}");

    // The front proxy's identity headers are trusted only from its certificate.
    let proxy = [
        "--cert",
        proxy_crt.to_str().expect("p"),
        "--key",
        proxy_key.to_str().expect("p"),
    ];
    let mut args = proxy.to_vec();
    args.extend(["-H", "X-Remote-User: carol", "-H", "X-Remote-Group: admins"]);
    let (code, body) = curl(&server, &args, PODS);
    assert_eq!(code, 200, "{body}");
    let (code, _) = curl(&server, &proxy, PODS);
    assert_eq!(code, 401, "a proxy request without a user header");
    let (code, _) = curl(
        &server,
        &[
            "--cert",
            rogue_crt.to_str().expect("p"),
            "--key",
            rogue_key.to_str().expect("p"),
            "-H",
            "X-Remote-User: carol",
        ],
        PODS,
    );
    assert_eq!(
        code, 401,
        "a proxy certificate with a CN not in --requestheader-allowed-names"
    );
    let (code, _) = curl(&server, &["-H", "X-Remote-User: carol"], PODS);
    assert_eq!(code, 401, "headers without the proxy certificate");
    let log = server.stop();
    assert_not_logged_as_errors(&log);

    // With --anonymous-auth=true, no credentials are enough.
    let open = start(&["--anonymous-auth=true"], |_| {}).await;
    let (code, body) = curl(&open, &[], PODS);
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"PodList\""), "{body}");
    open.stop();
}

/// Runs `openssl` with `args` in `dir` (the seed's certificate commands).
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl is installed (Debian package openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The seed's "Local Run" certificates: a CA and an X.509 v1 client certificate for
/// CN=development, O=system:masters, made with the seed's own openssl commands.
fn seed_certificates(dir: &Path, prefix: &str) {
    let name = |f: &str| format!("{prefix}{f}");
    let subj = format!("/CN={prefix}ca");
    openssl(
        dir,
        &[
            "req",
            "-nodes",
            "-new",
            "-x509",
            "-keyout",
            &name("ca.key"),
            "-out",
            &name("ca.crt"),
            "-subj",
            &subj,
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-out",
            &name("client.csr"),
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &name("client.key"),
            "-subj",
            "/CN=development/O=system:masters",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-days",
            "365",
            "-in",
            &name("client.csr"),
            "-CA",
            &name("ca.crt"),
            "-CAkey",
            &name("ca.key"),
            "-set_serial",
            "01",
            "-sha256",
            "-out",
            &name("client.crt"),
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_s_openssl_v1_client_certificate_is_accepted() {
    let server = start(&["--client-ca-file", "ca.crt"], |dir| {
        seed_certificates(dir, "");
        seed_certificates(dir, "other-");
    })
    .await;
    let text = String::from_utf8(
        Command::new("openssl")
            .args(["x509", "-noout", "-text", "-in"])
            .arg(server.path("client.crt"))
            .output()
            .expect("openssl")
            .stdout,
    )
    .expect("utf-8");
    assert!(
        text.contains("Version: 1 (0x0)"),
        "the seed's commands make a v1 certificate"
    );

    let user = |prefix: &str| {
        format!(
            "    client-certificate: {}\n    client-key: {}",
            server.path(&format!("{prefix}client.crt")).display(),
            server.path(&format!("{prefix}client.key")).display()
        )
    };
    for version in [27, 33] {
        let out = Command::new(kubectl(version))
            .arg("--kubeconfig")
            .arg(kubeconfig(&server, &user("")))
            .arg("--cache-dir")
            .arg(server.path("cache"))
            .args(["get", "pods", "-A", "-o", "name"])
            .output()
            .expect("kubectl");
        assert!(
            out.status.success(),
            "kubectl 1.{version}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "pod/p");
    }
    // A certificate of another CA is not a user; the server says why in its log.
    let (code, _) = curl(
        &server,
        &[
            "--cert",
            server.path("other-client.crt").to_str().expect("p"),
            "--key",
            server.path("other-client.key").to_str().expect("p"),
        ],
        PODS,
    );
    assert_eq!(code, 401);
    let log = server.stop();
    assert!(
        log.contains("client certificate does not authenticate")
            && log.contains("not signed by a trusted CA"),
        "{log}"
    );
}

/// A kubeconfig for a host cluster at a port nothing listens on.
fn dead_host_kubeconfig(dir: &Path) -> PathBuf {
    let port = free_port();
    let path = dir.join("dead-host.kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: h\n  cluster:\n    server: https://127.0.0.1:{port}\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: h\n  context: {{cluster: h, user: u}}\ncurrent-context: h\n"
        ),
    )
    .expect("kubeconfig");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_cluster_that_does_not_answer() {
    // Without the ConfigMap the apiserver refuses to start, naming what to do...
    let dir = tempfile::tempdir().expect("dir");
    let kubeconfig = dead_host_kubeconfig(dir.path());
    let out = Command::new(env!("CARGO_BIN_EXE_apiserver"))
        .current_dir(dir.path())
        .args([
            "--bind-address",
            "127.0.0.1",
            "--secure-port",
            "0",
            "--cert-dir",
            "certs",
        ])
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["--storage-name", "memory"])
        .output()
        .expect("run apiserver");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("extension-apiserver-authentication")
            && err.contains("--authentication-tolerate-lookup-failure"),
        "{err}"
    );

    // ...unless told to tolerate it; then reviews that cannot be made are 503s, and
    // system:masters needs no review.
    let server = start(
        &[
            "--kubeconfig",
            "dead-host.kubeconfig",
            "--authentication-tolerate-lookup-failure",
            "--client-ca-file",
            "ca.crt",
        ],
        |d| {
            seed_certificates(d, "");
            dead_host_kubeconfig(d);
        },
    )
    .await;
    let bearer = format!("Authorization: Bearer {TOKEN}");
    let (code, body) = curl(&server, &["-H", &bearer], PODS);
    assert_eq!(
        code, 503,
        "the static token authenticates, the review fails: {body}"
    );
    assert!(body.contains("SubjectAccessReview"), "{body}");
    let (code, body) = curl(&server, &["-H", "Authorization: Bearer unknown"], PODS);
    assert_eq!(code, 503, "an unknown token needs a TokenReview: {body}");
    assert!(body.contains("TokenReview"), "{body}");
    let (code, body) = curl(
        &server,
        &[
            "--cert",
            server.path("client.crt").to_str().expect("p"),
            "--key",
            server.path("client.key").to_str().expect("p"),
        ],
        PODS,
    );
    assert_eq!(code, 200, "system:masters is not reviewed: {body}");
    assert!(
        !body.contains("127.0.0.1"),
        "no internals in answers: {body}"
    );
    server.stop();
}
