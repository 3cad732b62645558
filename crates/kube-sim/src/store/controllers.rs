//! The control-plane controllers whose effects clients of a real cluster see, run
//! synchronously at the end of every write that concerns them (so their writes follow it
//! at the next revisions, as if the controller had reacted at once):
//!
//! - ClusterRole aggregation: a ClusterRole with an `aggregationRule` gets the rules of the
//!   ClusterRoles its selectors match (`admin`, `edit`, `view` are built this way).
//! - APIService autoregistration (kube-aggregator's `autoregister` and the CRD
//!   registration controller): one `Local` APIService per served group/version, named
//!   `<version>.<group>` (`v1.` for the core group), available, created for CRDs when they
//!   are established and deleted when nothing serves the group/version any more.
//! - The (legacy) token controller: a Secret of type `kubernetes.io/service-account-token`
//!   naming an existing ServiceAccount gets `token`, `namespace` and `ca.crt` and the
//!   account's uid annotation; the token authenticates as the account while both exist.
//! - APIService availability: `Local` ones are available; ones backed by a Service are
//!   not — `ServiceNotFound` while the Service is missing, else `FailedDiscoveryCheck`,
//!   because the simulator does not proxy to aggregated API servers.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{GroupResource, ObjKey, State, WriteOptions, now_rfc3339, parse};

/// Labels of autoregistered APIServices: `onstart` for the built-in groups, `true` for
/// those of CRDs.
const AUTOMANAGED: &str = "kube-aggregator.kubernetes.io/automanaged";

/// kube's `groupPriorityMinimum`/`versionPriority` of the built-in group versions; other
/// group versions (CRDs) get 1000/100 as the CRD registration controller gives them.
fn priority(group: &str, version: &str) -> (i64, i64) {
    match (group, version) {
        ("", _) => (18000, 1),
        ("apiregistration.k8s.io", _) => (18000, 15),
        ("apps", _) => (17800, 15),
        ("events.k8s.io", _) => (17750, 15),
        ("authentication.k8s.io", _) => (17700, 15),
        ("authorization.k8s.io", _) => (17600, 15),
        ("autoscaling", "v2") => (17500, 30),
        ("autoscaling", _) => (17500, 15),
        ("batch", _) => (17400, 15),
        ("certificates.k8s.io", _) => (17300, 15),
        ("networking.k8s.io", _) => (17200, 15),
        ("policy", _) => (17100, 15),
        ("rbac.authorization.k8s.io", _) => (17000, 15),
        ("storage.k8s.io", _) => (16800, 15),
        ("apiextensions.k8s.io" | "admissionregistration.k8s.io", _) => (16700, 15),
        ("scheduling.k8s.io", _) => (16600, 15),
        ("coordination.k8s.io", _) => (16500, 15),
        ("node.k8s.io", _) => (16300, 15),
        ("discovery.k8s.io", _) => (16200, 15),
        ("flowcontrol.apiserver.k8s.io", _) => (16100, 21),
        _ => (1000, 100),
    }
}

/// The `Local` APIService of `group`/`version`.
pub(crate) fn local_api_service(group: &str, version: &str, custom: bool, now: &str) -> Value {
    let (group_priority, version_priority) = priority(group, version);
    json!({
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {
            "name": format!("{version}.{group}"),
            "labels": {AUTOMANAGED: if custom { "true" } else { "onstart" }},
        },
        "spec": {
            "group": group,
            "version": version,
            "groupPriorityMinimum": group_priority,
            "versionPriority": version_priority,
        },
        "status": {"conditions": [{
            "type": "Available",
            "status": "True",
            "lastTransitionTime": now,
            "reason": "Local",
            "message": "Local APIServices are always available",
        }]},
    })
}

