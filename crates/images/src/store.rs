//! The image store: content-addressed like an OCI layout, under `<root>/images/`.
//!
//! ```text
//! images/
//!   blobs/sha256/<hex>     layer tars as given, image configs, manifests
//!   layers/<diff_id hex>/  each layer unpacked once, shared by every image that has it
//!   index.json             reference (docker.io/library/busybox:latest) -> manifest digest
//!   .lock                  flock serialising writers of index.json
//! ```
//!
//! An image's ID is the digest of its config, as with Docker. Every write is atomic (temporary
//! file, fsync, rename), and a layer directory appears only once completely unpacked.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use nix::fcntl::{Flock, FlockArg};
use oci_spec::image::{
    Arch, ConfigBuilder, Descriptor, Digest, ImageConfiguration, ImageConfigurationBuilder, ImageManifest, ImageManifestBuilder,
    MediaType, Os, RootFsBuilder,
};
use sha2::{Digest as _, Sha256};

use crate::reference::Reference;
use crate::unpack::{unpack_layer, UnpackError};

/// Why an image operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// File system trouble in the store.
    #[error("image store {path}: {source}")]
    Io {
        /// Where.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A layer could not be unpacked (or was refused as unsafe).
    #[error(transparent)]
    Unpack(#[from] UnpackError),
    /// A reference is malformed.
    #[error("{0}")]
    Reference(String),
    /// No image has this reference or ID.
    #[error("No such image: {0}")]
    NotFound(String),
    /// A container still uses the image.
    #[error("conflict: unable to remove repository reference {reference:?} (must force) - container {container} is using its referenced image {image}")]
    InUse {
        /// The reference asked for.
        reference: String,
        /// Short ID of a container using it.
        container: String,
        /// Short image ID.
        image: String,
    },
    /// Stored metadata is not valid OCI JSON.
    #[error("image store metadata {path}: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

type Result<T> = std::result::Result<T, StoreError>;

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io { path: path.to_path_buf(), source }
}

/// One line of `image rm`'s output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removed {
    /// A reference was removed; the image stays for its other references.
    Untagged(String),
    /// The image itself was deleted (its config digest).
    Deleted(String),
}

/// An image as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSummary {
    /// The image ID (`sha256:...` of its config).
    pub id: String,
    /// References pointing at it, full form.
    pub references: Vec<String>,
    /// Creation time as recorded in its config.
    pub created: Option<String>,
    /// Sum of its layer blobs' sizes.
    pub size: u64,
}

/// A resolved image: what a container needs from it.
#[derive(Debug, Clone)]
pub struct Image {
    /// The image ID.
    pub id: String,
    /// Its configuration (Entrypoint, Cmd, Env, User, WorkingDir, ExposedPorts, Healthcheck...).
    pub config: ImageConfiguration,
    /// Unpacked layer directories, bottom layer first (overlayfs lower dirs).
    pub layer_dirs: Vec<PathBuf>,
}

/// The image store of one state root.
#[derive(Debug, Clone)]
pub struct ImageStore {
    dir: PathBuf,
}

impl ImageStore {
    /// Opens (creating if needed) the store under `root/images`.
    pub fn open(root: &Path) -> Result<Self> {
        let dir = root.join("images");
        for sub in ["blobs/sha256", "layers"] {
            let p = dir.join(sub);
            fs::create_dir_all(&p).map_err(io_err(&p))?;
        }
        Ok(Self { dir })
    }

    fn blob_path(&self, digest: &str) -> PathBuf {
        self.dir.join("blobs/sha256").join(digest.trim_start_matches("sha256:"))
    }

    fn layer_dir(&self, diff_id: &str) -> PathBuf {
        self.dir.join("layers").join(diff_id.trim_start_matches("sha256:"))
    }

