//! Protobuf request bodies for the few kinds kubectl 1.33 creates through its typed,
//! protobuf-speaking clients that matter in scripts: `kubectl create configmap`, `secret`,
//! `namespace`, `serviceaccount`, `role`, `clusterrole`, `rolebinding` and
//! `clusterrolebinding`, `kubectl create token` (TokenRequest), `kubectl auth
//! can-i` (SelfSubjectAccessReview, SelfSubjectRulesReview for `--list`), `kubectl auth
//! whoami` (SelfSubjectReview), and the reviews client-go's delegating authenticator and
//! authorizer send (TokenReview, SubjectAccessReview). A body is kube's envelope (`k8s\0` + `runtime.Unknown`)
//! around the object's message; it is decoded into the JSON object with the field numbers
//! of Kubernetes' `generated.proto` written down here. Other kinds are refused with `415`
//! (responses are always JSON, which every client accepts).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use crate::error::StatusError;

/// How one field is encoded.
#[derive(Debug, Clone, Copy)]
enum Ty {
    Str,
    /// `bytes`, base64 in JSON.
    Bytes,
    Int,
    Bool,
    /// `metav1.Time`: `{seconds, nanos}`, RFC 3339 in JSON.
    Time,
    Msg(&'static [Field]),
    /// `map<string, string>`.
    StrMap,
    /// `map<string, bytes>`.
    BytesMap,
    /// `map<string, ExtraValue>` (`ExtraValue`: `repeated string items = 1`), a map of
    /// string lists in JSON.
    ExtraMap,
}

#[derive(Debug)]
struct Field {
    num: u64,
    name: &'static str,
    ty: Ty,
    repeated: bool,
}

const fn f(num: u64, name: &'static str, ty: Ty) -> Field {
    Field {
        num,
        name,
        ty,
        repeated: false,
    }
}

const fn list(num: u64, name: &'static str, ty: Ty) -> Field {
    Field {
        num,
        name,
        ty,
        repeated: true,
    }
}

const OWNER_REFERENCE: &[Field] = &[
    f(1, "kind", Ty::Str),
    f(3, "name", Ty::Str),
    f(4, "uid", Ty::Str),
    f(5, "apiVersion", Ty::Str),
    f(6, "controller", Ty::Bool),
    f(7, "blockOwnerDeletion", Ty::Bool),
];

const OBJECT_META: &[Field] = &[
    f(1, "name", Ty::Str),
    f(2, "generateName", Ty::Str),
    f(3, "namespace", Ty::Str),
    f(5, "uid", Ty::Str),
    f(6, "resourceVersion", Ty::Str),
    f(7, "generation", Ty::Int),
    f(8, "creationTimestamp", Ty::Time),
    f(11, "labels", Ty::StrMap),
    f(12, "annotations", Ty::StrMap),
    list(13, "ownerReferences", Ty::Msg(OWNER_REFERENCE)),
    list(14, "finalizers", Ty::Str),
];

const CONFIG_MAP: &[Field] = &[
    f(1, "metadata", Ty::Msg(OBJECT_META)),
    f(2, "data", Ty::StrMap),
    f(3, "binaryData", Ty::BytesMap),
    f(4, "immutable", Ty::Bool),
];

const SECRET: &[Field] = &[
    f(1, "metadata", Ty::Msg(OBJECT_META)),
    f(2, "data", Ty::BytesMap),
    f(3, "type", Ty::Str),
    f(4, "stringData", Ty::StrMap),
    f(5, "immutable", Ty::Bool),
];

const NAMESPACE: &[Field] = &[
    f(1, "metadata", Ty::Msg(OBJECT_META)),
    f(2, "spec", Ty::Msg(&[list(1, "finalizers", Ty::Str)])),
    f(3, "status", Ty::Msg(&[f(1, "phase", Ty::Str)])),
];

const OBJECT_REFERENCE: &[Field] = &[
    f(1, "kind", Ty::Str),
    f(2, "namespace", Ty::Str),
    f(3, "name", Ty::Str),
    f(4, "uid", Ty::Str),
    f(5, "apiVersion", Ty::Str),
    f(6, "resourceVersion", Ty::Str),
    f(7, "fieldPath", Ty::Str),
];

const SERVICE_ACCOUNT: &[Field] = &[
    f(1, "metadata", Ty::Msg(OBJECT_META)),
    list(2, "secrets", Ty::Msg(OBJECT_REFERENCE)),
    list(3, "imagePullSecrets", Ty::Msg(&[f(1, "name", Ty::Str)])),
    f(4, "automountServiceAccountToken", Ty::Bool),
];

const TOKEN_REQUEST: &[Field] = &[
    f(1, "metadata", Ty::Msg(OBJECT_META)),
    f(
        2,
        "spec",
        Ty::Msg(&[
            list(1, "audiences", Ty::Str),
            f(
                3,
                "boundObjectRef",
                Ty::Msg(&[
                    f(1, "kind", Ty::Str),
                    f(2, "apiVersion", Ty::Str),
                    f(3, "name", Ty::Str),
                    f(4, "uid", Ty::Str),
                ]),
            ),
            f(4, "expirationSeconds", Ty::Int),
        ]),
    ),
];

const TOKEN_REVIEW: &[Field] = &[
    f(1, "metadata", Ty::Msg(OBJECT_META)),
    f(
        2,
        "spec",
        Ty::Msg(&[f(1, "token", Ty::Str), list(2, "audiences", Ty::Str)]),
    ),
];

const SELF_SUBJECT_REVIEW: &[Field] = &[f(1, "metadata", Ty::Msg(OBJECT_META))];

const RESOURCE_ATTRIBUTES: &[Field] = &[
    f(1, "namespace", Ty::Str),
    f(2, "verb", Ty::Str),
    f(3, "group", Ty::Str),
    f(4, "version", Ty::Str),
    f(5, "resource", Ty::Str),
    f(6, "subresource", Ty::Str),
    f(7, "name", Ty::Str),
];

const NON_RESOURCE_ATTRIBUTES: &[Field] = &[f(1, "path", Ty::Str), f(2, "verb", Ty::Str)];

/// SubjectAccessReview and LocalSubjectAccessReview.
const SUBJECT_ACCESS_REVIEW: &[Field] = &[
    f(1, "metadata", Ty::Msg(OBJECT_META)),
    f(
        2,
        "spec",
        Ty::Msg(&[
            f(1, "resourceAttributes", Ty::Msg(RESOURCE_ATTRIBUTES)),
            f(2, "nonResourceAttributes", Ty::Msg(NON_RESOURCE_ATTRIBUTES)),
            f(3, "user", Ty::Str),
            list(4, "groups", Ty::Str),
            f(5, "extra", Ty::ExtraMap),
            f(6, "uid", Ty::Str),
        ]),
    ),
];

const SELF_SUBJECT_ACCESS_REVIEW: &[Field] = &[
    f(1, "metadata", Ty::Msg(OBJECT_META)),
    f(
        2,
        "spec",
        Ty::Msg(&[
            f(1, "resourceAttributes", Ty::Msg(RESOURCE_ATTRIBUTES)),
            f(2, "nonResourceAttributes", Ty::Msg(NON_RESOURCE_ATTRIBUTES)),
        ]),
    ),
];

const SELF_SUBJECT_RULES_REVIEW: &[Field] = &[
    f(1, "metadata", Ty::Msg(OBJECT_META)),
    f(2, "spec", Ty::Msg(&[f(1, "namespace", Ty::Str)])),
];

const POLICY_RULE: &[Field] = &[
    list(1, "verbs", Ty::Str),
    list(2, "apiGroups", Ty::Str),
    list(3, "resources", Ty::Str),
    list(4, "resourceNames", Ty::Str),
    list(5, "nonResourceURLs", Ty::Str),
];

const LABEL_SELECTOR: &[Field] = &[
    f(1, "matchLabels", Ty::StrMap),
    list(
        2,
        "matchExpressions",
        Ty::Msg(&[
            f(1, "key", Ty::Str),
            f(2, "operator", Ty::Str),
            list(3, "values", Ty::Str),
        ]),
    ),
];

/// Role (no field 3) and ClusterRole.
const ROLE: &[Field] = &[
    f(1, "metadata", Ty::Msg(OBJECT_META)),
    list(2, "rules", Ty::Msg(POLICY_RULE)),
    f(
        3,
        "aggregationRule",
        Ty::Msg(&[list(1, "clusterRoleSelectors", Ty::Msg(LABEL_SELECTOR))]),
    ),
];

/// RoleBinding and ClusterRoleBinding.
const BINDING: &[Field] = &[
    f(1, "metadata", Ty::Msg(OBJECT_META)),
    list(
        2,
        "subjects",
        Ty::Msg(&[
            f(1, "kind", Ty::Str),
            f(2, "apiGroup", Ty::Str),
            f(3, "name", Ty::Str),
            f(4, "namespace", Ty::Str),
        ]),
    ),
    f(
        3,
        "roleRef",
        Ty::Msg(&[
            f(1, "apiGroup", Ty::Str),
            f(2, "kind", Ty::Str),
            f(3, "name", Ty::Str),
        ]),
    ),
];

const UNKNOWN: &[Field] = &[
    f(
        1,
        "typeMeta",
        Ty::Msg(&[f(1, "apiVersion", Ty::Str), f(2, "kind", Ty::Str)]),
    ),
    f(2, "raw", Ty::Bytes),
];

/// A protobuf field's value, undecoded.
enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

struct Reader<'a> {
    buf: &'a [u8],
}

