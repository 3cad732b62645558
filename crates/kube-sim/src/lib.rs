//! `kube-sim`: a Kubernetes API server simulator, for tests, benchmarks and the demo.
//! It stands in for member clusters (and for the host cluster of PediaCluster objects)
//! where no real kube-apiserver can run; kubectl (1.27-1.33) and kube-rs must not be able
//! to tell it apart from kube-apiserver 1.33 for what Clusterpedia uses.
//!
//! # Library API
//!
//! ```no_run
//! use std::time::Duration;
//! use kube_sim::{KubeSim, LoadSpec, SimConfig};
//!
//! # fn main() -> Result<(), kube_sim::SimError> {
//! let mut config = SimConfig::named("member-1"); // 127.0.0.1:<free port>, random token
//! config.bookmark_interval = Duration::from_millis(200);
//! let sim = KubeSim::start(config)?;              // HTTPS, self-signed, own threads
//! let kubeconfig: String = sim.kubeconfig();      // server URL, CA data, token
//! sim.load(&LoadSpec::parse("pods=1000,deployments=100,crontabs=10")?)?;
//! sim.run_updates(10.0);                          // 10 label/annotation/status changes per second
//! let pods = sim.store().list("pods", Some("payments")).map_err(kube_sim::SimError::Load)?;
//! sim.faults().stop();                            // listener and connections closed
//! sim.faults().resume()?;                         // same port, same state
//! sim.faults().compact();                         // next watch/continue from an old version: 410
//! sim.shutdown();
//! # let _ = (kubeconfig, pods);
//! # Ok(()) }
//! ```
//!
//! - [`SimConfig`]: name, admin token, client CA, bind address, certificate directory,
//!   history size, bookmark interval, RBAC enforcement.
//! - [`KubeSim`]: [`start`](KubeSim::start), [`addr`](KubeSim::addr),
//!   [`kubeconfig`](KubeSim::kubeconfig) (and with a token or a client certificate),
//!   [`store`](KubeSim::store), [`load`](KubeSim::load),
//!   [`run_updates`](KubeSim::run_updates), [`faults`](KubeSim::faults),
//!   [`shutdown`](KubeSim::shutdown); as the host cluster of an aggregated API server:
//!   [`add_token`](KubeSim::add_token) / [`issue_token`](KubeSim::issue_token) /
//!   [`revoke_token`](KubeSim::revoke_token),
//!   [`service_account_token`](KubeSim::service_account_token),
//!   [`authorize`](KubeSim::authorize), [`client_ca`](KubeSim::client_ca) /
//!   [`client_cert`](KubeSim::client_cert) / [`client_ca_bundle`](KubeSim::client_ca_bundle),
//!   [`front_proxy_ca_pem`](KubeSim::front_proxy_ca_pem),
//!   [`front_proxy_client_cert`](KubeSim::front_proxy_client_cert),
//!   [`rotate_front_proxy_ca`](KubeSim::rotate_front_proxy_ca).
//! - [`Store`]: the objects in-process, kubectl-like (`create`, `get`, `list`,
//!   `list_selected`, `update`, `update_status`, `patch`, `patch_status`, `delete`,
//!   `count`, `revision`, `compact`), with the same bookkeeping as HTTP writes.
//! - [`Faults`]: stop/resume serving, compaction, slow or garbage responses (for a while
//!   or until cleared), request counters by verb and resource.
//! - [`ClientCa`]: a CA for client-certificate tests (write it out, issue certificates).
//! - [`LoadSpec`]: the load generator's counts (`pods=1000,deployments=100,...`).
//! - [`UserInfo`] (`auth`), [`rbac::Request`] and [`rbac::Decision`]: identities and
//!   authorization questions and answers.
//!
//! # What is simulated, as kube-apiserver 1.33 does it
//!
//! - Discovery, legacy and aggregated (`apidiscovery.k8s.io` v2 and v2beta1): every built-in
//!   resource (with `/status` subresources) and the resources of the CRDs stored in the
//!   simulator (served versions, scope, names, short names, categories, printer columns).
//!   Creating a CRD establishes it at once; deleting it deletes its objects.
//! - `/version` (v1.33.1), `/healthz`, `/livez`, `/readyz`; `/openapi/v2` and `/openapi/v3`
//!   as valid documents without schemas (see `server::openapi`).
//! - Lists: `limit`/`continue` (kube's token format; pages read the first page's snapshot;
//!   `410 Expired` with an inconsistent continuation once compacted), `resourceVersion` and
//!   `resourceVersionMatch` with kube's validation, `remainingItemCount`, label selectors
//!   (all operators), the field selectors kube supports per resource, Table (`kubectl get`)
//!   and PartialObjectMetadata representations.
//! - Watches: from a resourceVersion, synthetic `ADDED` events for unset/`0`,
//!   `sendInitialEvents` with the `initial-events-end` bookmark, periodic bookmarks,
//!   `timeoutSeconds`, selector transitions (`ADDED`/`DELETED` when objects enter or leave
//!   the selection), and `410 Expired` as an `ERROR` event.
//! - Writes: create (generateName, namespace checks, name and label validation, defaults,
//!   status reset), update with optimistic concurrency, create-on-update for leases,
//!   events, endpoints and RBAC, the `/status` subresource, merge, JSON and strategic merge
//!   patches, delete with preconditions and finalizers (`202` until they are removed),
//!   deletecollection, `dryRun=All`, the `/scale` subresource of Deployments, ReplicaSets,
//!   StatefulSets and ReplicationControllers (`kubectl scale`); one global, strictly increasing revision; `uid`,
//!   `creationTimestamp`, `generation` bumped on spec changes; no-op writes keep the
//!   resourceVersion; `managedFields` `Update` entries per field manager; kube's `Status`
//!   errors (`pods "x" not found`, `AlreadyExists`, `Conflict`, `Invalid` with causes).
//! - Authentication (`auth`): client certificates of the cluster's client CA or a
//!   configured one (CN user, O groups), the admin token (`kubernetes-admin` in
//!   `system:masters`), tokens added at run time, TokenRequest tokens of ServiceAccounts
//!   (`kubectl create token`) and of Secrets of type `kubernetes.io/service-account-token`
//!   (filled as the token controller does; they die with the ServiceAccount or Secret);
//!   `401` otherwise (the
//!   health endpoints are open). Impersonation headers (`kubectl --as`), checked against
//!   the `impersonate` verb when RBAC is enforced.
//! - Authorization (`rbac`): `system:masters` may do anything, everyone else what RBAC
//!   over the stored Roles, ClusterRoles and bindings allows (aggregated ClusterRoles
//!   included), with kube's reasons. Access reviews are always decided so; requests to
//!   the simulator itself only with [`SimConfig::rbac`] (otherwise every authenticated
//!   request is allowed).
//! - The reviews: TokenReview, SelfSubjectReview, SubjectAccessReview,
//!   LocalSubjectAccessReview, SelfSubjectAccessReview, SelfSubjectRulesReview.
//! - What kube-apiserver writes into a fresh cluster (`bootstrap`): the default RBAC
//!   policy that matters to clients (`cluster-admin`, `admin`/`edit`/`view`,
//!   `system:auth-delegator`, `system:discovery`, `system:basic-user`, the
//!   `extension-apiserver-authentication-reader` Role), the
//!   `kube-system/extension-apiserver-authentication` ConfigMap (client CA, front-proxy CA
//!   and request-header settings; the front-proxy CA rotates at run time), and one `Local`
//!   APIService per served group version (`v1.` for the core group), following CRDs.
//!
//! # Memory
//!
//! Objects are kept as compact JSON bytes (parsed on demand), shared with the change
//! history; the load generator writes each object once, so a loaded pod costs its JSON
//! (about 7 KB) plus under 1 KB of bookkeeping: 100 000 pods take about 0.8 GB, ten
//! clusters of 10 000 pods about 0.9 GB. The history holds at most
//! [`SimConfig::history_size`] events.
//!
//! # Where it knowingly differs
//!
//! - No controllers, scheduler or garbage collector run: a Deployment gets no ReplicaSet,
//!   deleting an owner leaves its dependents, pods stay `Pending` unless written otherwise.
//!   Namespace and CRD deletion are immediate (no `Terminating` phase).
//! - Namespaced objects need an existing namespace (NamespaceLifecycle); `default`,
//!   `kube-system`, `kube-public` and `kube-node-lease` exist from the start.
//! - No schemas: unknown fields are kept (`fieldValidation` is accepted and ignored), and
//!   custom resources are not pruned or converted (other versions get `apiVersion`
//!   rewritten).
//! - Server-side apply (`application/apply-patch+yaml`) is refused with `415`. Protobuf
//!   request bodies (kubectl 1.33's `create <kind>`, `run`, `expose`, `auth`) are decoded
//!   for ConfigMaps, Secrets, Namespaces, ServiceAccounts, RBAC objects, TokenRequests
//!   and the reviews only, other kinds get `415`;
//!   responses are always JSON (`kubectl apply`, `create -f`, `label`, `annotate`,
//!   `scale`, `delete`, `get` and kube-rs send JSON anyway).
//! - `resourceVersion=0` and `NotOlderThan` read the latest state (always allowed), and a
//!   version newer than the latest is `504` at once instead of after a wait.
//! - Status updates through `/status` change only `status` (kube lets pods' status updates
//!   touch labels and annotations).
//! - `managedFields` shapes come from heuristics, not schemas (see `store::managed`).
//! - APIServices backed by a Service are never available (nothing is proxied to
//!   aggregated API servers); the simulator itself does not authenticate front-proxy
//!   request headers. Service-account tokens are random strings, not JWTs.
//! - HorizontalPodAutoscalers are served as `autoscaling/v1` too, with `apiVersion`
//!   rewritten but no conversion.
//! - Watches without `timeoutSeconds` last 30 minutes; bookmarks come every
//!   [`SimConfig::bookmark_interval`] (kube: about a minute).

pub mod auth;
pub mod bootstrap;
pub mod certs;
mod config;
pub mod error;
mod faults;
pub mod load;
pub mod patch;
pub mod rbac;
pub mod registry;
mod rng;
mod server;
mod sim;
pub mod store;
mod updates;

pub use auth::UserInfo;
pub use certs::ClientCa;
pub use config::SimConfig;
pub use error::{SimError, StatusError};
pub use faults::Faults;
pub use load::{LoadReport, LoadSpec};
pub use patch::PatchType;
pub use sim::KubeSim;
pub use store::{Selector, Store, WriteOptions};
