//! Authorization: a policy file saying which users and groups may read which clusters,
//! namespaces and resources. It is reloaded when the file changes (a bad edit keeps the
//! previous policy and is logged). Decisions become [`Grant`]s that the storage layer
//! enforces in its query, so lists, watches and collections only ever read what is allowed.
//!
//! ```yaml
//! rules:
//! - groups: [payments-team]          # or users: [alice]
//!   clusters: [prod-eu, prod-us]     # "*" (the default) = every cluster
//!   namespaces: [payments]           # "*" (the default) = every namespace; "" = cluster-scoped
//!   resources: [pods, deployments.apps]   # "*" (the default) = every resource
//! ```
//!
//! Members of `system:masters` may read everything. Without a policy file every
//! authenticated user may read everything.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use pedia_core::{Grant, GroupResource};
use serde::Deserialize;

use crate::auth::UserInfo;
use crate::error::ApiError;

/// The group whose members may read everything.
pub const SUPERUSER_GROUP: &str = "system:masters";

fn everything() -> Vec<String> {
    vec!["*".to_owned()]
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    #[serde(default)]
    users: Vec<String>,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default = "everything")]
    clusters: Vec<String>,
    #[serde(default = "everything")]
    namespaces: Vec<String>,
    #[serde(default = "everything")]
    resources: Vec<String>,
}

/// A parsed policy.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    rules: Vec<Rule>,
}

/// What a user may read of one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Everything.
    All,
    /// Only what these grants cover (never empty).
    Grants(Vec<Grant>),
    /// Nothing.
    Deny,
}

impl Decision {
    /// Whether one object of `cluster`/`namespace` may be read.
    pub fn allows(&self, cluster: &str, namespace: &str) -> bool {
        match self {
            Decision::All => true,
            Decision::Grants(g) => g.iter().any(|g| g.covers(cluster, namespace)),
            Decision::Deny => false,
        }
    }

    /// Whether something of `cluster` (in any namespace) may be read.
    pub fn covers_cluster(&self, cluster: &str) -> bool {
        match self {
            Decision::All => true,
            Decision::Grants(g) => g
                .iter()
                .any(|g| g.cluster.as_deref().is_none_or(|c| c == cluster)),
            Decision::Deny => false,
        }
    }

    /// The grants to put into a storage query (`None`: unrestricted).
    pub fn grants(&self) -> Option<Vec<Grant>> {
        match self {
            Decision::All => None,
            Decision::Grants(g) => Some(g.clone()),
            Decision::Deny => Some(Vec::new()),
        }
    }
}

/// A policy file problem.
#[derive(Debug, thiserror::Error)]
#[error("authorization policy {path}: {reason}")]
pub struct PolicyError {
    pub path: PathBuf,
    pub reason: String,
}

impl Policy {
    pub fn parse(text: &str, path: &Path) -> Result<Self, PolicyError> {
        let policy: Policy = serde_yaml_ng::from_str(text).map_err(|e| PolicyError {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        for (i, rule) in policy.rules.iter().enumerate() {
            if rule.users.is_empty() && rule.groups.is_empty() {
                return Err(PolicyError {
                    path: path.to_owned(),
                    reason: format!("rule {} names no users or groups", i + 1),
                });
            }
        }
        Ok(policy)
    }

    fn rules_of<'a>(&'a self, user: &'a UserInfo) -> impl Iterator<Item = &'a Rule> + 'a {
        self.rules.iter().filter(|rule| {
            rule.users.contains(&user.name) || rule.groups.iter().any(|g| user.groups.contains(g))
        })
    }

    /// Whether some rule lets `user` read something (any resource, any namespace) of
    /// `cluster`. Only then may the user learn that the cluster exists.
    pub fn covers_cluster(&self, user: &UserInfo, cluster: &str) -> bool {
        user.groups.iter().any(|g| g == SUPERUSER_GROUP)
            || self
                .rules_of(user)
                .any(|rule| rule.clusters.iter().any(|c| c == "*" || c == cluster))
    }

    /// What `user` may read of `resource` (`None`: a collection, which only rules for
    /// every resource, `*`, cover).
    pub fn decide(&self, user: &UserInfo, resource: Option<&GroupResource>) -> Decision {
        if user.groups.iter().any(|g| g == SUPERUSER_GROUP) {
            return Decision::All;
        }
        let mut grants = Vec::new();
        for rule in self.rules_of(user) {
            let resource_ok = rule
                .resources
                .iter()
                .any(|r| r == "*" || resource.is_some_and(|gr| *r == gr.to_string()));
            if !resource_ok {
                continue;
            }
            let namespaces = if rule.namespaces.iter().any(|n| n == "*") {
                None
            } else {
                Some(rule.namespaces.clone())
            };
            if rule.clusters.iter().any(|c| c == "*") {
                if namespaces.is_none() {
                    return Decision::All;
                }
                grants.push(Grant {
                    cluster: None,
                    namespaces,
                });
            } else {
                grants.extend(rule.clusters.iter().map(|c| Grant {
                    cluster: Some(c.clone()),
                    namespaces: namespaces.clone(),
                }));
            }
        }
        if grants.is_empty() {
            Decision::Deny
        } else {
            Decision::Grants(grants)
        }
    }
}

/// The policy in force, reloaded from its file when it changes.
#[derive(Debug, Default)]
pub struct Authorizer {
    source: Option<PathBuf>,
    current: RwLock<(Option<Arc<Policy>>, Option<SystemTime>)>,
}

impl Authorizer {
    /// Everyone authenticated reads everything.
    pub fn allow_all() -> Self {
        Self::default()
    }