fn malformed() -> String {
    "malformed protobuf".to_owned()
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self.buf.split_first().ok_or_else(malformed)?;
            self.buf = rest;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(malformed())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.buf.len() < n {
            return Err(malformed());
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn field(&mut self) -> Result<Option<(u64, Wire<'a>)>, String> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let wire = match key & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Wire::Fixed
            }
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|_| malformed())?;
                Wire::Bytes(self.take(len)?)
            }
            5 => {
                self.take(4)?;
                Wire::Fixed
            }
            _ => return Err(malformed()),
        };
        Ok(Some((key >> 3, wire)))
    }
}

fn text(b: &[u8]) -> Result<String, String> {
    String::from_utf8(b.to_vec()).map_err(|_| "a protobuf string is not UTF-8".to_owned())
}

/// A map entry: key 1, value 2.
fn entry(b: &[u8]) -> Result<(String, &[u8]), String> {
    let mut r = Reader { buf: b };
    let (mut key, mut value) = (String::new(), &b[..0]);
    while let Some((num, wire)) = r.field()? {
        match (num, wire) {
            (1, Wire::Bytes(k)) => key = text(k)?,
            (2, Wire::Bytes(v)) => value = v,
            _ => {}
        }
    }
    Ok((key, value))
}

fn time(b: &[u8]) -> Result<Value, String> {
    let mut r = Reader { buf: b };
    let mut seconds = 0i64;
    while let Some((num, wire)) = r.field()? {
        if let (1, Wire::Varint(v)) = (num, wire) {
            seconds = i64::from_ne_bytes(v.to_ne_bytes());
        }
    }
    let t = jiff::Timestamp::from_second(seconds).map_err(|e| e.to_string())?;
    Ok(json!(t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()))
}

