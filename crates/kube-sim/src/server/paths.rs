//! Request paths as kube-apiserver's `RequestInfo` reads them: discovery documents,
//! `/api/v1/...` and `/apis/<group>/<version>/...` resource paths with optional
//! `namespaces/<ns>/` prefix, name and subresource (including the special case that
//! `namespaces/<name>/status` is the namespace's own subresource), and the legacy
//! `watch/` prefix.

/// What a path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    Version,
    Health,
    OpenApi(String),
    /// `/api`
    CoreGroups,
    /// `/apis`
    Groups,
    /// `/apis/<group>`
    Group(String),
    /// `/api/v1` or `/apis/<group>/<version>`
    GroupVersion {
        group: String,
        version: String,
    },
    Resource(ResourcePath),
    Unknown,
}

/// A resource path.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ResourcePath {
    pub group: String,
    pub version: String,
    pub namespace: Option<String>,
    pub resource: String,
    pub name: Option<String>,
    pub subresource: Option<String>,
    /// The deprecated `/watch/` prefix.
    pub legacy_watch: bool,
}

/// Percent-decodes a path segment (RBAC names such as `system:admin` may arrive as
/// `system%3Aadmin`).
fn decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'%'));
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn route(path: &str) -> Route {
    let parts: Vec<String> = path
        .split('/')
        .filter(|p| !p.is_empty())
        .map(decode)
        .collect();
    let p: Vec<&str> = parts.iter().map(String::as_str).collect();
    match p.as_slice() {
        ["version"] => Route::Version,
        ["healthz" | "livez" | "readyz", ..] => Route::Health,
        ["openapi", rest @ ..] => Route::OpenApi(rest.join("/")),
        ["api"] => Route::CoreGroups,
        ["api", v] => Route::GroupVersion {
            group: String::new(),
            version: (*v).to_owned(),
        },
        ["api", v, rest @ ..] => resource("", v, rest),
        ["apis"] => Route::Groups,
        ["apis", g] => Route::Group((*g).to_owned()),
        ["apis", g, v] => Route::GroupVersion {
            group: (*g).to_owned(),
            version: (*v).to_owned(),
        },
        ["apis", g, v, rest @ ..] => resource(g, v, rest),
        _ => Route::Unknown,
    }
}

fn resource(group: &str, version: &str, mut rest: &[&str]) -> Route {
    let mut out = ResourcePath {
        group: group.to_owned(),
        version: version.to_owned(),
        ..ResourcePath::default()
    };
    if rest.first() == Some(&"watch") {
        out.legacy_watch = true;
        rest = &rest[1..];
    }
    if rest.first() == Some(&"namespaces")
        && rest.len() > 2
        && !matches!(rest[2], "status" | "finalize")
    {
        out.namespace = Some(rest[1].to_owned());
        rest = &rest[2..];
    }
    match rest {
        [r] => out.resource = (*r).to_owned(),
        [r, n] => {
            out.resource = (*r).to_owned();
            out.name = Some((*n).to_owned());
        }
        [r, n, s] => {
            out.resource = (*r).to_owned();
            out.name = Some((*n).to_owned());
            out.subresource = Some((*s).to_owned());
        }
        _ => return Route::Unknown,
    }
    Route::Resource(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(path: &str) -> ResourcePath {
        match route(path) {
            Route::Resource(r) => r,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn resource_paths() {
        let r = res("/api/v1/namespaces/default/pods/web/status");
        assert_eq!(
            (
                r.group.as_str(),
                r.namespace.as_deref(),
                r.resource.as_str(),
                r.name.as_deref(),
                r.subresource.as_deref()
            ),
            ("", Some("default"), "pods", Some("web"), Some("status"))
        );
        let r = res("/apis/apps/v1/deployments");
        assert_eq!(
            (r.group.as_str(), r.namespace, r.name),
            ("apps", None, None)
        );
        let r = res("/api/v1/namespaces/kube-system");
        assert_eq!(
            (r.resource.as_str(), r.name.as_deref(), r.namespace),
            ("namespaces", Some("kube-system"), None)
        );
        let r = res("/api/v1/namespaces/team/status");
        assert_eq!(
            (
                r.resource.as_str(),
                r.name.as_deref(),
                r.subresource.as_deref()
            ),
            ("namespaces", Some("team"), Some("status"))
        );
        let r = res("/api/v1/namespaces/team/configmaps");
        assert_eq!(
            (r.resource.as_str(), r.namespace.as_deref()),
            ("configmaps", Some("team"))
        );
        let r = res("/apis/rbac.authorization.k8s.io/v1/clusterroles/system%3Aadmin");
        assert_eq!(r.name.as_deref(), Some("system:admin"));
        assert!(res("/api/v1/watch/namespaces/a/pods").legacy_watch);
    }

    #[test]
    fn discovery_paths() {
        assert_eq!(route("/api"), Route::CoreGroups);
        assert_eq!(route("/apis/"), Route::Groups);
        assert_eq!(route("/apis/apps"), Route::Group("apps".into()));
        assert_eq!(
            route("/api/v1"),
            Route::GroupVersion {
                group: String::new(),
                version: "v1".into()
            }
        );
        assert_eq!(route("/readyz/etcd"), Route::Health);
        assert_eq!(route("/nope"), Route::Unknown);
        assert_eq!(route("/api/v1/a/b/c/d"), Route::Unknown);
    }
}
