//! The conformance cases, one `pub async fn` each, grouped by the part of the contract
//! they exercise.

mod filters;
mod misc;
mod order;
mod owner;
mod paging;
mod stream;
mod watch;
mod write;

pub use filters::*;
pub use misc::*;
pub use order::*;
pub use owner::*;
pub use paging::*;
pub use stream::*;
pub use watch::*;
pub use write::*;
