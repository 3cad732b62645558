//! The create-only virtual resources kube-apiserver answers without storing anything:
//! `authentication.k8s.io/v1` TokenReview and SelfSubjectReview (`kubectl auth whoami`),
//! `authorization.k8s.io/v1` SubjectAccessReview, LocalSubjectAccessReview,
//! SelfSubjectAccessReview (`kubectl auth can-i`) and SelfSubjectRulesReview
//! (`kubectl auth can-i --list`), and the TokenRequest subresource of ServiceAccounts
//! (`kubectl create token`). The answers come from the simulator's own authenticator and
//! RBAC authorizer (`crate::auth`, `crate::rbac`), and are shaped as kube serializes them
//! (fields with Go's `omitempty` left out when empty).

use serde_json::{Map, Value, json};

use super::App;
use crate::auth::{API_AUDIENCE, Tokens, UserInfo};
use crate::error::{FieldError, StatusError};
use crate::rbac::{self, Decision, Request, ResourceRequest};
use crate::registry::ResourceDef;
use crate::store::{GroupResource, ObjKey, Store, now_rfc3339};

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
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

/// The review as returned: the request's own fields, metadata as kube echoes it.
fn echo(body: &Value) -> Value {
    let mut out = body.clone();
    let mut meta = body
        .get("metadata")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    meta.entry("creationTimestamp").or_insert(Value::Null);
    out["metadata"] = Value::Object(meta);
    out
}

fn decision_status(d: &Decision) -> Value {
    let mut status = Map::new();
    status.insert("allowed".into(), json!(d.allowed));
    if d.denied {
        status.insert("denied".into(), json!(true));
    }
    if !d.reason.is_empty() {
        status.insert("reason".into(), json!(d.reason));
    }
    if !d.evaluation_error.is_empty() {
        status.insert("evaluationError".into(), json!(d.evaluation_error));
    }
    Value::Object(status)
}

/// `spec.resourceAttributes` / `spec.nonResourceAttributes` as a request, or the field
/// errors kube's validation reports (`spec` is the path of the spec).
fn request_of(spec: &Value, kind: &str) -> Result<Request, Vec<FieldError>> {
    let resource = spec.get("resourceAttributes").filter(|v| !v.is_null());
    let non_resource = spec.get("nonResourceAttributes").filter(|v| !v.is_null());
    match (resource, non_resource) {
        (Some(_), Some(_)) => Err(vec![FieldError::invalid_raw(
            "spec.nonResourceAttributes",
            &non_resource.map(Value::to_string).unwrap_or_default(),
            "cannot be specified in combination with resourceAttributes",
        )]),
        (None, None) => Err(vec![FieldError::invalid_raw(
            "spec.resourceAttributes",
            "null",
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        )]),
        (Some(r), None) => Ok(Request::Resource(ResourceRequest {
            verb: str_of(r, "verb").to_owned(),
            namespace: str_of(r, "namespace").to_owned(),
            group: str_of(r, "group").to_owned(),
            version: str_of(r, "version").to_owned(),
            resource: str_of(r, "resource").to_owned(),
            subresource: str_of(r, "subresource").to_owned(),
            name: str_of(r, "name").to_owned(),
        })),
        (None, Some(n)) if kind == "LocalSubjectAccessReview" => {
            Err(vec![FieldError::invalid_raw(
                "spec.nonResourceAttributes",
                &n.to_string(),
                "disallowed on this kind of request",
            )])
        }
        (None, Some(n)) => Ok(Request::non_resource(str_of(n, "verb"), str_of(n, "path"))),
    }
}

fn invalid(kind: &str, errors: &[FieldError]) -> StatusError {
    let group = if kind.ends_with("AccessReview") || kind.ends_with("RulesReview") {
        "authorization.k8s.io"
    } else {
        "authentication.k8s.io"
    };
    StatusError::invalid(group, kind, "", errors)
}

