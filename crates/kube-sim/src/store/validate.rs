//! Object validation kube-apiserver does for every kind (`ValidateObjectMeta`): names by
//! the resource's rule, namespace names, label keys and values, annotation keys.

use serde_json::Value;

use crate::error::FieldError;
use crate::registry::NameRule;

const SUBDOMAIN_MAX: usize = 253;
const LABEL_MAX: usize = 63;

const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1035_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

fn alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

fn is_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && alnum(b[0])
        && alnum(b[b.len() - 1])
        && b.iter().all(|&c| alnum(c) || c == b'-')
}

fn is_subdomain(s: &str) -> bool {
    !s.is_empty() && s.split('.').all(is_label)
}

/// The problems with `name` under `rule`, as kube words them.
pub(crate) fn name_problems(rule: NameRule, name: &str) -> Vec<String> {
    let mut problems = Vec::new();
    match rule {
        NameRule::Subdomain => {
            if name.len() > SUBDOMAIN_MAX {
                problems.push(format!("must be no more than {SUBDOMAIN_MAX} characters"));
            }
            if !is_subdomain(name) {
                problems.push(SUBDOMAIN_MSG.to_owned());
            }
        }
        NameRule::Label => {
            if name.len() > LABEL_MAX {
                problems.push(format!("must be no more than {LABEL_MAX} characters"));
            }
            if !is_label(name) {
                problems.push(LABEL_MSG.to_owned());
            }
        }
        NameRule::Dns1035 => {
            if name.len() > LABEL_MAX {
                problems.push(format!("must be no more than {LABEL_MAX} characters"));
            }
            if !is_label(name) || !name.as_bytes()[0].is_ascii_lowercase() {
                problems.push(DNS1035_MSG.to_owned());
            }
        }
        NameRule::PathSegment => {
            if name == "." || name == ".." {
                problems.push(format!("may not be '{name}'"));
            }
            for bad in ["/", "%"] {
                if name.contains(bad) {
                    problems.push(format!("may not contain '{bad}'"));
                }
            }
        }
    }
    problems
}

/// Validates `metadata` of `obj`: name (by `rule`), namespace name, labels, annotation keys.
pub(crate) fn object_meta(obj: &Value, rule: NameRule) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let meta = &obj["metadata"];
    let name = meta["name"].as_str().unwrap_or_default();
    if name.is_empty() {
        errors.push(FieldError::required(
            "metadata.name",
            "name or generateName is required",
        ));
    } else {
        for p in name_problems(rule, name) {
            errors.push(FieldError::invalid("metadata.name", name, p));
        }
    }
    if let Some(ns) = meta["namespace"].as_str().filter(|n| !n.is_empty()) {
        for p in name_problems(NameRule::Label, ns) {
            errors.push(FieldError::invalid("metadata.namespace", ns, p));
        }
    }
    if let Some(labels) = meta.get("labels").filter(|l| !l.is_null()) {
        match labels.as_object() {
            None => errors.push(FieldError::invalid_raw(
                "metadata.labels",
                &labels.to_string(),
                "must be a map of strings",
            )),
            Some(labels) => {
                for (k, v) in labels {
                    if let Err(e) = pedia_core::selector::validate_label_key(k) {
                        errors.push(FieldError::invalid("metadata.labels", k, e));
                    }
                    match v.as_str() {
                        Some(v) => {
                            if let Err(e) = pedia_core::selector::validate_label_value(v) {
                                errors.push(FieldError::invalid("metadata.labels", v, e));
                            }
                        }
                        None => errors.push(FieldError::invalid_raw(
                            "metadata.labels",
                            &v.to_string(),
                            "label values must be strings",
                        )),
                    }
                }
            }
        }
    }
    if let Some(annotations) = meta.get("annotations").filter(|a| !a.is_null()) {
        match annotations.as_object() {
            None => errors.push(FieldError::invalid_raw(
                "metadata.annotations",
                &annotations.to_string(),
                "must be a map of strings",
            )),
            Some(annotations) => {
                for (k, v) in annotations {
                    if let Err(e) =
                        pedia_core::selector::validate_label_key(&k.to_ascii_lowercase())
                    {
                        errors.push(FieldError::invalid("metadata.annotations", k, e));
                    }
                    if !v.is_string() {
                        errors.push(FieldError::invalid_raw(
                            "metadata.annotations",
                            &v.to_string(),
                            "annotation values must be strings",
                        ));
                    }
                }
            }
        }
    }
    errors
}

