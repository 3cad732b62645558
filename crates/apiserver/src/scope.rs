//! The read scope: every read of synced objects, and of the discovery documents that
//! describe them, goes through [`ReadScope`]. Extracting it resolves what the request path
//! addresses and authorizes it once: a cluster the user has no grant on answers exactly as
//! an unknown one, discovery lists only what the user may read, the policy decision
//! becomes grants in the storage query (or a 403), `limit` is lowered to
//! `--max-list-limit`, and every object leaves through [`Read`], which redacts Secrets
//! (`--redact-secrets`) by the resource each item belongs to. Handlers get no other way
//! to reach stored objects, so none can skip a step.

use std::sync::Arc;

use axum::extract::{FromRequestParts, MatchedPath, Path};
use axum::http::request::Parts;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use pedia_core::cluster::CONTROL_CLUSTER;
use pedia_core::{GroupResource, ListOptions, RequestScope, ResourceType};
use pedia_storage::{
    CollectionList, CollectionResource, ErrorKind, ListResult, ListStream, StoredResource,
    WatchEvent, watch_request,
};

use crate::auth::UserInfo;
use crate::authz::{Decision, forbidden};
use crate::discovery::Served;
use crate::error::{ApiError, ApiResult};
use crate::limits::WatchSlot;
use crate::negotiate::{Representation, negotiate};
use crate::paths::{self, Target};
use crate::render::is_pediacluster;
use crate::respond::parse_stored;
use crate::state::SharedState;

/// An authorized read request: the representation asked for and what it reads.
#[derive(Debug)]
pub struct ReadScope {
    pub repr: Representation,
    pub target: ReadTarget,
}

/// What a read request reads, resolved from its path and authorized.
#[derive(Debug)]
pub enum ReadTarget {
    /// `.../version`.
    Version,
    /// A discovery document over `served`: only resources the user may read, of the
    /// path's cluster (all clusters without one).
    Discovery { served: Served, doc: DiscoveryDoc },
    /// A list or (with `watch`) a watch of one resource.
    Resource { rt: ResourceType, read: Read },
    /// One object by name; the policy allows its cluster and namespace.
    Object {
        rt: ResourceType,
        cluster: String,
        namespace: String,
        name: String,
        read: Read,
    },
    /// The objects of a collection resource.
    Collection {
        collection: CollectionResource,
        read: Read,
    },
}

/// Which discovery document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiscoveryDoc {
    /// `.../api`
    CoreVersions,
    /// `.../apis`
    Groups,
    /// `.../apis/<group>`
    Group(String),
    /// `.../api/v1` or `.../apis/<group>/<version>`
    GroupVersion { group: String, version: String },
    /// `.../openapi/v2`, as gnostic protobuf when the client asks for it (client-go does)
    OpenApiV2 { protobuf: bool },
    /// `.../openapi/v3`, whose entries link under `prefix` (the search path of the request)
    OpenApiV3Root { prefix: String },
    /// `.../openapi/v3/api/v1` or `.../openapi/v3/apis/<group>/<version>`
    OpenApiV3 { group: String, version: String },
}

impl FromRequestParts<SharedState> for ReadScope {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> ApiResult<Self> {
        let user = parts
            .extensions
            .get::<UserInfo>()
            .cloned()
            .ok_or_else(ApiError::unauthorized)?;
        let route = parts
            .extensions
            .get::<MatchedPath>()
            .map(|m| m.as_str().to_owned());
        let Path(param) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| paths::not_found(parts.uri.path()))?;
        // client-go asks `/openapi/v2` for gnostic protobuf only; nothing else is protobuf.
        let openapi_protobuf = param.trim_end_matches('/').ends_with("openapi/v2")
            && parts
                .headers
                .get(axum::http::header::ACCEPT)
                .and_then(|a| a.to_str().ok())
                .is_some_and(|a| {
                    crate::openapi::proto::ACCEPTED
                        .iter()
                        .any(|m| a.contains(m))
                });
        let repr = if openapi_protobuf {
            Representation::Json
        } else {
            negotiate(&parts.headers)?
        };
        let query = parts.uri.query().unwrap_or("");
        let mut target = match route.as_deref() {
            Some(paths::RESOURCES_ROUTE) => resolve_resources(state, &user, &param, query).await?,
            Some(paths::COLLECTION_ROUTE) => {
                resolve_collection(state, &user, &param, query).await?
            }
            _ => return Err(paths::not_found(parts.uri.path())),
        };
        if let ReadTarget::Discovery {
            doc: DiscoveryDoc::OpenApiV2 { protobuf },
            ..
        } = &mut target
        {
            *protobuf = openapi_protobuf;
        }
        Ok(Self { repr, target })
    }
}

