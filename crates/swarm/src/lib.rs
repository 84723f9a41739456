//! A compose project on a Docker Swarm: [`engine`] talks to the Docker Engine API over its unix
//! socket (hyper: the HTTP stack the registry client already builds, where a full Docker SDK
//! such as bollard would add its large generated API crate for the dozen calls used here);
//! [`stack`] deploys, removes and lists a stack as `docker stack deploy`, `rm` and `ps` do,
//! from the specs `xcompose_convert::swarm` builds.

pub mod engine;
pub mod stack;

pub use engine::Engine;
