//! The simulator's errors: [`StatusError`] is a failed API call, rendered exactly as
//! kube-apiserver renders a `meta.k8s.io/v1` `Status` (code, reason, message, details), and
//! [`SimError`] is what starting or restarting a simulator fails with.

use std::path::PathBuf;

use serde_json::{Map, Value, json};

/// A failed API call, as a Kubernetes `Status`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message} ({reason}, {code})")]
pub struct StatusError {
    /// HTTP status code.
    pub code: u16,
    /// `StatusReason`, e.g. `NotFound`, `AlreadyExists`, `Conflict`, `Invalid`, `Expired`.
    pub reason: &'static str,
    pub message: String,
    /// `StatusDetails` (`name`, `group`, `kind`, `causes`), when kube sets them.
    pub details: Option<Value>,
    /// `metadata.continue` of the Status: kube offers an inconsistent continuation when a
    /// continue token has expired.
    pub continue_token: Option<String>,
}

/// The `group` and `kind` fields of `StatusDetails` name the resource (plural) for most
/// errors; `qualified` is kube's `resource.group` form used in messages.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Subject<'a> {
    pub group: &'a str,
    pub resource: &'a str,
}

impl Subject<'_> {
    /// `pods`, `deployments.apps`.
    pub(crate) fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.resource.to_owned()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }

    fn details(&self, name: &str) -> Value {
        let mut details = Map::new();
        if !name.is_empty() {
            details.insert("name".into(), json!(name));
        }
        if !self.group.is_empty() {
            details.insert("group".into(), json!(self.group));
        }
        details.insert("kind".into(), json!(self.resource));
        Value::Object(details)
    }
}

impl StatusError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
            continue_token: None,
        }
    }

    fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    /// `403` for a request the authorizer did not allow, in kube's words
    /// (`pods "web" is forbidden: User "alice" cannot get resource "pods" in API group ""
    /// in the namespace "default"`), the authorizer's reason appended.
    pub(crate) fn forbidden(user: &str, request: &crate::rbac::Request, reason: &str) -> Self {
        use crate::rbac::Request;
        let why = if reason.is_empty() {
            String::new()
        } else {
            format!(": {reason}")
        };
        match request {
            Request::NonResource { verb, path } => Self::new(
                403,
                "Forbidden",
                format!("forbidden: User {user:?} cannot {verb} path {path:?}{why}"),
            )
            .with_details(json!({})),
            Request::Resource(r) => {
                let mut resource = r.resource.clone();
                if !r.subresource.is_empty() {
                    resource = format!("{resource}/{}", r.subresource);
                }
                let scope = if r.namespace.is_empty() {
                    "at the cluster scope".to_owned()
                } else {
                    format!("in the namespace {:?}", r.namespace)
                };
                let detail = format!(
                    "User {user:?} cannot {} resource {resource:?} in API group {:?} {scope}{why}",
                    r.verb, r.group
                );
                let subject = Subject {
                    group: &r.group,
                    resource: &r.resource,
                };
                let message = if r.name.is_empty() {
                    format!("{} is forbidden: {detail}", subject.qualified())
                } else {
                    format!(
                        "{} {:?} is forbidden: {detail}",
                        subject.qualified(),
                        r.name
                    )
                };
                Self::new(403, "Forbidden", message).with_details(subject.details(&r.name))
            }
        }
    }

    /// A path the server does not serve.
    pub fn no_route() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
        .with_details(json!({}))
    }

    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }

    pub fn not_acceptable(message: impl Into<String>) -> Self {
        Self::new(406, "NotAcceptable", message)
    }

    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(415, "UnsupportedMediaType", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            500,
            "InternalError",
            format!("Internal error occurred: {}", message.into()),
        )
    }

    /// `pods "x" not found`.
    pub(crate) fn not_found(subject: Subject<'_>, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", subject.qualified()),
        )
        .with_details(subject.details(name))
    }

    /// `pods "x" already exists`.
    pub(crate) fn already_exists(subject: Subject<'_>, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", subject.qualified()),
        )
        .with_details(subject.details(name))
    }

    /// The optimistic-concurrency failure of an update with a stale resourceVersion.
    pub(crate) fn conflict(subject: Subject<'_>, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                subject.qualified()
            ),
        )
        .with_details(subject.details(name))
    }

    /// The message kube gives for a stale resourceVersion.
    pub const MODIFIED: &'static str = "the object has been modified; please apply your changes to the latest version and try again";

    /// `Pod "x" is invalid: field: message` (422), with one cause per field error.
    pub(crate) fn invalid(group: &str, kind: &str, name: &str, errors: &[FieldError]) -> Self {
        let summary = if let [one] = errors {
            one.to_string()
        } else {
            format!(
                "[{}]",
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let qualified_kind = if group.is_empty() {
            kind.to_owned()
        } else {
            format!("{kind}.{group}")
        };
        let causes: Vec<Value> = errors
            .iter()
            .map(|e| {
                json!({
                    "reason": e.kind.cause(),
                    "message": e.detail_message(),
                    "field": e.field,
                })
            })
            .collect();
        let mut details = Map::new();
        details.insert("name".into(), json!(name));
        if !group.is_empty() {
            details.insert("group".into(), json!(group));
        }
        details.insert("kind".into(), json!(kind));
        details.insert("causes".into(), Value::Array(causes));
        Self::new(
            422,
            "Invalid",
            format!("{qualified_kind} \"{name}\" is invalid: {summary}"),
        )
        .with_details(Value::Object(details))
    }

    /// `410 Gone` for a resourceVersion older than the kept history.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// The watch cache's message for a resourceVersion it no longer has events for.
    pub fn too_old(requested: u64, oldest: u64) -> Self {
        Self::expired(format!("too old resource version: {requested} ({oldest})"))
    }

    /// `504` for a resourceVersion newer than the server has seen.
    pub fn too_large(requested: u64, current: u64) -> Self {
        Self::new(
            504,
            "Timeout",
            format!(
                "Timeout: Too large resource version: {requested}, current: {current}"
            ),
        )
        .with_details(json!({
            "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
            "retryAfterSeconds": 1,
        }))
    }

    /// The `Status` object.
    pub fn to_json(&self) -> Value {
        let mut metadata = Map::new();
        if let Some(token) = &self.continue_token {
            metadata.insert("continue".into(), json!(token));
        }
        let mut status = Map::new();
        status.insert("kind".into(), json!("Status"));
        status.insert("apiVersion".into(), json!("v1"));
        status.insert("metadata".into(), Value::Object(metadata));
        status.insert("status".into(), json!("Failure"));
        status.insert("message".into(), json!(self.message));
        status.insert("reason".into(), json!(self.reason));
        if let Some(details) = &self.details {
            status.insert("details".into(), details.clone());
        }
        status.insert("code".into(), json!(self.code));
        Value::Object(status)
    }
}

/// What is wrong with one field, as in `k8s.io/apimachinery/pkg/util/validation/field`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldErrorKind {
    Required,
    Invalid,
    Forbidden,
    NotSupported,
}

