//! The PATCH formats kube-apiserver accepts: JSON merge patch (RFC 7386), JSON patch
//! (RFC 6902) and strategic merge patch (built-in kinds only, as in kube). Server-side
//! apply is refused with `415`.

pub mod json;
pub mod merge;
pub mod strategic;

use serde_json::Value;

use crate::error::StatusError;

/// A PATCH body format, from its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// `application/merge-patch+json`
    Merge,
    /// `application/strategic-merge-patch+json`
    Strategic,
    /// `application/json-patch+json`
    Json,
    /// `application/apply-patch+yaml` (and `+cbor`): server-side apply, not supported.
    Apply,
}

impl PatchType {
    /// The patch type of a `Content-Type` header value, parameters ignored.
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let media = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match media.as_str() {
            "application/merge-patch+json" => Some(Self::Merge),
            "application/strategic-merge-patch+json" => Some(Self::Strategic),
            "application/json-patch+json" => Some(Self::Json),
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => Some(Self::Apply),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Merge => "application/merge-patch+json",
            Self::Strategic => "application/strategic-merge-patch+json",
            Self::Json => "application/json-patch+json",
            Self::Apply => "application/apply-patch+yaml",
        }
    }
}

fn accepted(custom: bool) -> String {
    let mut types = vec![
        "application/json-patch+json",
        "application/merge-patch+json",
    ];
    if !custom {
        types.push("application/strategic-merge-patch+json");
    }
    format!(
        "the body of the request was in an unknown format - accepted media types include: {}",
        types.join(", ")
    )
}

/// `415` for a Content-Type that is no patch format kube-sim applies.
pub fn unsupported(custom: bool) -> StatusError {
    StatusError::unsupported_media_type(accepted(custom))
}

/// `415` for server-side apply, which kube-sim does not implement.
pub fn server_side_apply() -> StatusError {
    StatusError::unsupported_media_type(format!(
        "server-side apply ({}) is not supported by kube-sim; use a merge, strategic merge or JSON patch, or kubectl apply without --server-side",
        PatchType::Apply.content_type()
    ))
}

/// Applies `body` of `patch_type` to `target`, an object of `kind` (`custom` for custom
/// resources, which kube refuses strategic merge patches for).
pub fn apply(
    kind: &str,
    custom: bool,
    target: &Value,
    patch_type: PatchType,
    body: &[u8],
) -> Result<Value, StatusError> {
    match patch_type {
        PatchType::Apply => Err(server_side_apply()),
        PatchType::Strategic if custom => Err(StatusError::unsupported_media_type(accepted(true))),
        PatchType::Merge | PatchType::Strategic => {
            let patch: Value = serde_json::from_slice(body)
                .map_err(|e| StatusError::bad_request(format!("error decoding patch: {e}")))?;
            if !patch.is_object() {
                return Err(StatusError::bad_request(
                    "error decoding patch: the patch is not a JSON object",
                ));
            }
            if patch_type == PatchType::Merge {
                Ok(merge::merge_patch(target, &patch))
            } else {
                strategic::strategic_merge(kind, target, &patch).map_err(|e| {
                    StatusError::new(422, "Invalid", format!("strategic merge patch: {e}"))
                })
            }
        }
        PatchType::Json => {
            let ops: Value = serde_json::from_slice(body)
                .map_err(|e| StatusError::bad_request(format!("error decoding patch: {e}")))?;
            json::apply(target, &ops).map_err(|e| match e {
                json::PatchError::Malformed(m) => {
                    StatusError::bad_request(format!("error decoding patch: {m}"))
                }
                json::PatchError::Failed(m) => StatusError::new(422, "Invalid", m),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(
            PatchType::from_content_type("application/merge-patch+json; charset=utf-8"),
            Some(PatchType::Merge)
        );
        assert_eq!(
            PatchType::from_content_type("application/apply-patch+yaml"),
            Some(PatchType::Apply)
        );
        assert_eq!(PatchType::from_content_type("application/json"), None);
    }

    #[test]
    fn strategic_is_refused_for_custom_resources() {
        let err = apply(
            "Widget",
            true,
            &serde_json::json!({}),
            PatchType::Strategic,
            b"{}",
        )
        .expect_err("415");
        assert_eq!(err.code, 415);
        let err = apply(
            "Pod",
            false,
            &serde_json::json!({}),
            PatchType::Apply,
            b"{}",
        )
        .expect_err("415");
        assert!(err.message.contains("server-side apply"), "{}", err.message);
    }
}