    /// Loads `path` (an error now is a start-up error).
    pub fn from_file(path: &Path) -> Result<Self, PolicyError> {
        let (policy, mtime) = Self::read(path)?;
        Ok(Self {
            source: Some(path.to_owned()),
            current: RwLock::new((Some(Arc::new(policy)), mtime)),
        })
    }

    fn read(path: &Path) -> Result<(Policy, Option<SystemTime>), PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|e| PolicyError {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        let mtime = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        Ok((Policy::parse(&text, path)?, mtime))
    }

    /// Re-reads the file if it changed since the last load.
    pub fn reload_if_changed(&self) {
        let Some(path) = &self.source else { return };
        let mtime = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        if mtime == self.current.read().unwrap_or_else(|e| e.into_inner()).1 {
            return;
        }
        match Self::read(path) {
            Ok((policy, mtime)) => {
                tracing::info!(path = %path.display(), "authorization policy reloaded");
                *self.current.write().unwrap_or_else(|e| e.into_inner()) =
                    (Some(Arc::new(policy)), mtime);
            }
            Err(err) => {
                // Keep serving with the last good policy.
                tracing::error!(error = %err, "authorization policy not reloaded");
                self.current.write().unwrap_or_else(|e| e.into_inner()).1 = mtime;
            }
        }
    }

    /// Polls the file every `interval` for changes, for as long as the returned task runs.
    pub fn watch(self: &Arc<Self>, interval: Duration) -> Option<tokio::task::JoinHandle<()>> {
        self.source.as_ref()?;
        let me = Arc::clone(self);
        Some(tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                me.reload_if_changed();
            }
        }))
    }

    fn policy(&self) -> Option<Arc<Policy>> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .clone()
    }

    pub fn decide(&self, user: &UserInfo, resource: Option<&GroupResource>) -> Decision {
        match self.policy() {
            None => Decision::All,
            Some(policy) => policy.decide(user, resource),
        }
    }

    /// See [`Policy::covers_cluster`]; without a policy every cluster is covered.
    pub fn covers_cluster(&self, user: &UserInfo, cluster: &str) -> bool {
        self.policy()
            .is_none_or(|policy| policy.covers_cluster(user, cluster))
    }

    /// Whether `user` may read everything: every cluster, namespace and resource. Only
    /// such users may read `/metrics` (it describes the whole server's traffic).
    pub fn allows_everything(&self, user: &UserInfo) -> bool {
        self.decide(user, None) == Decision::All
    }
}