impl FieldErrorKind {
    fn cause(self) -> &'static str {
        match self {
            Self::Required => "FieldValueRequired",
            Self::Invalid => "FieldValueInvalid",
            Self::Forbidden => "FieldValueForbidden",
            Self::NotSupported => "FieldValueNotSupported",
        }
    }
}

/// One field error: `metadata.name: Invalid value: "X": <detail>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub kind: FieldErrorKind,
    pub field: String,
    /// The offending value, already rendered (`"X"`, `0x0`), for `Invalid` and
    /// `NotSupported`.
    pub value: Option<String>,
    pub detail: String,
}

impl FieldError {
    pub(crate) fn required(field: &str, detail: &str) -> Self {
        Self {
            kind: FieldErrorKind::Required,
            field: field.to_owned(),
            value: None,
            detail: detail.to_owned(),
        }
    }

    pub(crate) fn invalid(field: &str, value: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: FieldErrorKind::Invalid,
            field: field.to_owned(),
            value: Some(format!("{value:?}")),
            detail: detail.into(),
        }
    }

    /// An invalid value rendered verbatim (kube prints some values with `%#v`).
    pub(crate) fn invalid_raw(field: &str, value: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: FieldErrorKind::Invalid,
            field: field.to_owned(),
            value: Some(value.to_owned()),
            detail: detail.into(),
        }
    }

    pub(crate) fn forbidden(field: &str, detail: &str) -> Self {
        Self {
            kind: FieldErrorKind::Forbidden,
            field: field.to_owned(),
            value: None,
            detail: detail.to_owned(),
        }
    }

    pub(crate) fn not_supported(field: &str, value: &str, supported: &[&str]) -> Self {
        let list: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
        Self {
            kind: FieldErrorKind::NotSupported,
            field: field.to_owned(),
            value: Some(format!("{value:?}")),
            detail: format!("supported values: {}", list.join(", ")),
        }
    }

    /// The message without the field path, as kube puts it in `causes`.
    fn detail_message(&self) -> String {
        let head = match self.kind {
            FieldErrorKind::Required => "Required value".to_owned(),
            FieldErrorKind::Forbidden => "Forbidden".to_owned(),
            FieldErrorKind::Invalid => {
                format!("Invalid value: {}", self.value.as_deref().unwrap_or(""))
            }
            FieldErrorKind::NotSupported => {
                format!("Unsupported value: {}", self.value.as_deref().unwrap_or(""))
            }
        };
        if self.detail.is_empty() {
            head
        } else {
            format!("{head}: {}", self.detail)
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.detail_message())
    }
}

/// Starting, restarting or configuring a simulator failed.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("TLS setup: {0}")]
    Tls(#[from] https_serve::tls::TlsError),
    #[error("cannot create the certificate directory: {0}")]
    CertDir(#[source] std::io::Error),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot generate a certificate: {0}")]
    Certificate(String),
    #[error("cannot start the server thread: {0}")]
    Thread(#[source] std::io::Error),
    #[error("the simulator is already serving")]
    AlreadyServing,
    #[error("invalid load spec: {0}")]
    LoadSpec(String),
    #[error("writing the cluster's default objects failed: {0}")]
    Bootstrap(String),
    #[error("loading objects failed: {0}")]
    Load(#[source] StatusError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_matches_kube() {
        let err = StatusError::not_found(
            Subject {
                group: "apps",
                resource: "deployments",
            },
            "web",
        );
        assert_eq!(err.message, "deployments.apps \"web\" not found");
        let status = err.to_json();
        assert_eq!(
            status["details"],
            json!({"name": "web", "group": "apps", "kind": "deployments"})
        );
        assert_eq!(status["code"], 404);
        assert_eq!(status["reason"], "NotFound");
    }

    #[test]
    fn invalid_lists_causes() {
        let err = StatusError::invalid(
            "",
            "Pod",
            "Bad",
            &[FieldError::invalid(
                "metadata.name",
                "Bad",
                "must be lowercase",
            )],
        );
        assert_eq!(
            err.message,
            "Pod \"Bad\" is invalid: metadata.name: Invalid value: \"Bad\": must be lowercase"
        );
        assert_eq!(
            err.to_json()["details"]["causes"][0]["reason"],
            "FieldValueInvalid"
        );
    }
}
