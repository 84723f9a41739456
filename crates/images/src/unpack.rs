//! Unpacking one layer tar, safely.
//!
//! A layer comes from an image someone else built, so every entry is checked before anything is
//! written: no absolute paths, no `..`, no writing through a symlink (an earlier entry could have
//! made `etc -> /etc` or `up -> ../../..`), no hard link to anything outside the layer or through
//! a symlink. Device nodes and fifos are created as Docker does (a debootstrap tree has
//! `/dev/full`, `/dev/null`...); where the store may not create them (a rootless store) they are
//! skipped with a warning, as Docker's rootless mode does. OCI whiteouts become overlayfs whiteouts: `.wh.NAME` a 0/0
//! character device `NAME`, `.wh..wh..opq` the `trusted.overlay.opaque=y` attribute (`user.overlay.opaque` in a user namespace, for overlay's `userxattr`) on its
//! directory. The layer is unpacked into a temporary sibling directory renamed into place at the
//! end, so a failure or a crash never leaves a half layer under the final name.

use std::fs;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::{symlink, DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use tar::{Archive, EntryType};

/// The largest buffer a regular file's content is written through.
const FILE_BUFFER: usize = 1 << 18;

/// Why a layer could not be unpacked.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// The archive is malformed or could not be read.
    #[error("reading layer: {0}")]
    Read(#[from] io::Error),
    /// An entry would escape the layer directory or is not allowed in a layer.
    #[error("refusing layer entry {entry:?}: {reason}")]
    Unsafe {
        /// The entry's path in the tar.
        entry: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Writing the unpacked entry failed.
    #[error("writing {path}: {source}")]
    Write {
        /// Where.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
}

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";

/// Unpacks `layer` (a tar, gzip-compressed or not) into `dest`, which must not exist yet.
pub fn unpack_layer(layer: impl Read, dest: &Path) -> Result<(), UnpackError> {
    let parent = dest.parent().ok_or_else(|| UnpackError::Write { path: dest.to_path_buf(), source: io::Error::other("no parent directory") })?;
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = parent.join(format!(".{name}.unpacking-{}", std::process::id()));
    // A leftover from an interrupted unpack is garbage: start afresh.
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(|source| UnpackError::Write { path: tmp.clone(), source })?;
    }
    fs::DirBuilder::new().mode(0o755).create(&tmp).map_err(|source| UnpackError::Write { path: tmp.clone(), source })?;
    match unpack_into(layer, &tmp) {
        Ok(()) => fs::rename(&tmp, dest).map_err(|source| UnpackError::Write { path: dest.to_path_buf(), source }),
        Err(e) => {
            let _ = fs::remove_dir_all(&tmp);
            Err(e)
        }
    }
}

fn unpack_into(layer: impl Read, root: &Path) -> Result<(), UnpackError> {
    let mut buffered = BufReader::new(layer);
    let gzip = buffered.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    let reader: Box<dyn Read> = if gzip { Box::new(flate2::read::GzDecoder::new(buffered)) } else { Box::new(buffered) };
    let mut archive = Archive::new(reader);
    let mut dirs: Vec<(PathBuf, u32, filetime::FileTime)> = Vec::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let raw = entry.path()?.into_owned();
        let shown = raw.display().to_string();
        let unsafe_entry = |reason: &str| UnpackError::Unsafe { entry: shown.clone(), reason: reason.to_string() };
        let rel = relative_path(&raw).map_err(|r| unsafe_entry(&r))?;
        let Some(file_name) = rel.file_name().map(|n| n.to_string_lossy().into_owned()) else { continue };
        let parent_rel = rel.parent().unwrap_or(Path::new(""));
        check_no_symlink_on_the_way(root, parent_rel).map_err(|r| unsafe_entry(&r))?;
        let parent = root.join(parent_rel);
        let header = entry.header();
        let mode = header.mode()? & 0o7777;
        let (uid, gid) = (header.uid()? as u32, header.gid()? as u32);
        let mtime = filetime::FileTime::from_unix_time(header.mtime()? as i64, 0);
        if file_name == OPAQUE {
            create_parents(root, parent_rel)?;
            xattr::set(&parent, format!("{}opaque", xcompose_rootless::overlay_xattr_prefix()), b"y").map_err(|source| UnpackError::Write { path: parent.clone(), source })?;
            continue;
        }
        if let Some(hidden) = file_name.strip_prefix(WHITEOUT_PREFIX) {
            create_parents(root, parent_rel)?;
            let at = parent.join(hidden);
            remove_existing(&at)?;
            mknod(&at, SFlag::S_IFCHR, Mode::empty(), 0).map_err(|e| UnpackError::Write { path: at.clone(), source: e.into() })?;
            continue;
        }
        create_parents(root, parent_rel)?;
        let target = parent.join(&file_name);
        let write_err = |source: io::Error| UnpackError::Write { path: target.clone(), source };
        match header.entry_type() {
            EntryType::Directory => {
                if !target.is_dir() || fs::symlink_metadata(&target).map(|m| m.file_type().is_symlink()).unwrap_or(false) {
                    remove_existing(&target)?;
                    fs::DirBuilder::new().mode(0o755).create(&target).map_err(write_err)?;
                }
                lchown(&target, uid, gid)?;
                dirs.push((target, mode, mtime));
                continue;
            }
            EntryType::Regular | EntryType::Continuous => {
                remove_existing(&target)?;
                let file = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .custom_flags(nix::libc::O_NOFOLLOW)
                    .open(&target)
                    .map_err(write_err)?;
                // Through a buffer the size of the file, up to FILE_BUFFER: a big file is written
                // in a few large writes rather than thousands of 8 kB ones.
                let mut file = BufWriter::with_capacity(FILE_BUFFER.min(entry.size() as usize).max(1), file);
                io::copy(&mut entry, &mut file).and_then(|_| file.flush()).map_err(write_err)?;
                lchown(&target, uid, gid)?;
                fs::set_permissions(&target, fs::Permissions::from_mode(mode)).map_err(write_err)?;
            }
            EntryType::Symlink => {
                let link = header.link_name()?.ok_or_else(|| unsafe_entry("symlink without a target"))?.into_owned();
                remove_existing(&target)?;
                symlink(&link, &target).map_err(write_err)?;
                lchown(&target, uid, gid)?;
            }
            EntryType::Link => {
                let link = header.link_name()?.ok_or_else(|| unsafe_entry("hard link without a target"))?.into_owned();
                let link_rel = relative_path(&link).map_err(|r| unsafe_entry(&format!("hard link target: {r}")))?;
                check_no_symlink_on_the_way(root, link_rel.parent().unwrap_or(Path::new(""))).map_err(|r| unsafe_entry(&format!("hard link target: {r}")))?;
                let source = root.join(&link_rel);
                if fs::symlink_metadata(&source).map(|m| m.file_type().is_symlink()).unwrap_or(false) {
                    return Err(unsafe_entry("hard link to a symlink"));
                }
                remove_existing(&target)?;
                fs::hard_link(&source, &target).map_err(write_err)?;
                continue;
            }
            kind @ (EntryType::Char | EntryType::Block | EntryType::Fifo) => {
                remove_existing(&target)?;
                // A fifo has no device numbers (tar writers often leave the fields blank).
                let device = if kind == EntryType::Fifo {
                    0
                } else {
                    makedev(header.device_major()?.unwrap_or(0).into(), header.device_minor()?.unwrap_or(0).into())
                };
                match mknod(&target, node_kind(kind), Mode::from_bits_truncate(mode), device) {
                    Ok(()) => {}
                    Err(Errno::EPERM) => {
                        eprintln!("warning: skipping {shown} in a layer: this store may not create device nodes (not running as root)");
                        continue;
                    }
                    Err(e) => return Err(write_err(e.into())),
                }
                lchown(&target, uid, gid)?;
                // mknod's mode went through the umask.
                fs::set_permissions(&target, fs::Permissions::from_mode(mode)).map_err(write_err)?;
            }
            _ => continue,
        }
        let _ = filetime::set_symlink_file_times(&target, mtime, mtime);
        for (name, value) in entry.pax_extensions()?.into_iter().flatten().flatten().filter_map(|e| Some((e.key().ok()?.strip_prefix("SCHILY.xattr.")?.to_string(), e.value_bytes().to_vec()))) {
            let _ = xattr::set(&target, name, &value);
        }
    }
    // Directory modes and times last, so a read-only directory does not stop its own entries.
    for (dir, mode, mtime) in dirs.into_iter().rev() {
        // A later entry may have replaced the directory, even by a symlink: never follow one.
        if !fs::symlink_metadata(&dir).map(|m| m.is_dir()).unwrap_or(false) {
            continue;
        }
        fs::set_permissions(&dir, fs::Permissions::from_mode(mode)).map_err(|source| UnpackError::Write { path: dir.clone(), source })?;
        let _ = filetime::set_file_times(&dir, mtime, mtime);
    }
    Ok(())
}

/// The node type `mknod` creates for a device or fifo entry.
fn node_kind(kind: EntryType) -> SFlag {
    match kind {
        EntryType::Char => SFlag::S_IFCHR,
        EntryType::Block => SFlag::S_IFBLK,
        _ => SFlag::S_IFIFO,
    }
}

/// The entry path as a relative path with only normal components (`./` prefixes dropped).
fn relative_path(raw: &Path) -> Result<PathBuf, String> {
    let mut out = PathBuf::new();
    for c in raw.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return Err("absolute path".into()),
            Component::ParentDir => return Err("path contains '..'".into()),
        }
    }
    Ok(out)
}