/// Validation particular to a kind (kube's per-kind `Validate*` functions), for the kinds
/// whose rules clients run into: APIServices (name `<version>.<group>`, priorities) and
/// RBAC bindings (a role reference, known subject kinds).
pub(crate) fn kind_specific(group: &str, kind: &str, obj: &Value) -> Vec<FieldError> {
    match (group, kind) {
        ("apiregistration.k8s.io", "APIService") => api_service(obj),
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => {
            binding(obj, kind == "ClusterRoleBinding")
        }
        _ => Vec::new(),
    }
}

fn api_service(obj: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let spec = &obj["spec"];
    let group = spec["group"].as_str().unwrap_or_default();
    let version = spec["version"].as_str().unwrap_or_default();
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let required = format!("{version}.{group}");
    if !name.is_empty() && name_problems(NameRule::PathSegment, name).is_empty() && name != required
    {
        errors.push(FieldError::invalid(
            "metadata.name",
            name,
            format!("must be `spec.version+\".\"+spec.group`: {required:?}"),
        ));
    }
    if group.is_empty() {
        if version != "v1" {
            errors.push(FieldError::required(
                "spec.group",
                "only v1 may have an empty group and it better be legacy kube",
            ));
        }
    } else {
        for p in name_problems(NameRule::Subdomain, group) {
            errors.push(FieldError::invalid("spec.group", group, p));
        }
    }
    if version.is_empty() {
        errors.push(FieldError::required("spec.version", ""));
    } else {
        for p in name_problems(NameRule::Dns1035, version) {
            errors.push(FieldError::invalid("spec.version", version, p));
        }
    }
    let number = |field: &str| spec.get(field).and_then(Value::as_i64).unwrap_or(0);
    let group_priority = number("groupPriorityMinimum");
    if !(1..=20000).contains(&group_priority) {
        errors.push(FieldError::invalid_raw(
            "spec.groupPriorityMinimum",
            &group_priority.to_string(),
            "must be positive and less than 20000",
        ));
    }
    let version_priority = number("versionPriority");
    if !(1..=1000).contains(&version_priority) {
        errors.push(FieldError::invalid_raw(
            "spec.versionPriority",
            &version_priority.to_string(),
            "must be positive and less than 1000",
        ));
    }
    if let Some(service) = spec.get("service").filter(|s| !s.is_null()) {
        for field in ["namespace", "name"] {
            if service[field].as_str().is_none_or(str::is_empty) {
                errors.push(FieldError::required(&format!("spec.service.{field}"), ""));
            }
        }
    }
    errors
}

