//! The conformance cases, one `pub async fn` each, grouped by the part of the contract
//! they exercise.

mod collections;
mod filters;
mod misc;
mod order;
mod owner;
mod paging;
mod watch;
mod write;

pub use collections::*;
pub use filters::*;
pub use misc::*;
pub use order::*;
pub use owner::*;
pub use paging::*;
pub use watch::*;
pub use write::*;
