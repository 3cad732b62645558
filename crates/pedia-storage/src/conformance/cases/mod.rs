//! The conformance cases, one `pub async fn` each, grouped by the part of the contract
//! they exercise. Every case is listed once, in `__conformance_cases!` (`../mod.rs`).

pub(super) mod collections;
pub(super) mod filters;
pub(super) mod misc;
pub(super) mod order;
pub(super) mod owner;
pub(super) mod paging;
pub(super) mod stream;
pub(super) mod watch;
pub(super) mod write;
