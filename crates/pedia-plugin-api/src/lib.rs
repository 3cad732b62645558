//! `pedia-plugin-api`: everything a storage plugin is built against, and the only crate a
//! plugin names in its `Cargo.toml`. It re-exports the storage contract (`pedia-core`,
//! `pedia-storage`) so a plugin author writes an ordinary async `StorageFactory`, and one
//! line exports it:
//!
//! ```ignore
//! pedia_plugin_api::export_storage_plugin!(name: "sample-storage-layer", open: crate::open);
//! // where: async fn open(config: Option<PathBuf>) -> pedia_storage::Result<Arc<dyn StorageFactory>>
//! ```
//!
//! The macro emits the abi_stable root module, the fingerprint section the host reads
//! before loading, and the glue that runs every call on the plugin's own tokio runtime.

pub mod ffi;
pub mod fingerprint;
pub mod guest;
pub mod wire;

pub use async_trait::async_trait;
pub use bytes;
pub use pedia_core;
pub use pedia_storage;

/// The interface version: host and plugin must agree on it, and abi_stable checks it
/// together with the layout of every type in [`ffi`]. It is this crate's version.
pub const INTERFACE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// [`INTERFACE_VERSION`] as abi_stable wants it.
pub const INTERFACE_VERSION_STRINGS: abi_stable::sabi_types::VersionStrings =
    abi_stable::sabi_types::VersionStrings::new(INTERFACE_VERSION);

#[doc(hidden)]
pub mod __private {
    pub use abi_stable;
    pub use async_ffi;
}

/// Exports a storage plugin from a `cdylib` crate.
///
/// `name` is the `--storage-name` the layer registers under (a constant string); `open` is a path to
/// `async fn(Option<std::path::PathBuf>) -> pedia_storage::Result<Arc<dyn StorageFactory>>`,
/// called with the `--storage-config` path.
#[macro_export]
macro_rules! export_storage_plugin {
    (name: $name:expr, open: $open:path $(,)?) => {
        // Exporting symbols and a linker section is inherently unsafe; the host verifies the
        // file's hash and fingerprint, and abi_stable the layouts, before anything is called.
        #[allow(unsafe_code)]
        const _: () = {
            use $crate::__private::abi_stable;
            use abi_stable::prefix_type::PrefixTypeTrait as _;
            use abi_stable::std_types::{ROption, RResult, RStr, RString};

            // Read from the file by the host before the library is loaded. Referenced by
            // `fingerprint()` below so the linker keeps it.
            #[used]
            #[unsafe(link_section = ".pedia_fingerprint")]
            static FINGERPRINT_SECTION: [u8; $crate::fingerprint::SECTION_LEN] =
                $crate::fingerprint::section_bytes();

            const NAME: &str = $name;
            const INFO_LEN: usize = $crate::fingerprint::info_len(NAME);

            #[used]
            #[unsafe(link_section = ".pedia_plugin")]
            static INFO_SECTION: [u8; INFO_LEN] = $crate::fingerprint::info_bytes::<INFO_LEN>(NAME);

            extern "C" fn name() -> RStr<'static> {
                // Served from the section, so the linker keeps it and what tools read from
                // the file is what the plugin reports.
                let info = ::core::str::from_utf8(&INFO_SECTION).unwrap_or("");
                let name = info
                    .strip_prefix("name=")
                    .and_then(|rest| rest.split(';').next())
                    .unwrap_or("");
                RStr::from_str(name)
            }

            extern "C" fn fingerprint() -> RStr<'static> {
                match ::core::str::from_utf8(&FINGERPRINT_SECTION) {
                    Ok(s) => RStr::from_str(s),
                    Err(_) => RStr::from_str(""),
                }
            }

            extern "C" fn open(
                config: ROption<RString>,
            ) -> $crate::__private::async_ffi::FfiFuture<
                RResult<$crate::ffi::FfiFactoryBox, $crate::ffi::FfiError>,
            > {
                $crate::guest::open(config, $open)
            }

            fn root_module() -> $crate::ffi::PluginModuleRef {
                $crate::ffi::PluginModule {
                    name,
                    fingerprint,
                    open,
                }
                .leak_into_prefix()
            }

            extern "C" fn erased_root_module() -> abi_stable::library::RootModuleResult {
                abi_stable::library::__call_root_module_loader(root_module)
            }

            // What abi_stable's `#[export_root_module]` emits, spelled with `$crate` paths
            // so plugin crates need no direct abi_stable dependency. The symbol name is
            // `ffi::ROOT_MODULE_SYMBOL` (checked by a test).
            #[unsafe(no_mangle)]
            pub static _1as_0lib_1header_0root_bmodule_bloader: abi_stable::library::LibHeader = unsafe {
                abi_stable::library::LibHeader::from_constructor::<$crate::ffi::PluginModuleRef>(
                    erased_root_module,
                    abi_stable::library::CheckTypeLayout::Yes,
                )
            };
        };
    };
}
