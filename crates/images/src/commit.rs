//! Adding images to the store: layers unpacked once, blobs moved into place, then the index
//! updated, all under the store lock, and undone if any step fails. `import` and `load` both end
//! here.

use std::fs::{self, File};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use oci_spec::image::{
    Arch, ConfigBuilder, Descriptor, Digest, ImageConfiguration, ImageConfigurationBuilder, ImageManifest, ImageManifestBuilder, MediaType, Os, RootFsBuilder,
};

use crate::blob::{self, Compression};
use crate::reference::Reference;
use crate::store::{atomic_write, io_err, ImageStore, Result, StoreError};
use crate::unpack::unpack_layer;

/// A layer blob, as given (compressed or not), waiting in a staging file.
#[derive(Debug, Clone)]
pub(crate) struct StagedLayer {
    /// The staging file (in the store's file system, so it can be renamed into place).
    pub staged: PathBuf,
    /// Digest of the blob.
    pub digest: String,
    /// Size of the blob.
    pub size: u64,
    /// How the blob is compressed.
    pub compression: Compression,
    /// Digest of the uncompressed tar.
    pub diff_id: String,
    /// The layer already unpacked in a staging directory (a pulled layer is unpacked while it
    /// downloads); `None` has the commit unpack the blob.
    pub unpacked: Option<PathBuf>,
}

impl StagedLayer {
    /// Examines a staged layer blob: compression (refusing what cannot be unpacked) and diff_id.
    pub fn examine(staged: PathBuf, digest: String, size: u64) -> Result<Self> {
        let compression = Compression::of_file(&staged).map_err(io_err(&staged))?;
        if let Compression::Unsupported(compression) = compression {
            return Err(StoreError::UnsupportedCompression { digest, compression });
        }
        let diff_id = blob::diff_id(&staged, compression, &digest).map_err(io_err(&staged))?;
        Ok(Self { staged, digest, size, compression, diff_id, unpacked: None })
    }
}

/// An image waiting to be committed.
#[derive(Debug, Clone)]
pub(crate) struct StagedImage {
    /// The config, byte for byte (its digest is the image ID).
    pub config: Vec<u8>,
    /// Its layers, bottom first, matching the config's diff_ids.
    pub layers: Vec<StagedLayer>,
    /// References to give it; none leaves it untagged.
    pub references: Vec<Reference>,
    /// The manifest as a registry served it, byte for byte (so its digest stays the image's
    /// RepoDigest); `None` has the commit write one. With a registry's manifest, `layers` are only
    /// those the pull fetched: the others must be in the store already.
    pub manifest: Option<Vec<u8>>,
}

/// What committing one image did.
#[derive(Debug, Clone)]
pub(crate) struct Committed {
    /// The image ID.
    pub id: String,
    /// References that named another image before, with that image's ID.
    pub displaced: Vec<(Reference, String)>,
}

/// Paths created by a commit in progress, removed again unless it completes.
#[derive(Default)]
pub(crate) struct Rollback(Vec<PathBuf>);

impl Rollback {
    pub(crate) fn created(&mut self, path: PathBuf) {
        self.0.push(path);
    }

    pub(crate) fn complete(mut self) {
        self.0.clear();
    }
}

impl Drop for Rollback {
    fn drop(&mut self) {
        for path in self.0.iter().rev() {
            let _ = if path.is_dir() { fs::remove_dir_all(path) } else { fs::remove_file(path) };
        }
    }
}

impl ImageStore {
    /// Imports a root filesystem tar as a one-layer image (like `docker import`) tagged `reference`.
    pub fn import(&self, rootfs_tar: impl Read, reference: &str) -> Result<String> {
        self.import_with_config(rootfs_tar, reference, serde_json::Map::new())
    }

