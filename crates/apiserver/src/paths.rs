//! Parsing the native Kubernetes paths served under `.../resources/` (optionally after
//! `clusters/<name>/`) into what they address.

use crate::error::ApiError;

/// The prefix of Clusterpedia's API group.
pub const GROUP_PREFIX: &str = "/apis/clusterpedia.io/v1beta1";

/// The route of every native path under `resources/` (discovery, lists, gets, watches).
pub const RESOURCES_ROUTE: &str = "/apis/clusterpedia.io/v1beta1/resources/{*rest}";

/// The route of one collection resource's objects.
pub const COLLECTION_ROUTE: &str = "/apis/clusterpedia.io/v1beta1/collectionresources/{name}";

/// The answer for a cluster that is unknown or that the user has no grant on; the two are
/// indistinguishable, so nobody learns the name of a cluster they may not read (the
/// message and code are Clusterpedia's).
pub fn unknown_cluster() -> ApiError {
    ApiError::bad_request("the server could not find the requested cluster")
}

/// What a path under `resources/` addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `version`
    Version,
    /// `api`
    CoreVersions,
    /// `apis`
    Groups,
    /// `apis/<group>`
    Group { group: String },
    /// `api/v1` or `apis/<group>/<version>`
    GroupVersion { group: String, version: String },
    /// `openapi/v2`
    OpenApiV2,
    /// `openapi/v3`
    OpenApiV3Root,
    /// `openapi/v3/api/v1` or `openapi/v3/apis/<group>/<version>`
    OpenApiV3 { group: String, version: String },
    /// A resource collection: `.../<resource>` or `.../namespaces/<ns>/<resource>`.
    Collection {
        group: String,
        version: String,
        resource: String,
        namespace: Option<String>,
    },
    /// One object: `.../<resource>/<name>` or `.../namespaces/<ns>/<resource>/<name>`.
    Object {
        group: String,
        version: String,
        resource: String,
        namespace: Option<String>,
        name: String,
    },
}

/// A parsed path with the cluster it is scoped to, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopedTarget {
    pub cluster: Option<String>,
    pub target: Target,
}

/// The answer for a path that addresses nothing served.
pub fn not_found(path: &str) -> ApiError {
    ApiError::not_found(format!(
        "the server could not find the requested resource ({path})"
    ))
}

/// Parses `rest`, the part of the URL path after `.../resources/`.
pub fn parse(rest: &str) -> Result<ScopedTarget, ApiError> {
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let (cluster, segments) = match segments.as_slice() {
        ["clusters", cluster, tail @ ..] => (Some((*cluster).to_owned()), tail),
        ["clusters"] => return Err(not_found(rest)),
        all => (None, all),
    };
    let target = match segments {
        ["version"] => Target::Version,
        ["openapi", "v2"] => Target::OpenApiV2,
        ["openapi", "v3"] => Target::OpenApiV3Root,
        ["openapi", "v3", "api", version] => Target::OpenApiV3 {
            group: String::new(),
            version: (*version).to_owned(),
        },
        ["openapi", "v3", "apis", group, version] => Target::OpenApiV3 {
            group: (*group).to_owned(),
            version: (*version).to_owned(),
        },
        ["api"] => Target::CoreVersions,
        ["apis"] => Target::Groups,
        ["apis", group] => Target::Group {
            group: (*group).to_owned(),
        },
        ["api", version, tail @ ..] => in_group_version("", version, tail, rest)?,
        ["apis", group, version, tail @ ..] => in_group_version(group, version, tail, rest)?,
        _ => return Err(not_found(rest)),
    };
    Ok(ScopedTarget { cluster, target })
}

fn in_group_version(
    group: &str,
    version: &str,
    tail: &[&str],
    full: &str,
) -> Result<Target, ApiError> {
    let (g, v) = (group.to_owned(), version.to_owned());
    Ok(match tail {
        [] => Target::GroupVersion {
            group: g,
            version: v,
        },
        ["namespaces", ns, resource] => Target::Collection {
            group: g,
            version: v,
            resource: (*resource).to_owned(),
            namespace: Some((*ns).to_owned()),
        },
        ["namespaces", ns, resource, name] => Target::Object {
            group: g,
            version: v,
            resource: (*resource).to_owned(),
            namespace: Some((*ns).to_owned()),
            name: (*name).to_owned(),
        },
        [resource] => Target::Collection {
            group: g,
            version: v,
            resource: (*resource).to_owned(),
            namespace: None,
        },
        [resource, name] => Target::Object {
            group: g,
            version: v,
            resource: (*resource).to_owned(),
            namespace: None,
            name: (*name).to_owned(),
        },
        [.., sub] if tail.len() == 5 || tail.len() == 3 => {
            return Err(ApiError::method_not_allowed(format!(
                "subresource {sub:?} is not served by this search API ({full})"
            )));
        }
        _ => return Err(not_found(full)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(rest: &str) -> Target {
        parse(rest).expect(rest).target
    }

    #[test]
    fn native_paths() {
        assert_eq!(t("version"), Target::Version);
        assert_eq!(t("api"), Target::CoreVersions);
        assert_eq!(t("apis"), Target::Groups);
        assert_eq!(
            t("apis/apps"),
            Target::Group {
                group: "apps".into()
            }
        );
        assert_eq!(
            t("api/v1"),
            Target::GroupVersion {
                group: "".into(),
                version: "v1".into()
            }
        );
        assert_eq!(
            t("api/v1/pods"),
            Target::Collection {
                group: "".into(),
                version: "v1".into(),
                resource: "pods".into(),
                namespace: None
            }
        );
        assert_eq!(
            t("apis/apps/v1/namespaces/ns1/deployments"),
            Target::Collection {
                group: "apps".into(),
                version: "v1".into(),
                resource: "deployments".into(),
                namespace: Some("ns1".into())
            }
        );
        assert_eq!(
            t("api/v1/namespaces/kube-system"),
            Target::Object {
                group: "".into(),
                version: "v1".into(),
                resource: "namespaces".into(),
                namespace: None,
                name: "kube-system".into()
            }
        );
        assert_eq!(
            t("api/v1/namespaces/ns/pods/web-0"),
            Target::Object {
                group: "".into(),
                version: "v1".into(),
                resource: "pods".into(),
                namespace: Some("ns".into()),
                name: "web-0".into()
            }
        );
    }

    #[test]
    fn cluster_scope() {
        let p = parse("clusters/c1/api/v1/pods").expect("ok");
        assert_eq!(p.cluster.as_deref(), Some("c1"));
        assert!(matches!(p.target, Target::Collection { .. }));
        assert_eq!(
            parse("clusters/c1/version").expect("ok").target,
            Target::Version
        );
    }

    #[test]
    fn routes_are_under_the_group_prefix() {
        for route in [RESOURCES_ROUTE, COLLECTION_ROUTE] {
            assert!(route.starts_with(&format!("{GROUP_PREFIX}/")), "{route}");
        }
        let err = unknown_cluster();
        assert_eq!(err.code().as_u16(), 400);
        assert_eq!(
            err.message(),
            "the server could not find the requested cluster"
        );
    }

    #[test]
    fn unknown_paths() {
        for bad in [
            "",
            "clusters",
            "foo",
            "api/v1/namespaces/ns/pods/p/log/x/y",
            "apis/apps/v1/a/b/c/d/e/f",
        ] {
            let err = parse(bad).expect_err(bad);
            assert_eq!(err.code().as_u16(), 404, "{bad}");
        }
        let err = parse("api/v1/namespaces/ns/pods/p/log").expect_err("subresource");
        assert_eq!(err.code().as_u16(), 405);
    }
}