impl State {
    /// Runs the controllers whose inputs the write changed, until nothing changes.
    pub(crate) fn reconcile(&mut self) {
        // Each pass may change what the next looks at (aggregated roles feeding other
        // aggregated roles); the bound only guards against a cycle of selectors.
        for _ in 0..16 {
            let dirty = std::mem::take(&mut self.dirty);
            if dirty == super::Dirty::default() {
                return;
            }
            if dirty.cluster_roles {
                self.aggregate_cluster_roles();
            }
            if dirty.registry {
                self.sync_api_services();
            }
            if dirty.availability {
                self.api_service_availability();
            }
            if dirty.token_secrets {
                self.fill_token_secrets();
            }
        }
        self.dirty = super::Dirty::default();
    }

    fn aggregate_cluster_roles(&mut self) {
        let Some(def) = self
            .registry
            .resolve("rbac.authorization.k8s.io", "v1", "clusterroles")
        else {
            return;
        };
        let opts = WriteOptions {
            unconditional: true,
            ..WriteOptions::manager("clusterrole-aggregation-controller")
        };
        let gr = GroupResource::of(&def);
        for (name, rules) in crate::rbac::aggregated_rules(self) {
            let Some(Ok(mut role)) = self.object(&gr, &ObjKey::new("", &name)).map(|r| parse(r))
            else {
                continue;
            };
            role["rules"] = Value::Array(rules);
            if let Err(e) = self.update(&def, "v1", None, &name, role, false, &opts) {
                tracing::warn!(role = %name, error = %e, "cannot aggregate a ClusterRole");
            }
        }
    }

    /// Secrets of the token type, parsed (a byte search skips all others unparsed).
    fn token_secrets(&self) -> Vec<(ObjKey, Value)> {
        let secrets = GroupResource {
            group: String::new(),
            resource: "secrets".to_owned(),
        };
        self.table_objects(&secrets)
            .into_iter()
            .flatten()
            .filter(|(_, raw)| super::mentions(raw, super::SERVICE_ACCOUNT_TOKEN_TYPE))
            .filter_map(|(k, raw)| Some((k.clone(), parse(raw).ok()?)))
            .filter(|(_, s)| s["type"] == super::SERVICE_ACCOUNT_TOKEN_TYPE)
            .collect()
    }

    /// The ServiceAccount (namespace, name, uid) whose token-Secret holds `token`.
    pub(crate) fn secret_token_account(&self, token: &str) -> Option<(String, String, String)> {
        use base64::Engine as _;
        self.token_secrets().into_iter().find_map(|(key, secret)| {
            let stored = secret.pointer("/data/token").and_then(Value::as_str)?;
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(stored)
                .ok()?;
            if decoded != token.as_bytes() {
                return None;
            }
            let annotations = secret.pointer("/metadata/annotations")?;
            Some((
                key.namespace,
                annotations["kubernetes.io/service-account.name"]
                    .as_str()?
                    .to_owned(),
                annotations["kubernetes.io/service-account.uid"]
                    .as_str()?
                    .to_owned(),
            ))
        })
    }

    fn fill_token_secrets(&mut self) {
        use base64::Engine as _;
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let Some(def) = self.registry.resolve("", "v1", "secrets") else {
            return;
        };
        let accounts = GroupResource {
            group: String::new(),
            resource: "serviceaccounts".to_owned(),
        };
        for (key, mut secret) in self.token_secrets() {
            if secret.pointer("/data/token").is_some() {
                continue;
            }
            let Some(name) = secret
                .pointer("/metadata/annotations/kubernetes.io~1service-account.name")
                .and_then(Value::as_str)
                .map(str::to_owned)
            else {
                continue;
            };
            let Some(Ok(account)) = self
                .object(&accounts, &ObjKey::new(&key.namespace, &name))
                .map(|r| parse(r))
            else {
                continue;
            };
            let uid = account["metadata"]["uid"].clone();
            secret["metadata"]["annotations"]["kubernetes.io/service-account.uid"] = uid;
            let token = self.rng.hex(48);
            let ca = b64(&self.cluster_ca);
            let data = &mut secret["data"];
            data["token"] = json!(b64(&token));
            data["namespace"] = json!(b64(&key.namespace));
            data["ca.crt"] = json!(ca);
            let opts = WriteOptions {
                unconditional: true,
                ..WriteOptions::manager("kube-controller-manager")
            };
            if let Err(e) = self.update(
                &def,
                "v1",
                Some(&key.namespace),
                &key.name,
                secret,
                false,
                &opts,
            ) {
                tracing::warn!(secret = %key.name, error = %e, "cannot fill a token Secret");
            }
        }
    }

