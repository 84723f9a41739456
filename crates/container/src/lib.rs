//! One isolated container process, the way Docker's default runtime sets it up.
//!
//! [`spawn`] forks a child that enters new mount, UTS, IPC, network (or joins a given one), PID
//! and cgroup namespaces; the container's PID 1 then waits until the caller has put it in its
//! cgroup and wired its network, and on [`Pending::start`] it mounts its overlay root filesystem,
//! `/proc`, a minimal `/dev`, a read-only `/sys`, masks the sensitive `/proc` and `/sys` paths,
//! `pivot_root`s into it, sets hostname, sysctls, limits, user and capabilities, and execs the
//! command. Any failure before the exec comes back to the caller as an error with its cause.
//!
//! All mounts live in the container's own mount namespace: when its last process exits they
//! disappear with it, so nothing is left mounted on the host.
//!
//! [`spawn`] forks, so it must be called from a process whose other threads hold no locks the
//! child needs (the per-container supervisor is single-threaded; tests fork once before calling).

mod capabilities;
mod child;
pub mod console;
mod devices;
mod exec;
mod init;
mod propagation;
mod rootfs;
mod seccomp;
mod spawn;
mod spec;
pub mod user;
pub mod userns;

pub use capabilities::{capability_set, DEFAULT_CAPABILITIES};
pub use devices::{host_devices, Device};
pub use propagation::{check_source as check_propagation_source, Propagation};
pub use rootfs::secure_join;
pub use exec::{capture_output, exec, ExecProcess, ExecSpec};
pub use spawn::{spawn, spawn_with_terminal, Pending, Running, Stdio};
pub use userns::{IdMap, IdRange};
pub use spec::{ContainerSpec, Mount, MountKind, Namespace, Namespaces, NetworkNamespace, Process, Recursive, Rlimit, RootFs, Shm, DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS};

/// Why a container could not be started.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    /// A system call in the caller failed.
    #[error("{what}: {source}")]
    Sys {
        /// What was being done.
        what: String,
        /// The error number.
        source: nix::Error,
    },
    /// The container's setup failed before its command could start.
    #[error("container setup failed: {0}")]
    Setup(String),
    /// The spec is not usable.
    #[error("invalid container spec: {0}")]
    Spec(String),
}

/// Shorthand for this crate's results.
pub type Result<T> = std::result::Result<T, ContainerError>;
