//! Container networking for xcompose.
//!
//! - [`firewall`]: NAT, published ports and isolation between networks, with iptables.
//! - [`inventory`]: the links there are, in one netlink dump (cheap checks).
//! - [`ipam`]: picks subnets for compose networks and addresses for containers, with its state in
//!   one JSON file per network, safe against concurrent xcompose processes.
//! - [`link`]: Linux bridges (one per network) and veth pairs (one per container attachment),
//!   made over rtnetlink; a container's MAC follows its address and is announced (gratuitous
//!   ARP), as with Docker.
//! - [`netns`]: network namespaces pinned to a file, made before their container starts.
//! - [`routes`]: the IPv4 routes of the current network namespace, which IPAM avoids.
//!
//! Everything is synchronous: functions that talk to the kernel start a small single-threaded
//! tokio runtime of their own. Everything acts on the network namespace of the calling thread.

mod announce;
pub mod firewall;
pub mod inventory;
pub mod ipam;
pub mod link;
pub mod link_watch;
mod netlink;
pub mod netns;
pub mod routes;

pub use netlink::NetlinkError;
