//! Removing images: `image rm` and `image prune`, and collecting the blobs and layers no image
//! refers to any more, with their shifted copies.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use oci_spec::image::ImageConfiguration;

use crate::index::Index;
use crate::shift::SHIFTED_DIR;
use crate::store::{io_err, ImageStore, Removed, Result, StoreError};

/// What `image prune` removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Untagged references and deleted images, in order.
    pub removed: Vec<Removed>,
    /// Bytes freed on disk: blobs and unpacked layers no remaining image shares.
    pub reclaimed: u64,
}

/// Whether a stored reference names a tag (not only a digest).
fn is_tag(reference: &str) -> bool {
    reference.rsplit('/').next().is_some_and(|last| last.contains(':') && !last.contains('@'))
}

impl ImageStore {
    /// Removes a reference (Docker's `image rm`): the image and its unused layers go with its last
    /// reference. `in_use` tells, for an image ID, a container that uses it: that is refused unless
    /// `force`, and even then the image is only untagged, so the container keeps its layers.
    pub fn remove(&self, wanted: &str, force: bool, in_use: &dyn Fn(&str) -> Option<String>) -> Result<Vec<Removed>> {
        let _lock = self.lock()?;
        let mut index = self.read_index()?;
        let (reference, m) = self.find(&index, wanted)?;
        let id = self.image_id(&m)?;
        let short = |s: &str| s.trim_start_matches("sha256:").chars().take(12).collect::<String>();
        let references = index.references_of(&m);
        // Only tags keep an image: its RepoDigests (`name@sha256:...`) go with its last tag, as
        // in Docker.
        let others = references.iter().filter(|r| Some(*r) != reference.as_ref() && is_tag(r)).count();
        let user = if others == 0 { in_use(&id) } else { None };
        if let (Some(container), false) = (&user, force) {
            return Err(StoreError::InUse { reference: wanted.to_string(), container: short(container), image: short(&id) });
        }
        let untag = match reference {
            Some(r) if others > 0 => vec![r],
            _ => references,
        };
        let mut removed = Vec::new();
        for r in untag {
            index.references.remove(&r);
            removed.push(Removed::Untagged(r));
        }
        if user.is_some() {
            index.keep_untagged(&m);
            self.write_index(&index)?;
        } else if index.references_of(&m).is_empty() {
            index.untagged.remove(&m);
            removed.push(Removed::Deleted(id));
            self.write_index(&index)?;
            self.collect_garbage(&index)?;
        } else {
            self.write_index(&index)?;
        }
        Ok(removed)
    }

    /// Removes untagged images (Docker's `image prune`), or with `all` every image, except those a
    /// container uses (`in_use`, as for [`ImageStore::remove`]). Layers shared with a remaining
    /// image stay.
    pub fn prune(&self, all: bool, in_use: &dyn Fn(&str) -> Option<String>) -> Result<Pruned> {
        let _lock = self.lock()?;
        let mut index = self.read_index()?;
        let candidates = if all { index.manifests() } else { index.untagged.clone() };
        let mut removed = Vec::new();
        for m in candidates {
            let id = self.image_id(&m)?;
            if in_use(&id).is_some() {
                continue;
            }
            for r in index.references_of(&m) {
                index.references.remove(&r);
                removed.push(Removed::Untagged(r));
            }
            index.untagged.remove(&m);
            removed.push(Removed::Deleted(id));
        }
        if removed.is_empty() {
            return Ok(Pruned::default());
        }
        self.write_index(&index)?;
        let reclaimed = self.collect_garbage(&index)?;
        Ok(Pruned { removed, reclaimed })
    }

    /// Deletes blobs and layer directories no image of `index` refers to; the bytes freed.
    fn collect_garbage(&self, index: &Index) -> Result<u64> {
        let mut keep_blobs: BTreeSet<String> = BTreeSet::new();
        let mut keep_layers: BTreeSet<String> = BTreeSet::new();
        for m in index.manifests() {
            let manifest = self.manifest(&m)?;
            keep_blobs.insert(m.trim_start_matches("sha256:").into());
            let config = manifest.config().digest().digest().to_string();
            keep_blobs.insert(config.clone());
            keep_blobs.extend(manifest.layers().iter().map(|l| l.digest().digest().to_string()));
            if let Ok(c) = ImageConfiguration::from_file(self.blob_path(&config)) {
                keep_layers.extend(c.rootfs().diff_ids().iter().map(|d| d.trim_start_matches("sha256:").to_string()));
            }
        }
        let mut freed = 0;
        // A layer's shifted copies go with it (one directory per remapped range).
        let shifted = self.dir.join(SHIFTED_DIR);
        let ranges = match fs::read_dir(&shifted) {
            Ok(entries) => entries.flatten().map(|e| e.path()).collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io_err(&shifted)(e)),
        };
        // (directory, names kept, entries are directories, hidden entries kept): a range's
        // directory holds nothing hidden but the copies a killed process left (copies are made
        // under the store's lock, which this holds).
        let stores = [(self.dir.join("blobs/sha256"), &keep_blobs, false, true), (self.dir.join("layers"), &keep_layers, true, true)];
        for (dir, keep, is_dir, keep_hidden) in stores.into_iter().chain(ranges.into_iter().map(|range| (range, &keep_layers, true, false))) {
            for entry in fs::read_dir(&dir).map_err(io_err(&dir))?.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if keep.contains(&name) || (keep_hidden && name.starts_with('.')) {
                    continue;
                }
                let path = entry.path();
                freed += disk_usage(&path);
                let result = if is_dir { fs::remove_dir_all(&path) } else { fs::remove_file(&path) };
                result.map_err(io_err(&path))?;
            }
        }
        Ok(freed)
    }
}

/// Sizes of the regular files at or under `path` (symlinks not followed).
fn disk_usage(path: &Path) -> u64 {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::read_dir(path).map(|d| d.flatten().map(|e| disk_usage(&e.path())).sum()).unwrap_or(0),
        Ok(m) if m.is_file() => m.len(),
        _ => 0,
    }
}
