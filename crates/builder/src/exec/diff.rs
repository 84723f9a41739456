//! A step's changes as an OCI layer: the overlayfs upper directory of the step, written as a
//! layer tar. Overlay whiteouts (0/0 character devices) become `.wh.NAME` entries, opaque
//! directories (`trusted.overlay.opaque=y`) get a `.wh..wh..opq` entry, and owners, modes,
//! modification times (Docker keeps them), extended attributes (overlayfs's own
//! `trusted.overlay.*` excepted) and hard links are kept. Entries are written in name order, so
//! the same tree always gives the same tar.

use std::collections::HashMap;
use std::fs::{self, File, Metadata};
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use tar::{EntryType, Header};

/// The prefix of a whiteout entry's name.
const WHITEOUT_PREFIX: &str = ".wh.";
/// The name of the entry that makes its directory opaque.
const OPAQUE: &str = ".wh..wh..opq";
/// The extended attributes of overlayfs itself, never part of a layer.
const OVERLAY_XATTRS: &str = "trusted.overlay.";

/// Whether the upper directory `upper` holds no change at all.
pub fn is_empty(upper: &Path) -> io::Result<bool> {
    Ok(fs::read_dir(upper)?.next().is_none())
}

/// Writes the changes in `upper` (an overlayfs upper directory) to `out` as a layer tar.
pub fn write_layer(upper: &Path, out: impl Write) -> io::Result<()> {
    write_layer_owned_by(upper, out, &|uid, gid| Ok((uid, gid)))
}

/// The owner (uid, gid) a layer entry gets for the owner of a file in the upper directory.
pub type LayerOwner<'a> = &'a dyn Fn(u32, u32) -> io::Result<(u32, u32)>;

/// [`write_layer`] with each entry's owner given by `owner` (a remapped container's upper
/// directory stores the host's shifted ids: the layer gets the container's).
pub fn write_layer_owned_by(upper: &Path, out: impl Write, owner: LayerOwner<'_>) -> io::Result<()> {
    let mut tar = tar::Builder::new(out);
    tar.follow_symlinks(false);
    let mut links = HashMap::new();
    write_dir_entries(&mut tar, upper, Path::new(""), &mut links, owner)?;
    tar.into_inner()?.flush()
}

/// Writes the entries of the directory `dir` (at `rel` in the layer), recursively, in name order.
fn write_dir_entries<W: Write>(tar: &mut tar::Builder<W>, dir: &Path, rel: &Path, links: &mut HashMap<(u64, u64), PathBuf>, owner: LayerOwner<'_>) -> io::Result<()> {
    let mut names: Vec<_> = fs::read_dir(dir)?.map(|e| e.map(|e| e.file_name())).collect::<io::Result<_>>()?;
    names.sort();
    for name in names {
        let path = dir.join(&name);
        let at = rel.join(&name);
        let meta = fs::symlink_metadata(&path)?;
        let kind = meta.file_type();
        if kind.is_char_device() && meta.rdev() == 0 {
            let mut whiteout = std::ffi::OsString::from(WHITEOUT_PREFIX);
            whiteout.push(&name);
            append_marker(tar, &rel.join(whiteout), &meta, owner)?;
            continue;
        }
        let mut header = header_for(&meta, owner)?;
        append_xattrs(tar, &path)?;
        if kind.is_dir() {
            header.set_entry_type(EntryType::Directory);
            tar.append_data(&mut header, &at, io::empty())?;
            if is_opaque(&path) {
                append_marker(tar, &at.join(OPAQUE), &meta, owner)?;
            }
            write_dir_entries(tar, &path, &at, links, owner)?;
        } else if kind.is_symlink() {
            header.set_entry_type(EntryType::Symlink);
            tar.append_link(&mut header, &at, fs::read_link(&path)?)?;
        } else if kind.is_file() {
            if meta.nlink() > 1 {
                if let Some(first) = links.get(&(meta.dev(), meta.ino())) {
                    header.set_entry_type(EntryType::Link);
                    header.set_size(0);
                    tar.append_link(&mut header, &at, first)?;
                    continue;
                }
                links.insert((meta.dev(), meta.ino()), at.clone());
            }
            header.set_entry_type(EntryType::Regular);
            header.set_size(meta.len());
            tar.append_data(&mut header, &at, File::open(&path)?)?;
        } else {
            let kind = if kind.is_char_device() {
                EntryType::Char
            } else if kind.is_block_device() {
                EntryType::Block
            } else if kind.is_fifo() {
                EntryType::Fifo
            } else {
                // A socket has no place in a layer (Docker's archiver skips them too).
                continue;
            };
            header.set_entry_type(kind);
            let rdev = meta.rdev();
            header.set_device_major(nix::sys::stat::major(rdev) as u32)?;
            header.set_device_minor(nix::sys::stat::minor(rdev) as u32)?;
            tar.append_data(&mut header, &at, io::empty())?;
        }
    }
    Ok(())
}

