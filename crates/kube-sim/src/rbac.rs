//! Authorization as kube-apiserver decides it: members of `system:masters` may do
//! anything (its privileged-group authorizer, reason `""`), everyone else is judged by RBAC
//! over the Roles, ClusterRoles, RoleBindings and ClusterRoleBindings stored in the
//! simulator, with the semantics of kube's `plugin/pkg/auth/authorizer/rbac`:
//!
//! - ClusterRoleBindings are visited first, then (for a namespaced request) the
//!   RoleBindings of that namespace, each referring to a Role of its namespace or a
//!   ClusterRole; the first rule that allows the request decides, and the reason names it
//!   (`RBAC: allowed by ClusterRoleBinding "x" of ClusterRole "y" to User "z"`).
//! - Subjects: `User` by name, `Group` by membership, `ServiceAccount` as
//!   `system:serviceaccount:<ns>:<name>` (a RoleBinding's subject without a namespace
//!   means the binding's).
//! - Rules: verbs, apiGroups and resources with `*`, `resource/subresource` and
//!   `*/subresource`, resourceNames (a rule with names never matches a request without
//!   one), nonResourceURLs with `*` and trailing-`*` prefixes.
//! - RBAC never denies: no match is "no opinion" (`allowed: false`, `denied: false`),
//!   with the roles that could not be found as the reason.
//!
//! Also the ClusterRole aggregation controller: a ClusterRole with an `aggregationRule`
//! gets the union of the rules of the ClusterRoles its selectors match.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Value, json};

use crate::auth::{SYSTEM_MASTERS, UserInfo};
use crate::store::{GroupResource, ObjKey, State};

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

fn rbac(resource: &str) -> GroupResource {
    GroupResource {
        group: RBAC_GROUP.to_owned(),
        resource: resource.to_owned(),
    }
}

/// What a request asks to do, as kube's `authorizer.Attributes` carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// An API resource: `get pods/log "web" in namespace "default"`.
    Resource(ResourceRequest),
    /// Any other path: `get /healthz`.
    NonResource { verb: String, path: String },
}

/// The resource attributes of a request (SubjectAccessReview's `resourceAttributes`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResourceRequest {
    pub verb: String,
    /// Empty for cluster-scoped resources and requests across all namespaces.
    pub namespace: String,
    /// Empty for the core group.
    pub group: String,
    /// Empty (or `*`) for any version; RBAC ignores it.
    pub version: String,
    pub resource: String,
    pub subresource: String,
    /// Empty for requests that name no object (list, create, watch of a collection).
    pub name: String,
}

impl Request {
    /// `verb` on `resource` of `group` (everything else empty).
    pub fn resource(verb: &str, group: &str, resource: &str) -> Self {
        Self::Resource(ResourceRequest {
            verb: verb.to_owned(),
            group: group.to_owned(),
            resource: resource.to_owned(),
            ..ResourceRequest::default()
        })
    }

    /// `verb` on a non-resource path.
    pub fn non_resource(verb: &str, path: &str) -> Self {
        Self::NonResource {
            verb: verb.to_owned(),
            path: path.to_owned(),
        }
    }

    /// In `namespace` (resource requests only).
    #[must_use]
    pub fn in_namespace(mut self, namespace: &str) -> Self {
        if let Self::Resource(r) = &mut self {
            namespace.clone_into(&mut r.namespace);
        }
        self
    }

    /// Of the object `name` (resource requests only).
    #[must_use]
    pub fn named(mut self, name: &str) -> Self {
        if let Self::Resource(r) = &mut self {
            name.clone_into(&mut r.name);
        }
        self
    }

    /// On `subresource` (resource requests only).
    #[must_use]
    pub fn subresource(mut self, subresource: &str) -> Self {
        if let Self::Resource(r) = &mut self {
            subresource.clone_into(&mut r.subresource);
        }
        self
    }

