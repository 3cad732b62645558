//! The authorization attributes of a request, derived from its method, path and query
//! exactly as k8s.io/apiserver's `RequestInfoFactory` derives them, so the
//! SubjectAccessReviews we send are the ones Go Clusterpedia sends for the same URL and
//! ClusterRoles written for Clusterpedia keep working. For example
//! `GET /apis/clusterpedia.io/v1beta1/resources/clusters/c1/api/v1/pods` is verb `get` on
//! resource `resources`, name `clusters`, subresource `c1` in group `clusterpedia.io`
//! (the table in ARCHITECTURE.md lists the others).

use axum::http::Method;

/// What a request asks to do, in SubjectAccessReview terms.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RequestAttributes {
    Resource(ResourceAttributes),
    NonResource { verb: String, path: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ResourceAttributes {
    pub verb: String,
    pub group: String,
    pub version: String,
    pub resource: String,
    pub subresource: String,
    pub name: String,
    pub namespace: String,
}

/// Subresources of a namespace itself (`/namespaces/x/status`), not resources in it.
const NAMESPACE_SUBRESOURCES: [&str; 3] = ["status", "finalize", "binding"];

fn query_values<'a>(query: &'a str, key: &'a str) -> impl Iterator<Item = String> + 'a {
    form_urlencoded::parse(query.as_bytes())
        .filter(move |(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// `watch=<anything but false/0>`, as k8s.io/apiserver reads it.
fn is_watch(query: &str) -> bool {
    query_values(query, "watch")
        .next()
        .is_some_and(|v| !matches!(v.to_ascii_lowercase().as_str(), "false" | "0"))
}

/// The name a list narrows to with `fieldSelector=metadata.name=<name>` (RBAC then matches
/// it against `resourceNames`).
fn field_selector_name(query: &str) -> Option<String> {
    let selector = query_values(query, "fieldSelector").next()?;
    selector.split(',').find_map(|term| {
        let term = term.trim();
        let (key, value) = term
            .split_once("==")
            .or_else(|| term.split_once('='))
            .filter(|(k, _)| !k.ends_with('!'))?;
        (key.trim() == "metadata.name" && !value.is_empty() && !value.contains('/'))
            .then(|| value.trim().to_owned())
    })
}

impl RequestAttributes {
    pub fn of(method: &Method, path: &str, query: &str) -> Self {
        let non_resource = || RequestAttributes::NonResource {
            verb: method.as_str().to_ascii_lowercase(),
            path: path.to_owned(),
        };
        let trimmed = path.trim_matches('/');
        let mut parts: Vec<&str> = if trimmed.is_empty() {
            Vec::new()
        } else {
            trimmed.split('/').collect()
        };
        let mut attrs = ResourceAttributes::default();
        match parts.first() {
            Some(&"api") if parts.len() >= 3 => {
                attrs.version = parts[1].to_owned();
                parts.drain(..2);
            }
            Some(&"apis") if parts.len() >= 4 => {
                attrs.group = parts[1].to_owned();
                attrs.version = parts[2].to_owned();
                parts.drain(..3);
            }
            _ => return non_resource(),
        }
        let mut verb = match *method {
            Method::POST => "create",
            Method::GET | Method::HEAD => "get",
            Method::PUT => "update",
            Method::PATCH => "patch",
            Method::DELETE => "delete",
            _ => "",
        }
        .to_owned();
        // Deprecated `/watch/...` and `/proxy/...` prefixes name the verb themselves.
        if matches!(parts.first(), Some(&"watch") | Some(&"proxy")) && parts.len() >= 2 {
            verb = parts[0].to_owned();
            parts.remove(0);
        }
        if parts.first() == Some(&"namespaces") && parts.len() > 1 {
            attrs.namespace = parts[1].to_owned();
            if parts.len() > 2 && !NAMESPACE_SUBRESOURCES.contains(&parts[2]) {
                parts.drain(..2);
            }
        }
        let special = verb == "proxy";
        if parts.len() >= 3 && !special {
            attrs.subresource = parts[2].to_owned();
        }
        if parts.len() >= 2 {
            attrs.name = parts[1].to_owned();
        }
        if let Some(resource) = parts.first() {
            attrs.resource = (*resource).to_owned();
        }
        if attrs.name.is_empty() && verb == "get" {
            verb = if is_watch(query) { "watch" } else { "list" }.to_owned();
            if let Some(name) = field_selector_name(query) {
                attrs.name = name;
            }
        }
        if attrs.name.is_empty() && verb == "delete" {
            verb = "deletecollection".to_owned();
        }
        attrs.verb = verb;
        RequestAttributes::Resource(attrs)
    }

    pub fn verb(&self) -> &str {
        match self {
            RequestAttributes::Resource(a) => &a.verb,
            RequestAttributes::NonResource { verb, .. } => verb,
        }
    }

    /// kube-apiserver's wording for a denied request, e.g. `resources.clusterpedia.io "api"
    /// is forbidden: User "bob" cannot get resource "resources/v1" in API group
    /// "clusterpedia.io" at the cluster scope`.
    pub fn forbidden_message(&self, user: &str, reason: &str) -> String {
        let (what, cannot) = match self {
            RequestAttributes::NonResource { verb, path } => (
                "forbidden".to_owned(),
                format!("User {user:?} cannot {verb} path {path:?}"),
            ),
            RequestAttributes::Resource(a) => {
                let resource = if a.subresource.is_empty() {
                    a.resource.clone()
                } else {
                    format!("{}/{}", a.resource, a.subresource)
                };
                let scope = if a.namespace.is_empty() {
                    "at the cluster scope".to_owned()
                } else {
                    format!("in the namespace {:?}", a.namespace)
                };
                let gr = if a.group.is_empty() {
                    a.resource.clone()
                } else {
                    format!("{}.{}", a.resource, a.group)
                };
                let what = if a.name.is_empty() {
                    format!("{gr} is forbidden")
                } else {
                    format!("{gr} {:?} is forbidden", a.name)
                };
                (
                    what,
                    format!(
                        "User {user:?} cannot {} resource {resource:?} in API group {:?} {scope}",
                        a.verb, a.group
                    ),
                )
            }
        };
        if reason.is_empty() {
            format!("{what}: {cannot}")
        } else {
            format!("{what}: {cannot}: {reason}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(verb: &str, resource: &str, name: &str, sub: &str) -> RequestAttributes {
        RequestAttributes::Resource(ResourceAttributes {
            verb: verb.into(),
            group: "clusterpedia.io".into(),
            version: "v1beta1".into(),
            resource: resource.into(),
            subresource: sub.into(),
            name: name.into(),
            namespace: String::new(),
        })
    }

    #[test]
    fn clusterpedia_urls_get_clusterpedia_s_attributes() {
        let p = "/apis/clusterpedia.io/v1beta1";
        let cases = [
            (
                "resources/api/v1/pods",
                "",
                res("get", "resources", "api", "v1"),
            ),
            (
                "resources/api/v1/pods",
                "watch=true",
                res("get", "resources", "api", "v1"),
            ),
            (
                "resources/apis/apps/v1/namespaces/ns1/deployments",
                "",
                res("get", "resources", "apis", "apps"),
            ),
            (
                "resources/clusters/c1/api/v1/namespaces/ns/pods/p",
                "",
                res("get", "resources", "clusters", "c1"),
            ),
            (
                "resources/version",
                "",
                res("get", "resources", "version", ""),
            ),
            (
                "collectionresources",
                "",
                res("list", "collectionresources", "", ""),
            ),
            (
                "collectionresources",
                "watch=1",
                res("watch", "collectionresources", "", ""),
            ),
            (
                "collectionresources/any",
                "limit=5",
                res("get", "collectionresources", "any", ""),
            ),
        ];
        for (rest, query, want) in cases {
            let path = format!("{p}/{rest}");
            assert_eq!(
                RequestAttributes::of(&Method::GET, &path, query),
                want,
                "{path}?{query}"
            );
        }
    }

    #[test]
    fn discovery_and_other_paths_are_non_resource() {
        for path in [
            "/apis",
            "/apis/clusterpedia.io",
            "/apis/clusterpedia.io/v1beta1",
            "/version",
            "/metrics",
            "/api",
        ] {
            assert_eq!(
                RequestAttributes::of(&Method::GET, path, ""),
                RequestAttributes::NonResource {
                    verb: "get".into(),
                    path: path.into()
                },
                "{path}"
            );
        }
    }

    #[test]
    fn kubernetes_urls_follow_the_request_info_factory() {
        let a = |m: Method, path: &str, q: &str| match RequestAttributes::of(&m, path, q) {
            RequestAttributes::Resource(a) => a,
            other => panic!("{path}: {other:?}"),
        };
        let pods = a(Method::GET, "/api/v1/namespaces/ns/pods", "watch=true");
        assert_eq!(
            (
                pods.verb.as_str(),
                pods.namespace.as_str(),
                pods.resource.as_str()
            ),
            ("watch", "ns", "pods")
        );
        let log = a(Method::GET, "/api/v1/namespaces/ns/pods/p/log", "");
        assert_eq!(
            (
                log.verb.as_str(),
                log.name.as_str(),
                log.subresource.as_str()
            ),
            ("get", "p", "log")
        );
        let ns = a(Method::GET, "/api/v1/namespaces/ns", "");
        assert_eq!(
            (ns.resource.as_str(), ns.name.as_str()),
            ("namespaces", "ns")
        );
        let status = a(Method::PUT, "/api/v1/namespaces/ns/status", "");
        assert_eq!(
            (
                status.verb.as_str(),
                status.resource.as_str(),
                status.subresource.as_str()
            ),
            ("update", "namespaces", "status")
        );
        let cm = a(
            Method::GET,
            "/api/v1/namespaces/kube-system/configmaps",
            "fieldSelector=metadata.name%3Dextension-apiserver-authentication&watch=true",
        );
        assert_eq!(
            (cm.verb.as_str(), cm.name.as_str()),
            ("watch", "extension-apiserver-authentication")
        );
        let dc = a(
            Method::DELETE,
            "/apis/apps/v1/namespaces/ns/deployments",
            "",
        );
        assert_eq!(dc.verb, "deletecollection");
        let create = a(
            Method::POST,
            "/apis/clusterpedia.io/v1beta1/resources/api/v1/pods",
            "",
        );
        assert_eq!(
            (create.verb.as_str(), create.name.as_str()),
            ("create", "api")
        );
    }

    #[test]
    fn forbidden_messages_read_like_kube_apiserver_s() {
        let attrs = RequestAttributes::of(
            &Method::GET,
            "/apis/clusterpedia.io/v1beta1/resources/api/v1/pods",
            "",
        );
        assert_eq!(
            attrs.forbidden_message("bob", ""),
            "resources.clusterpedia.io \"api\" is forbidden: User \"bob\" cannot get resource \"resources/v1\" in API group \"clusterpedia.io\" at the cluster scope"
        );
        let path = RequestAttributes::of(&Method::GET, "/apis/clusterpedia.io/v1beta1", "");
        assert_eq!(
            path.forbidden_message("bob", "no RBAC policy matched"),
            "forbidden: User \"bob\" cannot get path \"/apis/clusterpedia.io/v1beta1\": no RBAC policy matched"
        );
    }
}
