//! Layers with their owners shifted into a user namespace's id range: what user namespace
//! remapping uses where idmapped mounts are missing (dockerd's `--userns-remap` storage).
//!
//! Each layer is copied once per range from its unpacked directory into
//! `images/shifted/<first uid>.<first gid>/<diff_id hex>/` (dockerd keeps a remapped daemon's
//! layers apart the same way, under `/var/lib/docker/<uid>.<gid>/`), every owner `N` becoming
//! `first + N`. Modes, times, device numbers, extended attributes (overlay whiteouts and opaque
//! directories, file capabilities as stored) and hard links are kept; contents are copied with
//! `copy_file_range`, which shares extents where the file system can. An id past the range's size
//! is refused, as dockerd refuses it. The copies go with their layer when it is collected (see
//! `remove.rs`).

use std::collections::HashMap;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::{lchown, symlink, DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::sys::stat::{mknod, Mode, SFlag};

use crate::store::{io_err, Image, ImageStore, Result, StoreError};

/// The directory of the image store holding the shifted copies, one subdirectory per range.
pub(crate) const SHIFTED_DIR: &str = "shifted";

/// Container ids `0..uids` are host uids `uid..uid+uids`, and likewise for groups: the one range
/// a remapped state root maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdShift {
    /// The host uid of the container's uid 0.
    pub uid: u32,
    /// How many uids the range has.
    pub uids: u32,
    /// The host gid of the container's gid 0.
    pub gid: u32,
    /// How many gids the range has.
    pub gids: u32,
}

impl IdShift {
    /// The name of the range's directory in the store, dockerd's `<uid>.<gid>`.
    fn dir_name(&self) -> String {
        format!("{}.{}", self.uid, self.gid)
    }

    /// The host owner of a file the layer stores as `uid:gid`; why not, when either is past the
    /// range.
    fn host_owner(&self, uid: u32, gid: u32) -> std::result::Result<(u32, u32), String> {
        let shift = |id: u32, first: u32, size: u32, kind: &str| {
            id.checked_add(first)
                .filter(|_| id < size)
                .ok_or_else(|| format!("container {kind} {id} cannot be mapped to a host {kind}: the remapped range has {size} {kind}s (0-{})", size.saturating_sub(1)))
        };
        Ok((shift(uid, self.uid, self.uids, "uid")?, shift(gid, self.gid, self.gids, "gid")?))
    }
}

impl ImageStore {
    /// The layer directories of `image` with their owners shifted by `shift`, bottom layer
    /// first: each layer is copied into the range's directory the first time it is asked for.
    pub fn shifted_layers(&self, image: &Image, shift: &IdShift) -> Result<Vec<PathBuf>> {
        let range = self.dir.join(SHIFTED_DIR).join(shift.dir_name());
        let mut dirs = Vec::with_capacity(image.layer_dirs.len());
        let mut lock = None;
        for layer in &image.layer_dirs {
            let name = layer.file_name().ok_or_else(|| StoreError::Corrupt { path: layer.clone(), message: "a layer directory without a name".into() })?;
            let shifted = range.join(name);
            if !shifted.exists() {
                // Under the store's lock: a layer is neither collected nor copied twice meanwhile.
                if lock.is_none() {
                    lock = Some(self.lock()?);
                }
                if !shifted.exists() {
                    fs::create_dir_all(&range).map_err(io_err(&range))?;
                    copy_layer(layer, &shifted, shift)?;
                }
            }
            dirs.push(shifted);
        }
        Ok(dirs)
    }
}

/// Copies the unpacked layer `from` to `to` (which must not exist) with its owners shifted: into
/// a temporary sibling renamed into place, so a failure leaves nothing under the final name.
fn copy_layer(from: &Path, to: &Path, shift: &IdShift) -> Result<()> {
    let name = to.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = to.with_file_name(format!(".{name}.shifting-{}", std::process::id()));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(io_err(&tmp))?;
    }
    let copied = ShiftedCopy { shift, linked: HashMap::new() }.copy(from, &tmp).map_err(|(path, message)| StoreError::Shift {
        layer: format!("sha256:{}", from.file_name().unwrap_or_default().to_string_lossy()),
        path: path.strip_prefix(from).map(|p| Path::new("/").join(p)).unwrap_or(path),
        message,
    });
    match copied.and_then(|()| fs::rename(&tmp, to).map_err(io_err(to))) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = fs::remove_dir_all(&tmp);
            Err(e)
        }
    }
}