    fn namespace(&self) -> &str {
        match self {
            Self::Resource(r) => &r.namespace,
            Self::NonResource { .. } => "",
        }
    }
}

/// An authorization decision, as SubjectAccessReview's `status` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decision {
    pub allowed: bool,
    /// RBAC never denies outright; always `false` here.
    pub denied: bool,
    pub reason: String,
    pub evaluation_error: String,
}

/// One `PolicyRule` of a Role or ClusterRole.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PolicyRule {
    pub verbs: Vec<String>,
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub resource_names: Vec<String>,
    pub non_resource_urls: Vec<String>,
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn has(list: &[String], want: &str) -> bool {
    list.iter().any(|x| x == want)
}

impl PolicyRule {
    pub fn from_json(v: &Value) -> Self {
        Self {
            verbs: strings(v, "verbs"),
            api_groups: strings(v, "apiGroups"),
            resources: strings(v, "resources"),
            resource_names: strings(v, "resourceNames"),
            non_resource_urls: strings(v, "nonResourceURLs"),
        }
    }

    /// The rule as stored (empty lists left out, as kube's `omitempty`).
    pub fn to_json(&self) -> Value {
        let mut rule = serde_json::Map::new();
        for (key, list) in [
            ("apiGroups", &self.api_groups),
            ("resources", &self.resources),
            ("resourceNames", &self.resource_names),
            ("nonResourceURLs", &self.non_resource_urls),
        ] {
            if !list.is_empty() {
                rule.insert(key.into(), json!(list));
            }
        }
        rule.insert("verbs".into(), json!(self.verbs));
        Value::Object(rule)
    }

    fn verb_matches(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == "*" || v == verb)
    }

    fn group_matches(&self, group: &str) -> bool {
        self.api_groups.iter().any(|g| g == "*" || g == group)
    }

    fn resource_matches(&self, combined: &str, subresource: &str) -> bool {
        self.resources.iter().any(|r| {
            r == "*"
                || r == combined
                || (!subresource.is_empty() && r.strip_prefix("*/") == Some(subresource))
        })
    }

    fn name_matches(&self, name: &str) -> bool {
        self.resource_names.is_empty() || has(&self.resource_names, name)
    }

    fn url_matches(&self, path: &str) -> bool {
        self.non_resource_urls.iter().any(|u| {
            u == "*"
                || u == path
                || u.strip_suffix('*')
                    .is_some_and(|prefix| path.starts_with(prefix.trim_end_matches('*')))
        })
    }

    /// Whether this rule allows `request` (kube's `RuleAllows`).
    pub fn allows(&self, request: &Request) -> bool {
        match request {
            Request::Resource(r) => {
                let combined = if r.subresource.is_empty() {
                    r.resource.clone()
                } else {
                    format!("{}/{}", r.resource, r.subresource)
                };
                self.verb_matches(&r.verb)
                    && self.group_matches(&r.group)
                    && self.resource_matches(&combined, &r.subresource)
                    && self.name_matches(&r.name)
            }
            Request::NonResource { verb, path } => {
                self.verb_matches(verb) && self.url_matches(path)
            }
        }
    }
}

/// A binding subject.
#[derive(Debug, Clone)]
struct Subject {
    kind: String,
    name: String,
    namespace: String,
}

impl Subject {
    fn from_json(v: &Value) -> Self {
        let s = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        Self {
            kind: s("kind"),
            name: s("name"),
            namespace: s("namespace"),
        }
    }

    /// kube's `appliesToUser`; `namespace` is the binding's (empty for cluster bindings).
    fn applies_to(&self, user: &UserInfo, namespace: &str) -> bool {
        match self.kind.as_str() {
            "User" => user.username == self.name,
            "Group" => has(&user.groups, &self.name),
            "ServiceAccount" => {
                let ns = if self.namespace.is_empty() {
                    namespace
                } else {
                    &self.namespace
                };
                !ns.is_empty()
                    && user.username == format!("system:serviceaccount:{ns}:{}", self.name)
            }
            _ => false,
        }
    }

