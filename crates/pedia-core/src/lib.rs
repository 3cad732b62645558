//! `pedia-core`: what every other crate agrees on. Resource identity, Kubernetes objects as
//! bytes plus indexed metadata, the search query model with its parsers (label and field
//! selectors, time formats, search labels), and keyset continue tokens. No I/O here.

pub mod cluster;
pub mod continue_token;
pub mod crd;
pub mod duration;
pub mod error;
pub mod object;
pub mod query;
pub mod resource;
pub mod selector;
pub mod time;

pub use continue_token::{Cursor, CursorValue};
pub use error::{ObjectError, QueryError};
pub use object::{Object, ObjectMeta, metadata_only, parse_resource_version};
pub use query::{
    CLUSTER_NAME_ANNOTATION, FuzzyName, Grant, ListOptions, MAX_OWNER_SENIORITY, OrderBy,
    OrderField, OwnerQuery, OwnerTarget, RequestScope, SortField, SortKey, search_label,
};
pub use resource::{GroupResource, GroupVersionResource, ResourceType};
pub use selector::{
    FieldPath, FieldRequirement, FieldSelector, LabelRequirement, LabelSelector, Operator,
    PathSegment,
};
pub use time::Timestamp;