/// A header with the owner (through `owner`), mode and modification time of `meta`, size 0.
fn header_for(meta: &Metadata, owner: LayerOwner<'_>) -> io::Result<Header> {
    let mut header = Header::new_gnu();
    let (uid, gid) = owner(meta.uid(), meta.gid())?;
    header.set_mode(meta.mode() & 0o7777);
    header.set_uid(uid.into());
    header.set_gid(gid.into());
    header.set_mtime(meta.mtime().max(0) as u64);
    header.set_size(0);
    Ok(header)
}

/// An empty regular file marking a whiteout or an opaque directory.
fn append_marker<W: Write>(tar: &mut tar::Builder<W>, at: &Path, meta: &Metadata, owner: LayerOwner<'_>) -> io::Result<()> {
    let mut header = header_for(meta, owner)?;
    header.set_mode(0o644);
    header.set_entry_type(EntryType::Regular);
    tar.append_data(&mut header, at, io::empty())
}

/// Whether overlayfs marked the directory opaque (its lower content hidden).
fn is_opaque(dir: &Path) -> bool {
    matches!(xattr::get(dir, "trusted.overlay.opaque"), Ok(Some(v)) if v == b"y")
}

/// The entry's extended attributes (overlayfs's own excepted) as PAX records before it.
fn append_xattrs<W: Write>(tar: &mut tar::Builder<W>, path: &Path) -> io::Result<()> {
    let mut records = Vec::new();
    for name in xattr::list(path)? {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with(OVERLAY_XATTRS) {
            continue;
        }
        if let Some(value) = xattr::get(path, &name)? {
            records.push((format!("SCHILY.xattr.{name}"), value));
        }
    }
    if records.is_empty() {
        return Ok(());
    }
    tar.append_pax_extensions(records.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{symlink, PermissionsExt};

    use nix::sys::stat::{mknod, Mode, SFlag};

    use super::*;

    /// Each entry of a layer tar: (path, type, mode, link name).
    fn entries(tar: &[u8]) -> Vec<(String, EntryType, u32, Option<String>)> {
        let mut archive = tar::Archive::new(tar);
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let link = e.link_name().unwrap().map(|l| l.to_string_lossy().into_owned());
                (e.path().unwrap().to_string_lossy().into_owned(), e.header().entry_type(), e.header().mode().unwrap(), link)
            })
            .collect()
    }

    fn layer_of(upper: &Path) -> Vec<u8> {
        let mut out = Vec::new();
        write_layer(upper, &mut out).unwrap();
        out
    }

    #[test]
    fn whiteouts_and_opaque_directories_become_oci_markers() {
        let dir = tempfile::tempdir().unwrap();
        let upper = dir.path();
        fs::create_dir(upper.join("etc")).unwrap();
        mknod(&upper.join("etc/motd"), SFlag::S_IFCHR, Mode::empty(), 0).unwrap();
        fs::create_dir(upper.join("var")).unwrap();
        xattr::set(upper.join("var"), "trusted.overlay.opaque", b"y").unwrap();
        fs::write(upper.join("var/new"), b"x").unwrap();
        let listed = entries(&layer_of(upper));
        let names: Vec<&str> = listed.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(names, ["etc", "etc/.wh.motd", "var", "var/.wh..wh..opq", "var/new"]);
        assert_eq!(listed[1].1, EntryType::Regular);
        assert!(!is_empty(upper).unwrap());
    }

    #[test]
    fn owners_modes_links_and_xattrs_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let upper = dir.path();
        fs::write(upper.join("tool"), b"#!/bin/sh\n").unwrap();
        std::os::unix::fs::lchown(upper.join("tool"), Some(1000), Some(50)).unwrap();
        fs::set_permissions(upper.join("tool"), fs::Permissions::from_mode(0o4750)).unwrap();
        fs::hard_link(upper.join("tool"), upper.join("tool2")).unwrap();
        symlink("tool", upper.join("alias")).unwrap();
        xattr::set(upper.join("tool"), "user.note", b"kept").unwrap();
        xattr::set(upper.join("tool"), "trusted.overlay.origin", b"dropped").unwrap();
        let tar = layer_of(upper);
        let listed = entries(&tar);
        assert_eq!(listed[0], ("alias".into(), EntryType::Symlink, 0o777, Some("tool".into())));
        assert_eq!((listed[1].0.as_str(), listed[1].1, listed[1].2), ("tool", EntryType::Regular, 0o4750));
        assert_eq!(listed[2], ("tool2".into(), EntryType::Link, 0o4750, Some("tool".into())));
        let mut archive = tar::Archive::new(&tar[..]);
        let mut tool = archive.entries().unwrap().nth(1).unwrap().unwrap();
        assert_eq!((tool.header().uid().unwrap(), tool.header().gid().unwrap()), (1000, 50));
        let xattrs: Vec<(String, Vec<u8>)> =
            tool.pax_extensions().unwrap().unwrap().map(|e| e.unwrap()).map(|e| (e.key().unwrap().to_string(), e.value_bytes().to_vec())).collect();
        assert_eq!(xattrs, [("SCHILY.xattr.user.note".to_string(), b"kept".to_vec())]);
    }

    #[test]
    fn an_untouched_upper_directory_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert!(is_empty(dir.path()).unwrap());
        fs::create_dir(dir.path().join("tmp")).unwrap();
        assert!(!is_empty(dir.path()).unwrap());
    }
}