    fn describe(&self, binding_namespace: &str) -> String {
        if self.kind == "ServiceAccount" {
            let ns = if self.namespace.is_empty() {
                binding_namespace
            } else {
                &self.namespace
            };
            format!("{} \"{}/{ns}\"", self.kind, self.name)
        } else {
            format!("{} \"{}\"", self.kind, self.name)
        }
    }
}

/// Where a rule came from: a binding, its role and the subject that matched.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    /// Empty for ClusterRoleBindings.
    namespace: String,
    binding: String,
    role_kind: String,
    role_name: String,
    subject: String,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(
                f,
                "ClusterRoleBinding \"{}\" of {} \"{}\" to {}",
                self.binding, self.role_kind, self.role_name, self.subject
            )
        } else {
            write!(
                f,
                "RoleBinding \"{}/{}\" of {} \"{}\" to {}",
                self.binding, self.namespace, self.role_kind, self.role_name, self.subject
            )
        }
    }
}

fn parse(raw: &[u8]) -> Value {
    serde_json::from_slice(raw).unwrap_or(Value::Null)
}

/// The rules a binding's `roleRef` points at (`namespace`: the binding's).
fn role_rules(state: &State, role_ref: &Value, namespace: &str) -> Result<Vec<PolicyRule>, String> {
    let kind = role_ref["kind"].as_str().unwrap_or_default();
    let name = role_ref["name"].as_str().unwrap_or_default();
    let (gr, key, singular) = match kind {
        "Role" => (rbac("roles"), ObjKey::new(namespace, name), "role"),
        "ClusterRole" => (rbac("clusterroles"), ObjKey::new("", name), "clusterrole"),
        other => return Err(format!("unsupported role reference kind: {other:?}")),
    };
    let role = state
        .object(&gr, &key)
        .map(|raw| parse(raw))
        .ok_or_else(|| format!("{singular}.{RBAC_GROUP} \"{name}\" not found"))?;
    Ok(role["rules"]
        .as_array()
        .map(|rules| rules.iter().map(PolicyRule::from_json).collect())
        .unwrap_or_default())
}

/// What `visit_rules` hands its visitor: a rule that applies and where it came from, or
/// an error resolving a binding's role.
enum Visit<'a> {
    Rule(&'a Source, &'a PolicyRule),
    Error(String),
}

