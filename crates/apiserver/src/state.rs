//! What every handler shares: the storage layer, authentication, delegated authorization,
//! the policy, the request
//! limiter, metrics and the serving switches. A leaf module: handlers and middleware depend
//! on it, it depends on none of them.

use std::sync::Arc;

use pedia_storage::StorageFactory;

use crate::auth::Authenticator;
use crate::authz::Authorizer;
use crate::limits::Limiter;
use crate::metrics::Metrics;
use crate::sar::DelegatedAuthorizer;
use crate::synced::SyncedTypes;

/// Everything handlers share.
#[derive(Debug)]
pub struct AppState {
    pub storage: Arc<dyn StorageFactory>,
    pub auth: Arc<Authenticator>,
    /// SubjectAccessReviews against the host cluster, when one is configured.
    pub delegated: Option<Arc<DelegatedAuthorizer>>,
    pub authz: Arc<Authorizer>,
    pub limiter: Arc<Limiter>,
    /// `--redact-secrets`.
    pub redact_secrets: bool,
    pub metrics: Metrics,
    /// The resource types the published PediaClusters say are synced.
    pub synced: SyncedTypes,
}

pub type SharedState = Arc<AppState>;
