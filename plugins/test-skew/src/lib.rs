//! `test-skew`: a plugin with the right fingerprint and sections but an abi_stable root
//! module of interface version 99.0.0, as a plugin built against a future, incompatible
//! `pedia-plugin-api` would have. The host must refuse it with abi_stable's version error.

// The root module derives emit an impl inside a const, and exporting needs unsafe attributes.
#![allow(non_local_definitions, unsafe_code, missing_debug_implementations)]

use abi_stable::library::RootModule;
use abi_stable::prefix_type::PrefixTypeTrait;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::RStr;
use abi_stable::{StableAbi, declare_root_module_statics, export_root_module};
use pedia_plugin_api::fingerprint::{SECTION_LEN, info_bytes, info_len, section_bytes};

const NAME: &str = "test-skew";
const INFO_LEN: usize = info_len(NAME);

#[used]
#[unsafe(link_section = ".pedia_fingerprint")]
static FINGERPRINT_SECTION: [u8; SECTION_LEN] = section_bytes();

#[used]
#[unsafe(link_section = ".pedia_plugin")]
static INFO_SECTION: [u8; INFO_LEN] = info_bytes::<INFO_LEN>(NAME);

#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = SkewModuleRef)))]
#[sabi(missing_field(panic))]
pub struct SkewModule {
    pub name: extern "C" fn() -> RStr<'static>,
    #[sabi(last_prefix_field)]
    pub fingerprint: extern "C" fn() -> RStr<'static>,
}

impl RootModule for SkewModuleRef {
    declare_root_module_statics! {SkewModuleRef}
    const BASE_NAME: &'static str = "pedia_storage_plugin";
    const NAME: &'static str = "pedia storage plugin";
    const VERSION_STRINGS: VersionStrings = VersionStrings::new("99.0.0");
}

extern "C" fn name() -> RStr<'static> {
    RStr::from_str(std::str::from_utf8(&INFO_SECTION).unwrap_or(""))
}

extern "C" fn fingerprint() -> RStr<'static> {
    RStr::from_str(std::str::from_utf8(&FINGERPRINT_SECTION).unwrap_or(""))
}

#[export_root_module]
fn root() -> SkewModuleRef {
    SkewModule { name, fingerprint }.leak_into_prefix()
}
