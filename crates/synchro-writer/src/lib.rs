//! `synchro-writer`: how objects of a member cluster become stored objects, shared by the
//! synchro manager and `pedia load` so both write exactly alike. [`prepare`] prunes and
//! annotates one object, [`resources`] infers the resource of an object from its kind,
//! [`batch`] writes objects in batches per resource, [`files`] reads objects from YAML and
//! JSON manifests.

pub mod batch;
pub mod files;
pub mod prepare;
pub mod resources;

pub use batch::{BatchWriter, LoadSummary, load_objects};
pub use files::{FileError, read_objects};
pub use prepare::{Pruning, prepare, prepare_typed};
pub use resources::resource_of;
