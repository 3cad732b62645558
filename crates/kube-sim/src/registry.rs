//! Which resources the simulator serves: every built-in resource of Kubernetes 1.33 (from
//! `kube_builtin::catalog`) plus the custom resources of the `CustomResourceDefinition`
//! objects stored in it, with what the API machinery needs to know about each (versions,
//! scope, names, status subresource, printer columns, create-on-update, name rules).

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::error::{FieldError, Subject};

/// The CustomResourceDefinition resource.
pub const CRD_GROUP: &str = "apiextensions.k8s.io";
pub const CRD_RESOURCE: &str = "customresourcedefinitions";

/// How `metadata.name` is validated (kube's `ValidateObjectMeta` name functions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// RFC 1123 subdomain: most resources.
    Subdomain,
    /// RFC 1123 label: namespaces.
    Label,
    /// RFC 1035 label: services.
    Dns1035,
    /// Any path segment: RBAC objects (`system:controller:foo`).
    PathSegment,
}

/// An `additionalPrinterColumns` entry of a CRD version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrinterColumn {
    pub name: String,
    pub kind: String,
    pub format: String,
    pub description: String,
    pub priority: i64,
    pub json_path: String,
}

/// One served resource.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceDef {
    /// Empty for the core group.
    pub group: String,
    /// Served versions, preferred first.
    pub versions: Vec<String>,
    /// The version objects are stored (and by default returned) in.
    pub storage_version: String,
    /// Plural name.
    pub resource: String,
    pub kind: String,
    pub list_kind: String,
    pub singular: String,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub namespaced: bool,
    /// Has a `/status` subresource: the main resource ignores status changes and the
    /// subresource changes only status.
    pub status_subresource: bool,
    /// Has a `/scale` subresource (`autoscaling/v1` `Scale`).
    pub scale_subresource: bool,
    /// Defined by a CRD.
    pub custom: bool,
    /// CRD printer columns by version (empty: `Name`, `Age`).
    pub printer_columns: BTreeMap<String, Vec<PrinterColumn>>,
    /// PUT of a missing object creates it (leases, events, endpoints, RBAC).
    pub create_on_update: bool,
    /// PUT without `metadata.resourceVersion` is allowed (built-ins; not custom resources).
    pub unconditional_update: bool,
    pub name_rule: NameRule,
    /// A virtual resource that only answers `create` and stores nothing (TokenReview, the
    /// access reviews).
    pub create_only: bool,
    /// Has the `/token` subresource (TokenRequest): ServiceAccounts.
    pub token_subresource: bool,
}

/// Built-ins with a `/status` subresource in 1.33.
const STATUS_SUBRESOURCE: &[(&str, &str)] = &[
    ("", "namespaces"),
    ("", "nodes"),
    ("", "persistentvolumeclaims"),
    ("", "persistentvolumes"),
    ("", "pods"),
    ("", "replicationcontrollers"),
    ("", "resourcequotas"),
    ("", "services"),
    ("apiextensions.k8s.io", "customresourcedefinitions"),
    ("apiregistration.k8s.io", "apiservices"),
    (
        "admissionregistration.k8s.io",
        "validatingadmissionpolicies",
    ),
    ("apps", "daemonsets"),
    ("apps", "deployments"),
    ("apps", "replicasets"),
    ("apps", "statefulsets"),
    ("autoscaling", "horizontalpodautoscalers"),
    ("batch", "cronjobs"),
    ("batch", "jobs"),
    ("certificates.k8s.io", "certificatesigningrequests"),
    ("flowcontrol.apiserver.k8s.io", "flowschemas"),
    (
        "flowcontrol.apiserver.k8s.io",
        "prioritylevelconfigurations",
    ),
    ("networking.k8s.io", "ingresses"),
    ("networking.k8s.io", "servicecidrs"),
    ("policy", "poddisruptionbudgets"),
    ("storage.k8s.io", "volumeattachments"),
];

/// Built-ins whose strategy allows creating through PUT.
const CREATE_ON_UPDATE: &[(&str, &str)] = &[
    ("", "endpoints"),
    ("", "events"),
    ("coordination.k8s.io", "leases"),
    ("events.k8s.io", "events"),
    ("rbac.authorization.k8s.io", "clusterrolebindings"),
    ("rbac.authorization.k8s.io", "clusterroles"),
    ("rbac.authorization.k8s.io", "rolebindings"),
    ("rbac.authorization.k8s.io", "roles"),
];

