//! User namespaces: a container whose user and group ids are a range of the host's, so its root
//! is an unprivileged host user (dockerd's `--userns-remap`).
//!
//! The caller makes the namespace and writes its maps ([`create`]), as runc's parent does. The
//! container's other namespaces and mounts are then made by the host's root, and its PID 1
//! enters the user namespace last, just before its command ([`enter`]): every namespace but the
//! user one belongs to the host's user namespace, so the container's capabilities act on the
//! files and processes of its id range, never on its mounts, hostname or network devices. (runc
//! makes the mount, UTS, IPC and pid namespaces inside the user namespace, where `cap_add:
//! SYS_ADMIN` may mount a tmpfs; here no capability lets a remapped container mount anything.)
//!
//! The image's layers and the container's writable layer are seen through idmapped mounts
//! ([`idmap_in_place`]): their files are stored with the container's ids, as without remapping,
//! and appear shifted into the range, with no copy. Where idmapped mounts are missing
//! ([`IdmapError::unsupported`]), the caller gives layers whose files are stored with the host's
//! shifted ids and sets [`crate::ContainerSpec::rootfs_ids_shifted`]: nothing is idmapped then.

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

use nix::fcntl::OFlag;
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::wait::waitpid;
use nix::unistd::{fork, pipe2, ForkResult};
use serde::{Deserialize, Serialize};

use crate::{ContainerError, Result};

/// `size` ids from `container` in the container are the ids from `host` on the host (one line
/// of `/proc/PID/uid_map`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdRange {
    /// First id inside the namespace.
    pub container: u32,
    /// The host id it is.
    pub host: u32,
    /// How many ids follow.
    pub size: u32,
}

impl IdRange {
    /// The host id of container id `id`, if this range holds it.
    fn to_host(self, id: u32) -> Option<u32> {
        id.checked_sub(self.container).filter(|offset| *offset < self.size).and_then(|offset| self.host.checked_add(offset))
    }

    /// The container id of host id `id`, if this range holds it.
    fn to_container(self, id: u32) -> Option<u32> {
        id.checked_sub(self.host).filter(|offset| *offset < self.size).and_then(|offset| self.container.checked_add(offset))
    }
}

/// The uid and gid maps of a user namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdMap {
    /// User ids.
    pub uids: Vec<IdRange>,
    /// Group ids.
    pub gids: Vec<IdRange>,
}

impl IdMap {
    /// Container ids `0..size` as the host ids from `uid` and `gid` (a subordinate range).
    pub fn range(uid: u32, gid: u32, size: u32) -> Self {
        Self { uids: vec![IdRange { container: 0, host: uid, size }], gids: vec![IdRange { container: 0, host: gid, size }] }
    }

    /// The host uid of container uid `uid` (none: it is not mapped, the container sees nobody).
    pub fn host_uid(&self, uid: u32) -> Option<u32> {
        self.uids.iter().find_map(|r| r.to_host(uid))
    }

    /// The host gid of container gid `gid`.
    pub fn host_gid(&self, gid: u32) -> Option<u32> {
        self.gids.iter().find_map(|r| r.to_host(gid))
    }

    /// The container uid host uid `uid` is (none: the container sees it as nobody).
    pub fn container_uid(&self, uid: u32) -> Option<u32> {
        self.uids.iter().find_map(|r| r.to_container(uid))
    }

    /// The container gid host gid `gid` is.
    pub fn container_gid(&self, gid: u32) -> Option<u32> {
        self.gids.iter().find_map(|r| r.to_container(gid))
    }

    /// The host ids of the container's root, `(uid, gid)`: who owns what it makes.
    pub fn host_root(&self) -> Result<(u32, u32)> {
        match (self.host_uid(0), self.host_gid(0)) {
            (Some(uid), Some(gid)) => Ok((uid, gid)),
            _ => Err(ContainerError::Spec("the user namespace maps no root (container uid and gid 0)".into())),
        }
    }
}

