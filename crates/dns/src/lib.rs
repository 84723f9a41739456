//! The resolver of a compose project: containers find each other by service name, container
//! name and alias on the networks they share, and everything else is resolved by their own
//! resolvers (`dns:`) or the host's.
//!
//! # Design
//!
//! Docker's embedded DNS: every container on project networks has `nameserver 127.0.0.11` in its
//! /etc/resolv.conf ([`resolv::container_resolv_conf`]) and a resolver answers there, **inside
//! the container's own network namespace**. Nothing listens in the host's namespace, so the
//! project may publish host port 53 itself (a pihole-style stack), and a container sees exactly
//! the names of the networks it is on.
//!
//! - **One process per project** (`xcompose __dns CONFIG`, see [`daemon`]), not one per
//!   container or per network: one small event loop serves every container of the project, and
//!   the helpers stay few and small. Not per state root either, so that `down`, under the
//!   project's lock, can stop it knowing no other project needs it.
//! - **Sockets made in the container's namespace, served from the host's.** For each container
//!   the resolver enters the namespace pinned at its client file's `netns` in a short-lived
//!   thread, binds a UDP socket and a TCP listener to 127.0.0.11 on ports the kernel picks (the
//!   container's loopback is up from its creation), has NAT rules of that namespace lead
//!   [`RESOLVER_ADDRESS`] to them, as Docker does, so that the container's own programs may
//!   still listen on port 53 of every address, and leaves; a socket stays in the namespace it
//!   was made in. The process itself never leaves the host's namespace, so it asks
//!   the upstream resolvers exactly as the host does, a loopback one such as systemd-resolved's
//!   127.0.0.53 included, which a resolver in the container's namespace could not reach. (Docker
//!   also asks the host's resolvers from the host's namespace; it asks the container's own `dns:`
//!   servers from the container's, where this resolver asks them from the host's too: the
//!   addresses a container may name are reachable from both.)
//! - **Files, and a nudge.** The orchestrator writes each network's names to a JSON [`Records`]
//!   file atomically, as it attaches and detaches containers; the resolver notices a new file
//!   (its identity, mtime or size changed) on the next query and reads it again, so names are
//!   live without a message. Each container it serves has a client file ([`Client`]: its
//!   namespace, its networks' records files, its own resolvers). A client file written or removed
//!   needs sockets made or closed before the container starts or goes, so the orchestrator then
//!   asks the resolver to sync that container over a Unix control socket ([`control::sync`])
//!   and waits for its answer. The files are the whole state: a resolver that was killed and
//!   started again serves every container whose client file is there.
//! - **A process, not a thread of the CLI.** xcompose has no daemon: the CLI exits after `up`, so
//!   the resolver must live on its own, like the per-container supervisors.
//! - **Kept alive.** The resolver runs as the child of a tiny [`keeper`] that starts it again at
//!   once if it is killed, so a killed resolver is back within milliseconds, serving every
//!   container from the files, and the next `up` also starts it (and its keeper) if both died.
//!
//! Answers: `A` queries for names one of the asking container's networks knows (case-insensitive,
//! trailing dot optional) get every address of the name on the first such network in the
//! container's order (Docker also answers from the first of the container's networks that knows
//! the name), rotated round-robin per query, with TTL 0 so that nothing caches a container's old
//! address; other types for a known name get an empty NOERROR. Unknown names are forwarded
//! unchanged to the container's own resolvers if it has some, else to the host's (see [`resolv`]),
//! one after the other, 2 s each, and the first answer is relayed unchanged; SERVFAIL if none
//! answers, NXDOMAIN if there are no upstreams. Malformed packets are ignored.

pub mod client;
pub mod control;
pub mod daemon;
mod error;
pub mod keeper;
mod message;
mod netns;
mod nftables;
pub mod records;
pub mod resolv;
mod resolver;
mod upstream;
mod zone;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

pub use client::Client;
pub use error::Error;
pub use records::Records;
pub use resolver::Resolver;

/// Where the resolver answers inside every container's network namespace: Docker's
/// 127.0.0.11, port 53, UDP and TCP.
pub const RESOLVER_ADDRESS: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 11)), 53);
