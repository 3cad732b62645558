//! The storage error type shared by every layer, and its mapping to HTTP status codes.

use std::error::Error as StdError;
use std::fmt;

use pedia_core::{ObjectError, QueryError};

/// What kind of failure a storage call had; decides the HTTP status the API returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ErrorKind {
    /// 404: the object or resource does not exist.
    NotFound,
    /// 400: the request is malformed (bad selector, bad continue token, ...).
    BadRequest,
    /// 409: the write conflicts with stored state.
    Conflict,
    /// 405: this layer does not support the requested feature.
    Unsupported,
    /// 410: the requested resource version is older than the layer keeps.
    Expired,
    /// 503: the backend is unreachable or overloaded; retrying may succeed.
    Unavailable,
    /// 500: a bug or unexpected backend state. Details are logged, never returned.
    Internal,
}

impl ErrorKind {
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::NotFound => 404,
            ErrorKind::BadRequest => 400,
            ErrorKind::Conflict => 409,
            ErrorKind::Unsupported => 405,
            ErrorKind::Expired => 410,
            ErrorKind::Unavailable => 503,
            ErrorKind::Internal => 500,
        }
    }

    /// The `reason` of a Kubernetes `Status` with this code.
    pub fn status_reason(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "NotFound",
            ErrorKind::BadRequest => "BadRequest",
            ErrorKind::Conflict => "Conflict",
            ErrorKind::Unsupported => "MethodNotAllowed",
            ErrorKind::Expired => "Expired",
            ErrorKind::Unavailable => "ServiceUnavailable",
            ErrorKind::Internal => "InternalError",
        }
    }

    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorKind::Unavailable)
    }
}

/// A storage failure: a kind, a message that is safe to show a client, and optionally the
/// underlying cause (for logs only).
#[derive(Debug)]
pub struct StorageError {
    kind: ErrorKind,
    message: String,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

impl StorageError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// Attaches the underlying cause; it is logged but never sent to clients.
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }

    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }

    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Expired, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }

    /// An internal error: `context` says what was being done (shown to clients as a
    /// generic message), `source` has the details (logged).
    pub fn internal(
        context: impl Into<String>,
        source: impl StdError + Send + Sync + 'static,
    ) -> Self {
        Self::new(ErrorKind::Internal, context).with_source(source)
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The client-safe message. For internal errors it says what failed, not why.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The full chain of causes, for logs.
    pub fn detail(&self) -> String {
        let mut out = self.message.clone();
        let mut next = self
            .source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static));
        while let Some(err) = next {
            out.push_str(": ");
            out.push_str(&err.to_string());
            next = err.source();
        }
        out
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for StorageError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

impl From<QueryError> for StorageError {
    fn from(err: QueryError) -> Self {
        StorageError::bad_request(err.to_string())
    }
}

impl From<ObjectError> for StorageError {
    fn from(err: ObjectError) -> Self {
        StorageError::bad_request(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_keep_details_out_of_the_message() {
        let io = std::io::Error::other("password authentication failed for user root");
        let err = StorageError::internal("listing pods", io);
        assert_eq!(err.message(), "listing pods");
        assert!(err.detail().contains("password authentication failed"));
        assert_eq!(err.kind().http_status(), 500);
    }

    #[test]
    fn query_errors_are_bad_requests_naming_the_parameter() {
        let err: StorageError = QueryError::new("limit", "-1", "must not be negative").into();
        assert_eq!(err.kind(), ErrorKind::BadRequest);
        assert!(err.message().contains("limit"));
        assert!(err.message().contains("-1"));
    }
}