/// The text of a `uid_map` or `gid_map` file for `ranges`.
fn map_text(ranges: &[IdRange]) -> String {
    ranges.iter().map(|r| format!("{} {} {}\n", r.container, r.host, r.size)).collect()
}

/// Writes `map` as the maps of process `pid`, which has just made a user namespace. Needs
/// CAP_SETUID and CAP_SETGID over the host ids named (root does; rootless setups use
/// newuidmap/newgidmap instead).
pub fn write_maps(pid: u32, map: &IdMap) -> std::io::Result<()> {
    let write = |file: &str, text: String| {
        let path = format!("/proc/{pid}/{file}");
        std::fs::write(&path, text).map_err(|e| std::io::Error::new(e.kind(), format!("writing {path}: {e}")))
    };
    write("gid_map", map_text(&map.gids))?;
    write("uid_map", map_text(&map.uids))
}

/// A new user namespace mapped by `map`, held open by the returned descriptor: a short-lived
/// child makes it, this process writes its maps and opens it, then the child exits.
pub fn create(map: &IdMap) -> Result<OwnedFd> {
    let sys = |what: &str, e: nix::Error| ContainerError::Sys { what: what.into(), source: e };
    let (made_read, made_write) = pipe2(OFlag::O_CLOEXEC).map_err(|e| sys("creating a pipe", e))?;
    let (done_read, done_write) = pipe2(OFlag::O_CLOEXEC).map_err(|e| sys("creating a pipe", e))?;
    // SAFETY: the child only calls unshare, write, read and _exit.
    match unsafe { fork() }.map_err(|e| sys("fork", e))? {
        ForkResult::Child => {
            drop(made_read);
            drop(done_write);
            let code = match unshare(CloneFlags::CLONE_NEWUSER) {
                Ok(()) => {
                    let _ = std::fs::File::from(made_write).write_all(&[1]);
                    // Held until the parent has opened the namespace (EOF).
                    let _ = std::fs::File::from(done_read).read(&mut [0u8; 1]);
                    0
                }
                Err(e) => {
                    let _ = std::fs::File::from(made_write).write_all(e.desc().as_bytes());
                    1
                }
            };
            // SAFETY: leaving the forked child without running the parent's destructors.
            unsafe { nix::libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            drop(made_write);
            drop(done_read);
            let mut reply = Vec::new();
            let _ = std::fs::File::from(made_read).read_to_end(&mut reply);
            let opened = if reply == [1] {
                write_maps(child.as_raw() as u32, map)
                    .and_then(|()| std::fs::File::open(format!("/proc/{child}/ns/user")))
                    .map(OwnedFd::from)
                    .map_err(|e| ContainerError::Setup(format!("mapping the user namespace: {e}")))
            } else {
                Err(ContainerError::Setup(format!("creating a user namespace: {}", String::from_utf8_lossy(&reply))))
            };
            drop(done_write);
            let _ = waitpid(child, None);
            opened
        }
    }
}

/// Gives `dir` (a writable layer's directory, stored with shifted ids) to the container's root,
/// as an idmapped mount would show it: the root of its file system in the container.
pub fn give_to_mapped_root(dir: &Path, map: &IdMap) -> Result<()> {
    let (uid, gid) = map.host_root()?;
    std::os::unix::fs::lchown(dir, Some(uid), Some(gid)).map_err(|e| ContainerError::Setup(format!("giving {} to the user namespace's root: {e}", dir.display())))
}

/// Makes this process (the container's PID 1, still the host's root) create files as the
/// container's root, so the mount points and working directory its setup makes belong to the
/// container; its capabilities stay effective (changing the file system ids drops them).
pub(crate) fn act_as_mapped_root(map: &IdMap) -> std::result::Result<(), String> {
    let (uid, gid) = map.host_root().map_err(|e| e.to_string())?;
    nix::unistd::setfsgid(gid.into());
    nix::unistd::setfsuid(uid.into());
    let permitted = caps::read(None, caps::CapSet::Permitted).map_err(|e| format!("reading capabilities: {e}"))?;
    caps::set(None, caps::CapSet::Effective, &permitted).map_err(|e| format!("raising capabilities: {e}"))
}

/// Enters the user namespace `userns` (after every other namespace and mount is made): this
/// process then has every capability within it, and none outside. The caller must be
/// single-threaded.
pub fn enter(userns: BorrowedFd<'_>) -> std::result::Result<(), String> {
    setns(userns, CloneFlags::CLONE_NEWUSER).map_err(|e| format!("entering the user namespace: {e}"))?;
    // The host's root is nobody in there: become the namespace's root, so what this process
    // makes belongs to it (the capabilities stay).
    let root_gid = nix::unistd::Gid::from_raw(0);
    let root_uid = nix::unistd::Uid::from_raw(0);
    nix::unistd::setresgid(root_gid, root_gid, root_gid).map_err(|e| format!("becoming the user namespace's root group: {e}"))?;
    nix::unistd::setresuid(root_uid, root_uid, root_uid).map_err(|e| format!("becoming the user namespace's root: {e}"))
}

/// The user namespace of process `pid`, when it is not this process's own (a container's to
/// join with [`enter`]).
pub fn other_than_own(pid: u32) -> std::io::Result<Option<std::fs::File>> {
    use std::os::unix::fs::MetadataExt;
    let theirs = std::fs::File::open(format!("/proc/{pid}/ns/user"))?;
    let (theirs_meta, ours) = (theirs.metadata()?, std::fs::metadata("/proc/self/ns/user")?);
    Ok(((theirs_meta.dev(), theirs_meta.ino()) != (ours.dev(), ours.ino())).then_some(theirs))
}

/// Why an idmapped mount could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdmapError {
    /// What failed, on which path, with the system's reason.
    pub message: String,
    /// The kernel or the file system does not offer idmapped mounts (`ENOSYS`, `EINVAL`,
    /// `EPERM`, `EOPNOTSUPP`): the layers' owners must be shifted by copying instead.
    pub unsupported: bool,
}

