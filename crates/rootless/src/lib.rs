//! Rootless xcompose (podman's and rootlesskit's design): an ordinary user's commands run the
//! normal code path as "root" inside a user namespace the user owns.
//!
//! - [`paths`]: where an ordinary user's state and runtime files live (XDG directories).
//! - [`holder`]: the long-lived per-user process owning the user, mount and network namespaces
//!   (mapped with `newuidmap`/`newgidmap` from /etc/subuid and /etc/subgid), started on demand
//!   and joined by every command before it starts any thread.
//! - [`ports`]: the port agent, forwarding published ports from the host's addresses.
//! - outbound access: slirp4netns or pasta attached to a fresh holder (`XCOMPOSE_ROOTLESS_NET`).
//! - [`limits`]: what rootless mode cannot do on this host, refused with a message naming why.
//! - [`active`]: whether this process runs inside such a user namespace (the hooks elsewhere ask).

pub mod holder;
pub mod limits;
mod outbound;
pub mod paths;
pub mod ports;

/// What can go wrong entering rootless mode.
#[derive(Debug, thiserror::Error)]
pub enum RootlessError {
    /// A step failed, with what to do about it where there is something.
    #[error("rootless xcompose: {0}")]
    Setup(String),
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, RootlessError>;

/// The identity map of the initial user namespace, as `/proc/self/uid_map` shows it.
const INITIAL_UID_MAP: &str = "0 0 4294967295";

/// Whether this process runs in a user namespace other than the host's (rootless mode, or a
/// container): its uid map is not the initial namespace's identity map.
pub fn active() -> bool {
    std::fs::read_to_string("/proc/self/uid_map")
        .map(|map| map.split_whitespace().collect::<Vec<_>>().join(" ") != INITIAL_UID_MAP)
        .unwrap_or(false)
}

/// The prefix of overlayfs's attributes (opaque directories): `user.overlay.` inside a user
/// namespace, where `trusted.*` cannot be set and overlay is mounted with `userxattr`;
/// `trusted.overlay.` on the host.
pub fn overlay_xattr_prefix() -> &'static str {
    if active() {
        "user.overlay."
    } else {
        "trusted.overlay."
    }
}

/// `options` for an overlay mount, with `userxattr` added inside a user namespace (the kernel
/// then reads `user.overlay.*` attributes, see [`overlay_xattr_prefix`]).
pub fn overlay_mount_options(options: String) -> String {
    if active() {
        options + ",userxattr"
    } else {
        options
    }
}