async fn resolve_resources(
    state: &SharedState,
    user: &UserInfo,
    rest: &str,
    query: &str,
) -> ApiResult<ReadTarget> {
    let scoped = paths::parse(rest)?;
    let cluster = scoped.cluster.as_deref();
    if scoped.target == Target::Version {
        return Ok(ReadTarget::Version);
    }
    let stored = state.storage.stored_resources().await?;
    // Types a cluster syncs are served before their first object arrives.
    let synced = state.synced.get(state.storage.as_ref(), &stored).await?;
    let stored = crate::synced::merge(stored, &synced);
    if let Some(c) = cluster
        && !cluster_is_visible(state, user, c, &stored).await?
    {
        // Discovery of an unknown cluster is a missing document, as in Clusterpedia; a
        // resource request names the cluster as the problem.
        return Err(match scoped.target {
            Target::Collection { .. } | Target::Object { .. } => paths::unknown_cluster(),
            _ => paths::not_found(rest),
        });
    }
    let served = Served::from_stored(&readable(state, user, stored), cluster);
    let doc = match scoped.target {
        Target::Version => return Ok(ReadTarget::Version),
        Target::CoreVersions => DiscoveryDoc::CoreVersions,
        Target::Groups => DiscoveryDoc::Groups,
        Target::Group { group } => DiscoveryDoc::Group(group),
        Target::GroupVersion { group, version } => DiscoveryDoc::GroupVersion { group, version },
        Target::OpenApiV2 => DiscoveryDoc::OpenApiV2 { protobuf: false },
        Target::OpenApiV3Root => DiscoveryDoc::OpenApiV3Root {
            prefix: match cluster {
                Some(c) => format!("{}/resources/clusters/{c}", paths::GROUP_PREFIX),
                None => format!("{}/resources", paths::GROUP_PREFIX),
            },
        },
        Target::OpenApiV3 { group, version } => DiscoveryDoc::OpenApiV3 { group, version },
        Target::Collection {
            group,
            version,
            resource,
            namespace,
        } => {
            let (decision, rt) =
                resource_decision(state, user, &served, &group, &version, &resource, None)?;
            let opts = ListOptions::parse(
                query,
                RequestScope {
                    cluster,
                    namespace: namespace.as_deref(),
                },
            )?;
            return Ok(ReadTarget::Resource {
                rt,
                read: Read::new(state, user, opts, &decision),
            });
        }
        Target::Object {
            group,
            version,
            resource,
            namespace,
            name,
        } => {
            let (decision, rt) = resource_decision(
                state,
                user,
                &served,
                &group,
                &version,
                &resource,
                Some(&name),
            )?;
            // The published PediaClusters live in the control plane's own "cluster".
            let cluster = cluster
                .or_else(|| is_pediacluster(&rt).then_some(CONTROL_CLUSTER))
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "getting one {resource} object by name needs a cluster: with kubectl add --context <cluster> (the kubeconfig pedia writes has one context per cluster), or use the path .../resources/clusters/<cluster>/{}",
                        rest.trim_start_matches('/')
                    ))
                })?;
            let namespace = namespace.unwrap_or_default();
            if !decision.allows(cluster, &namespace) {
                return Err(forbidden(
                    user,
                    &format!("{} {name:?}", rt.gvr.group_resource()),
                ));
            }
            return Ok(ReadTarget::Object {
                read: Read::new(state, user, ListOptions::default(), &decision),
                rt,
                cluster: cluster.to_owned(),
                namespace,
                name,
            });
        }
    };
    Ok(ReadTarget::Discovery { served, doc })
}

/// The decision on `group/resource` (a 403 when denied, decided before the resource is
/// looked up, so a denied user cannot probe which resources exist) and the served type.
fn resource_decision(
    state: &SharedState,
    user: &UserInfo,
    served: &Served,
    group: &str,
    version: &str,
    resource: &str,
    name: Option<&str>,
) -> ApiResult<(Decision, ResourceType)> {
    let gr = GroupResource::new(group, resource);
    let decision = state.authz.decide(user, Some(&gr));
    if decision == Decision::Deny {
        let what = match name {
            Some(name) => format!("{gr} {name:?}"),
            None => gr.to_string(),
        };
        return Err(forbidden(user, &what));
    }
    let rt = served
        .find(group, version, resource)
        .ok_or_else(|| resource_not_found(group, version, resource))?
        .resource
        .clone();
    Ok((decision, rt))
}

pub(crate) fn resource_not_found(group: &str, version: &str, resource: &str) -> ApiError {
    let gv = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    ApiError::not_found(format!(
        "the server could not find the requested resource {resource} in {gv}"
    ))
}