impl std::fmt::Display for IdmapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The errors with which open_tree and mount_setattr say idmapped mounts are missing: no such
/// system call (before Linux 5.12), a file system that cannot be idmapped (`EINVAL`), a mount
/// this process may not idmap (`EPERM`, in a user namespace that does not own it).
fn idmap_unsupported(errno: nix::errno::Errno) -> bool {
    use nix::errno::Errno;
    matches!(errno, Errno::ENOSYS | Errno::EINVAL | Errno::EPERM | Errno::EOPNOTSUPP)
}

/// Mounts `path` on itself with its ids seen through `userns`'s maps (an idmapped mount: a file
/// stored as uid 0 appears as the range's first host id). In this process's mount namespace
/// only; mounts under `path` are kept, unshifted.
pub(crate) fn idmap_in_place(path: &Path, userns: BorrowedFd<'_>) -> std::result::Result<(), IdmapError> {
    use nix::libc;
    let fail = |what: &str| {
        let errno = nix::errno::Errno::last();
        let unsupported = idmap_unsupported(errno);
        let mut message = format!("{what} {} (idmapped mount): {}", path.display(), errno.desc());
        if unsupported {
            message.push_str(": user namespace remapping with idmapped mounts needs Linux 5.12+ and a state root file system that supports them (ext4, xfs, btrfs, tmpfs 6.3+); a state root remapped where they are missing shifts the layers' owners by copying (XCOMPOSE_USERNS_SHIFT=copy)");
        }
        IdmapError { message, unsupported }
    };
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| IdmapError { message: format!("NUL in {}", path.display()), unsupported: false })?;
    let flags = libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC | libc::AT_RECURSIVE as libc::c_uint;
    // SAFETY: open_tree with a valid C string; the result is a new descriptor or -1.
    let tree = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, c_path.as_ptr(), flags) };
    if tree < 0 {
        return Err(fail("cloning"));
    }
    // SAFETY: open_tree returned a descriptor this function now owns.
    let tree = unsafe { OwnedFd::from_raw_fd(tree as i32) };
    let attr = libc::mount_attr { attr_set: libc::MOUNT_ATTR_IDMAP, attr_clr: 0, propagation: 0, userns_fd: userns.as_raw_fd() as u64 };
    let empty = c"";
    // SAFETY: mount_setattr on the descriptor with a mount_attr of the size passed.
    let set = unsafe { libc::syscall(libc::SYS_mount_setattr, tree.as_fd().as_raw_fd(), empty.as_ptr(), libc::AT_EMPTY_PATH, &attr as *const libc::mount_attr, std::mem::size_of::<libc::mount_attr>()) };
    if set < 0 {
        return Err(fail("shifting the ids of"));
    }
    // SAFETY: move_mount of the detached tree onto the C string path.
    let moved = unsafe { libc::syscall(libc::SYS_move_mount, tree.as_fd().as_raw_fd(), empty.as_ptr(), libc::AT_FDCWD, c_path.as_ptr(), libc::MOVE_MOUNT_F_EMPTY_PATH) };
    if moved < 0 {
        return Err(IdmapError { unsupported: false, ..fail("mounting") });
    }
    Ok(())
}

