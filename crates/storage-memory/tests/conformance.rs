//! Runs the storage conformance suite against the memory layer.

use std::sync::Arc;

use pedia_storage::conformance::Fixture;
use storage_memory::MemoryStorage;

async fn open_memory() -> Fixture {
    Fixture::new(Arc::new(MemoryStorage::default()))
}

pedia_storage::conformance_suite!(memory, crate::open_memory);
