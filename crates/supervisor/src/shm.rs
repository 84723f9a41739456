//! The `/dev/shm` of a container whose IPC namespace others may join (`ipc: shareable`): a
//! tmpfs mounted outside the container, where the joiners can bind it too (Docker's `ShmPath`),
//! for as long as the container's supervisor runs.

use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};

/// A mounted shared `/dev/shm`; unmounted when dropped.
#[derive(Debug)]
pub struct SharedShm {
    dir: PathBuf,
}

impl SharedShm {
    /// Mounts a tmpfs of `size` bytes at `dir` (created if missing), mode 1777 as Docker's;
    /// what a killed supervisor left mounted there is unmounted first.
    pub fn mount(dir: &Path, size: u64) -> Result<Self, String> {
        unmount(dir);
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let options = format!("mode=1777,size={size}");
        let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        mount(Some("shm"), dir, Some("tmpfs"), flags, Some(options.as_str())).map_err(|e| format!("mounting the shared /dev/shm on {}: {e}", dir.display()))?;
        Ok(Self { dir: dir.to_path_buf() })
    }
}

impl Drop for SharedShm {
    fn drop(&mut self) {
        unmount(&self.dir);
    }
}

/// Unmounts whatever is mounted at `dir` (lazily: a joiner may still hold it), if anything.
pub fn unmount(dir: &Path) {
    while umount2(dir, MntFlags::MNT_DETACH).is_ok() {}
}