/// The `403 Forbidden` for a denied request.
pub fn forbidden(user: &UserInfo, what: &str) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::FORBIDDEN,
        "Forbidden",
        format!("{what} is forbidden: User {:?} may not read it", user.name),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, groups: &[&str]) -> UserInfo {
        UserInfo {
            name: name.into(),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            ..UserInfo::default()
        }
    }

    fn policy(yaml: &str) -> Policy {
        Policy::parse(yaml, Path::new("policy.yaml")).expect("policy")
    }

    #[test]
    fn rules_become_grants() {
        let p = policy(
            "rules:\n- groups: [pay]\n  clusters: [c1, c2]\n  namespaces: [payments]\n  resources: [pods, deployments.apps]\n- users: [bob]\n  namespaces: [\"\"]\n  resources: [namespaces]\n- users: [root]\n",
        );
        let pods = GroupResource::new("", "pods");
        let alice = user("alice", &["pay"]);
        assert_eq!(
            p.decide(&alice, Some(&pods)),
            Decision::Grants(vec![
                Grant {
                    cluster: Some("c1".into()),
                    namespaces: Some(vec!["payments".into()])
                },
                Grant {
                    cluster: Some("c2".into()),
                    namespaces: Some(vec!["payments".into()])
                },
            ])
        );
        assert_eq!(
            p.decide(&alice, Some(&GroupResource::new("", "secrets"))),
            Decision::Deny
        );
        assert_eq!(
            p.decide(&alice, None),
            Decision::Deny,
            "collections need a rule for every resource"
        );
        let ns = p.decide(
            &user("bob", &[]),
            Some(&GroupResource::new("", "namespaces")),
        );
        assert!(ns.allows("any-cluster", "") && !ns.allows("c1", "kube-system"));
        assert_eq!(p.decide(&user("root", &[]), Some(&pods)), Decision::All);
        assert_eq!(p.decide(&user("mallory", &[]), Some(&pods)), Decision::Deny);
        assert_eq!(
            p.decide(&user("x", &[SUPERUSER_GROUP]), Some(&pods)),
            Decision::All
        );
    }

    #[test]
    fn cluster_visibility_and_everything() {
        let p = policy(
            "rules:\n- groups: [pay]\n  clusters: [c1]\n  namespaces: [payments]\n  resources: [pods]\n- users: [bob]\n  namespaces: [ns-b]\n- users: [root]\n",
        );
        let alice = user("alice", &["pay"]);
        assert!(p.covers_cluster(&alice, "c1"));
        assert!(!p.covers_cluster(&alice, "c2"), "no rule names c2");
        assert!(
            p.covers_cluster(&user("bob", &[]), "any"),
            "clusters default to *"
        );
        assert!(!p.covers_cluster(&user("eve", &[]), "c1"));
        assert!(p.covers_cluster(&user("x", &[SUPERUSER_GROUP]), "c1"));

        let pods = p.decide(&alice, Some(&GroupResource::new("", "pods")));
        assert!(pods.covers_cluster("c1") && !pods.covers_cluster("c2"));
        assert!(!Decision::Deny.covers_cluster("c1"));

        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("policy.yaml");
        std::fs::write(
            &path,
            "rules:\n- users: [root]\n- users: [bob]\n  namespaces: [ns-b]\n",
        )
        .expect("write");
        let authz = Authorizer::from_file(&path).expect("load");
        assert!(authz.allows_everything(&user("root", &[])));
        assert!(!authz.allows_everything(&user("bob", &[])));
        assert!(!authz.allows_everything(&user("eve", &[])));
        assert!(Authorizer::allow_all().allows_everything(&user("eve", &[])));
        assert!(Authorizer::allow_all().covers_cluster(&user("eve", &[]), "c1"));
    }

    #[test]
    fn bad_policies_are_refused() {
        for bad in [
            "rules:\n- clusters: [c1]\n",
            "rules:\n- users: [a]\n  verbs: [get]\n",
            "nope: 1\n",
            "rules: 3\n",
        ] {
            assert!(Policy::parse(bad, Path::new("p.yaml")).is_err(), "{bad}");
        }
    }

    #[test]
    fn reload_keeps_the_last_good_policy() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("policy.yaml");
        std::fs::write(&path, "rules:\n- users: [alice]\n  clusters: [c1]\n").expect("write");
        let authz = Authorizer::from_file(&path).expect("load");
        let pods = GroupResource::new("", "pods");
        let alice = user("alice", &[]);
        assert!(authz.decide(&alice, Some(&pods)).allows("c1", "x"));
        assert!(!authz.decide(&alice, Some(&pods)).allows("c2", "x"));

        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(&path, "rules:\n- users: [alice]\n  clusters: [c2]\n").expect("write");
        bump_mtime(&path);
        authz.reload_if_changed();
        assert!(authz.decide(&alice, Some(&pods)).allows("c2", "x"));

        std::fs::write(&path, "rules: [[[ not yaml").expect("write");
        bump_mtime(&path);
        authz.reload_if_changed();
        assert!(
            authz.decide(&alice, Some(&pods)).allows("c2", "x"),
            "a broken edit keeps the old policy"
        );
    }

    fn bump_mtime(path: &Path) {
        let later = SystemTime::now() + Duration::from_secs(5);
        let f = std::fs::File::options()
            .write(true)
            .open(path)
            .expect("open");
        f.set_modified(later).expect("set mtime");
    }
}
