//! Runs the storage conformance suite against this layer, linked in-process.

use pedia_storage::conformance::Fixture;

async fn open() -> Fixture {
    Fixture::new(@CRATE_IDENT@::open(None).await.expect("open the layer"))
}

pedia_storage::conformance_suite!(layer, crate::open);