fn decode_message(b: &[u8], schema: &[Field]) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    let mut r = Reader { buf: b };
    while let Some((num, wire)) = r.field()? {
        let Some(field) = schema.iter().find(|f| f.num == num) else {
            continue;
        };
        let value = match (field.ty, wire) {
            // Go marshals unset strings as empty ones; JSON omits them.
            (Ty::Str, Wire::Bytes([])) if !field.repeated => continue,
            (Ty::Str, Wire::Bytes(v)) => json!(text(v)?),
            (Ty::Bytes, Wire::Bytes(v)) => json!(STANDARD.encode(v)),
            (Ty::Int, Wire::Varint(v)) => json!(i64::from_ne_bytes(v.to_ne_bytes())),
            (Ty::Bool, Wire::Varint(v)) => json!(v != 0),
            (Ty::Time, Wire::Bytes(v)) => time(v)?,
            (Ty::Msg(s), Wire::Bytes(v)) => Value::Object(decode_message(v, s)?),
            (Ty::StrMap | Ty::BytesMap | Ty::ExtraMap, Wire::Bytes(v)) => {
                let (k, val) = entry(v)?;
                let val = match field.ty {
                    Ty::BytesMap => json!(STANDARD.encode(val)),
                    Ty::ExtraMap => {
                        let items = decode_message(val, &[list(1, "items", Ty::Str)])?;
                        items.get("items").cloned().unwrap_or_else(|| json!([]))
                    }
                    _ => json!(text(val)?),
                };
                let map = out.entry(field.name).or_insert_with(|| json!({}));
                if let Some(m) = map.as_object_mut() {
                    m.insert(k, val);
                }
                continue;
            }
            _ => return Err(format!("unexpected encoding of field {}", field.name)),
        };
        if field.repeated {
            let items = out.entry(field.name).or_insert_with(|| json!([]));
            if let Some(a) = items.as_array_mut() {
                a.push(value);
            }
        } else {
            out.insert(field.name.to_owned(), value);
        }
    }
    Ok(out)
}