/// The user a SubjectAccessReview asks about.
fn spec_user(spec: &Value) -> UserInfo {
    let mut user = UserInfo::new(str_of(spec, "user"))
        .with_uid(str_of(spec, "uid"))
        .with_groups(strings(spec, "groups"));
    if let Some(extra) = spec.get("extra").and_then(Value::as_object) {
        for (k, v) in extra {
            user = user.with_extra(
                k.clone(),
                v.as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_owned),
            );
        }
    }
    user
}

/// Answers a create on a review resource: the review with its `status`.
pub(crate) fn review(
    app: &App,
    def: &ResourceDef,
    namespace: Option<&str>,
    requester: &UserInfo,
    body: Value,
) -> Result<Value, StatusError> {
    let body = app.store.read().check_type(def, "v1", body)?;
    let spec = body.get("spec").cloned().unwrap_or_else(|| json!({}));
    let mut out = echo(&body);
    let kind = def.kind.as_str();
    out["status"] = match kind {
        "TokenReview" => token_review(app, &spec)?,
        "SelfSubjectReview" => json!({"userInfo": requester.to_json()}),
        "SubjectAccessReview" => {
            let request = request_of(&spec, kind);
            let mut errors = request.as_ref().err().cloned().unwrap_or_default();
            if str_of(&spec, "user").is_empty() && strings(&spec, "groups").is_empty() {
                errors.push(FieldError::invalid(
                    "spec.user",
                    "",
                    "at least one of user or group must be specified",
                ));
            }
            match request {
                Ok(r) if errors.is_empty() => {
                    decision_status(&rbac::authorize(&app.store.read(), &spec_user(&spec), &r))
                }
                _ => return Err(invalid(kind, &errors)),
            }
        }
        "LocalSubjectAccessReview" => {
            let request = request_of(&spec, kind).map_err(|e| invalid(kind, &e))?;
            let ns = namespace.unwrap_or_default();
            if let Request::Resource(r) = &request
                && r.namespace != ns
            {
                return Err(StatusError::bad_request(format!(
                    "spec.resourceAttributes.namespace must match namespace: {ns}"
                )));
            }
            decision_status(&rbac::authorize(
                &app.store.read(),
                &spec_user(&spec),
                &request,
            ))
        }
        "SelfSubjectAccessReview" => {
            let request = request_of(&spec, kind).map_err(|e| invalid(kind, &e))?;
            decision_status(&rbac::authorize(&app.store.read(), requester, &request))
        }
        "SelfSubjectRulesReview" => {
            let ns = str_of(&spec, "namespace");
            if ns.is_empty() {
                return Err(StatusError::bad_request("no namespace on request"));
            }
            let (rules, error) = rbac::rules_for(&app.store.read(), requester, ns);
            let mut resource_rules = Vec::new();
            let mut non_resource_rules = Vec::new();
            for r in rules {
                if !r.resources.is_empty() {
                    let mut rule = json!({"verbs": r.verbs, "apiGroups": r.api_groups, "resources": r.resources});
                    if !r.resource_names.is_empty() {
                        rule["resourceNames"] = json!(r.resource_names);
                    }
                    resource_rules.push(rule);
                }
                if !r.non_resource_urls.is_empty() {
                    non_resource_rules
                        .push(json!({"verbs": r.verbs, "nonResourceURLs": r.non_resource_urls}));
                }
            }
            let mut status = json!({
                "resourceRules": resource_rules,
                "nonResourceRules": non_resource_rules,
                "incomplete": false,
            });
            if let Some(e) = error {
                status["evaluationError"] = json!(e);
            }
            status
        }
        other => {
            return Err(StatusError::internal(format!("no review for kind {other}")));
        }
    };
    Ok(out)
}

