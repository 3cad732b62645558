//! Starting a watch the way kube-apiserver does for a request's `resourceVersion`.

use futures::StreamExt;
use pedia_core::ListOptions;

use crate::contract::{ResourceStorage, Revision, WatchEvent, WatchEventType, WatchStream};
use crate::error::{Result, StorageError};

/// Where a watch request starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchStart {
    /// `resourceVersion` unset or `0`: first the current objects as `ADDED`, then changes.
    InitialState,
    /// `resourceVersion=N`: changes after revision N.
    After(Revision),
}

impl WatchStart {
    pub fn from_options(opts: &ListOptions) -> Result<Self> {
        match opts.resource_version.as_deref() {
            None | Some("") | Some("0") => Ok(WatchStart::InitialState),
            Some(rv) => rv.parse().map(WatchStart::After).map_err(|_| {
                StorageError::bad_request(format!(
                    "invalid value {rv:?} for resourceVersion: must be a resource version returned by this server"
                ))
            }),
        }
    }
}

/// Opens a watch on `storage` as `opts.resource_version` asks.
pub async fn watch_request(
    storage: &dyn ResourceStorage,
    opts: &ListOptions,
) -> Result<WatchStream> {
    match WatchStart::from_options(opts)? {
        WatchStart::After(rev) => storage.watch(opts, rev).await,
        WatchStart::InitialState => {
            let mut list_opts = opts.clone();
            list_opts.limit = None;
            list_opts.continue_token = None;
            let listed = storage.list(&list_opts).await?;
            let revision = listed.revision;
            let initial = listed.items.into_iter().map(move |object| {
                Ok(WatchEvent {
                    event_type: WatchEventType::Added,
                    revision,
                    object,
                })
            });
            let changes = storage.watch(opts, revision).await?;
            Ok(futures::stream::iter(initial).chain(changes).boxed())
        }
    }
}
