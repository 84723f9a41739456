//! The same compose project on a cluster: [`kube`] turns the loaded model (the one `up` uses)
//! into Kubernetes manifests, [`swarm`] into the Docker Engine API's Swarm specs, as `docker
//! stack deploy` builds them. Both are pure functions of the project: no cluster, no files, no
//! environment, so they are tested by their output alone.
//!
//! What cannot map is never dropped silently: every conversion returns a [`Warning`] per key.

pub mod kube;
pub mod names;
pub mod swarm;

pub mod warning;
pub mod yaml;

pub use warning::Warning;
