//! Seeding a volume: copying a directory tree of an image into the volume, as Docker does when a
//! new volume is first mounted over content of the image.
//!
//! Everything is done relative to open directories (`openat` with `O_NOFOLLOW`, `fstatat` without
//! following), so a symbolic link anywhere under the source is copied as a link and never
//! followed, whatever it points to. Regular files, directories, symbolic links, device nodes,
//! FIFOs and sockets keep their mode (set-id and sticky bits included), owner, extended attributes
//! and access and modification times; files hard-linked to each other stay hard-linked.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{open, openat, openat2, readlinkat, AtFlags, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fchmod, fchmodat, fstat, fstatat, futimens, mkdirat, mknodat, utimensat, FchmodatFlags, FileStat, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, linkat, symlinkat, Gid, Uid};
use xattr::FileExt;
use xcompose_container::IdMap;

use crate::error::{io_err, nix_err, Result, VolumeError};

/// What [`seed_dir`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seeding {
    /// The source does not exist: nothing to copy.
    NoSource,
    /// The destination already has content: left as it is.
    NotEmpty,
    /// The source was copied.
    Copied,
}

/// The host's overflow id, which a user namespace shows for ids it does not map.
const NOBODY: u32 = 65534;

/// Overlayfs's own attributes describe a layer, not the files: never copied.
const OVERLAY_XATTRS: &[u8] = b"trusted.overlay.";

/// Copies the tree `from` into the directory `to` if `to` is empty. `from` itself must not be a
/// symbolic link (the caller resolves it inside the image's root). With `ids` (a remapped state
/// root), owners are shifted into its range, as the containers see the image through it. On
/// failure, `to` is emptied again, so that a later attempt starts afresh.
pub(crate) fn seed_dir(volume: &str, from: &Path, to: &Path, ids: Option<&IdMap>) -> Result<Seeding> {
    let bad_source = |reason: &str| VolumeError::BadSeedSource { name: volume.to_string(), from: from.to_path_buf(), reason: reason.to_string() };
    let src = match open(from, dir_flags(), Mode::empty()) {
        Ok(fd) => File::from(fd),
        Err(Errno::ENOENT) => return Ok(Seeding::NoSource),
        Err(Errno::ELOOP | Errno::ENOTDIR) if fs::symlink_metadata(from).is_ok_and(|m| m.file_type().is_symlink()) => {
            return Err(bad_source("it is a symbolic link; resolve it inside the image's root first"))
        }
        Err(Errno::ENOTDIR) => return Err(bad_source("not a directory")),
        Err(e) => return Err(nix_err(from)(e)),
    };
    let dst = File::from(open(to, dir_flags(), Mode::empty()).map_err(nix_err(to))?);
    if !names(&dst, to)?.is_empty() {
        return Ok(Seeding::NotEmpty);
    }
    // Metadata taken before reading anything, so that the copies get the source's access times.
    let mut copier = Copier { from, to, dst_root: &dst, first_links: HashMap::new(), ids };
    let st = copier.shifted(fstat(&src).map_err(nix_err(from))?);
    let copied = copier.copy_children(&src, &dst, Path::new("")).and_then(|()| copy_attributes(&st, &src, &dst, from));
    match copied {
        Ok(()) => Ok(Seeding::Copied),
        Err(e) => {
            // Best effort: the copy's own error is what the caller needs to see.
            let _ = empty_dir(to);
            Err(e)
        }
    }
}

fn dir_flags() -> OFlag {
    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
}

/// The entries of an open directory, without `.` and `..`.
fn names(dir: &File, shown: &Path) -> Result<Vec<OsString>> {
    // A fresh open file description, so that reading it leaves `dir`'s offset alone.
    let mut listing = Dir::openat(dir, ".", dir_flags(), Mode::empty()).map_err(nix_err(shown))?;
    let mut out = Vec::new();
    for entry in listing.iter() {
        let name = entry.map_err(nix_err(shown))?.file_name().to_bytes().to_vec();
        if name != b"." && name != b".." {
            out.push(OsString::from(std::ffi::OsStr::from_bytes(&name)));
        }
    }
    Ok(out)
}

