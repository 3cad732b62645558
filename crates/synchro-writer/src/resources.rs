//! Which resource an object belongs to, from its `apiVersion` and `kind`: the built-in
//! catalog when Kubernetes knows the kind, else the plural kubectl would guess.

use pedia_core::{GroupVersionResource, ResourceType};

/// Kubernetes' guess of a kind's plural resource name (`UnsafeGuessKindToResource`).
pub fn guess_plural(kind: &str) -> String {
    let lower = kind.to_ascii_lowercase();
    if lower.is_empty() {
        return lower;
    }
    if lower.ends_with('s')
        || lower.ends_with("ch")
        || lower.ends_with("sh")
        || lower.ends_with('x')
        || lower.ends_with('z')
    {
        return format!("{lower}es");
    }
    if let Some(stem) = lower.strip_suffix('y')
        && !stem.ends_with(['a', 'e', 'i', 'o', 'u'])
    {
        return format!("{stem}ies");
    }
    format!("{lower}s")
}

/// The resource of an object of `api_version`/`kind`. `namespaced` says whether the object
/// has a namespace, used for kinds the catalog does not know.
pub fn resource_of(api_version: &str, kind: &str, namespaced: bool) -> ResourceType {
    let (group, version) = match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    };
    match kube_builtin::catalog::lookup_kind(group, kind) {
        Some(b) => ResourceType::new(
            GroupVersionResource::new(group, version, b.resource),
            kind,
            b.namespaced,
        ),
        None => ResourceType::new(
            GroupVersionResource::new(group, version, guess_plural(kind)),
            kind,
            namespaced,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_like_kubernetes() {
        for (kind, plural) in [
            ("Widget", "widgets"),
            ("Policy", "policies"),
            ("Gateway", "gateways"),
            ("Ingress", "ingresses"),
            ("Box", "boxes"),
            ("Batch", "batches"),
        ] {
            assert_eq!(guess_plural(kind), plural, "{kind}");
        }
    }

    #[test]
    fn builtin_kinds_come_from_the_catalog() {
        let rt = resource_of("apps/v1", "Deployment", false);
        assert_eq!(
            rt.gvr,
            GroupVersionResource::new("apps", "v1", "deployments")
        );
        assert!(
            rt.namespaced,
            "the catalog knows deployments are namespaced"
        );
        let ns = resource_of("v1", "Namespace", true);
        assert!(!ns.namespaced);
        let crd = resource_of("example.com/v1", "Widget", true);
        assert_eq!(crd.gvr.resource, "widgets");
        assert!(crd.namespaced);
    }
}