/// Decodes a protobuf request body into the JSON object it carries.
pub(crate) fn decode(body: &[u8]) -> Result<Value, StatusError> {
    let unsupported = |why: String| {
        StatusError::unsupported_media_type(format!(
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml ({why}; kube-sim decodes protobuf only for ConfigMaps, Secrets, Namespaces, ServiceAccounts, RBAC objects, TokenRequests and the authentication and authorization reviews)"
        ))
    };
    let envelope = body
        .strip_prefix(b"k8s\0")
        .ok_or_else(|| unsupported("no protobuf envelope".to_owned()))?;
    let unknown = decode_message(envelope, UNKNOWN).map_err(unsupported)?;
    let api_version = unknown["typeMeta"]["apiVersion"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let kind = unknown["typeMeta"]["kind"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let schema = match (api_version.as_str(), kind.as_str()) {
        ("v1", "ConfigMap") => CONFIG_MAP,
        ("v1", "Secret") => SECRET,
        ("v1", "Namespace") => NAMESPACE,
        ("v1", "ServiceAccount") => SERVICE_ACCOUNT,
        ("rbac.authorization.k8s.io/v1", "Role" | "ClusterRole") => ROLE,
        ("rbac.authorization.k8s.io/v1", "RoleBinding" | "ClusterRoleBinding") => BINDING,
        ("authentication.k8s.io/v1", "TokenRequest") => TOKEN_REQUEST,
        ("authentication.k8s.io/v1", "TokenReview") => TOKEN_REVIEW,
        ("authentication.k8s.io/v1", "SelfSubjectReview") => SELF_SUBJECT_REVIEW,
        ("authorization.k8s.io/v1", "SubjectAccessReview" | "LocalSubjectAccessReview") => {
            SUBJECT_ACCESS_REVIEW
        }
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview") => SELF_SUBJECT_ACCESS_REVIEW,
        ("authorization.k8s.io/v1", "SelfSubjectRulesReview") => SELF_SUBJECT_RULES_REVIEW,
        _ => return Err(unsupported(format!("a protobuf {kind} of {api_version}"))),
    };
    let raw = unknown["raw"]
        .as_str()
        .and_then(|r| STANDARD.decode(r).ok())
        .unwrap_or_default();
    let mut object = decode_message(&raw, schema).map_err(unsupported)?;
    object.insert("apiVersion".into(), json!(api_version));
    object.insert("kind".into(), json!(kind));
    Ok(Value::Object(object))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(num: u64, wire: u64, out: &mut Vec<u8>) {
        varint((num << 3) | wire, out);
    }

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        loop {
            let b = u8::try_from(v & 0x7f).unwrap_or(0);
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    fn bytes(num: u64, b: &[u8], out: &mut Vec<u8>) {
        key(num, 2, out);
        varint(b.len() as u64, out);
        out.extend_from_slice(b);
    }

    fn map_entry(num: u64, k: &str, v: &[u8], out: &mut Vec<u8>) {
        let mut e = Vec::new();
        bytes(1, k.as_bytes(), &mut e);
        bytes(2, v, &mut e);
        bytes(num, &e, out);
    }

    #[test]
    fn decodes_a_config_map() {
        let mut meta = Vec::new();
        bytes(1, b"settings", &mut meta);
        bytes(3, b"default", &mut meta);
        map_entry(11, "app", b"web", &mut meta);
        bytes(14, b"example.com/hold", &mut meta);
        let mut cm = Vec::new();
        bytes(1, &meta, &mut cm);
        map_entry(2, "a", b"b", &mut cm);
        map_entry(3, "bin", &[0, 1], &mut cm);
        key(4, 0, &mut cm);
        varint(1, &mut cm);
        key(99, 0, &mut cm);
        varint(7, &mut cm);
        let mut type_meta = Vec::new();
        bytes(1, b"v1", &mut type_meta);
        bytes(2, b"ConfigMap", &mut type_meta);
        let mut body = b"k8s\0".to_vec();
        bytes(1, &type_meta, &mut body);
        bytes(2, &cm, &mut body);
        let obj = decode(&body).expect("decodes");
        assert_eq!(
            obj,
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "settings", "namespace": "default", "labels": {"app": "web"}, "finalizers": ["example.com/hold"]},
                   "data": {"a": "b"}, "binaryData": {"bin": "AAE="}, "immutable": true})
        );
    }

    #[test]
    fn decodes_a_subject_access_review() {
        let mut attrs = Vec::new();
        bytes(1, b"team", &mut attrs);
        bytes(2, b"get", &mut attrs);
        bytes(3, b"", &mut attrs);
        bytes(5, b"pods", &mut attrs);
        bytes(6, b"log", &mut attrs);
        let mut extra_value = Vec::new();
        bytes(1, b"a", &mut extra_value);
        bytes(1, b"b", &mut extra_value);
        let mut spec = Vec::new();
        bytes(1, &attrs, &mut spec);
        bytes(3, b"alice", &mut spec);
        bytes(4, b"devs", &mut spec);
        map_entry(5, "scopes", &extra_value, &mut spec);
        let mut sar = Vec::new();
        bytes(1, &[], &mut sar);
        bytes(2, &spec, &mut sar);
        let mut type_meta = Vec::new();
        bytes(1, b"authorization.k8s.io/v1", &mut type_meta);
        bytes(2, b"SubjectAccessReview", &mut type_meta);
        let mut body = b"k8s\0".to_vec();
        bytes(1, &type_meta, &mut body);
        bytes(2, &sar, &mut body);
        let obj = decode(&body).expect("decodes");
        assert_eq!(
            obj["spec"],
            json!({"resourceAttributes": {"namespace": "team", "verb": "get", "resource": "pods", "subresource": "log"},
                   "user": "alice", "groups": ["devs"], "extra": {"scopes": ["a", "b"]}})
        );
    }

    #[test]
    fn refuses_other_kinds_and_garbage() {
        let mut type_meta = Vec::new();
        bytes(1, b"v1", &mut type_meta);
        bytes(2, b"Pod", &mut type_meta);
        let mut body = b"k8s\0".to_vec();
        bytes(1, &type_meta, &mut body);
        assert_eq!(decode(&body).map_err(|e| e.code).err(), Some(415));
        assert_eq!(decode(b"k8s\0\xff").map_err(|e| e.code).err(), Some(415));
        assert_eq!(decode(b"{}").map_err(|e| e.code).err(), Some(415));
    }
}
