//! `pedia kubeconfig`: a kubeconfig for the search API with a `clusterpedia` context (all
//! clusters) and one context per cluster (`.../resources/clusters/<name>`), as
//! Clusterpedia's kubeconfig script writes.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use base64::Engine;
use clap::Args;
use serde_json::{Value, json};
use storage_setup::StorageOptions;

#[derive(Debug, Args)]
pub(crate) struct KubeconfigArgs {
    /// The apiserver's address, e.g. https://127.0.0.1:6443 (the search path is appended).
    #[arg(long)]
    server: String,
    /// Bearer token for the user.
    #[arg(long)]
    token: Option<String>,
    /// CA certificate (PEM) that signed the apiserver's serving certificate.
    #[arg(long)]
    certificate_authority: Option<PathBuf>,
    /// Skip verifying the apiserver's certificate (development only).
    #[arg(long, conflicts_with = "certificate_authority")]
    insecure_skip_tls_verify: bool,
    /// Client certificate (PEM) and key for certificate authentication.
    #[arg(long, requires = "client_key")]
    client_certificate: Option<PathBuf>,
    #[arg(long, requires = "client_certificate")]
    client_key: Option<PathBuf>,
    /// The clusters to write contexts for; without it they are read from the storage layer.
    #[arg(long, value_delimiter = ',')]
    clusters: Vec<String>,
    #[command(flatten)]
    storage: StorageOptions,
    /// Where to write the kubeconfig (default: standard output).
    #[arg(long, short)]
    output: Option<PathBuf>,
}

fn read_b64(path: &PathBuf) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// The kubeconfig document.
pub(crate) fn kubeconfig(server: &str, clusters: &[String], tls: &Value, user: &Value) -> Value {
    let base = format!(
        "{}/apis/clusterpedia.io/v1beta1/resources",
        server.trim_end_matches('/')
    );
    let mut entries = vec![("clusterpedia".to_owned(), base.clone())];
    entries.extend(
        clusters
            .iter()
            .map(|c| (c.clone(), format!("{base}/clusters/{c}"))),
    );
    let cluster_list: Vec<Value> = entries
        .iter()
        .map(|(name, url)| {
            let mut cluster = tls.clone();
            cluster["server"] = json!(url);
            json!({"name": name, "cluster": cluster})
        })
        .collect();
    let contexts: Vec<Value> = entries
        .iter()
        .map(
            |(name, _)| json!({"name": name, "context": {"cluster": name, "user": "clusterpedia"}}),
        )
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": cluster_list,
        "users": [{"name": "clusterpedia", "user": user}],
        "contexts": contexts,
        "current-context": "clusterpedia",
        "preferences": {},
    })
}

pub(crate) async fn run(args: KubeconfigArgs) -> Result<()> {
    if !args.server.starts_with("https://") {
        bail!("--server must be an https:// URL (the search API only serves TLS)");
    }
    let mut clusters = args.clusters.clone();
    if clusters.is_empty() {
        let storage = args.storage.open().await?;
        let stored = storage
            .stored_resources()
            .await
            .map_err(|e| anyhow::anyhow!(e.message().to_owned()))
            .context("listing the clusters in the storage layer (or pass --clusters)")?;
        clusters = stored
            .into_iter()
            .flat_map(|s| s.clusters)
            .filter(|c| c != pedia_core::cluster::CONTROL_CLUSTER)
            .collect();
        clusters.sort();
        clusters.dedup();
    }
    let tls = match (&args.certificate_authority, args.insecure_skip_tls_verify) {
        (Some(ca), _) => json!({"certificate-authority-data": read_b64(ca)?}),
        (None, true) => json!({"insecure-skip-tls-verify": true}),
        (None, false) => json!({}),
    };
    let mut user = json!({});
    if let Some(token) = &args.token {
        user["token"] = json!(token);
    }
    if let (Some(cert), Some(key)) = (&args.client_certificate, &args.client_key) {
        user["client-certificate-data"] = json!(read_b64(cert)?);
        user["client-key-data"] = json!(read_b64(key)?);
    }
    let doc = kubeconfig(&args.server, &clusters, &tls, &user);
    let text = serde_yaml_ng::to_string(&doc)?;
    match &args.output {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
            eprintln!(
                "wrote {} with contexts: clusterpedia{}",
                path.display(),
                clusters
                    .iter()
                    .map(|c| format!(", {c}"))
                    .collect::<String>()
            );
        }
        None => print!("{text}"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_context_per_cluster_plus_all() {
        let doc = kubeconfig(
            "https://127.0.0.1:6443/",
            &["c1".to_owned(), "c2".to_owned()],
            &json!({"insecure-skip-tls-verify": true}),
            &json!({"token": "t"}),
        );
        let servers: Vec<&str> = doc["clusters"]
            .as_array()
            .expect("clusters")
            .iter()
            .filter_map(|c| c["cluster"]["server"].as_str())
            .collect();
        assert_eq!(
            servers,
            vec![
                "https://127.0.0.1:6443/apis/clusterpedia.io/v1beta1/resources",
                "https://127.0.0.1:6443/apis/clusterpedia.io/v1beta1/resources/clusters/c1",
                "https://127.0.0.1:6443/apis/clusterpedia.io/v1beta1/resources/clusters/c2",
            ]
        );
        assert_eq!(doc["current-context"], "clusterpedia");
        assert_eq!(doc["contexts"][2]["name"], "c2");
        assert_eq!(doc["users"][0]["user"]["token"], "t");
    }
}
