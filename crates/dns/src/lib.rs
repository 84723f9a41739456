//! The DNS server of one compose network: containers find each other by service name, container
//! name and alias, and everything else is resolved by the host's resolvers.
//!
//! # Design
//!
//! One small authoritative server **per network**, a process of its own
//! (`xcompose __dns CONFIG`, see [`daemon`]) in the **host's network namespace**, bound to the
//! network's **gateway address**, port 53, UDP and TCP. Containers' `/etc/resolv.conf` names the
//! gateway. This is what netavark's aardvark-dns does, and for the same reasons:
//!
//! - **Per network, on the gateway.** A container only reaches the gateways of the networks it is
//!   attached to, so it only sees the names of its own networks, as with Docker. A name answers
//!   with its addresses *on that network*, which are the ones the container can reach.
//! - **In the host's namespace.** The server outlives every container, needs no namespace of its
//!   own and reaches the host's resolvers exactly as the host does, including a loopback one such
//!   as systemd-resolved's 127.0.0.53, which a server inside a container namespace could not.
//! - **A process, not a thread of the CLI.** xcompose has no daemon: the CLI exits after `up`, so
//!   the server must live on its own, like the per-container supervisors.
//! - **A file, not a protocol.** The orchestrator writes the network's names to a JSON
//!   [`Records`] file atomically; the server notices a new file (its identity, mtime or size
//!   changed) on the next query and reads it again. Updates are live, need no signal or socket,
//!   and survive a restart of the server.
//!
//! Answers: `A` queries for known names (case-insensitive, trailing dot optional) get every
//! address of the name, rotated round-robin per query, with TTL 0 so that nothing caches a
//! container's old address; other types for a known name get an empty NOERROR. Unknown names are
//! forwarded unchanged to the upstream resolvers (see [`resolv`]; a container with `dns:` has its
//! own, by its address, in the records) one after the other, 2 s each,
//! and the first answer is relayed unchanged; SERVFAIL if none answers, NXDOMAIN if there are no
//! upstreams. Malformed packets are ignored.

pub mod daemon;
mod error;
mod message;
pub mod records;
pub mod resolv;
mod server;
mod upstream;
mod zone;

pub use error::Error;
pub use records::Records;
pub use server::Server;