/// Where a copy failed (the source path) and why.
type CopyError = (PathBuf, String);

/// One layer's copy in progress.
struct ShiftedCopy<'a> {
    shift: &'a IdShift,
    /// The first copy of each multiply-linked file, by its source's device and inode.
    linked: HashMap<(u64, u64), PathBuf>,
}

impl ShiftedCopy<'_> {
    /// Copies `from` (any kind of file) to `to`, directories recursively.
    fn copy(&mut self, from: &Path, to: &Path) -> std::result::Result<(), CopyError> {
        let fail = |e: io::Error| (from.to_path_buf(), e.to_string());
        let meta = fs::symlink_metadata(from).map_err(fail)?;
        let (uid, gid) = self.shift.host_owner(meta.uid(), meta.gid()).map_err(|m| (from.to_path_buf(), m))?;
        let kind = meta.file_type();
        if kind.is_file() && meta.nlink() > 1 {
            if let Some(first) = self.linked.get(&(meta.dev(), meta.ino())) {
                return fs::hard_link(first, to).map_err(fail);
            }
            self.linked.insert((meta.dev(), meta.ino()), to.to_path_buf());
        }
        if kind.is_dir() {
            fs::DirBuilder::new().mode(0o700).create(to).map_err(fail)?;
            let mut entries: Vec<_> = fs::read_dir(from).map_err(fail)?.collect::<io::Result<_>>().map_err(fail)?;
            entries.sort_by_key(|e| e.file_name());
            for entry in entries {
                self.copy(&entry.path(), &to.join(entry.file_name()))?;
            }
        } else if kind.is_file() {
            let mut source = File::open(from).map_err(fail)?;
            let mut copy = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(to).map_err(fail)?;
            io::copy(&mut source, &mut copy).map_err(fail)?;
        } else if kind.is_symlink() {
            symlink(fs::read_link(from).map_err(fail)?, to).map_err(fail)?;
        } else {
            let node = SFlag::from_bits_truncate(meta.mode() & SFlag::S_IFMT.bits());
            mknod(to, node, Mode::from_bits_truncate(meta.mode()), meta.rdev()).map_err(|e| fail(e.into()))?;
        }
        // Owner before mode: chown clears the set-id bits.
        lchown(to, Some(uid), Some(gid)).map_err(fail)?;
        for name in xattr::list(from).map_err(fail)? {
            if let Some(value) = xattr::get(from, &name).map_err(fail)? {
                xattr::set(to, &name, &value).map_err(fail)?;
            }
        }
        if !kind.is_symlink() {
            fs::set_permissions(to, fs::Permissions::from_mode(meta.mode() & 0o7777)).map_err(fail)?;
        }
        let (atime, mtime) = (filetime::FileTime::from_last_access_time(&meta), filetime::FileTime::from_last_modification_time(&meta));
        filetime::set_symlink_file_times(to, atime, mtime).map_err(fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_shift_within_the_range_only() {
        let shift = IdShift { uid: 100000, uids: 65536, gid: 200000, gids: 1000 };
        assert_eq!(shift.host_owner(0, 0).unwrap(), (100000, 200000));
        assert_eq!(shift.host_owner(65535, 999).unwrap(), (165535, 200999));
        assert_eq!(shift.host_owner(65536, 0).unwrap_err(), "container uid 65536 cannot be mapped to a host uid: the remapped range has 65536 uids (0-65535)");
        assert!(shift.host_owner(0, 1000).unwrap_err().starts_with("container gid 1000 cannot be mapped"));
        assert_eq!(shift.dir_name(), "100000.200000");
    }
}
