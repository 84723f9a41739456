//! The content digest of a selection, for COPY/ADD cache keys: every path's destination name,
//! type, permission bits, owner, and a file's contents or a link's target — not times — in a
//! fixed order, hashed with SHA-256.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::hashes::ContentHashes;
use super::select::SelectedPath;
use super::ContextError;

/// `sha256:<hex>` of `selection` under `root`; files' digests are taken from `hashes` when
/// their stat tuple is remembered there.
pub(crate) fn digest(root: &Path, selection: &[SelectedPath], hashes: Option<&ContentHashes>) -> Result<String, ContextError> {
    let mut sorted: Vec<&SelectedPath> = selection.iter().collect();
    sorted.sort_by(|a, b| (a.source, &a.dest_path).cmp(&(b.source, &b.dest_path)));
    let mut hasher = Sha256::new();
    for entry in sorted {
        let path = root.join(&entry.context_path);
        let io_error = |e: io::Error| ContextError::Io(path.clone(), e.to_string());
        let metadata = if entry.follow { fs::metadata(&path) } else { fs::symlink_metadata(&path) }.map_err(io_error)?;
        let kind = metadata.file_type();
        let (tag, content) = if kind.is_dir() {
            ("dir", String::new())
        } else if kind.is_symlink() {
            ("symlink", fs::read_link(&path).map_err(io_error)?.to_string_lossy().into_owned())
        } else if kind.is_file() {
            let sha256 = match hashes {
                Some(hashes) => hashes.file_digest(&path, &metadata).map_err(io_error)?,
                None => {
                    let mut file_hasher = Sha256::new();
                    io::copy(&mut File::open(&path).map_err(io_error)?, &mut file_hasher).map_err(io_error)?;
                    hex::encode(file_hasher.finalize())
                }
            };
            ("file", sha256)
        } else if kind.is_fifo() {
            ("fifo", String::new())
        } else {
            ("device", metadata.rdev().to_string())
        };
        let record = format!("{}\0{}\0{tag}\0{:o}\0{}\0{}\0{content}\n", entry.source, entry.dest_path, metadata.mode() & 0o7777, metadata.uid(), metadata.gid());
        hasher.update(record.as_bytes());
    }
    Ok(format!("sha256:{}", hex::encode(hasher.finalize())))
}