impl ResourceDef {
    fn builtin(b: &kube_builtin::catalog::BuiltinResource) -> Self {
        let key = (b.group, b.resource);
        let name_rule = match key {
            ("", "namespaces") => NameRule::Label,
            ("", "services") => NameRule::Dns1035,
            // APIService names are `<version>.<group>` (`v1.` for the core group); the
            // rest of their rule is checked against the spec (`validate::api_service`).
            ("rbac.authorization.k8s.io", _) | ("apiregistration.k8s.io", "apiservices") => {
                NameRule::PathSegment
            }
            _ => NameRule::Subdomain,
        };
        // autoscaling/v1 serves HorizontalPodAutoscalers beside the preferred v2.
        let versions = if key == ("autoscaling", "horizontalpodautoscalers") {
            vec![b.version.to_owned(), "v1".to_owned()]
        } else {
            vec![b.version.to_owned()]
        };
        Self {
            group: b.group.to_owned(),
            versions,
            storage_version: b.version.to_owned(),
            resource: b.resource.to_owned(),
            kind: b.kind.to_owned(),
            list_kind: format!("{}List", b.kind),
            singular: b.singular.to_owned(),
            short_names: b.short_names.iter().map(|s| (*s).to_owned()).collect(),
            categories: b.categories.iter().map(|s| (*s).to_owned()).collect(),
            namespaced: b.namespaced,
            status_subresource: STATUS_SUBRESOURCE.contains(&key),
            scale_subresource: matches!(
                key,
                ("apps", "deployments" | "replicasets" | "statefulsets")
                    | ("", "replicationcontrollers")
            ),
            custom: false,
            printer_columns: BTreeMap::new(),
            create_on_update: CREATE_ON_UPDATE.contains(&key),
            unconditional_update: true,
            name_rule,
            create_only: false,
            token_subresource: key == ("", "serviceaccounts"),
        }
    }

    /// A create-only virtual resource (cluster-scoped unless `namespaced`).
    fn review(group: &str, resource: &str, kind: &str, namespaced: bool) -> Self {
        Self {
            group: group.to_owned(),
            versions: vec!["v1".to_owned()],
            storage_version: "v1".to_owned(),
            resource: resource.to_owned(),
            kind: kind.to_owned(),
            list_kind: format!("{kind}List"),
            singular: kind.to_ascii_lowercase(),
            short_names: Vec::new(),
            categories: Vec::new(),
            namespaced,
            status_subresource: false,
            scale_subresource: false,
            custom: false,
            printer_columns: BTreeMap::new(),
            create_on_update: false,
            unconditional_update: false,
            name_rule: NameRule::Subdomain,
            create_only: true,
            token_subresource: false,
        }
    }

    /// `v1`, `apps/v1`.
    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_owned()
        } else {
            format!("{}/{version}", self.group)
        }
    }

    /// The apiVersion objects are stored with.
    pub fn storage_api_version(&self) -> String {
        self.api_version(&self.storage_version)
    }

    pub fn serves(&self, version: &str) -> bool {
        self.versions.iter().any(|v| v == version)
    }

    pub(crate) fn subject(&self) -> Subject<'_> {
        Subject {
            group: &self.group,
            resource: &self.resource,
        }
    }

    /// `pods`, `deployments.apps`.
    pub fn qualified(&self) -> String {
        self.subject().qualified()
    }

    pub fn is_crd(&self) -> bool {
        self.group == CRD_GROUP && self.resource == CRD_RESOURCE
    }

    pub fn is_namespace(&self) -> bool {
        self.group.is_empty() && self.resource == "namespaces"
    }
}