fn binding(obj: &Value, cluster: bool) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let role_ref = &obj["roleRef"];
    let ref_kind = role_ref["kind"].as_str().unwrap_or_default();
    let supported: &[&str] = if cluster {
        &["ClusterRole"]
    } else {
        &["ClusterRole", "Role"]
    };
    if ref_kind.is_empty() {
        errors.push(FieldError::required("roleRef.kind", ""));
    } else if !supported.contains(&ref_kind) {
        errors.push(FieldError::not_supported(
            "roleRef.kind",
            ref_kind,
            supported,
        ));
    }
    if role_ref["apiGroup"].as_str() != Some("rbac.authorization.k8s.io") {
        errors.push(FieldError::not_supported(
            "roleRef.apiGroup",
            role_ref["apiGroup"].as_str().unwrap_or_default(),
            &["rbac.authorization.k8s.io"],
        ));
    }
    if role_ref["name"].as_str().is_none_or(str::is_empty) {
        errors.push(FieldError::required("roleRef.name", ""));
    }
    for (i, subject) in obj["subjects"].as_array().into_iter().flatten().enumerate() {
        let kind = subject["kind"].as_str().unwrap_or_default();
        if subject["name"].as_str().is_none_or(str::is_empty) {
            errors.push(FieldError::required(&format!("subjects[{i}].name"), ""));
        }
        match kind {
            "User" | "Group" => {}
            "ServiceAccount" => {
                if cluster && subject["namespace"].as_str().is_none_or(str::is_empty) {
                    errors.push(FieldError::required(
                        &format!("subjects[{i}].namespace"),
                        "",
                    ));
                }
            }
            other => errors.push(FieldError::not_supported(
                &format!("subjects[{i}].kind"),
                other,
                &["ServiceAccount", "User", "Group"],
            )),
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names() {
        assert!(name_problems(NameRule::Subdomain, "web-1.example").is_empty());
        assert!(!name_problems(NameRule::Subdomain, "Web").is_empty());
        assert!(!name_problems(NameRule::Subdomain, "-a").is_empty());
        assert!(name_problems(NameRule::Label, "kube-system").is_empty());
        assert!(!name_problems(NameRule::Label, "a.b").is_empty());
        assert!(!name_problems(NameRule::Dns1035, "1abc").is_empty());
        assert!(name_problems(NameRule::PathSegment, "system:controller:x").is_empty());
        assert!(!name_problems(NameRule::PathSegment, "a/b").is_empty());
        assert_eq!(
            name_problems(NameRule::Subdomain, &"a".repeat(254)),
            ["must be no more than 253 characters"]
        );
    }

    #[test]
    fn api_services() {
        let svc = |name: &str, group: &str, version: &str| json!({"metadata": {"name": name}, "spec": {"group": group, "version": version, "groupPriorityMinimum": 1000, "versionPriority": 100}});
        assert!(
            kind_specific(
                "apiregistration.k8s.io",
                "APIService",
                &svc("v1.", "", "v1")
            )
            .is_empty()
        );
        assert!(
            kind_specific(
                "apiregistration.k8s.io",
                "APIService",
                &svc("v1beta1.example.com", "example.com", "v1beta1")
            )
            .is_empty()
        );
        let fields = |o: &Value| -> Vec<String> {
            kind_specific("apiregistration.k8s.io", "APIService", o)
                .into_iter()
                .map(|e| e.field)
                .collect()
        };
        assert_eq!(
            fields(&svc("v2.example.com", "example.com", "v1")),
            ["metadata.name"]
        );
        assert_eq!(fields(&svc("v2.", "", "v2")), ["spec.group"]);
        let mut bad = svc("v1.example.com", "example.com", "v1");
        bad["spec"]["versionPriority"] = json!(0);
        assert_eq!(fields(&bad), ["spec.versionPriority"]);
    }

    #[test]
    fn bindings() {
        let crb = json!({"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "x"},
            "subjects": [{"kind": "ServiceAccount", "name": "sa"}, {"kind": "Robot", "name": "r"}]});
        let fields: Vec<String> =
            kind_specific("rbac.authorization.k8s.io", "ClusterRoleBinding", &crb)
                .into_iter()
                .map(|e| e.field)
                .collect();
        assert_eq!(
            fields,
            ["roleRef.kind", "subjects[0].namespace", "subjects[1].kind"]
        );
    }

    #[test]
    fn metadata() {
        let ok = json!({"metadata": {"name": "a", "labels": {"app.kubernetes.io/name": "x"}, "annotations": {"note": "y"}}});
        assert!(object_meta(&ok, NameRule::Subdomain).is_empty());
        let bad = json!({"metadata": {"name": "", "labels": {"a": "bad value"}}});
        let fields: Vec<String> = object_meta(&bad, NameRule::Subdomain)
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["metadata.name", "metadata.labels"]);
    }
}