struct Copier<'a> {
    /// The source root, for messages.
    from: &'a Path,
    /// The destination root, for messages.
    to: &'a Path,
    /// The destination root, which hard links are resolved beneath.
    dst_root: &'a File,
    /// (device, inode) of a source file with several links -> its first copy, relative to the root.
    first_links: HashMap<(u64, u64), PathBuf>,
    /// The user namespace maps owners are shifted through.
    ids: Option<&'a IdMap>,
}

impl Copier<'_> {
    /// `st` with its owner as the host sees a remapped container's: shifted into the range,
    /// ids outside it as the host's nobody.
    fn shifted(&self, mut st: FileStat) -> FileStat {
        if let Some(ids) = self.ids {
            st.st_uid = ids.host_uid(st.st_uid).unwrap_or(NOBODY);
            st.st_gid = ids.host_gid(st.st_gid).unwrap_or(NOBODY);
        }
        st
    }

    fn copy_children(&mut self, src: &File, dst: &File, rel: &Path) -> Result<()> {
        for name in names(src, &self.from.join(rel))? {
            self.copy_entry(src, dst, &name, &rel.join(&name))?;
        }
        Ok(())
    }

    fn copy_entry(&mut self, src_dir: &File, dst_dir: &File, name: &OsStr, rel: &Path) -> Result<()> {
        let (shown, target) = (self.from.join(rel), self.to.join(rel));
        let st = self.shifted(fstatat(src_dir, name, AtFlags::AT_SYMLINK_NOFOLLOW).map_err(nix_err(&shown))?);
        let kind = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
        match kind {
            SFlag::S_IFDIR => {
                let src = open_same(src_dir, name, dir_flags(), &st, &shown)?;
                mkdirat(dst_dir, name, Mode::S_IRWXU).map_err(nix_err(&target))?;
                let dst = File::from(openat(dst_dir, name, dir_flags(), Mode::empty()).map_err(nix_err(&target))?);
                self.copy_children(&src, &dst, rel)?;
                copy_attributes(&st, &src, &dst, &shown)
            }
            SFlag::S_IFREG => self.copy_file(src_dir, dst_dir, name, rel, &st),
            SFlag::S_IFLNK => {
                let link = readlinkat(src_dir, name).map_err(nix_err(&shown))?;
                symlinkat(link.as_os_str(), dst_dir, name).map_err(nix_err(&target))?;
                set_node_attributes(dst_dir, name, &target, &st, false)
            }
            _ => {
                mknodat(dst_dir, name, kind, Mode::S_IRUSR | Mode::S_IWUSR, st.st_rdev).map_err(nix_err(&target))?;
                set_node_attributes(dst_dir, name, &target, &st, true)
            }
        }
    }

    fn copy_file(&mut self, src_dir: &File, dst_dir: &File, name: &OsStr, rel: &Path, st: &FileStat) -> Result<()> {
        let shown = self.from.join(rel);
        let key = (st.st_dev, st.st_ino);
        if st.st_nlink > 1 {
            if let Some(first) = self.first_links.get(&key) {
                return self.link(first, dst_dir, name, rel);
            }
        }
        // O_NONBLOCK: should the entry have been replaced by a FIFO meanwhile, opening it must not hang.
        let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
        let mut src = open_same(src_dir, name, flags, st, &shown)?;
        let create = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let mut dst = File::from(openat(dst_dir, name, create, Mode::S_IRUSR | Mode::S_IWUSR).map_err(nix_err(self.to.join(rel)))?);
        copy_contents(&mut src, &mut dst, &shown, &self.to.join(rel))?;
        copy_attributes(st, &src, &dst, &shown)?;
        if st.st_nlink > 1 {
            self.first_links.insert(key, rel.to_path_buf());
        }
        Ok(())
    }

    /// Hard-links `name` in `dst_dir` to the copy at `first`, resolved strictly beneath the root.
    fn link(&self, first: &Path, dst_dir: &File, name: &OsStr, rel: &Path) -> Result<()> {
        let parent = first.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let how = OpenHow::new()
            .flags(OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS);
        let parent_fd: OwnedFd = openat2(self.dst_root, parent, how).map_err(nix_err(self.to.join(parent)))?;
        let file_name = first.file_name().unwrap_or(first.as_os_str());
        linkat(&parent_fd, file_name, dst_dir, name, AtFlags::empty()).map_err(nix_err(self.to.join(rel)))
    }
}

