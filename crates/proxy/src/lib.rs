//! The userland proxy of a container's published ports, as Docker's `docker-proxy`: ports
//! published on IPv6 loopback (`[::1]:8080:80`) cannot be NATed into a bridge (IPv6 has no
//! `route_localnet`), so a process listens there and forwards each TCP connection and each UDP
//! client's datagrams to the container's address.
//!
//! One proxy per container, for all of its proxied ports: it lives and dies with the container's
//! published ports (started when they are published, stopped when they are unpublished), and one
//! process per container rather than per port keeps the process count low. Its config
//! (`<root>/ports/<container id>.proxy.json`) is written before it starts and removed before it is
//! stopped: its keeper ([`keeper::main`], `xcompose __proxy CONFIG`) starts it again when a
//! signal kills it as long as the config is there.

pub mod config;
pub mod forward;
pub mod keeper;

pub use config::{Forward, ProxyConfig, Transport};
