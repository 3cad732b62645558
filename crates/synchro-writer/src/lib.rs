//! `synchro-writer`: how objects of a member cluster become stored objects, shared by the
//! synchro manager and `pedia load` so both write exactly alike. [`prepare`] prunes and
//! annotates one object ([`raw`] the same on its bytes), [`resources`] infers the resource of an object from its kind,
//! [`batch`] writes objects in batches per resource, [`files`] reads objects from YAML and
//! JSON manifests.

pub mod batch;
pub mod files;
pub mod prepare;
pub mod raw;
pub mod resources;

pub use batch::{BatchWriter, LoadSummary, load_objects};
pub use files::{FileError, read_objects};
pub use prepare::{Pruning, prepare};
pub use raw::{Identity, identity, prepare_raw};
pub use resources::resource_of;