    /// [`ImageStore::import`] with `config` as the image's run configuration (Docker's `Config`
    /// keys: `Cmd`, `Env`, `ExposedPorts`, ..., as `docker import --change` sets them), kept in
    /// the config blob as given.
    pub fn import_with_config(&self, rootfs_tar: impl Read, reference: &str, config: serde_json::Map<String, serde_json::Value>) -> Result<String> {
        let reference = Reference::parse(reference).map_err(StoreError::Reference)?;
        let staging = self.dir.join("blobs/sha256");
        let mut tmp = tempfile::NamedTempFile::new_in(&staging).map_err(io_err(&staging))?;
        let (digest, size) = blob::copy_hashing(rootfs_tar, tmp.as_file_mut()).map_err(io_err(tmp.path()))?;
        tmp.as_file().sync_all().map_err(io_err(tmp.path()))?;
        let layer = StagedLayer::examine(tmp.path().to_path_buf(), digest, size)?;
        let corrupt = |message: String| StoreError::Corrupt { path: tmp.path().to_path_buf(), message };
        let image = ImageConfigurationBuilder::default()
            .created(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
            .architecture(Arch::default())
            .os(Os::Linux)
            .config(ConfigBuilder::default().build().map_err(|e| corrupt(e.to_string()))?)
            .rootfs(RootFsBuilder::default().typ("layers").diff_ids(vec![layer.diff_id.clone()]).build().map_err(|e| corrupt(e.to_string()))?)
            .build()
            .map_err(|e| corrupt(e.to_string()))?;
        let mut document = serde_json::to_value(&image).map_err(|e| corrupt(e.to_string()))?;
        document["config"] = serde_json::Value::Object(config);
        let config = serde_json::to_vec(&document).map_err(|e| corrupt(e.to_string()))?;
        let image = StagedImage { config, layers: vec![layer], references: vec![reference], manifest: None };
        let committed = self.commit(&[image], &mut |_, _| {})?;
        Ok(committed.into_iter().next().map(|c| c.id).unwrap_or_default())
    }

    /// Adds `images` to the store: unpacks their new layers (calling `on_layer` with each one's
    /// diff_id and size first), moves their blobs into place, writes config and manifest blobs,
    /// and points their references at them. All or nothing.
    pub(crate) fn commit(&self, images: &[StagedImage], on_layer: &mut dyn FnMut(&str, u64)) -> Result<Vec<Committed>> {
        let _lock = self.lock()?;
        let mut rollback = Rollback::default();
        for layer in images.iter().flat_map(|i| &i.layers) {
            self.unpack_staged(layer, on_layer, &mut rollback)?;
            xcompose_fault::point("image.commit.unpacked");
        }
        let mut manifests = Vec::new();
        for image in images {
            for layer in &image.layers {
                self.place_blob(layer, &mut rollback)?;
                xcompose_fault::point("image.commit.placed");
            }
            let config_digest = self.put_blob(&image.config, &mut rollback)?;
            let manifest = match &image.manifest {
                Some(pulled) => {
                    self.check_layers_present(pulled, &image.config)?;
                    pulled.clone()
                }
                None => manifest_for(&config_digest, image.config.len(), &image.layers)?,
            };
            manifests.push((config_digest, self.put_blob(&manifest, &mut rollback)?));
            xcompose_fault::point("image.commit.described");
        }
        let blobs = self.dir.join("blobs/sha256");
        File::open(&blobs).and_then(|d| d.sync_all()).map_err(io_err(&blobs))?;
        let mut index = self.read_index()?;
        let mut out = Vec::new();
        for (image, (id, manifest)) in images.iter().zip(manifests) {
            let mut displaced = Vec::new();
            for reference in &image.references {
                if let Some(previous) = index.set_reference(&reference.to_string(), &manifest) {
                    displaced.push((reference.clone(), self.image_id(&previous)?));
                }
            }
            index.keep_untagged(&manifest);
            out.push(Committed { id, displaced });
        }
        self.write_index(&index)?;
        xcompose_fault::point("image.commit.indexed");
        rollback.complete();
        Ok(out)
    }

    /// Unpacks a staged layer into its layer directory unless the store has it already.
    pub(crate) fn unpack_staged(&self, layer: &StagedLayer, on_layer: &mut dyn FnMut(&str, u64), rollback: &mut Rollback) -> Result<()> {
        let dir = self.layer_dir(&layer.diff_id);
        if dir.exists() {
            return Ok(());
        }
        on_layer(&layer.diff_id, layer.size);
        match &layer.unpacked {
            Some(unpacked) => fs::rename(unpacked, &dir).map_err(io_err(&dir))?,
            None => {
                let blob = BufReader::new(File::open(&layer.staged).map_err(io_err(&layer.staged))?);
                unpack_layer(layer.compression.decoder(blob).map_err(io_err(&layer.staged))?, &dir)?;
            }
        }
        rollback.created(dir);
        Ok(())
    }

    /// Moves a staged layer's blob into place unless the store has it already.
    pub(crate) fn place_blob(&self, layer: &StagedLayer, rollback: &mut Rollback) -> Result<()> {
        let blob = self.blob_path(&layer.digest);
        if !blob.exists() {
            fs::rename(&layer.staged, &blob).map_err(io_err(&blob))?;
            rollback.created(blob);
        }
        Ok(())
    }

    /// Checks that every layer a pulled image's manifest and config name is in the store (a
    /// concurrent `image rm` may have removed one the pull found there).
    fn check_layers_present(&self, manifest: &[u8], config: &[u8]) -> Result<()> {
        let corrupt = |message: String| StoreError::Corrupt { path: PathBuf::from("pulled manifest"), message };
        let manifest = ImageManifest::from_reader(manifest).map_err(|e| corrupt(e.to_string()))?;
        let config = ImageConfiguration::from_reader(config).map_err(|e| corrupt(e.to_string()))?;
        let blobs = manifest.layers().iter().map(|l| (l.digest().to_string(), self.blob_path(l.digest().as_ref())));
        let layers = config.rootfs().diff_ids().iter().map(|d| (d.clone(), self.layer_dir(d)));
        match blobs.chain(layers).find(|(_, path)| !path.exists()) {
            Some((missing, _)) => Err(StoreError::LayerGone(missing)),
            None => Ok(()),
        }
    }

    /// Stores `bytes` as a blob unless it is there already; its digest.
    fn put_blob(&self, bytes: &[u8], rollback: &mut Rollback) -> Result<String> {
        let digest = blob::sha256(bytes);
        let path = self.blob_path(&digest);
        if !path.exists() {
            atomic_write(&path, bytes)?;
            rollback.created(path);
        }
        Ok(digest)
    }
}

/// The OCI manifest of an image: the same config and layers always give the same bytes, so an
/// image loaded twice, or saved and loaded again, keeps its manifest digest.
fn manifest_for(config_digest: &str, config_size: usize, layers: &[StagedLayer]) -> Result<Vec<u8>> {
    let layers: Vec<(MediaType, u64, &str)> = layers.iter().map(|l| (l.compression.layer_media_type(), l.size, l.digest.as_str())).collect();
    manifest_of(config_digest, config_size, &layers)
}

/// The OCI manifest of the config `config_digest` with `layers` (media type, size, digest),
/// bottom first.
pub(crate) fn manifest_of(config_digest: &str, config_size: usize, layers: &[(MediaType, u64, &str)]) -> Result<Vec<u8>> {
    let corrupt = |message: String| StoreError::Corrupt { path: Path::new(config_digest).to_path_buf(), message };
    let digest = |d: &str| Digest::from_str(d).map_err(|e| corrupt(e.to_string()));
    let layers = layers
        .iter()
        .map(|(media_type, size, d)| Ok(Descriptor::new(media_type.clone(), *size, digest(d)?)))
        .collect::<Result<Vec<_>>>()?;
    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(Descriptor::new(MediaType::ImageConfig, config_size as u64, digest(config_digest)?))
        .layers(layers)
        .build()
        .map_err(|e| corrupt(e.to_string()))?;
    Ok(manifest.to_string().map_err(|e| corrupt(e.to_string()))?.into_bytes())
}