    fn lock(&self) -> Result<Flock<File>> {
        let path = self.dir.join(".lock");
        let file = fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(io_err(&path))?;
        Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| StoreError::Io { path, source: e.into() })
    }

    fn read_index(&self) -> Result<BTreeMap<String, String>> {
        let path = self.dir.join("index.json");
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt { path, message: e.to_string() }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(StoreError::Io { path, source: e }),
        }
    }

    fn write_index(&self, index: &BTreeMap<String, String>) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(index).expect("a map of strings serialises");
        atomic_write(&self.dir.join("index.json"), &bytes)
    }

    /// Stores `bytes` as a blob; its digest.
    fn put_blob(&self, bytes: &[u8]) -> Result<String> {
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(bytes)));
        let path = self.blob_path(&digest);
        if !path.exists() {
            atomic_write(&path, bytes)?;
        }
        Ok(digest)
    }

    /// Imports a root filesystem tar as a one-layer image (like `docker import`) tagged `reference`.
    pub fn import(&self, rootfs_tar: impl Read, reference: &str) -> Result<String> {
        let reference = Reference::parse(reference).map_err(StoreError::Reference)?;
        // Store the tar as its blob while hashing it.
        let mut tmp = tempfile::NamedTempFile::new_in(self.dir.join("blobs/sha256")).map_err(io_err(&self.dir))?;
        let mut hasher = Sha256::new();
        let mut reader = rootfs_tar;
        let mut buf = vec![0u8; 1 << 16];
        let mut size = 0u64;
        loop {
            let n = reader.read(&mut buf).map_err(io_err(&self.dir))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            tmp.write_all(&buf[..n]).map_err(io_err(tmp.path()))?;
            size += n as u64;
        }
        tmp.as_file().sync_all().map_err(io_err(tmp.path()))?;
        let layer_digest = format!("sha256:{}", hex::encode(hasher.finalize()));
        let blob = self.blob_path(&layer_digest);
        let blob_is_new = !blob.exists();
        tmp.persist(&blob).map_err(|e| StoreError::Io { path: blob.clone(), source: e.error })?;
        let gzip = File::open(&blob).and_then(|mut f| {
            let mut magic = [0u8; 2];
            f.read_exact(&mut magic).map(|_| magic == [0x1f, 0x8b]).or(Ok(false))
        }).map_err(io_err(&blob))?;
        let diff_id = if gzip { uncompressed_digest(&blob)? } else { layer_digest.clone() };
        let layer_dir = self.layer_dir(&diff_id);
        if !layer_dir.exists() {
            if let Err(e) = unpack_layer(File::open(&blob).map_err(io_err(&blob))?, &layer_dir) {
                // A refused layer leaves nothing behind in the store either.
                if blob_is_new {
                    let _ = fs::remove_file(&blob);
                }
                return Err(e.into());
            }
        }
        let corrupt = |e: oci_spec::OciSpecError| StoreError::Corrupt { path: blob.clone(), message: e.to_string() };
        let config = ImageConfigurationBuilder::default()
            .created(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
            .architecture(Arch::Amd64)
            .os(Os::Linux)
            .config(ConfigBuilder::default().build().map_err(corrupt)?)
            .rootfs(RootFsBuilder::default().typ("layers").diff_ids(vec![diff_id]).build().map_err(corrupt)?)
            .build()
            .map_err(corrupt)?;
        let config_bytes = config.to_string().map_err(corrupt)?.into_bytes();
        let config_digest = self.put_blob(&config_bytes)?;
        let layer_type = if gzip { MediaType::ImageLayerGzip } else { MediaType::ImageLayer };
        let manifest = ImageManifestBuilder::default()
            .schema_version(2u32)
            .media_type(MediaType::ImageManifest)
            .config(Descriptor::new(MediaType::ImageConfig, config_bytes.len() as u64, digest(&config_digest)?))
            .layers(vec![Descriptor::new(layer_type, size, digest(&layer_digest)?)])
            .build()
            .map_err(corrupt)?;
        let manifest_digest = self.put_blob(manifest.to_string().map_err(corrupt)?.as_bytes())?;
        let _lock = self.lock()?;
        let mut index = self.read_index()?;
        index.insert(reference.to_string(), manifest_digest);
        self.write_index(&index)?;
        Ok(config_digest)
    }

    fn manifest(&self, manifest_digest: &str) -> Result<ImageManifest> {
        let path = self.blob_path(manifest_digest);
        ImageManifest::from_file(&path).map_err(|e| StoreError::Corrupt { path, message: e.to_string() })
    }

    /// Finds the manifest digest for a reference or an image ID (full or a unique prefix).
    fn find(&self, index: &BTreeMap<String, String>, wanted: &str) -> Result<(Option<String>, String)> {
        if let Ok(r) = Reference::parse(wanted) {
            if let Some(m) = index.get(&r.to_string()) {
                return Ok((Some(r.to_string()), m.clone()));
            }
        }
        let id = wanted.trim_start_matches("sha256:");
        if id.len() >= 4 {
            for m in index.values() {
                if self.manifest(m)?.config().digest().digest().starts_with(id) {
                    return Ok((None, m.clone()));
                }
            }
        }
        Err(StoreError::NotFound(wanted.to_string()))
    }

    /// Resolves a reference or image ID to what a container needs.
    pub fn resolve(&self, wanted: &str) -> Result<Image> {
        let index = self.read_index()?;
        let (_, m) = self.find(&index, wanted)?;
        let manifest = self.manifest(&m)?;
        let id = manifest.config().digest().to_string();
        let path = self.blob_path(&id);
        let config = ImageConfiguration::from_file(&path).map_err(|e| StoreError::Corrupt { path, message: e.to_string() })?;
        let layer_dirs = config.rootfs().diff_ids().iter().map(|d| self.layer_dir(d)).collect();
        Ok(Image { id, config, layer_dirs })
    }

    /// Adds reference `target` to the image `source` names.
    pub fn tag(&self, source: &str, target: &str) -> Result<()> {
        let target = Reference::parse(target).map_err(StoreError::Reference)?;
        let _lock = self.lock()?;
        let mut index = self.read_index()?;
        let (_, m) = self.find(&index, source)?;
        index.insert(target.to_string(), m);
        self.write_index(&index)
    }

    /// Every image with its references.
    pub fn list(&self) -> Result<Vec<ImageSummary>> {
        let index = self.read_index()?;
        let mut by_manifest: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (r, m) in &index {
            by_manifest.entry(m.clone()).or_default().push(r.clone());
        }
        let mut out = Vec::new();
        for (m, references) in by_manifest {
            let manifest = self.manifest(&m)?;
            let id = manifest.config().digest().to_string();
            let created = ImageConfiguration::from_file(self.blob_path(&id)).ok().and_then(|c| c.created().clone());
            let size = manifest.layers().iter().map(|l| l.size()).sum();
            out.push(ImageSummary { id, references, created, size });
        }
        Ok(out)
    }

    /// Removes a reference (Docker's `image rm`): the image and its unused layers go with its last
    /// reference. `in_use` tells, for an image ID, a container that uses it (refused unless `force`).
    pub fn remove(&self, wanted: &str, force: bool, in_use: &dyn Fn(&str) -> Option<String>) -> Result<Vec<Removed>> {
        let _lock = self.lock()?;
        let mut index = self.read_index()?;
        let (reference, m) = self.find(&index, wanted)?;
        let id = self.manifest(&m)?.config().digest().to_string();
        let short = |s: &str| s.trim_start_matches("sha256:").chars().take(12).collect::<String>();
        let others = index.iter().filter(|(r, mm)| **mm == m && Some(*r) != reference.as_ref()).count();
        if others == 0 && !force {
            if let Some(container) = in_use(&id) {
                return Err(StoreError::InUse { reference: wanted.to_string(), container: short(&container), image: short(&id) });
            }
        }
        let mut removed = Vec::new();
        let refs: Vec<String> = match &reference {
            Some(r) if others > 0 => vec![r.clone()],
            _ => index.iter().filter(|(_, mm)| **mm == m).map(|(r, _)| r.clone()).collect(),
        };
        for r in refs {
            index.remove(&r);
            removed.push(Removed::Untagged(r));
        }
        self.write_index(&index)?;
        if index.values().all(|mm| *mm != m) {
            removed.push(Removed::Deleted(id));
            self.collect_garbage(&index)?;
        }
        Ok(removed)
    }

    /// Deletes blobs and layer directories no remaining image refers to.
    fn collect_garbage(&self, index: &BTreeMap<String, String>) -> Result<()> {
        let mut keep_blobs: BTreeSet<String> = BTreeSet::new();
        let mut keep_layers: BTreeSet<String> = BTreeSet::new();
        for m in index.values() {
            let manifest = self.manifest(m)?;
            keep_blobs.insert(m.trim_start_matches("sha256:").into());
            let config = manifest.config().digest().digest().to_string();
            keep_blobs.insert(config.clone());
            keep_blobs.extend(manifest.layers().iter().map(|l| l.digest().digest().to_string()));
            if let Ok(c) = ImageConfiguration::from_file(self.blob_path(&config)) {
                keep_layers.extend(c.rootfs().diff_ids().iter().map(|d| d.trim_start_matches("sha256:").to_string()));
            }
        }
        for (dir, keep, is_dir) in [(self.dir.join("blobs/sha256"), &keep_blobs, false), (self.dir.join("layers"), &keep_layers, true)] {
            for entry in fs::read_dir(&dir).map_err(io_err(&dir))?.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if keep.contains(&name) || name.starts_with('.') {
                    continue;
                }
                let path = entry.path();
                let result = if is_dir { fs::remove_dir_all(&path) } else { fs::remove_file(&path) };
                result.map_err(io_err(&path))?;
            }
        }
        Ok(())
    }
}

fn digest(text: &str) -> Result<Digest> {
    Digest::from_str(text).map_err(|e| StoreError::Corrupt { path: PathBuf::from(text), message: e.to_string() })
}

/// sha256 of a gzip blob's uncompressed content (the layer's diff_id).
fn uncompressed_digest(blob: &Path) -> Result<String> {
    let mut decoder = flate2::read::GzDecoder::new(File::open(blob).map_err(io_err(blob))?);
    let mut hasher = Sha256::new();
    io::copy(&mut decoder, &mut hasher).map_err(io_err(blob))?;
    Ok(format!("sha256:{}", hex::encode(hasher.finalize())))
}

/// Writes a file atomically: temporary file in the same directory, fsync, rename, fsync the directory.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io_err(dir))?;
    tmp.write_all(bytes).map_err(io_err(path))?;
    tmp.as_file().sync_all().map_err(io_err(path))?;
    tmp.persist(path).map_err(|e| StoreError::Io { path: path.to_path_buf(), source: e.error })?;
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir))
}
