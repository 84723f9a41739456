//! Running rtnetlink requests from synchronous code.

use std::future::Future;
use std::io;

use rtnetlink::Handle;

/// A failure talking to the kernel over rtnetlink.
#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    /// The tokio runtime that drives the netlink socket could not be started.
    #[error("cannot start the runtime for netlink requests: {0}; check the process's limits on threads and file descriptors")]
    Runtime(#[source] io::Error),
    /// No netlink socket could be opened.
    #[error(
        "cannot open a netlink socket: {0}; xcompose needs root (CAP_NET_ADMIN) to manage networks"
    )]
    Socket(#[source] io::Error),
    /// The kernel refused or failed a request.
    #[error("{action}: {source}{hint}", hint = hint(source))]
    Request {
        /// What was being done, e.g. "creating bridge xc-0123456789ab".
        action: String,
        /// The kernel's answer.
        #[source]
        source: rtnetlink::Error,
    },
}

impl NetlinkError {
    /// The error for `action` failing with `source`.
    pub(crate) fn request(action: impl Into<String>, source: rtnetlink::Error) -> NetlinkError {
        NetlinkError::Request {
            action: action.into(),
            source,
        }
    }
}

/// The errno of a kernel error answer, if `error` is one.
pub(crate) fn errno(error: &rtnetlink::Error) -> Option<i32> {
    match error {
        rtnetlink::Error::NetlinkError(message) => Some(message.raw_code().abs()),
        _ => None,
    }
}

/// Advice on what to do about a kernel error, appended to its message.
fn hint(error: &rtnetlink::Error) -> &'static str {
    match errno(error) {
        Some(nix::libc::EPERM) | Some(nix::libc::EACCES) => {
            " (run xcompose as root: managing links needs CAP_NET_ADMIN)"
        }
        Some(nix::libc::EEXIST) => {
            " (something with that name or address already exists: remove the stale interface, e.g. with `xcompose down`, and try again)"
        }
        Some(nix::libc::EOPNOTSUPP) => {
            " (the kernel lacks this feature: load the `bridge` and `veth` modules)"
        }
        _ => "",
    }
}

/// Runs `job` with a fresh rtnetlink handle on a new single-threaded runtime, in the network
/// namespace of the calling thread, and waits for it.
pub(crate) fn with_handle<T, E, F, Fut>(job: F) -> Result<T, E>
where
    E: From<NetlinkError>,
    F: FnOnce(Handle) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(NetlinkError::Runtime)?;
    runtime.block_on(async {
        let (connection, handle, _) = rtnetlink::new_connection().map_err(NetlinkError::Socket)?;
        let driver = tokio::spawn(connection);
        let result = job(handle).await;
        driver.abort();
        result
    })
}
