//! Device nodes in the container's `/dev`: those `devices:` names, and with `privileged` every
//! device of the host's `/dev`, made with `mknod` like the host's (Docker's way; the device
//! cgroup says which may be used).

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use serde::{Deserialize, Serialize};

/// A device node to make in the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// Its path in the container.
    pub path: PathBuf,
    /// Block (`true`) or character device.
    pub block: bool,
    /// Major number.
    pub major: u64,
    /// Minor number.
    pub minor: u64,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
}

impl Device {
    /// The host's device `host`, to appear at `path` in the container.
    pub fn from_host(host: &Path, path: &Path) -> Result<Self, String> {
        let meta = std::fs::metadata(host).map_err(|e| format!("error gathering device information while adding custom device {:?}: {e}", host.display().to_string()))?;
        let kind = meta.file_type();
        if !kind.is_block_device() && !kind.is_char_device() {
            return Err(format!("error gathering device information while adding custom device {:?}: not a device node", host.display().to_string()));
        }
        let rdev = meta.rdev();
        Ok(Self {
            path: path.to_path_buf(),
            block: kind.is_block_device(),
            major: nix::sys::stat::major(rdev),
            minor: nix::sys::stat::minor(rdev),
            mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
        })
    }

    /// Its device cgroup rule with `permissions` (`rwm`).
    pub fn cgroup_rule(&self, permissions: &str) -> String {
        format!("{} {}:{} {permissions}", if self.block { 'b' } else { 'c' }, self.major, self.minor)
    }

    /// Makes the node under `root` (the container's root before `pivot_root`).
    pub(crate) fn make(&self, root: &Path) -> Result<(), String> {
        let at = crate::rootfs::secure_join(root, &self.path)?;
        if let Some(parent) = at.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("creating {}: {e}", parent.display()))?;
        }
        let _ = std::fs::remove_file(&at);
        let kind = if self.block { SFlag::S_IFBLK } else { SFlag::S_IFCHR };
        match mknod(&at, kind, Mode::from_bits_truncate(self.mode), makedev(self.major, self.minor)) {
            Ok(()) => {}
            // In a user namespace (rootless) no device can be made: the host's node at the same
            // path is bound instead, as runc does for rootless containers.
            Err(nix::errno::Errno::EPERM) if xcompose_rootless::active() => return self.bind_host_node(&at),
            Err(e) => return Err(format!("creating device {}: {e}", self.path.display())),
        }
        nix::unistd::chown(&at, Some(self.uid.into()), Some(self.gid.into())).map_err(|e| format!("chown of device {}: {e}", self.path.display()))
    }
}

impl Device {
    /// Binds the host's node at this device's path onto `at` (an empty file made for it).
    fn bind_host_node(&self, at: &Path) -> Result<(), String> {
        std::fs::File::create(at).map_err(|e| format!("creating {}: {e}", at.display()))?;
        nix::mount::mount(Some(&self.path), at, None::<&str>, nix::mount::MsFlags::MS_BIND, None::<&str>)
            .map_err(|e| format!("binding the host's device {} (rootless): {e}", self.path.display()))
    }
}

/// Every device node of the host's `/dev` (not those of its pts, shm and mqueue mounts), at the
/// same paths: what a privileged container gets.
pub fn host_devices() -> Vec<Device> {
    let mut out = Vec::new();
    let mut pending = vec![PathBuf::from("/dev")];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() && !["/dev/pts", "/dev/shm", "/dev/mqueue"].iter().any(|skip| path == Path::new(skip)) {
                pending.push(path);
            } else if kind.is_block_device() || kind.is_char_device() {
                // /dev/console is the container's own terminal when it has one.
                if path != Path::new("/dev/console") {
                    out.extend(Device::from_host(&path, &path).ok());
                }
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}