/// Fails if any existing component of `rel` under `root` is a symlink: writing below it would
/// follow the link, possibly out of the layer.
fn check_no_symlink_on_the_way(root: &Path, rel: &Path) -> Result<(), String> {
    let mut at = root.to_path_buf();
    for c in rel.components() {
        at.push(c);
        match fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => return Err(format!("writes through the symlink {}", at.strip_prefix(root).unwrap_or(&at).display())),
            Ok(m) if !m.is_dir() => return Err(format!("{} is not a directory", at.strip_prefix(root).unwrap_or(&at).display())),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    Ok(())
}

/// Creates missing parent directories (checked symlink-free before).
fn create_parents(root: &Path, rel: &Path) -> Result<(), UnpackError> {
    let dir = root.join(rel);
    fs::DirBuilder::new().recursive(true).mode(0o755).create(&dir).map_err(|source| UnpackError::Write { path: dir, source })
}

/// Removes what an earlier entry (or lower layer copy) left at `path`, a directory only if the new
/// entry is not a directory too.
fn remove_existing(path: &Path) -> Result<(), UnpackError> {
    match fs::symlink_metadata(path) {
        Err(_) => Ok(()),
        Ok(m) if m.is_dir() => fs::remove_dir_all(path).map_err(|source| UnpackError::Write { path: path.to_path_buf(), source }),
        Ok(_) => fs::remove_file(path).map_err(|source| UnpackError::Write { path: path.to_path_buf(), source }),
    }
}

fn lchown(path: &Path, uid: u32, gid: u32) -> Result<(), UnpackError> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).map_err(|source| UnpackError::Write { path: path.to_path_buf(), source })
}
