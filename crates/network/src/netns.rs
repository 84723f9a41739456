//! Network namespaces that outlive processes: each container's namespace is made before the
//! container starts (so its networks can be attached first) and pinned by a bind mount of its
//! namespace file, as `ip netns add` does; it survives restarts of the container and goes when
//! it is removed.

use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};

/// Why a pinned namespace could not be made or removed.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    /// A system call failed.
    #[error("{action} {path}: {source} (xcompose needs root to manage network namespaces)")]
    Sys {
        /// What was being done.
        action: &'static str,
        /// The namespace file.
        path: PathBuf,
        /// The error.
        source: nix::Error,
    },
    /// The file that pins the namespace could not be made or removed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The namespace file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Loopback could not be brought up.
    #[error(transparent)]
    Netlink(#[from] crate::NetlinkError),
}

/// Makes a new network namespace, pinned at `path` (a file that must not exist yet), with its
/// loopback interface up.
pub fn create(path: &Path) -> Result<(), NetnsError> {
    std::fs::File::create(path).map_err(|source| NetnsError::Io { action: "creating", path: path.to_path_buf(), source })?;
    let target = path.to_path_buf();
    // A thread of its own: unsharing moves only the calling thread into the new namespace.
    let made = std::thread::spawn(move || -> Result<(), NetnsError> {
        let sys = |action, source| NetnsError::Sys { action, path: target.clone(), source };
        unshare(CloneFlags::CLONE_NEWNET).map_err(|e| sys("creating the network namespace for", e))?;
        mount(Some("/proc/thread-self/ns/net"), &target, None::<&str>, MsFlags::MS_BIND, None::<&str>)
            .map_err(|e| sys("pinning the network namespace at", e))?;
        crate::link::loopback_up()?;
        Ok(())
    })
    .join()
    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    if made.is_err() {
        let _ = remove(path);
    }
    made
}

/// Unpins and deletes the namespace at `path`; nothing to do if it is not there. The namespace
/// itself ends when no process is left in it.
pub fn remove(path: &Path) -> Result<(), NetnsError> {
    match umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::Error::EINVAL) | Err(nix::Error::ENOENT) => {}
        Err(source) => return Err(NetnsError::Sys { action: "unpinning the network namespace at", path: path.to_path_buf(), source }),
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(NetnsError::Io { action: "removing", path: path.to_path_buf(), source }),
    }
}
