//! What a fresh kube-apiserver writes into its cluster, beyond the initial namespaces: the
//! default RBAC policy (`bootstrap/rbac.yaml`: `cluster-admin` for `system:masters`, the
//! aggregated `admin`/`edit`/`view`, `system:auth-delegator`, discovery and basic-user
//! access for everyone authenticated, the reader Role of the authentication ConfigMap), the
//! `Local` APIServices of the served group versions, and
//! `kube-system/extension-apiserver-authentication`, the ConfigMap aggregated API servers
//! read their client and front-proxy trust from.

use serde::Deserialize as _;
use serde_json::{Value, json};

use crate::error::SimError;
use crate::store::{Store, WriteOptions};

const RBAC: &str = include_str!("bootstrap/rbac.yaml");

/// Namespace and name of the authentication ConfigMap.
pub const AUTHENTICATION_NAMESPACE: &str = "kube-system";
pub const AUTHENTICATION_CONFIG_MAP: &str = "extension-apiserver-authentication";

/// The front-proxy settings kube-apiserver publishes (kubeadm's flags).
pub const FRONT_PROXY_CLIENT: &str = "front-proxy-client";

/// Creates the default policy objects and the APIServices.
pub(crate) fn install(store: &Store) -> Result<(), SimError> {
    for doc in serde_yaml_ng::Deserializer::from_str(RBAC) {
        let mut obj = Value::deserialize(doc).map_err(|e| SimError::Bootstrap(e.to_string()))?;
        let meta = &mut obj["metadata"];
        meta["labels"]["kubernetes.io/bootstrapping"] = json!("rbac-defaults");
        meta["annotations"]["rbac.authorization.kubernetes.io/autoupdate"] = json!("true");
        store
            .create_with(obj, &WriteOptions::manager("kube-apiserver"))
            .map_err(|e| SimError::Bootstrap(e.message))?;
    }
    store.write(|s| s.dirty.registry = true);
    Ok(())
}

/// The data of the authentication ConfigMap, as kube-apiserver's
/// cluster-authentication-trust controller writes it: CA bundles as PEM, the lists as JSON.
pub(crate) fn authentication_data(client_ca: &str, front_proxy_ca: &str) -> Value {
    let list = |items: &[&str]| Value::String(json!(items).to_string());
    json!({
        "client-ca-file": client_ca,
        "requestheader-allowed-names": list(&[FRONT_PROXY_CLIENT]),
        "requestheader-client-ca-file": front_proxy_ca,
        "requestheader-extra-headers-prefix": list(&["X-Remote-Extra-"]),
        "requestheader-group-headers": list(&["X-Remote-Group"]),
        "requestheader-uid-headers": list(&[]),
        "requestheader-username-headers": list(&["X-Remote-User"]),
    })
}

/// Writes the authentication ConfigMap (created, or its data replaced: watchers see
/// `ADDED` or `MODIFIED`).
pub(crate) fn publish_authentication(store: &Store, data: Value) -> Result<(), SimError> {
    let opts = WriteOptions::manager("kube-apiserver");
    match store.get("configmaps", Some(AUTHENTICATION_NAMESPACE), AUTHENTICATION_CONFIG_MAP) {
        Ok(mut cm) => {
            cm["data"] = data;
            store.update_with(cm, &opts).map(|_| ())
        }
        Err(_) => store
            .create_with(
                json!({
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": AUTHENTICATION_CONFIG_MAP, "namespace": AUTHENTICATION_NAMESPACE},
                    "data": data,
                }),
                &opts,
            )
            .map(|_| ()),
    }
    .map_err(SimError::Load)
}