    fn api_service_availability(&mut self) {
        let Some(def) = self
            .registry
            .resolve("apiregistration.k8s.io", "v1", "apiservices")
        else {
            return;
        };
        let gr = GroupResource::of(&def);
        let services = GroupResource {
            group: String::new(),
            resource: "services".to_owned(),
        };
        let now = now_rfc3339();
        for key in self.keys(&gr, None) {
            let Some(Ok(api_service)) = self.object(&gr, &key).map(|r| parse(r)) else {
                continue;
            };
            let (status, reason, message) = match api_service
                .pointer("/spec/service")
                .filter(|s| !s.is_null())
            {
                None => (
                    "True",
                    "Local",
                    "Local APIServices are always available".to_owned(),
                ),
                Some(svc) => {
                    let ns = svc["namespace"].as_str().unwrap_or_default();
                    let name = svc["name"].as_str().unwrap_or_default();
                    if self.object(&services, &ObjKey::new(ns, name)).is_none() {
                        (
                            "False",
                            "ServiceNotFound",
                            format!("service/{name} in \"{ns}\" is not present"),
                        )
                    } else {
                        (
                            "False",
                            "FailedDiscoveryCheck",
                            "the simulator does not proxy to aggregated API servers".to_owned(),
                        )
                    }
                }
            };
            let current = api_service
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .and_then(|cs| cs.iter().find(|c| c["type"] == "Available"));
            if current.is_some_and(|c| c["status"] == status && c["reason"] == reason) {
                continue;
            }
            let mut updated = api_service.clone();
            updated["status"] = json!({"conditions": [{
                "type": "Available",
                "status": status,
                "lastTransitionTime": now,
                "reason": reason,
                "message": message,
            }]});
            let opts = WriteOptions {
                unconditional: true,
                ..WriteOptions::manager("kube-apiserver")
            };
            if let Err(e) = self.update(&def, "v1", None, &key.name, updated, true, &opts) {
                tracing::warn!(apiservice = %key.name, error = %e, "cannot set availability");
            }
        }
    }

    fn sync_api_services(&mut self) {
        let Some(def) = self
            .registry
            .resolve("apiregistration.k8s.io", "v1", "apiservices")
        else {
            return;
        };
        let gr = GroupResource::of(&def);
        let mut wanted: BTreeMap<String, (String, String, bool)> = BTreeMap::new();
        for (group, versions) in self.registry.groups() {
            for version in versions {
                let custom = self
                    .registry
                    .resources_in(&group, &version)
                    .iter()
                    .all(|d| d.custom);
                wanted.insert(
                    format!("{version}.{group}"),
                    (group.clone(), version, custom),
                );
            }
        }
        for key in self.keys(&gr, None) {
            if wanted.contains_key(&key.name) {
                continue;
            }
            let Some(Ok(service)) = self.object(&gr, &key).map(|r| parse(r)) else {
                continue;
            };
            let automanaged = service
                .pointer(&format!(
                    "/metadata/labels/{}",
                    AUTOMANAGED.replace('/', "~1")
                ))
                .is_some();
            if automanaged && service.pointer("/spec/service").is_none_or(Value::is_null) {
                self.remove(&gr, &key);
            }
        }
        let now = now_rfc3339();
        for (name, (group, version, custom)) in wanted {
            if self.object(&gr, &ObjKey::new("", &name)).is_some() {
                continue;
            }
            let service = local_api_service(&group, &version, custom, &now);
            if let Err(e) = self.create(&def, "v1", None, service, &WriteOptions::system()) {
                tracing::warn!(apiservice = %name, error = %e, "cannot register an APIService");
            }
        }
    }
}
