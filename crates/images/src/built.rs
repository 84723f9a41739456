//! Images a build makes: each layer is added to the store as soon as its step is done (so a later
//! build's cache finds it even if this build fails further on), and the finished image is
//! committed from its config and the layers that config names. Built layers are kept as plain
//! (uncompressed) tars, as Docker keeps them locally: their digest is their diff_id.

use std::io::{self, BufWriter, Write};

use oci_spec::image::{ImageConfiguration, MediaType};
use sha2::{Digest as _, Sha256};

use crate::blob::Compression;
use crate::commit::{manifest_of, Rollback, StagedImage, StagedLayer};
use crate::reference::Reference;
use crate::store::{io_err, ImageStore, Result, StoreError};

/// A layer in the store, as a manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLayer {
    /// The blob's digest.
    pub digest: String,
    /// The digest of its uncompressed tar (the config's `rootfs.diff_ids`).
    pub diff_id: String,
    /// The blob's size.
    pub size: u64,
    /// The blob's media type (how it is compressed).
    pub media_type: MediaType,
}

/// A layer tar being written into the store; [`LayerWriter::finish`] adds it.
pub struct LayerWriter {
    store: ImageStore,
    out: BufWriter<tempfile::NamedTempFile>,
    hasher: Sha256,
    size: u64,
}

impl Write for LayerWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl LayerWriter {
    /// Adds the written tar to the store: its blob, and its content unpacked (unless the store
    /// has that layer already). All or nothing, under the store lock.
    pub fn finish(self) -> Result<StoredLayer> {
        let tmp = self.out.into_inner().map_err(|e| StoreError::Io { path: "layer tar".into(), source: e.into_error() })?;
        tmp.as_file().sync_all().map_err(io_err(tmp.path()))?;
        let digest = format!("sha256:{}", hex::encode(self.hasher.finalize()));
        let staged = StagedLayer { staged: tmp.path().to_path_buf(), digest: digest.clone(), size: self.size, compression: Compression::None, diff_id: digest.clone(), unpacked: None };
        let _lock = self.store.lock()?;
        let mut rollback = Rollback::default();
        self.store.unpack_staged(&staged, &mut |_, _| {}, &mut rollback)?;
        self.store.place_blob(&staged, &mut rollback)?;
        rollback.complete();
        Ok(StoredLayer { digest: digest.clone(), diff_id: digest, size: self.size, media_type: MediaType::ImageLayer })
    }
}

impl ImageStore {
    /// Starts writing a layer tar into the store.
    pub fn layer_writer(&self) -> Result<LayerWriter> {
        let staging = self.dir.join("blobs/sha256");
        let tmp = tempfile::Builder::new().prefix(".layer-").tempfile_in(&staging).map_err(io_err(&staging))?;
        Ok(LayerWriter { store: self.clone(), out: BufWriter::with_capacity(1 << 18, tmp), hasher: Sha256::new(), size: 0 })
    }

    /// Where the layer `diff_id` is unpacked (an overlayfs lower directory); it may not exist.
    pub fn layer_path(&self, diff_id: &str) -> std::path::PathBuf {
        self.layer_dir(diff_id)
    }

    /// Whether the store has the layer: both its blob and its unpacked content.
    pub fn has_stored_layer(&self, layer: &StoredLayer) -> bool {
        self.has_layer(&layer.digest, &layer.diff_id)
    }

    /// The layers of the image `wanted` names (a reference or ID), bottom first.
    pub fn image_layers(&self, wanted: &str) -> Result<Vec<StoredLayer>> {
        let index = self.read_index()?;
        let (_, m) = self.find(&index, wanted)?;
        let manifest = self.manifest(&m)?;
        let path = self.blob_path(manifest.config().digest().as_ref());
        let config = ImageConfiguration::from_file(&path).map_err(|e| StoreError::Corrupt { path: path.clone(), message: e.to_string() })?;
        let diff_ids = config.rootfs().diff_ids();
        if diff_ids.len() != manifest.layers().len() {
            return Err(StoreError::Corrupt { path, message: "the config's diff_ids do not match the manifest's layers".into() });
        }
        Ok(manifest
            .layers()
            .iter()
            .zip(diff_ids)
            .map(|(l, diff_id)| StoredLayer { digest: l.digest().to_string(), diff_id: diff_id.clone(), size: l.size(), media_type: l.media_type().clone() })
            .collect())
    }

    /// Commits a built image: `config` byte for byte (its digest is the image ID) over `layers`
    /// (bottom first, all in the store), tagged with `references`. All or nothing.
    pub fn commit_built(&self, config: Vec<u8>, layers: &[StoredLayer], references: &[String]) -> Result<String> {
        let references = references.iter().map(|r| Reference::parse(r).map_err(StoreError::Reference)).collect::<Result<Vec<_>>>()?;
        let config_digest = crate::blob::sha256(&config);
        let descriptors: Vec<(MediaType, u64, &str)> = layers.iter().map(|l| (l.media_type.clone(), l.size, l.digest.as_str())).collect();
        let manifest = manifest_of(&config_digest, config.len(), &descriptors)?;
        let image = StagedImage { config, layers: Vec::new(), references, manifest: Some(manifest) };
        let committed = self.commit(&[image], &mut |_, _| {})?;
        Ok(committed.into_iter().next().map(|c| c.id).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_with(name: &str, content: &[u8]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, name, content).unwrap();
        builder.into_inner().unwrap()
    }

    #[test]
    fn a_built_image_is_its_parent_layers_and_its_own() {
        let root = tempfile::tempdir().unwrap();
        let store = ImageStore::open(root.path()).unwrap();
        store.import(&tar_with("base", b"base")[..], "base:1").unwrap();
        let mut writer = store.layer_writer().unwrap();
        writer.write_all(&tar_with("added", b"new")).unwrap();
        let added = writer.finish().unwrap();
        assert!(store.has_stored_layer(&added));
        assert_eq!(std::fs::read(store.layer_path(&added.diff_id).join("added")).unwrap(), b"new");
        let mut layers = store.image_layers("base:1").unwrap();
        layers.push(added.clone());
        let mut config: serde_json::Value = serde_json::from_reader(store.open_blob(&store.resolve("base:1").unwrap().id).unwrap()).unwrap();
        config["rootfs"]["diff_ids"].as_array_mut().unwrap().push(added.diff_id.clone().into());
        let id = store.commit_built(serde_json::to_vec(&config).unwrap(), &layers, &["built:1".to_string()]).unwrap();
        let built = store.resolve("built:1").unwrap();
        assert_eq!(built.id, id);
        assert_eq!(built.layer_dirs.len(), 2);
        assert_eq!(store.image_layers("built:1").unwrap(), layers);
    }

    #[test]
    fn committing_over_a_missing_layer_fails_and_tags_nothing() {
        let root = tempfile::tempdir().unwrap();
        let store = ImageStore::open(root.path()).unwrap();
        let ghost = StoredLayer { digest: format!("sha256:{}", "0".repeat(64)), diff_id: format!("sha256:{}", "0".repeat(64)), size: 1, media_type: MediaType::ImageLayer };
        let config = serde_json::json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [ghost.diff_id]}, "config": {}});
        assert!(store.commit_built(serde_json::to_vec(&config).unwrap(), &[ghost], &["ghost:1".to_string()]).is_err());
        assert!(store.resolve("ghost:1").is_err());
    }
}
