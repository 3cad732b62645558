//! Syncing clusters: [`cluster`] runs one cluster (client, health, discovery, resources),
//! [`resource`] one resource of a cluster (list + watch into batched writes).

pub mod cluster;
pub mod resource;
