//! What can fail in this crate.

use std::net::SocketAddr;
use std::path::PathBuf;

/// An error of the resolver, its records and client files, its configuration or its control
/// socket.
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
    /// The resolver could not bind its socket in a container's network namespace.
    #[error("binding the resolver to {protocol} {addr} in the network namespace {netns}: {source}")]
    Bind {
        /// `udp` or `tcp`.
        protocol: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The file pinning the namespace.
        netns: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A container's network namespace could not be entered.
    #[error("entering the network namespace {path}: {source} (is the container still there?)")]
    Netns {
        /// The file pinning the namespace.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Queries to 127.0.0.11:53 could not be led to the resolver's sockets.
    #[error("redirecting 127.0.0.11:53 to the resolver in the network namespace {netns}: {message}")]
    Redirect {
        /// The file pinning the namespace.
        netns: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A client file was named by something that is not a container id.
    #[error("{0:?} is not a container id (letters, digits, '-' and '_' only)")]
    BadClientId(String),
    /// The resolver's control socket could not be used.
    #[error("asking the resolver at {path}: {source} (is it running? `xcompose up` starts it again)")]
    Control {
        /// The socket.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The resolver could not serve a container it was asked to.
    #[error("the resolver could not serve container {id}: {message}")]
    Refused {
        /// The container.
        id: String,
        /// What the resolver said.
        message: String,
    },
    /// The resolver's event loop or control socket could not be made.
    #[error("starting the resolver: {0}")]
    Serve(std::io::Error),
    /// The daemon could not take over the stop signals.
    #[error("blocking SIGTERM and SIGINT for the DNS server: {0}")]
    Signals(nix::Error),
}
