//! Authentication: bearer tokens (none or a wrong one is 401 with kube's Status), client
//! certificates signed by the configured CA (kube-rs and kubectl), and the health
//! endpoints that need no credentials.

mod common;

use common::{Kubectl, client, client_from, start};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ListParams};
use kube_sim::{ClientCa, KubeSim, SimConfig};

fn without_user(kubeconfig: &str) -> String {
    let mut doc: serde_json::Value = serde_yaml_ng::from_str(kubeconfig).expect("kubeconfig");
    doc["users"][0]["user"] = serde_json::json!({});
    serde_yaml_ng::to_string(&doc).expect("yaml")
}

fn with_token(kubeconfig: &str, token: &str) -> String {
    let mut doc: serde_json::Value = serde_yaml_ng::from_str(kubeconfig).expect("kubeconfig");
    doc["users"][0]["user"] = serde_json::json!({"token": token});
    serde_yaml_ng::to_string(&doc).expect("yaml")
}

async fn list_status(kubeconfig: &str) -> Result<usize, (u16, String, String)> {
    let api: Api<Namespace> = Api::all(client_from(kubeconfig).await);
    match api.list(&ListParams::default()).await {
        Ok(l) => Ok(l.items.len()),
        Err(kube::Error::Api(s)) => Err((s.code, s.reason, s.message)),
        Err(other) => panic!("unexpected error: {other:?}"),
    }
}

#[tokio::test]
async fn tokens() {
    let sim = start();
    assert_eq!(list_status(&sim.kubeconfig()).await, Ok(4));
    let unauthorized = Err((401, "Unauthorized".to_owned(), "Unauthorized".to_owned()));
    assert_eq!(
        list_status(&without_user(&sim.kubeconfig())).await,
        unauthorized
    );
    assert_eq!(
        list_status(&with_token(&sim.kubeconfig(), "wrong")).await,
        unauthorized
    );
    // Discovery needs credentials too; health checks do not. (kubectl would prompt for
    // a password given no credentials at all, so it gets a wrong token.)
    let kubectl = Kubectl::new(33, &with_token(&sim.kubeconfig(), "wrong"));
    let (ok, _, stderr) = kubectl.try_run(&["get", "--raw", "/apis"]);
    assert!(!ok && stderr.contains("Unauthorized"), "{stderr}");
    assert_eq!(kubectl.run(&["get", "--raw", "/readyz"]), "ok");
    assert!(sim.faults().requests() >= 4);
}

#[tokio::test]
async fn client_certificates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = ClientCa::generate("test-client-ca").expect("ca");
    let ca_file = dir.path().join("client-ca.crt");
    ca.write(&ca_file).expect("written");
    let mut config = SimConfig::named("certs");
    config.client_ca = Some(ca_file);
    let sim = KubeSim::start(config).expect("started");
    let (cert, key) = ca.issue("alice", &["devs"]).expect("issued");
    let kubeconfig = sim.kubeconfig_with_client_cert(&cert, &key);
    assert_eq!(list_status(&kubeconfig).await, Ok(4));
    let out = Kubectl::new(27, &kubeconfig).run(&["get", "namespaces", "-o", "name"]);
    assert!(out.contains("namespace/kube-system"), "{out}");
    // The token still works beside certificates; nothing at all does not.
    assert_eq!(list_status(&sim.kubeconfig()).await, Ok(4));
    assert_eq!(
        list_status(&without_user(&sim.kubeconfig()))
            .await
            .map_err(|e| e.0),
        Err(401)
    );
    // A certificate from another CA fails the TLS handshake, as with kube-apiserver.
    let stranger = ClientCa::generate("other").expect("ca");
    let (cert, key) = stranger.issue("mallory", &[]).expect("issued");
    let api: Api<Namespace> =
        Api::all(client_from(&sim.kubeconfig_with_client_cert(&cert, &key)).await);
    assert!(api.list(&ListParams::default()).await.is_err());
}

#[tokio::test]
async fn anonymous_when_no_credentials_are_configured() {
    let mut config = SimConfig::named("open");
    config.token = None;
    let sim = KubeSim::start(config).expect("started");
    assert_eq!(list_status(&sim.kubeconfig()).await, Ok(4));
    let api: Api<Namespace> = Api::all(client(&sim).await);
    assert!(api.get("default").await.is_ok());
}