/// Whether `user` may learn that `cluster` exists, and it does: the user has a grant on
/// it, and the storage has objects from it or a published PediaCluster names it (a
/// cluster still in its first sync).
async fn cluster_is_visible(
    state: &SharedState,
    user: &UserInfo,
    cluster: &str,
    stored: &[StoredResource],
) -> ApiResult<bool> {
    if cluster == CONTROL_CLUSTER || !state.authz.covers_cluster(user, cluster) {
        return Ok(false);
    }
    if stored
        .iter()
        .any(|s| s.clusters.iter().any(|c| c == cluster))
    {
        return Ok(true);
    }
    let Some(published) = stored
        .iter()
        .find(|s| is_pediacluster(&s.resource) && s.clusters.iter().any(|c| c == CONTROL_CLUSTER))
    else {
        return Ok(false);
    };
    let storage = state.storage.resource_storage(&published.resource).await?;
    match storage.get(CONTROL_CLUSTER, "", cluster).await {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// `stored` with each resource's clusters narrowed to those the user may read something
/// of, and resources left with none dropped: discovery shows neither resource types nor
/// clusters outside the user's grants.
fn readable(
    state: &SharedState,
    user: &UserInfo,
    stored: Vec<StoredResource>,
) -> Vec<StoredResource> {
    stored
        .into_iter()
        .filter_map(|mut s| {
            let decision = state
                .authz
                .decide(user, Some(&s.resource.gvr.group_resource()));
            s.clusters.retain(|c| decision.covers_cluster(c));
            (!s.clusters.is_empty()).then_some(s)
        })
        .collect()
}

async fn resolve_collection(
    state: &SharedState,
    user: &UserInfo,
    name: &str,
    query: &str,
) -> ApiResult<ReadTarget> {
    let collection = state
        .storage
        .collection_resources()
        .await?
        .into_iter()
        .find(|c| c.name == name)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "collectionresources.clusterpedia.io {name:?} not found"
            ))
        })?;
    let opts = ListOptions::from_query(query)?;
    if opts.watch {
        return Err(ApiError::method_not_allowed(
            "collection resources cannot be watched",
        ));
    }
    // A collection spans resources: only rules for every resource (`*`) cover it.
    let decision = state.authz.decide(user, None);
    if decision == Decision::Deny {
        return Err(forbidden(user, &format!("collectionresources {name:?}")));
    }
    Ok(ReadTarget::Collection {
        collection,
        read: Read::new(state, user, opts, &decision),
    })
}

/// Reads within a user's grants. Every stored object a response carries comes out of one
/// of these methods, redacted when it is a Secret and `--redact-secrets` is on.
#[derive(Debug)]
pub struct Read {
    state: SharedState,
    user: String,
    opts: ListOptions,
}

impl Read {
    fn new(
        state: &SharedState,
        user: &UserInfo,
        mut opts: ListOptions,
        decision: &Decision,
    ) -> Self {
        opts.authorized = decision.grants();
        opts.limit = state.limiter.clamp_limit(opts.limit);
        Self {
            state: Arc::clone(state),
            user: user.name.clone(),
            opts,
        }
    }

    /// The search options, with the grants and the lowered limit.
    pub fn options(&self) -> &ListOptions {
        &self.opts
    }

    /// One page of `rt` (only the metadata of each object when `only_metadata`).
    pub async fn list(&self, rt: &ResourceType, only_metadata: bool) -> ApiResult<ListResult> {
        let storage = self.state.storage.resource_storage(rt).await?;
        let mut opts = self.opts.clone();
        opts.only_metadata |= only_metadata;
        let mut page = storage.list(&opts).await?;
        if self.redacts(rt) {
            page.items = page
                .items
                .into_iter()
                .map(redact_secret)
                .collect::<ApiResult<_>>()?;
        }
        Ok(page)
    }

    /// Whether the request lists everything (no `limit`, or `limit=0`).
    pub fn lists_everything(&self) -> bool {
        self.opts.limit.is_none_or(|l| l == 0)
    }

    /// A whole list of `rt` as the storage streams it, and the redaction each item must
    /// pass through on its way out.
    pub async fn list_stream(
        &self,
        rt: &ResourceType,
    ) -> ApiResult<(
        ListStream,
        impl Fn(Bytes) -> ApiResult<Bytes> + Send + 'static + use<>,
    )> {
        let storage = self.state.storage.resource_storage(rt).await?;
        let stream = storage.list_stream(&self.opts).await?;
        let redacts = self.redacts(rt);
        Ok((stream, move |item: Bytes| {
            if redacts {
                redact_secret(item)
            } else {
                Ok(item)
            }
        }))
    }

