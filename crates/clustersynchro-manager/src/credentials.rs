//! A member cluster's client configuration from its `PediaCluster` spec, as Clusterpedia
//! reads it: a whole kubeconfig, or `apiserver` with token/CA/certificate data, or the same
//! taken from Secrets (`authenticationFrom`). Without CA data the server certificate is not
//! verified, as in Clusterpedia.

use async_trait::async_trait;
use base64::Engine;
use kube::config::{KubeConfigOptions, Kubeconfig};
use pedia_core::cluster::{ClusterSpec, SecretKeySelector};
use serde_json::json;

/// Why a cluster's credentials are unusable.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("{field} is not valid base64")]
    Base64 { field: &'static str },
    #[error("the spec has neither a kubeconfig, an apiserver nor authenticationFrom")]
    NoEndpoint,
    #[error("secret {name:?} has no key {key:?}")]
    MissingSecret { name: String, key: String },
    #[error("invalid kubeconfig: {0}")]
    Kubeconfig(String),
}

/// Where `authenticationFrom` secrets are read from (the host cluster or local files).
#[async_trait]
pub trait SecretSource: Send + Sync {
    /// One key of a Secret, decoded.
    async fn secret_value(&self, selector: &SecretKeySelector) -> Result<Vec<u8>, CredentialError>;
}

fn decode(field: &'static str, value: &str) -> Result<Vec<u8>, CredentialError> {
    base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .map_err(|_| CredentialError::Base64 { field })
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The raw credential material of a cluster.
#[derive(Default)]
struct Material {
    kubeconfig: Option<Vec<u8>>,
    ca: Option<Vec<u8>>,
    cert: Option<Vec<u8>>,
    key: Option<Vec<u8>>,
    token: Option<Vec<u8>>,
}

async fn secret(
    source: &dyn SecretSource,
    sel: Option<&SecretKeySelector>,
) -> Result<Option<Vec<u8>>, CredentialError> {
    match sel {
        Some(sel) => source.secret_value(sel).await.map(Some),
        None => Ok(None),
    }
}

async fn material(
    spec: &ClusterSpec,
    secrets: &dyn SecretSource,
) -> Result<Material, CredentialError> {
    if let Some(from) = &spec.authentication_from {
        return Ok(Material {
            kubeconfig: secret(secrets, from.kube_config.as_ref()).await?,
            ca: secret(secrets, from.ca.as_ref()).await?,
            cert: secret(secrets, from.cert.as_ref()).await?,
            key: secret(secrets, from.key.as_ref()).await?,
            token: secret(secrets, from.token.as_ref()).await?,
        });
    }
    let opt = |field: &'static str, v: &Option<String>| {
        v.as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| decode(field, s))
            .transpose()
    };
    Ok(Material {
        kubeconfig: opt("kubeconfig", &spec.kubeconfig)?,
        ca: opt("caData", &spec.ca_data)?,
        cert: opt("certData", &spec.cert_data)?,
        key: opt("keyData", &spec.key_data)?,
        token: opt("tokenData", &spec.token_data)?,
    })
}

/// The kube client configuration for a cluster.
pub async fn client_config(
    spec: &ClusterSpec,
    secrets: &dyn SecretSource,
) -> Result<kube::Config, CredentialError> {
    let m = material(spec, secrets).await?;
    let kubeconfig = match m.kubeconfig {
        Some(bytes) => {
            let text = String::from_utf8(bytes)
                .map_err(|_| CredentialError::Kubeconfig("not UTF-8".into()))?;
            Kubeconfig::from_yaml(&text).map_err(|e| CredentialError::Kubeconfig(e.to_string()))?
        }
        None => {
            if spec.apiserver.is_empty() {
                return Err(CredentialError::NoEndpoint);
            }
            let mut cluster = json!({"server": spec.apiserver});
            match &m.ca {
                Some(ca) => cluster["certificate-authority-data"] = json!(b64(ca)),
                None => cluster["insecure-skip-tls-verify"] = json!(true),
            }
            let mut user = json!({});
            if let Some(token) = &m.token {
                user["token"] = json!(String::from_utf8_lossy(token).trim());
            }
            if let (Some(cert), Some(key)) = (&m.cert, &m.key) {
                user["client-certificate-data"] = json!(b64(cert));
                user["client-key-data"] = json!(b64(key));
            }
            let doc = json!({
                "apiVersion": "v1", "kind": "Config",
                "clusters": [{"name": "member", "cluster": cluster}],
                "users": [{"name": "member", "user": user}],
                "contexts": [{"name": "member", "context": {"cluster": "member", "user": "member"}}],
                "current-context": "member",
            });
            let yaml = serde_yaml_ng::to_string(&doc)
                .map_err(|e| CredentialError::Kubeconfig(e.to_string()))?;
            Kubeconfig::from_yaml(&yaml).map_err(|e| CredentialError::Kubeconfig(e.to_string()))?
        }
    };
    kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| CredentialError::Kubeconfig(e.to_string()))
}

/// No secrets available (standalone mode without secret files).
#[derive(Debug, Default)]
pub struct NoSecrets;

#[async_trait]
impl SecretSource for NoSecrets {
    async fn secret_value(&self, selector: &SecretKeySelector) -> Result<Vec<u8>, CredentialError> {
        Err(CredentialError::MissingSecret {
            name: selector.name.clone(),
            key: selector.key.clone(),
        })
    }
}