/// Whether the file system of `dir` can be seen through an idmapped mount of `map` (tried in a
/// child's private mount namespace, so nothing stays mounted): what remapping a state root with
/// idmapped mounts needs, checked before it is recorded.
pub fn check_idmap(dir: &Path, map: &IdMap) -> std::result::Result<(), IdmapError> {
    let other = |message: String| IdmapError { message, unsupported: false };
    let userns = create(map).map_err(|e| other(e.to_string()))?;
    let (read, write) = pipe2(OFlag::O_CLOEXEC).map_err(|e| other(format!("creating a pipe: {e}")))?;
    // SAFETY: the child makes system calls on data it owns and ends with _exit.
    match unsafe { fork() }.map_err(|e| other(format!("fork: {e}")))? {
        ForkResult::Child => {
            drop(read);
            let tried = unshare(CloneFlags::CLONE_NEWNS)
                .map_err(|e| other(format!("entering a mount namespace: {e}")))
                .and_then(|()| {
                    use nix::mount::{mount, MsFlags};
                    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>).map_err(|e| other(format!("making mounts private: {e}")))
                })
                .and_then(|()| idmap_in_place(dir, userns.as_fd()));
            let code = match tried {
                Ok(()) => 0,
                Err(e) => {
                    // One byte says whether idmapped mounts are missing, the message follows.
                    let mut reply = vec![if e.unsupported { b'U' } else { b'F' }];
                    reply.extend(e.message.as_bytes());
                    let _ = std::fs::File::from(write).write_all(&reply);
                    1
                }
            };
            // SAFETY: leaving the forked child.
            unsafe { nix::libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            drop(write);
            let mut reply = Vec::new();
            let _ = std::fs::File::from(read).read_to_end(&mut reply);
            let _ = waitpid(child, None);
            match reply.split_first() {
                None => Ok(()),
                Some((kind, message)) => Err(IdmapError { message: String::from_utf8_lossy(message).into_owned(), unsupported: *kind == b'U' }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_map_within_their_range_only() {
        let map = IdMap::range(100000, 200000, 65536);
        assert_eq!(map.host_uid(0), Some(100000));
        assert_eq!(map.host_uid(65535), Some(165535));
        assert_eq!(map.host_uid(65536), None);
        assert_eq!(map.host_gid(5), Some(200005));
        assert_eq!(map.container_uid(165535), Some(65535));
        assert_eq!(map.container_uid(99999), None);
        assert_eq!(map.container_gid(200005), Some(5));
        assert_eq!(map.host_root().unwrap(), (100000, 200000));
        assert_eq!(map_text(&map.uids), "0 100000 65536\n");
    }

    #[test]
    fn a_map_without_root_is_refused() {
        let map = IdMap { uids: vec![IdRange { container: 1, host: 100000, size: 10 }], gids: vec![] };
        assert!(map.host_root().unwrap_err().to_string().contains("maps no root"));
    }
}
