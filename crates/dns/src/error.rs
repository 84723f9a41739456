//! What can fail in this crate.

use std::net::SocketAddr;
use std::path::PathBuf;

/// An error of the DNS server, its records file or its configuration.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file could not be written (atomically: temporary file, fsync, rename).
    #[error("writing {path}: {source} (is its directory there and writable?)")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A JSON file (records or daemon config) is not what it should be.
    #[error("parsing {path}: {source} (rewrite it, or remove it to start empty)")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// The server could not bind its socket.
    #[error("binding the DNS server to {protocol} {addr}: {source} (is the network's gateway address on its bridge, and is the port free?)")]
    Bind {
        /// `udp` or `tcp`.
        protocol: &'static str,
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The server's sockets failed while serving, or its event loop could not be made.
    #[error("serving DNS on {addr}: {source}")]
    Serve {
        /// The address served.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The daemon could not take over the stop signals.
    #[error("blocking SIGTERM and SIGINT for the DNS server: {0}")]
    Signals(nix::Error),
}