    /// One object of `rt`.
    pub async fn get(
        &self,
        rt: &ResourceType,
        cluster: &str,
        namespace: &str,
        name: &str,
    ) -> ApiResult<Bytes> {
        let storage = self.state.storage.resource_storage(rt).await?;
        let object = storage.get(cluster, namespace, name).await?;
        if self.redacts(rt) {
            redact_secret(object)
        } else {
            Ok(object)
        }
    }

    /// The events of a watch of `rt`, and what the watch holds for as long as its stream
    /// lives: a per-user slot (429 when the user has `--max-watches-per-user` open) and
    /// its count in the metrics.
    pub async fn watch(
        &self,
        rt: &ResourceType,
    ) -> ApiResult<(BoxStream<'static, ApiResult<WatchEvent>>, WatchHold)> {
        let slot = self.state.limiter.start_watch(&self.user)?;
        let storage = self.state.storage.resource_storage(rt).await?;
        let stream = watch_request(storage.as_ref(), &self.opts).await?;
        let redacts = self.redacts(rt);
        let stream = stream
            .map(move |item| {
                let mut event = item?;
                if redacts {
                    event.object = redact_secret(event.object)?;
                }
                Ok(event)
            })
            .boxed();
        self.state.metrics.watch_started();
        let hold = WatchHold {
            _slot: slot,
            _gauge: WatchGauge(Arc::clone(&self.state)),
        };
        Ok((stream, hold))
    }

    /// One page of a collection; Secrets among its items are redacted.
    pub async fn list_collection(
        &self,
        collection: &CollectionResource,
    ) -> ApiResult<CollectionList> {
        let mut page = self
            .state
            .storage
            .list_collection(collection, &self.opts)
            .await?;
        for item in &mut page.items {
            if self.redacts(&item.resource) {
                item.object = redact_secret(std::mem::take(&mut item.object))?;
            }
        }
        Ok(page)
    }

    fn redacts(&self, rt: &ResourceType) -> bool {
        self.state.redact_secrets && is_secret(rt)
    }
}

/// What an open watch holds until its stream is dropped.
#[derive(Debug)]
pub struct WatchHold {
    _slot: WatchSlot,
    _gauge: WatchGauge,
}

/// Counts an open watch in the metrics for as long as it lives.
#[derive(Debug)]
struct WatchGauge(SharedState);

impl Drop for WatchGauge {
    fn drop(&mut self) {
        self.0.metrics.watch_ended();
    }
}

/// Whether `rt` is the core Secret resource.
fn is_secret(rt: &ResourceType) -> bool {
    rt.gvr.group.is_empty() && rt.gvr.resource == "secrets"
}

/// The annotation in which `kubectl apply` keeps a copy of the applied object, a
/// Secret's values included.
const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// A Secret without its values: `data`, `stringData`, and kubectl's last-applied copy.
/// The only place a stored object is re-serialised for a plain JSON response.
fn redact_secret(raw: Bytes) -> ApiResult<Bytes> {
    let mut value = parse_stored(&raw)?;
    if let Some(map) = value.as_object_mut() {
        map.remove("data");
        map.remove("stringData");
    }
    if let Some(annotations) = value
        .pointer_mut("/metadata/annotations")
        .and_then(serde_json::Value::as_object_mut)
    {
        annotations.remove(LAST_APPLIED_ANNOTATION);
    }
    Ok(Bytes::from(value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_removes_values_and_the_last_applied_copy() {
        let secret = Bytes::from_static(
            br#"{"kind":"Secret","metadata":{"name":"s","annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"data\":{\"k\":\"dg==\"}}","keep":"me"}},"data":{"k":"dg=="},"stringData":{"k":"v"},"type":"Opaque"}"#,
        );
        let out: serde_json::Value =
            serde_json::from_slice(&redact_secret(secret).expect("redact")).expect("json");
        assert_eq!(
            out,
            serde_json::json!({"kind": "Secret", "metadata": {"name": "s", "annotations": {"keep": "me"}}, "type": "Opaque"})
        );
        assert_eq!(
            redact_secret(Bytes::from_static(b"not json"))
                .expect_err("corrupt")
                .code()
                .as_u16(),
            500
        );
    }

    #[test]
    fn only_core_secrets_are_redacted() {
        use pedia_core::GroupVersionResource;
        let rt =
            |g: &str, r: &str| ResourceType::new(GroupVersionResource::new(g, "v1", r), "X", true);
        assert!(is_secret(&rt("", "secrets")));
        assert!(!is_secret(&rt("example.com", "secrets")));
        assert!(!is_secret(&rt("", "configmaps")));
    }
}