/// Kubernetes' version priority: GA before beta before alpha, higher numbers first, and
/// versions that do not look like Kubernetes versions last, alphabetically.
pub fn version_priority(a: &str, b: &str) -> Ordering {
    fn key(v: &str) -> Option<(u8, u64, u64)> {
        let rest = v.strip_prefix('v')?;
        let end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let major: u64 = rest[..end].parse().ok()?;
        let tail = &rest[end..];
        if tail.is_empty() {
            return Some((3, major, 0));
        }
        for (prefix, rank) in [("beta", 2), ("alpha", 1)] {
            if let Some(n) = tail.strip_prefix(prefix) {
                return Some((rank, major, n.parse().ok()?));
            }
        }
        None
    }
    match (key(a), key(b)) {
        (Some(ka), Some(kb)) => kb.cmp(&ka),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

/// The served resources, by (group, plural).
#[derive(Debug, Clone)]
pub struct Registry {
    defs: BTreeMap<(String, String), Arc<ResourceDef>>,
}

impl Registry {
    /// Every built-in resource.
    /// Every built-in resource, with the create-only review resources of
    /// `authentication.k8s.io/v1` and `authorization.k8s.io/v1` that `kube_builtin`'s
    /// catalog leaves out (nothing of them can be listed).
    pub fn builtin() -> Self {
        let reviews = [
            (
                "authentication.k8s.io",
                "tokenreviews",
                "TokenReview",
                false,
            ),
            (
                "authentication.k8s.io",
                "selfsubjectreviews",
                "SelfSubjectReview",
                false,
            ),
            (
                "authorization.k8s.io",
                "subjectaccessreviews",
                "SubjectAccessReview",
                false,
            ),
            (
                "authorization.k8s.io",
                "selfsubjectaccessreviews",
                "SelfSubjectAccessReview",
                false,
            ),
            (
                "authorization.k8s.io",
                "selfsubjectrulesreviews",
                "SelfSubjectRulesReview",
                false,
            ),
            (
                "authorization.k8s.io",
                "localsubjectaccessreviews",
                "LocalSubjectAccessReview",
                true,
            ),
        ];
        let defs = kube_builtin::catalog::all()
            .iter()
            .map(ResourceDef::builtin)
            .chain(
                reviews
                    .iter()
                    .map(|(g, r, k, ns)| ResourceDef::review(g, r, k, *ns)),
            )
            .map(|d| ((d.group.clone(), d.resource.clone()), Arc::new(d)))
            .collect();
        Self { defs }
    }

    pub fn get(&self, group: &str, resource: &str) -> Option<&Arc<ResourceDef>> {
        self.defs.get(&(group.to_owned(), resource.to_owned()))
    }

    /// The resource served at `group/version/resource`.
    pub fn resolve(&self, group: &str, version: &str, resource: &str) -> Option<Arc<ResourceDef>> {
        self.get(group, resource)
            .filter(|d| d.serves(version))
            .cloned()
    }

    /// The resource of objects with `apiVersion` and `kind`.
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<Arc<ResourceDef>> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        self.defs
            .values()
            .find(|d| d.group == group && d.kind == kind && d.serves(version))
            .cloned()
    }

    /// A resource named as kubectl accepts it: `pods`, `pod`, `po`, `deployments.apps`,
    /// `deploy.apps`, `widgets.example.com`. Built-ins win over custom resources.
    pub fn by_name(&self, name: &str) -> Option<Arc<ResourceDef>> {
        let matches = |d: &ResourceDef, n: &str| {
            d.resource == n || d.singular == n || d.short_names.iter().any(|s| s == n)
        };
        // The core group first, then built-ins, as kubectl's RESTMapper prefers them.
        let best = |candidates: Vec<&Arc<ResourceDef>>| {
            candidates
                .into_iter()
                .min_by_key(|d| (!d.group.is_empty(), d.custom, d.group.clone()))
                .cloned()
        };
        best(self.defs.values().filter(|d| matches(d, name)).collect()).or_else(|| {
            let (head, group) = name.split_once('.')?;
            best(
                self.defs
                    .values()
                    .filter(|d| d.group == group && matches(d, head))
                    .collect(),
            )
        })
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<ResourceDef>> {
        self.defs.values()
    }

    /// Installs (or replaces) the resource a CRD defines.
    pub fn install(&mut self, def: ResourceDef) -> Arc<ResourceDef> {
        let def = Arc::new(def);
        self.defs
            .insert((def.group.clone(), def.resource.clone()), Arc::clone(&def));
        def
    }

    /// Removes a custom resource; built-ins stay.
    pub fn uninstall(&mut self, group: &str, resource: &str) {
        let key = (group.to_owned(), resource.to_owned());
        if self.defs.get(&key).is_some_and(|d| d.custom) {
            self.defs.remove(&key);
        }
    }

    /// Served versions by group, preferred first; the core group is `""`.
    pub fn groups(&self) -> BTreeMap<String, Vec<String>> {
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for d in self.defs.values() {
            let versions = groups.entry(d.group.clone()).or_default();
            for v in &d.versions {
                if !versions.contains(v) {
                    versions.push(v.clone());
                }
            }
        }
        for versions in groups.values_mut() {
            versions.sort_by(|a, b| version_priority(a, b));
        }
        groups
    }

    /// The resources served in `group/version`, by name.
    pub fn resources_in(&self, group: &str, version: &str) -> Vec<Arc<ResourceDef>> {
        self.defs
            .values()
            .filter(|d| d.group == group && d.serves(version))
            .cloned()
            .collect()
    }
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

fn strings_at(v: &Value, path: &[&str]) -> Vec<String> {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Reads and validates a `CustomResourceDefinition` (apiextensions.k8s.io/v1): the
/// resource it defines, or the field errors kube would report.
pub(crate) fn crd_definition(
    crd: &Value,
    builtins: &Registry,
) -> Result<ResourceDef, Vec<FieldError>> {
    let mut errors = Vec::new();
    let name = str_at(crd, &["metadata", "name"]).unwrap_or_default();
    let group = str_at(crd, &["spec", "group"]).unwrap_or_default();
    let plural = str_at(crd, &["spec", "names", "plural"]).unwrap_or_default();
    let kind = str_at(crd, &["spec", "names", "kind"]).unwrap_or_default();
    if group.is_empty() {
        errors.push(FieldError::required("spec.group", ""));
    } else if !group.contains('.') {
        errors.push(FieldError::invalid(
            "spec.group",
            group,
            "should be a domain with at least one dot",
        ));
    }
    if plural.is_empty() {
        errors.push(FieldError::required("spec.names.plural", ""));
    }
    if kind.is_empty() {
        errors.push(FieldError::required("spec.names.kind", ""));
    }
    if !plural.is_empty() && !group.is_empty() && name != format!("{plural}.{group}") {
        errors.push(FieldError::invalid(
            "metadata.name",
            name,
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    let scope = str_at(crd, &["spec", "scope"]).unwrap_or_default();
    let namespaced = match scope {
        "Namespaced" => true,
        "Cluster" => false,
        "" => {
            errors.push(FieldError::required("spec.scope", ""));
            true
        }
        other => {
            errors.push(FieldError::not_supported(
                "spec.scope",
                other,
                &["Cluster", "Namespaced"],
            ));
            true
        }
    };
    let versions = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if versions.is_empty() {
        errors.push(FieldError::required(
            "spec.versions",
            "must have exactly one version marked as storage version",
        ));
    }
    let mut served = Vec::new();
    let mut storage = Vec::new();
    let mut status_subresource = false;
    let mut printer_columns = BTreeMap::new();
    for (i, v) in versions.iter().enumerate() {
        let Some(vname) = v
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
        else {
            errors.push(FieldError::required(
                &format!("spec.versions[{i}].name"),
                "",
            ));
            continue;
        };
        if v.get("served").and_then(Value::as_bool).unwrap_or(false) {
            served.push(vname.to_owned());
        }
        if v.get("storage").and_then(Value::as_bool).unwrap_or(false) {
            storage.push(vname.to_owned());
        }
        if v.pointer("/subresources/status").is_some() {
            status_subresource = true;
        }
        let columns: Vec<PrinterColumn> = v
            .get("additionalPrinterColumns")
            .and_then(Value::as_array)
            .map(|cols| {
                cols.iter()
                    .map(|c| PrinterColumn {
                        name: c
                            .get("name")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                        kind: c
                            .get("type")
                            .and_then(Value::as_str)
                            .unwrap_or("string")
                            .to_owned(),
                        format: c
                            .get("format")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                        description: c
                            .get("description")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                        priority: c.get("priority").and_then(Value::as_i64).unwrap_or(0),
                        json_path: c
                            .get("jsonPath")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        printer_columns.insert(vname.to_owned(), columns);
    }
    if !versions.is_empty() && storage.len() != 1 {
        errors.push(FieldError::invalid_raw(
            "spec.versions",
            &format!(
                "{}",
                json!(
                    versions
                        .iter()
                        .filter_map(|v| v.get("name"))
                        .collect::<Vec<_>>()
                )
            ),
            "must have exactly one version marked as storage version",
        ));
    }
    if !group.is_empty()
        && !plural.is_empty()
        && builtins.get(group, plural).is_some_and(|d| !d.custom)
    {
        errors.push(FieldError::invalid(
            "spec.group",
            group,
            "a built-in resource of this group and name already exists",
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    served.sort_by(|a, b| version_priority(a, b));
    let singular = str_at(crd, &["spec", "names", "singular"])
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .unwrap_or_else(|| kind.to_ascii_lowercase());
    let list_kind = str_at(crd, &["spec", "names", "listKind"])
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{kind}List"));
    Ok(ResourceDef {
        group: group.to_owned(),
        versions: served,
        storage_version: storage.swap_remove(0),
        resource: plural.to_owned(),
        kind: kind.to_owned(),
        list_kind,
        singular,
        short_names: strings_at(crd, &["spec", "names", "shortNames"]),
        categories: strings_at(crd, &["spec", "names", "categories"]),
        namespaced,
        status_subresource,
        scale_subresource: false,
        custom: true,
        printer_columns,
        create_on_update: false,
        unconditional_update: false,
        name_rule: NameRule::Subdomain,
        create_only: false,
        token_subresource: false,
    })
}

/// The status the apiextensions controllers give an accepted CRD: names accepted,
/// established, storage version recorded.
pub(crate) fn crd_status(def: &ResourceDef, now: &str, previous: Option<&Value>) -> Value {
    let mut stored: Vec<String> = previous
        .map(|p| strings_at(p, &["storedVersions"]))
        .unwrap_or_default();
    if !stored.contains(&def.storage_version) {
        stored.push(def.storage_version.clone());
    }
    let since = |ty: &str| {
        previous
            .and_then(|p| p.get("conditions"))
            .and_then(Value::as_array)
            .and_then(|cs| cs.iter().find(|c| c["type"] == ty))
            .and_then(|c| c.get("lastTransitionTime").cloned())
            .unwrap_or_else(|| json!(now))
    };
    let mut accepted = json!({
        "plural": def.resource,
        "singular": def.singular,
        "kind": def.kind,
        "listKind": def.list_kind,
    });
    if !def.short_names.is_empty() {
        accepted["shortNames"] = json!(def.short_names);
    }
    if !def.categories.is_empty() {
        accepted["categories"] = json!(def.categories);
    }
    json!({
        "acceptedNames": accepted,
        "conditions": [
            {
                "type": "NamesAccepted",
                "status": "True",
                "lastTransitionTime": since("NamesAccepted"),
                "reason": "NoConflicts",
                "message": "no conflicts found",
            },
            {
                "type": "Established",
                "status": "True",
                "lastTransitionTime": since("Established"),
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
            },
        ],
        "storedVersions": stored,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_priority_is_kubernetes_order() {
        let mut v = vec!["v1beta1", "foo", "v1", "v2alpha1", "v2", "v1beta2", "bar"];
        v.sort_by(|a, b| version_priority(a, b));
        assert_eq!(
            v,
            ["v2", "v1", "v1beta2", "v1beta1", "v2alpha1", "bar", "foo"]
        );
    }

    #[test]
    fn builtins_know_their_rules() {
        let r = Registry::builtin();
        let pods = r.resolve("", "v1", "pods").expect("pods");
        assert!(pods.namespaced && pods.status_subresource && !pods.create_on_update);
        let leases = r
            .resolve("coordination.k8s.io", "v1", "leases")
            .expect("leases");
        assert!(leases.create_on_update && !leases.status_subresource);
        assert!(r.resolve("apps", "v2", "deployments").is_none());
        assert_eq!(
            r.by_name("deploy").map(|d| d.kind.clone()),
            Some("Deployment".into())
        );
        assert_eq!(
            r.by_name("events").map(|d| d.group.clone()),
            Some(String::new())
        );
        assert_eq!(
            r.by_name("events.events.k8s.io").map(|d| d.group.clone()),
            Some("events.k8s.io".into())
        );
        assert_eq!(
            r.by_kind("apps/v1", "ReplicaSet")
                .map(|d| d.resource.clone()),
            Some("replicasets".into())
        );
    }

    fn crd() -> Value {
        json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com",
                "scope": "Namespaced",
                "names": {"plural": "widgets", "kind": "Widget", "shortNames": ["wd"]},
                "versions": [
                    {"name": "v1beta1", "served": true, "storage": false},
                    {"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                     "additionalPrinterColumns": [{"name": "Size", "type": "integer", "jsonPath": ".spec.size"}]},
                ],
            },
        })
    }

    #[test]
    fn crd_defines_a_resource() {
        let def = crd_definition(&crd(), &Registry::builtin()).expect("valid");
        assert_eq!(def.versions, ["v1", "v1beta1"]);
        assert_eq!(def.storage_version, "v1");
        assert_eq!(def.singular, "widget");
        assert_eq!(def.list_kind, "WidgetList");
        assert!(def.status_subresource && def.custom && def.namespaced);
        assert_eq!(def.printer_columns["v1"][0].json_path, ".spec.size");
        let status = crd_status(&def, "2025-01-01T00:00:00Z", None);
        assert_eq!(status["storedVersions"], json!(["v1"]));
        assert_eq!(status["conditions"][1]["type"], "Established");
    }

    #[test]
    fn crd_errors_name_fields() {
        let mut bad = crd();
        bad["metadata"]["name"] = json!("wrong");
        bad["spec"]["versions"][0]["storage"] = json!(true);
        let errors = crd_definition(&bad, &Registry::builtin()).expect_err("invalid");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["metadata.name", "spec.versions"]);
    }
}
