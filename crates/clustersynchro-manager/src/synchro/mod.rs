//! Syncing clusters: [`cluster`] runs one cluster (client, health, discovery, resources),
//! [`resource`] one resource of a cluster (its changes into batched writes), [`changes`]
//! reading those changes (list + watch, as bytes).

mod changes;
pub mod cluster;
pub mod resource;
