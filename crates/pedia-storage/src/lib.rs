//! `pedia-storage`: the storage-layer contract. The traits every layer implements
//! ([`StorageFactory`], [`ResourceStorage`]), the [`Registry`] of layers by name, the
//! shared [`StorageError`], the reference filter semantics, and (feature `conformance`)
//! the conformance suite every layer must pass.

mod collection;
mod contract;
mod error;
pub mod filter;
mod registry;
mod watch;
pub mod write_rules;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use collection::{CollectionResource, CollectionResourceType, KUBE_GROUPS};
pub use contract::{
    BatchOutcome, CollectionItem, CollectionList, Fence, ListResult, ListStream, ResourceStorage,
    ResourceVersions, Revision, StorageFactory, StoredResource, StoredVersion, WatchEvent,
    WatchEventType, WatchStream, WriteOp, object_key,
};
pub use error::{ErrorKind, Result, StorageError};
pub use registry::{DuplicateLayer, Registry, StorageLayer};
pub use watch::{WatchStart, watch_request};