fn token_review(app: &App, spec: &Value) -> Result<Value, StatusError> {
    let token = str_of(spec, "token");
    if token.is_empty() {
        return Err(StatusError::bad_request(
            "token is required for TokenReview in authentication.k8s.io",
        ));
    }
    let audiences = strings(spec, "audiences");
    let result = app.auth.tokens.review(token, &audiences, &app.store.read());
    Ok(match result {
        Ok(reviewed) => json!({
            "authenticated": true,
            "user": reviewed.user.authenticated().to_json(),
            "audiences": reviewed.audiences,
        }),
        Err(error) => {
            // Go leaves `authenticated: false` out (omitempty); `user` is a struct and stays.
            let mut status = json!({"user": {}});
            if let Some(e) = error {
                status["error"] = json!(e);
            }
            status
        }
    })
}

/// The shortest and default lifetime of a TokenRequest token, as kube-apiserver's.
const MIN_EXPIRATION: i64 = 600;
const DEFAULT_EXPIRATION: i64 = 3600;

/// A token issued for a ServiceAccount.
#[derive(Debug, Clone)]
pub(crate) struct Issued {
    pub token: String,
    pub audiences: Vec<String>,
    pub seconds: i64,
    pub expires: jiff::Timestamp,
}

/// Issues a token for ServiceAccount `namespace/name` as TokenRequest does: `audiences`
/// (empty: the API audience), `seconds` of validity (at least ten minutes).
pub(crate) fn issue_service_account_token(
    store: &Store,
    tokens: &Tokens,
    namespace: &str,
    name: &str,
    mut audiences: Vec<String>,
    seconds: i64,
) -> Result<Issued, StatusError> {
    let gr = GroupResource {
        group: String::new(),
        resource: "serviceaccounts".to_owned(),
    };
    let uid = {
        let state = store.read();
        let raw = state
            .object(&gr, &ObjKey::new(namespace, name))
            .ok_or_else(|| {
                StatusError::not_found(
                    crate::error::Subject {
                        group: "",
                        resource: "serviceaccounts",
                    },
                    name,
                )
            })?;
        let sa: Value = crate::store::parse(raw)?;
        sa.pointer("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    if seconds < MIN_EXPIRATION {
        return Err(StatusError::invalid(
            "authentication.k8s.io",
            "TokenRequest",
            name,
            &[FieldError::invalid_raw(
                "spec.expirationSeconds",
                &seconds.to_string(),
                "may not specify a duration less than 10 minutes",
            )],
        ));
    }
    if audiences.is_empty() {
        audiences = vec![API_AUDIENCE.to_owned()];
    }
    let expires = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_secs(seconds))
        .map_err(|e| StatusError::bad_request(format!("spec.expirationSeconds: {e}")))?;
    let expires = jiff::Timestamp::from_second(expires.as_second()).unwrap_or(expires);
    let (token, credential) = store.write(|s| (s.rng.hex(48), s.rng.uuid()));
    tokens.add_service_account(
        &token,
        (namespace, name, &uid),
        audiences.clone(),
        expires,
        &credential,
    );
    Ok(Issued {
        token,
        audiences,
        seconds,
        expires,
    })
}

/// `POST .../serviceaccounts/<name>/token`: a token for the ServiceAccount.
pub(crate) fn token_request(
    app: &App,
    namespace: &str,
    name: &str,
    body: Value,
) -> Result<Value, StatusError> {
    let kind = str_of(&body, "kind");
    if !kind.is_empty() && kind != "TokenRequest" {
        return Err(StatusError::bad_request(format!(
            "TokenRequest in version \"v1\" cannot be handled as a {kind}: the kind of the object in the body does not match the resource"
        )));
    }
    let spec = body.get("spec").cloned().unwrap_or_else(|| json!({}));
    let seconds = spec
        .get("expirationSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(DEFAULT_EXPIRATION);
    let issued = issue_service_account_token(
        &app.store,
        &app.auth.tokens,
        namespace,
        name,
        strings(&spec, "audiences"),
        seconds,
    )?;
    Ok(json!({
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": now_rfc3339()},
        "spec": {
            "audiences": issued.audiences,
            "expirationSeconds": issued.seconds,
            "boundObjectRef": spec.get("boundObjectRef").cloned().unwrap_or(Value::Null),
        },
        "status": {
            "token": issued.token,
            "expirationTimestamp": issued.expires.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        },
    }))
}