/// kube's `VisitRulesFor`: calls `visit` with every rule that applies to `user` in
/// `namespace` (cluster-wide bindings first) or with an error resolving a role; stops when
/// `visit` returns `false`.
fn visit_rules(
    state: &State,
    user: &UserInfo,
    namespace: &str,
    visit: &mut dyn FnMut(Visit<'_>) -> bool,
) {
    let scopes: &[(&str, &str)] = if namespace.is_empty() {
        &[("clusterrolebindings", "")]
    } else {
        &[("clusterrolebindings", ""), ("rolebindings", namespace)]
    };
    for (resource, ns) in scopes {
        let Some(bindings) = state.table_objects(&rbac(resource)) else {
            continue;
        };
        for (key, raw) in bindings.iter().filter(|(k, _)| k.namespace == *ns) {
            let binding = parse(raw);
            let subjects: Vec<Subject> = binding["subjects"]
                .as_array()
                .map(|s| s.iter().map(Subject::from_json).collect())
                .unwrap_or_default();
            let Some(subject) = subjects.iter().find(|s| s.applies_to(user, ns)) else {
                continue;
            };
            let role_ref = &binding["roleRef"];
            let rules = match role_rules(state, role_ref, ns) {
                Ok(rules) => rules,
                Err(e) => {
                    if !visit(Visit::Error(e)) {
                        return;
                    }
                    continue;
                }
            };
            let source = Source {
                namespace: (*ns).to_owned(),
                binding: key.name.clone(),
                role_kind: role_ref["kind"].as_str().unwrap_or_default().to_owned(),
                role_name: role_ref["name"].as_str().unwrap_or_default().to_owned(),
                subject: subject.describe(ns),
            };
            for rule in &rules {
                if !visit(Visit::Rule(&source, rule)) {
                    return;
                }
            }
        }
    }
}

/// `utilerrors.NewAggregate(errs).Error()`.
fn aggregate(errors: &[String]) -> String {
    match errors {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    }
}

/// What kube-apiserver decides for `user` doing `request`.
pub(crate) fn authorize(state: &State, user: &UserInfo, request: &Request) -> Decision {
    if has(&user.groups, SYSTEM_MASTERS) {
        return Decision {
            allowed: true,
            ..Decision::default()
        };
    }
    let mut allowed_by = None;
    let mut errors = Vec::new();
    visit_rules(state, user, request.namespace(), &mut |item| match item {
        Visit::Rule(source, rule) if rule.allows(request) => {
            allowed_by = Some(source.to_string());
            false
        }
        Visit::Rule(..) => true,
        Visit::Error(e) => {
            errors.push(e);
            true
        }
    });
    match allowed_by {
        Some(source) => Decision {
            allowed: true,
            reason: format!("RBAC: allowed by {source}"),
            ..Decision::default()
        },
        None => Decision {
            reason: if errors.is_empty() {
                String::new()
            } else {
                format!("RBAC: {}", aggregate(&errors))
            },
            ..Decision::default()
        },
    }
}

/// Every rule that applies to `user` in `namespace`, and the errors met resolving roles
/// (what a SelfSubjectRulesReview reports).
pub(crate) fn rules_for(
    state: &State,
    user: &UserInfo,
    namespace: &str,
) -> (Vec<PolicyRule>, Option<String>) {
    let mut rules = Vec::new();
    let mut errors = Vec::new();
    visit_rules(state, user, namespace, &mut |item| {
        match item {
            Visit::Rule(_, rule) => rules.push(rule.clone()),
            Visit::Error(e) => errors.push(e),
        }
        true
    });
    let error = (!errors.is_empty()).then(|| aggregate(&errors));
    (rules, error)
}

/// Whether `labels` satisfy a `metav1.LabelSelector` (matchLabels and matchExpressions).
/// An empty selector matches everything; a malformed one nothing.
fn selector_matches(selector: &Value, labels: &BTreeMap<String, String>) -> bool {
    let match_labels = selector["matchLabels"].as_object();
    let exprs = selector["matchExpressions"].as_array();
    let labels_ok = match_labels.is_none_or(|m| {
        m.iter().all(|(k, v)| {
            v.as_str()
                .is_some_and(|v| labels.get(k).map(String::as_str) == Some(v))
        })
    });
    let exprs_ok = exprs.is_none_or(|es| {
        es.iter().all(|e| {
            let key = e["key"].as_str().unwrap_or_default();
            let values = strings(e, "values");
            let actual = labels.get(key);
            match e["operator"].as_str().unwrap_or_default() {
                "In" => actual.is_some_and(|a| has(&values, a)),
                "NotIn" => actual.is_none_or(|a| !has(&values, a)),
                "Exists" => actual.is_some(),
                "DoesNotExist" => actual.is_none(),
                _ => false,
            }
        })
    });
    labels_ok && exprs_ok
}

fn labels_of(obj: &Value) -> BTreeMap<String, String> {
    obj.pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// The aggregation controller's pass: for every ClusterRole with an `aggregationRule`, the
/// rules it should have now (the union, in name order, of the rules of the other
/// ClusterRoles its selectors match, without duplicates) where they differ from its rules.
pub(crate) fn aggregated_rules(state: &State) -> Vec<(String, Vec<Value>)> {
    let Some(roles) = state.table_objects(&rbac("clusterroles")) else {
        return Vec::new();
    };
    let parsed: Vec<(String, Value)> = roles
        .iter()
        .map(|(k, raw)| (k.name.clone(), parse(raw)))
        .collect();
    let mut changes = Vec::new();
    for (name, role) in &parsed {
        let Some(selectors) = role
            .pointer("/aggregationRule/clusterRoleSelectors")
            .and_then(Value::as_array)
        else {
            continue;
        };
        let mut rules: Vec<Value> = Vec::new();
        for (other_name, other) in &parsed {
            if other_name == name {
                continue;
            }
            let labels = labels_of(other);
            if !selectors.iter().any(|s| selector_matches(s, &labels)) {
                continue;
            }
            for rule in other["rules"].as_array().into_iter().flatten() {
                let rule = PolicyRule::from_json(rule).to_json();
                if !rules.contains(&rule) {
                    rules.push(rule);
                }
            }
        }
        let current: Vec<Value> = role["rules"]
            .as_array()
            .map(|r| {
                r.iter()
                    .map(|x| PolicyRule::from_json(x).to_json())
                    .collect()
            })
            .unwrap_or_default();
        if current != rules {
            changes.push((name.clone(), rules));
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn role(kind: &str, ns: &str, name: &str, rules: Value) -> Value {
        let mut meta = json!({"name": name});
        if !ns.is_empty() {
            meta["namespace"] = json!(ns);
        }
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta, "rules": rules})
    }

    fn binding(kind: &str, ns: &str, name: &str, role_ref: (&str, &str), subjects: Value) -> Value {
        let mut meta = json!({"name": name});
        if !ns.is_empty() {
            meta["namespace"] = json!(ns);
        }
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_ref.0, "name": role_ref.1},
            "subjects": subjects,
        })
    }

    /// A store with a few roles and bindings, created through the ordinary write path.
    fn policy() -> Store {
        let store = Store::new(1000);
        store
            .create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}))
            .expect("namespace");
        let objects = [
            role(
                "ClusterRole",
                "",
                "pod-reader",
                json!([{"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list", "watch"]}]),
            ),
            role(
                "ClusterRole",
                "",
                "deploy-admin",
                json!([{"apiGroups": ["apps"], "resources": ["deployments", "*/scale"], "verbs": ["*"]}]),
            ),
            role(
                "ClusterRole",
                "",
                "one-config",
                json!([{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["settings"], "verbs": ["get", "update"]}]),
            ),
            role(
                "ClusterRole",
                "",
                "metrics",
                json!([{"nonResourceURLs": ["/metrics", "/logs/*"], "verbs": ["get"]}]),
            ),
            role(
                "Role",
                "team",
                "secret-reader",
                json!([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]),
            ),
            role(
                "ClusterRole",
                "",
                "everything",
                json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]),
            ),
            binding(
                "ClusterRoleBinding",
                "",
                "readers",
                ("ClusterRole", "pod-reader"),
                json!([{"kind": "User", "name": "alice"}, {"kind": "Group", "name": "auditors"}]),
            ),
            binding(
                "ClusterRoleBinding",
                "",
                "metrics",
                ("ClusterRole", "metrics"),
                json!([{"kind": "ServiceAccount", "name": "prom", "namespace": "monitoring"}]),
            ),
            binding(
                "RoleBinding",
                "team",
                "deployers",
                ("ClusterRole", "deploy-admin"),
                json!([{"kind": "ServiceAccount", "name": "ci"}]),
            ),
            binding(
                "RoleBinding",
                "team",
                "secrets",
                ("Role", "secret-reader"),
                json!([{"kind": "Group", "name": "system:serviceaccounts:team"}]),
            ),
            binding(
                "RoleBinding",
                "team",
                "config",
                ("ClusterRole", "one-config"),
                json!([{"kind": "User", "name": "bob"}]),
            ),
            binding(
                "ClusterRoleBinding",
                "",
                "dangling",
                ("ClusterRole", "gone"),
                json!([{"kind": "User", "name": "carol"}]),
            ),
            binding(
                "RoleBinding",
                "default",
                "everything-in-default",
                ("ClusterRole", "everything"),
                json!([{"kind": "User", "name": "dave"}]),
            ),
        ];
        for o in objects {
            store.create(o).expect("created");
        }
        store
    }

    #[test]
    fn rbac_decisions() {
        let store = policy();
        let state = store.read();
        let alice = UserInfo::new("alice").with_groups(["system:authenticated"]);
        let auditor = UserInfo::new("eve").with_groups(["auditors"]);
        let ci = UserInfo::service_account("team", "ci");
        let other_ci = UserInfo::service_account("other", "ci");
        let prom = UserInfo::service_account("monitoring", "prom");
        let bob = UserInfo::new("bob");
        let carol = UserInfo::new("carol");
        let dave = UserInfo::new("dave");
        let root = UserInfo::new("root").with_groups([SYSTEM_MASTERS]);
        let pods = |verb: &str| Request::resource(verb, "", "pods");
        let cases: Vec<(&str, &UserInfo, Request, bool, &str)> = vec![
            (
                "user binding",
                &alice,
                pods("list"),
                true,
                "RBAC: allowed by ClusterRoleBinding \"readers\" of ClusterRole \"pod-reader\" to User \"alice\"",
            ),
            ("verb not granted", &alice, pods("delete"), false, ""),
            (
                "group binding",
                &auditor,
                pods("get").in_namespace("team").named("web"),
                true,
                "RBAC: allowed by ClusterRoleBinding \"readers\" of ClusterRole \"pod-reader\" to Group \"auditors\"",
            ),
            (
                "subresource listed",
                &alice,
                pods("get")
                    .in_namespace("team")
                    .named("web")
                    .subresource("log"),
                true,
                "RBAC: allowed by ClusterRoleBinding \"readers\" of ClusterRole \"pod-reader\" to User \"alice\"",
            ),
            (
                "subresource not listed",
                &alice,
                pods("get")
                    .in_namespace("team")
                    .named("web")
                    .subresource("exec"),
                false,
                "",
            ),
            (
                "wrong group",
                &alice,
                Request::resource("list", "apps", "pods"),
                false,
                "",
            ),
            (
                "rolebinding to clusterrole, namespace defaulted",
                &ci,
                Request::resource("create", "apps", "deployments").in_namespace("team"),
                true,
                "RBAC: allowed by RoleBinding \"deployers/team\" of ClusterRole \"deploy-admin\" to ServiceAccount \"ci/team\"",
            ),
            (
                "*/subresource",
                &ci,
                Request::resource("update", "apps", "statefulsets")
                    .in_namespace("team")
                    .named("db")
                    .subresource("scale"),
                true,
                "RBAC: allowed by RoleBinding \"deployers/team\" of ClusterRole \"deploy-admin\" to ServiceAccount \"ci/team\"",
            ),
            (
                "*/subresource does not grant the resource",
                &ci,
                Request::resource("update", "apps", "statefulsets")
                    .in_namespace("team")
                    .named("db"),
                false,
                "",
            ),
            (
                "rolebinding is namespaced",
                &ci,
                Request::resource("create", "apps", "deployments").in_namespace("default"),
                false,
                "",
            ),
            (
                "rolebinding does not grant cluster-wide",
                &ci,
                Request::resource("list", "apps", "deployments"),
                false,
                "",
            ),
            (
                "service account of another namespace",
                &other_ci,
                Request::resource("create", "apps", "deployments").in_namespace("team"),
                false,
                "",
            ),
            (
                "service-account namespace group",
                &ci,
                Request::resource("get", "", "secrets")
                    .in_namespace("team")
                    .named("s"),
                true,
                "RBAC: allowed by RoleBinding \"secrets/team\" of Role \"secret-reader\" to Group \"system:serviceaccounts:team\"",
            ),
            (
                "resourceNames match",
                &bob,
                Request::resource("get", "", "configmaps")
                    .in_namespace("team")
                    .named("settings"),
                true,
                "RBAC: allowed by RoleBinding \"config/team\" of ClusterRole \"one-config\" to User \"bob\"",
            ),
            (
                "resourceNames other name",
                &bob,
                Request::resource("get", "", "configmaps")
                    .in_namespace("team")
                    .named("other"),
                false,
                "",
            ),
            (
                "resourceNames never match unnamed",
                &bob,
                Request::resource("list", "", "configmaps").in_namespace("team"),
                false,
                "",
            ),
            (
                "non-resource exact",
                &prom,
                Request::non_resource("get", "/metrics"),
                true,
                "RBAC: allowed by ClusterRoleBinding \"metrics\" of ClusterRole \"metrics\" to ServiceAccount \"prom/monitoring\"",
            ),
            (
                "non-resource prefix",
                &prom,
                Request::non_resource("get", "/logs/kube.log"),
                true,
                "RBAC: allowed by ClusterRoleBinding \"metrics\" of ClusterRole \"metrics\" to ServiceAccount \"prom/monitoring\"",
            ),
            (
                "non-resource other path",
                &prom,
                Request::non_resource("get", "/metricsz"),
                false,
                "",
            ),
            (
                "non-resource verb",
                &prom,
                Request::non_resource("post", "/metrics"),
                false,
                "",
            ),
            (
                "missing role is the reason",
                &carol,
                pods("list"),
                false,
                "RBAC: clusterrole.rbac.authorization.k8s.io \"gone\" not found",
            ),
            (
                "wildcards in one namespace",
                &dave,
                Request::resource("delete", "batch", "jobs")
                    .in_namespace("default")
                    .named("j"),
                true,
                "RBAC: allowed by RoleBinding \"everything-in-default/default\" of ClusterRole \"everything\" to User \"dave\"",
            ),
            (
                "wildcards do not leave the namespace",
                &dave,
                Request::resource("delete", "batch", "jobs")
                    .in_namespace("team")
                    .named("j"),
                false,
                "",
            ),
            (
                "system:masters",
                &root,
                Request::resource("delete", "", "nodes").named("n1"),
                true,
                "",
            ),
        ];
        for (what, user, request, allowed, reason) in cases {
            let d = authorize(&state, user, &request);
            assert_eq!(
                (d.allowed, d.denied, d.reason.as_str()),
                (allowed, false, reason),
                "{what}"
            );
        }
    }

    #[test]
    fn rules_of_a_user() {
        let store = policy();
        let state = store.read();
        let (rules, error) = rules_for(&state, &UserInfo::service_account("team", "ci"), "team");
        assert_eq!(error, None);
        let resources: Vec<&str> = rules
            .iter()
            .flat_map(|r| r.resources.iter().map(String::as_str))
            .collect();
        assert_eq!(resources, ["deployments", "*/scale", "secrets"]);
        let (_, error) = rules_for(&state, &UserInfo::new("carol"), "");
        assert_eq!(
            error.as_deref(),
            Some("clusterrole.rbac.authorization.k8s.io \"gone\" not found")
        );
    }

    #[test]
    fn selectors() {
        let labels: BTreeMap<String, String> =
            [("a".to_owned(), "1".to_owned())].into_iter().collect();
        assert!(selector_matches(
            &json!({"matchLabels": {"a": "1"}}),
            &labels
        ));
        assert!(!selector_matches(
            &json!({"matchLabels": {"a": "2"}}),
            &labels
        ));
        assert!(selector_matches(
            &json!({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1", "3"]}]}),
            &labels
        ));
        assert!(selector_matches(
            &json!({"matchExpressions": [{"key": "b", "operator": "DoesNotExist"}]}),
            &labels
        ));
        assert!(!selector_matches(
            &json!({"matchExpressions": [{"key": "a", "operator": "Bogus"}]}),
            &labels
        ));
    }
}
