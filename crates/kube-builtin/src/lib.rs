//! `kube-builtin`: static knowledge about Kubernetes' built-in resources, with no I/O.
//! [`catalog`] answers discovery questions (kind, singular name, short names, scope,
//! categories of `pods`, `deployments.apps`, ...); [`table`] renders objects as the
//! `meta.k8s.io/v1` Table kube-apiserver returns for `kubectl get`.

pub mod catalog;
pub mod table;
