//! The wire format of plugin calls: which operation, its arguments as JSON, and objects as
//! raw byte blobs beside the JSON (never escaped into it). Host and plugin were built from
//! the same sources (the fingerprint guarantees it), so serde's derived formats agree.

use abi_stable::std_types::{RString, RVec};
use bytes::Bytes;
use pedia_core::{GroupVersionResource, ListOptions, ResourceType};
use pedia_storage::{
    BatchOutcome, CollectionResource, ErrorKind, Fence, Revision, StorageError, StoredResource,
    WatchEventType,
};
use serde::{Deserialize, Serialize};

use crate::ffi::{FfiError, FfiRequest, FfiResponse};

/// A storage call. Objects travel in the blobs of [`FfiRequest`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    PrepareCluster {
        cluster: String,
    },
    Get {
        resource: ResourceType,
        cluster: String,
        namespace: String,
        name: String,
    },
    List {
        resource: ResourceType,
        options: ListOptions,
    },
    Watch {
        resource: ResourceType,
        options: ListOptions,
        from: Revision,
    },
    /// Upserts refer to blobs by index, in order.
    ApplyBatch {
        resource: ResourceType,
        cluster: String,
        fence: Fence,
        ops: Vec<WireOp>,
    },
    StoredResources,
    ResourceVersions {
        cluster: String,
    },
    CollectionResources,
    ListCollection {
        collection: CollectionResource,
        options: ListOptions,
    },
    CleanCluster {
        cluster: String,
        fence: Fence,
    },
    CleanClusterResource {
        cluster: String,
        gvr: GroupVersionResource,
        fence: Fence,
    },
    CurrentRevision,
    Shutdown,
}

/// One write of a batch.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireOp {
    /// The object is blob number `blob`.
    Upsert { blob: usize },
    Delete {
        namespace: String,
        name: String,
        uid: Option<String>,
    },
}

/// Metadata of a list page; the items are the blobs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ListMeta {
    pub continue_token: Option<String>,
    pub remaining_count: Option<u64>,
    pub revision: Revision,
    /// For collection listings: the resource of each item, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourceType>,
}

/// Results of the calls that return only JSON.
pub type StoredResources = Vec<StoredResource>;
pub type Outcome = BatchOutcome;

/// Stable numeric codes of error kinds across the boundary.
pub fn kind_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::NotFound => 1,
        ErrorKind::BadRequest => 2,
        ErrorKind::Conflict => 3,
        ErrorKind::Unsupported => 4,
        ErrorKind::Expired => 5,
        ErrorKind::Unavailable => 6,
        ErrorKind::Internal => 7,
    }
}

pub fn kind_from_code(code: u8) -> ErrorKind {
    match code {
        1 => ErrorKind::NotFound,
        2 => ErrorKind::BadRequest,
        3 => ErrorKind::Conflict,
        4 => ErrorKind::Unsupported,
        5 => ErrorKind::Expired,
        6 => ErrorKind::Unavailable,
        _ => ErrorKind::Internal,
    }
}

pub fn event_code(t: WatchEventType) -> u8 {
    match t {
        WatchEventType::Added => 0,
        WatchEventType::Modified => 1,
        WatchEventType::Deleted => 2,
    }
}

pub fn event_from_code(code: u8) -> Option<WatchEventType> {
    match code {
        0 => Some(WatchEventType::Added),
        1 => Some(WatchEventType::Modified),
        2 => Some(WatchEventType::Deleted),
        _ => None,
    }
}

impl From<&StorageError> for FfiError {
    fn from(err: &StorageError) -> Self {
        FfiError {
            kind: kind_code(err.kind()),
            message: err.message().into(),
            detail: err.detail().into(),
        }
    }
}

/// An error that happened in the plugin, as the host sees it. The detail (with the plugin's
/// cause chain) is kept as the source, for logs.
pub fn storage_error(err: FfiError) -> StorageError {
    let kind = kind_from_code(err.kind);
    let detail = err.detail.into_string();
    let message = err.message.into_string();
    if detail.is_empty() || detail == message {
        StorageError::new(kind, message)
    } else {
        StorageError::new(kind, message).with_source(PluginDetail(detail))
    }
}

#[derive(Debug)]
struct PluginDetail(String);

impl std::fmt::Display for PluginDetail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "in plugin: {}", self.0)
    }
}

impl std::error::Error for PluginDetail {}

/// A malformed message across the boundary: a bug, reported as an internal error.
pub fn protocol_error(what: &str, err: impl std::fmt::Display) -> StorageError {
    StorageError::new(
        ErrorKind::Internal,
        format!("storage plugin protocol error ({what})"),
    )
    .with_source(PluginDetail(err.to_string()))
}

pub fn encode<T: Serialize>(value: &T) -> Result<RString, StorageError> {
    serde_json::to_string(value)
        .map(RString::from)
        .map_err(|e| protocol_error("encoding", e))
}

pub fn decode<'a, T: Deserialize<'a>>(json: &'a str) -> Result<T, StorageError> {
    serde_json::from_str(json).map_err(|e| protocol_error("decoding", e))
}

/// Builds a request with blobs.
pub fn request(req: &Request, blobs: Vec<Bytes>) -> Result<FfiRequest, StorageError> {
    Ok(FfiRequest {
        json: encode(req)?,
        blobs: blobs.into_iter().map(|b| RVec::from(b.to_vec())).collect(),
    })
}

/// Builds a response with blobs.
pub fn response<T: Serialize>(meta: &T, blobs: Vec<Bytes>) -> Result<FfiResponse, StorageError> {
    Ok(FfiResponse {
        json: encode(meta)?,
        blobs: blobs.into_iter().map(|b| RVec::from(b.to_vec())).collect(),
    })
}

/// Takes ownership of a blob as `Bytes`.
pub fn blob_bytes(blob: RVec<u8>) -> Bytes {
    Bytes::from(blob.into_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_through_json() {
        let options =
            ListOptions::from_query("labelSelector=app%3Dweb&limit=5&orderby=name%20desc")
                .expect("query");
        let req = Request::List {
            resource: ResourceType::new(GroupVersionResource::new("", "v1", "pods"), "Pod", true),
            options: options.clone(),
        };
        let json = encode(&req).expect("encode");
        match decode::<Request>(&json).expect("decode") {
            Request::List { options: back, .. } => assert_eq!(back, options),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn error_kinds_survive_the_boundary() {
        for kind in [
            ErrorKind::NotFound,
            ErrorKind::BadRequest,
            ErrorKind::Conflict,
            ErrorKind::Unsupported,
            ErrorKind::Expired,
            ErrorKind::Unavailable,
            ErrorKind::Internal,
        ] {
            let err = StorageError::new(kind, "boom");
            let back = storage_error(FfiError::from(&err));
            assert_eq!(back.kind(), kind);
            assert_eq!(back.message(), "boom");
        }
    }
}