/// Copies the bytes of `src` (shown as `from`) into `dst` (shown as `to`), so that a failed read
/// names the image's file and a failed write (a full disk) names the volume's.
fn copy_contents(src: &mut File, dst: &mut File, from: &Path, to: &Path) -> Result<()> {
    let mut buffer = vec![0; 128 * 1024];
    loop {
        let read = match src.read(&mut buffer) {
            Ok(0) => return Ok(()),
            Ok(read) => read,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_err(from)(e)),
        };
        dst.write_all(&buffer[..read]).map_err(io_err(to))?;
    }
}

/// Opens the entry `name` of `dir`, checking that it is still the one `st` describes.
fn open_same(dir: &File, name: &OsStr, flags: OFlag, st: &FileStat, shown: &Path) -> Result<File> {
    let file = File::from(openat(dir, name, flags, Mode::empty()).map_err(nix_err(shown))?);
    let opened = fstat(&file).map_err(nix_err(shown))?;
    if (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino) {
        return Err(VolumeError::Io { path: shown.to_path_buf(), source: io::Error::other("changed while being copied") });
    }
    Ok(file)
}

/// Gives an open copy `dst` the owner, mode and times in `st` (taken before `src` was read) and
/// the extended attributes of `src`.
fn copy_attributes(st: &FileStat, src: &File, dst: &File, shown: &Path) -> Result<()> {
    fchown(dst, Some(Uid::from_raw(st.st_uid)), Some(Gid::from_raw(st.st_gid))).map_err(nix_err(shown))?;
    // After chown, which clears set-id bits.
    fchmod(dst, permissions(st)).map_err(nix_err(shown))?;
    for attr in src.list_xattr().map_err(io_err(shown))? {
        if attr.as_bytes().starts_with(OVERLAY_XATTRS) {
            continue;
        }
        if let Some(value) = src.get_xattr(&attr).map_err(io_err(shown))? {
            dst.set_xattr(&attr, &value).map_err(|e| VolumeError::Io { path: shown.to_path_buf(), source: io::Error::new(e.kind(), format!("extended attribute {attr:?}: {e}")) })?;
        }
    }
    let (atime, mtime) = times(st);
    futimens(dst, &atime, &mtime).map_err(nix_err(shown))
}

/// Gives the node `name` (a symbolic link, or a special file when `chmod`) the owner, mode and
/// times in `st`, without following it.
fn set_node_attributes(dir: &File, name: &OsStr, shown: &Path, st: &FileStat, chmod: bool) -> Result<()> {
    let (uid, gid) = (Uid::from_raw(st.st_uid), Gid::from_raw(st.st_gid));
    fchownat(dir.as_fd(), name, Some(uid), Some(gid), AtFlags::AT_SYMLINK_NOFOLLOW).map_err(nix_err(shown))?;
    if chmod {
        // Not a symbolic link: we made this node ourselves just now.
        fchmodat(dir, name, permissions(st), FchmodatFlags::FollowSymlink).map_err(nix_err(shown))?;
    }
    let (atime, mtime) = times(st);
    utimensat(dir, name, &atime, &mtime, UtimensatFlags::NoFollowSymlink).map_err(nix_err(shown))
}

fn permissions(st: &FileStat) -> Mode {
    Mode::from_bits_truncate(st.st_mode & 0o7777)
}

fn times(st: &FileStat) -> (TimeSpec, TimeSpec) {
    (TimeSpec::new(st.st_atime, st.st_atime_nsec), TimeSpec::new(st.st_mtime, st.st_mtime_nsec))
}

/// Removes everything in `dir`, keeping `dir`.
fn empty_dir(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            fs::remove_dir_all(entry.path())?;
        } else {
            fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}
