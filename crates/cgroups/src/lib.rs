//! Control groups for containers, on both hierarchies Linux offers:
//!
//! - **v2** (unified): one directory under `/sys/fs/cgroup`, controllers enabled through the
//!   parent's `cgroup.subtree_control`.
//! - **v1** (legacy or hybrid, as on hosts where `/sys/fs/cgroup/unified` only carries a few
//!   controllers): one directory per controller hierarchy (`memory`, `cpu`, `cpuset`, `pids`,
//!   `freezer`...), kept in step.
//!
//! A container's cgroup is created below the cgroup of the process that creates it (so limits of
//! the surrounding environment still apply), at `<current>/xcompose/<name>`. The full paths are
//! returned by [`Cgroup::paths`] so the runtime can store them and reopen the cgroup later with
//! [`Cgroup::open`], from another process.

mod fs;
mod resources;
mod v1;
mod v2;

use std::path::PathBuf;

pub use resources::{Blkio, DeviceAccess, Resources, Stats, DEFAULT_DEVICE_RULES};

/// What can go wrong with a cgroup.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// A cgroup file could not be read or written.
    #[error("cgroup {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// No usable cgroup hierarchy is mounted.
    #[error("no cgroup hierarchy found under /sys/fs/cgroup: mount cgroup v2, or the v1 memory, cpu, pids and freezer controllers")]
    NotMounted,
    /// A value in a cgroup file was not what the kernel documents.
    #[error("cgroup {path}: unexpected content {content:?}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What it held.
        content: String,
    },
    /// Processes were still alive when the cgroup had to be removed.
    #[error("cgroup {path} still has processes after they were killed")]
    Busy {
        /// The cgroup directory.
        path: PathBuf,
    },
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, CgroupError>;

/// The cgroup hierarchy layout of this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hierarchy {
    /// cgroup v2 mounted at /sys/fs/cgroup.
    Unified,
    /// cgroup v1 controllers mounted under /sys/fs/cgroup/<controller>.
    Legacy,
}

impl Hierarchy {
    /// Detects the layout of the host.
    pub fn detect() -> Result<Self> {
        if fs::CGROUP_ROOT.join("cgroup.controllers").exists() {
            Ok(Self::Unified)
        } else if fs::CGROUP_ROOT.join("memory").is_dir() {
            Ok(Self::Legacy)
        } else {
            Err(CgroupError::NotMounted)
        }
    }
}

/// One container's cgroup.
#[derive(Debug, Clone)]
pub enum Cgroup {
    /// On cgroup v2.
    V2(v2::CgroupV2),
    /// On cgroup v1: one directory per controller.
    V1(v1::CgroupV1),
}

impl Cgroup {
    /// Creates (or reuses) the cgroup `xcompose/<name>` below the caller's own cgroup and applies
    /// `resources`; an absolute `name` (`/parent/ID`) is taken from the hierarchy's root instead.
    pub fn create(name: &str, resources: &Resources) -> Result<Self> {
        let cg = match Hierarchy::detect()? {
            Hierarchy::Unified => Self::V2(v2::CgroupV2::create(name)?),
            Hierarchy::Legacy => Self::V1(v1::CgroupV1::create(name)?),
        };
        cg.apply(resources)?;
        Ok(cg)
    }

    /// Reopens a cgroup from the paths [`Cgroup::paths`] returned when it was created.
    pub fn open(paths: &[PathBuf]) -> Result<Self> {
        match Hierarchy::detect()? {
            Hierarchy::Unified => Ok(Self::V2(v2::CgroupV2::open(paths.first().cloned().unwrap_or_default()))),
            Hierarchy::Legacy => Ok(Self::V1(v1::CgroupV1::open(paths))),
        }
    }

    /// The directories of this cgroup (one on v2, one per controller on v1).
    pub fn paths(&self) -> Vec<PathBuf> {
        match self {
            Self::V2(c) => vec![c.path().to_path_buf()],
            Self::V1(c) => c.paths(),
        }
    }

    /// Writes the limits.
    pub fn apply(&self, resources: &Resources) -> Result<()> {
        match self {
            Self::V2(c) => c.apply(resources),
            Self::V1(c) => c.apply(resources),
        }
    }

    /// Moves a process (and its future children) into the cgroup.
    pub fn add_process(&self, pid: u32) -> Result<()> {
        match self {
            Self::V2(c) => c.add_process(pid),
            Self::V1(c) => c.add_process(pid),
        }
    }

    /// The processes in the cgroup.
    pub fn processes(&self) -> Result<Vec<u32>> {
        match self {
            Self::V2(c) => c.processes(),
            Self::V1(c) => c.processes(),
        }
    }

    /// Freezes (`true`) or thaws (`false`) every process of the cgroup, waiting until done.
    pub fn set_frozen(&self, frozen: bool) -> Result<()> {
        match self {
            Self::V2(c) => c.set_frozen(frozen),
            Self::V1(c) => c.set_frozen(frozen),
        }
    }

    /// Current usage figures.
    pub fn stats(&self) -> Result<Stats> {
        match self {
            Self::V2(c) => c.stats(),
            Self::V1(c) => c.stats(),
        }
    }

    /// Kills every process of the cgroup (thawing it first so they can die) and waits until
    /// none is left; the cgroup stays.
    pub fn kill_all(&self) -> Result<()> {
        match self {
            Self::V2(c) => c.kill_all(),
            Self::V1(c) => c.kill_all(),
        }
    }

    /// Kills every process left (thawing first so they can die) and removes the directories.
    pub fn destroy(&self) -> Result<()> {
        match self {
            Self::V2(c) => c.destroy(),
            Self::V1(c) => c.destroy(),
        }
    }
}
