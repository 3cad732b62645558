//! The one handler of every read of synced objects and their discovery: it takes the
//! authorized [`ReadScope`] and hands its target to the response builders.

use axum::response::Response;

use crate::error::ApiResult;
use crate::respond::{json_ok, version_info};
use crate::scope::{ReadScope, ReadTarget};
use crate::{collections, resources};

/// `GET .../resources/<rest>` and `GET .../collectionresources/<name>`.
pub(crate) async fn handle(scope: ReadScope) -> ApiResult<Response> {
    let repr = scope.repr;
    match &scope.target {
        ReadTarget::Version => Ok(json_ok(&version_info())),
        ReadTarget::Discovery { served, doc } => resources::discovery(served, doc, repr),
        ReadTarget::Resource { rt, read } if read.options().watch => {
            resources::watch(rt, read, repr).await
        }
        ReadTarget::Resource { rt, read } => resources::list(rt, read, repr).await,
        ReadTarget::Object {
            rt,
            cluster,
            namespace,
            name,
            read,
        } => resources::get(rt, cluster, namespace, name, read, repr).await,
        ReadTarget::Collection { collection, read } => collections::list(collection, read).await,
    }
}
