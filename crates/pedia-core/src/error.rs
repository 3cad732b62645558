//! The one error type of query parsing: which parameter, which value, what is wrong.

use thiserror::Error;

/// A bad search request. Every parse failure names the parameter (or search label) and
/// the offending value, so the API can return it verbatim as a `400 Bad Request`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid value {value:?} for {parameter}: {reason}")]
pub struct QueryError {
    /// The URL parameter or search label, e.g. `limit` or `search.clusterpedia.io/since`.
    pub parameter: String,
    pub value: String,
    pub reason: String,
}

impl QueryError {
    pub fn new(
        parameter: impl Into<String>,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            parameter: parameter.into(),
            value: value.into(),
            reason: reason.into(),
        }
    }
}

/// Why a Kubernetes object could not be accepted for storage.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ObjectError {
    #[error("object is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("object has no metadata.name")]
    MissingName,
    #[error("object {name:?}: {reason}")]
    Invalid { name: String, reason: String },
}
