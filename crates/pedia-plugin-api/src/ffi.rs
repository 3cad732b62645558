//! The FFI surface between host and plugin, kept deliberately small: a root module with
//! three functions, a factory object with three async methods, a watch object and a list
//! stream object. Requests
//! and responses are JSON plus raw object bytes (see [`crate::wire`]), so the storage
//! contract can grow without changing these types. This is the only module that names
//! abi_stable types; replacing the ABI crate touches nothing else.

// The `#[sabi_trait]` expansion defines impls inside a const item, which trips this lint.
#![allow(non_local_definitions)]
// This module is the FFI boundary: abi_stable's derives emit unsafe impls of Send/Sync and
// vtable calls for the trait objects. Their soundness rests on abi_stable's layout checks at
// load time, which the host runs on every plugin.
#![allow(unsafe_code)]

use abi_stable::library::RootModule;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::{RBox, ROption, RResult, RStr, RString, RVec};
use abi_stable::{StableAbi, declare_root_module_statics, sabi_trait};
use async_ffi::FfiFuture;

/// A failed call: an error kind code ([`crate::wire::kind_code`]), a client-safe message
/// and details for logs.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct FfiError {
    pub kind: u8,
    pub message: RString,
    pub detail: RString,
}

/// A call: a JSON-encoded [`crate::wire::Request`] and the raw objects it carries.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct FfiRequest {
    pub json: RString,
    pub blobs: RVec<RVec<u8>>,
}

/// A call's result: JSON metadata and raw objects.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct FfiResponse {
    pub json: RString,
    pub blobs: RVec<RVec<u8>>,
}

/// One watch event: type code (0 added, 1 modified, 2 deleted), revision, object bytes.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct FfiWatchEvent {
    pub event_type: u8,
    pub revision: u64,
    pub object: RVec<u8>,
}

/// A storage factory living in the plugin.
#[sabi_trait]
pub trait FfiFactory: Send + Sync {
    /// Runs one request on the plugin's runtime.
    fn call(&self, request: FfiRequest) -> FfiFuture<RResult<FfiResponse, FfiError>>;

    /// Opens a watch on the plugin's runtime.
    fn watch(&self, request: FfiRequest) -> FfiFuture<RResult<FfiWatchBox, FfiError>>;

    /// Starts a streamed list (a `List` request) on the plugin's runtime.
    #[sabi(last_prefix_field)]
    fn list_stream(&self, request: FfiRequest) -> FfiFuture<RResult<FfiListStream, FfiError>>;
}

/// An owned factory object.
pub type FfiFactoryBox = FfiFactory_TO<'static, RBox<()>>;

/// A watch stream living in the plugin. Dropping it stops the watch.
#[sabi_trait]
pub trait FfiWatch: Send + Sync {
    /// The next event; `None` when the stream ended.
    #[sabi(last_prefix_field)]
    fn next(&self) -> FfiFuture<ROption<RResult<FfiWatchEvent, FfiError>>>;
}

/// An owned watch object.
pub type FfiWatchBox = FfiWatch_TO<'static, RBox<()>>;

/// A list streamed out of the plugin: its metadata (a JSON [`crate::wire::ListMeta`]) and
/// its items, which follow in bounded chunks.
#[allow(missing_debug_implementations)]
#[repr(C)]
#[derive(StableAbi)]
pub struct FfiListStream {
    pub json: RString,
    pub items: FfiItemsBox,
}

/// A chunk of a streamed list's items, each the object's bytes.
pub type FfiChunk = RVec<RVec<u8>>;

/// The items of a streamed list, living in the plugin. Dropping it stops the list.
#[sabi_trait]
pub trait FfiItems: Send + Sync {
    /// The next chunk of items; `None` when the list is complete.
    #[sabi(last_prefix_field)]
    fn next(&self) -> FfiFuture<ROption<RResult<FfiChunk, FfiError>>>;
}

/// An owned item-chunk stream object.
pub type FfiItemsBox = FfiItems_TO<'static, RBox<()>>;

/// The root module every storage plugin exports.
#[allow(missing_debug_implementations)]
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginModuleRef)))]
#[sabi(missing_field(panic))]
pub struct PluginModule {
    /// The storage layer name (`--storage-name`).
    pub name: extern "C" fn() -> RStr<'static>,
    /// The build fingerprint compiled into the plugin.
    pub fingerprint: extern "C" fn() -> RStr<'static>,
    /// Opens the layer with the `--storage-config` path, if any.
    #[sabi(last_prefix_field)]
    pub open:
        extern "C" fn(config: ROption<RString>) -> FfiFuture<RResult<FfiFactoryBox, FfiError>>,
}

impl RootModule for PluginModuleRef {
    declare_root_module_statics! {PluginModuleRef}

    const BASE_NAME: &'static str = "pedia_storage_plugin";
    const NAME: &'static str = "pedia storage plugin";
    const VERSION_STRINGS: VersionStrings = crate::INTERFACE_VERSION_STRINGS;
}

/// The symbol name abi_stable looks up in a library for its root module (see the export
/// macro, which must spell it out because it cannot call abi_stable's attribute macro
/// through a re-export).
pub const ROOT_MODULE_SYMBOL: &str = "_1as_0lib_1header_0root_bmodule_bloader";

#[cfg(test)]
mod tests {
    #[test]
    fn root_module_symbol_matches_abi_stable() {
        assert_eq!(
            super::ROOT_MODULE_SYMBOL,
            abi_stable::library::ROOT_MODULE_LOADER_NAME
        );
    }
}
