//! The image store: content-addressed like an OCI layout, under `<root>/images/`.
//!
//! ```text
//! images/
//!   blobs/sha256/<hex>     layer tars as given, image configs, manifests
//!   layers/<diff_id hex>/  each layer unpacked once, shared by every image that has it
//!   shifted/<uid>.<gid>/<diff_id hex>/
//!                          layers with owners shifted into a remapped range (see [`crate::shift`])
//!   index.json             reference (docker.io/library/busybox:latest) -> manifest digest, and
//!                          the manifests of untagged (dangling) images
//!   .lock                  flock serialising every writer
//! ```
//!
//! An image's ID is the digest of its config, as with Docker. Every write is atomic (temporary
//! file, fsync, rename), and a layer directory appears only once completely unpacked.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::fcntl::{Flock, FlockArg};
use oci_spec::image::{ImageConfiguration, ImageManifest};

use crate::index::{Index, IndexError};
use crate::index_memo::IndexMemo;
use crate::reference::Reference;
use crate::unpack::UnpackError;

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
    /// An image archive could not be read.
    #[error("reading the image archive: {0}")]
    ReadArchive(io::Error),
    /// An image archive could not be written.
    #[error("writing the image archive: {0}")]
    WriteArchive(io::Error),
    /// An image archive is neither a `docker save` archive nor an OCI layout, or is inconsistent.
    #[error("invalid image archive: {0}")]
    InvalidArchive(String),
    /// Content of an image archive does not have the digest that names it.
    #[error("invalid image archive: {what} has digest {actual} but {expected} was expected; the archive is corrupt or was tampered with")]
    DigestMismatch {
        /// Which content (`layer 0 of busybox:latest`, `blob blobs/sha256/...`).
        what: String,
        /// The digest the archive claims.
        expected: String,
        /// The digest of the content.
        actual: String,
    },
    /// A layer is compressed in a way the unpacker cannot read.
    #[error("layer {digest} is {compression}-compressed, which is not supported: use gzip- or zstd-compressed or uncompressed layers")]
    UnsupportedCompression {
        /// The layer blob's digest.
        digest: String,
        /// The compression found.
        compression: &'static str,
    },
    /// A layer could not be copied with its owners shifted into a user namespace's range.
    #[error("shifting layer {layer} into the remapped range: {path}: {message}")]
    Shift {
        /// The layer's diff_id.
        layer: String,
        /// The file in the layer.
        path: PathBuf,
        /// What went wrong (an id past the range, a write error).
        message: String,
    },
    /// A pulled layer is not what the manifest or the config says (Docker's words).
    #[error("filesystem layer verification failed for digest {digest}: its {what} is {actual}, expected {expected}")]
    LayerVerification {
        /// The layer blob's digest, as the manifest names it.
        digest: String,
        /// What differs (content digest, size, diff_id).
        what: String,
        /// What the manifest or config says.
        expected: String,
        /// What arrived.
        actual: String,
    },
    /// A layer a pull found in the store was removed before the pulled image was committed.
    #[error("layer {0} was removed from the image store during the pull; pull again")]
    LayerGone(String),
}

pub(crate) type Result<T> = std::result::Result<T, StoreError>;

pub(crate) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io { path: path.to_path_buf(), source }
}

/// One line of `image rm`'s (or `image prune`'s) output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removed {
    /// A reference was removed (full form); the image stays for its other references, or as an
    /// untagged image while a container uses it.
    Untagged(String),
    /// The image itself was deleted (its config digest).
    Deleted(String),
}

/// An image as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSummary {
    /// The image ID (`sha256:...` of its config).
    pub id: String,
    /// References pointing at it, full form; empty for an untagged (dangling) image.
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
    pub(crate) dir: PathBuf,
    /// `index.json` as last read, shared by the store's clones.
    index: Arc<IndexMemo>,
}

impl ImageStore {
    /// Opens (creating if needed) the store under `root/images`.
    pub fn open(root: &Path) -> Result<Self> {
        let dir = root.join("images");
        for sub in ["blobs/sha256", "layers"] {
            let p = dir.join(sub);
            fs::create_dir_all(&p).map_err(io_err(&p))?;
        }
        Ok(Self { dir, index: Arc::default() })
    }

    pub(crate) fn blob_path(&self, digest: &str) -> PathBuf {
        self.dir.join("blobs/sha256").join(digest.trim_start_matches("sha256:"))
    }

    pub(crate) fn layer_dir(&self, diff_id: &str) -> PathBuf {
        self.dir.join("layers").join(diff_id.trim_start_matches("sha256:"))
    }

    /// Takes the store's writer lock, held until the returned value is dropped.
    pub(crate) fn lock(&self) -> Result<Flock<File>> {
        let path = self.dir.join(".lock");
        let file = fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(io_err(&path))?;
        Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| StoreError::Io { path, source: e.into() })
    }

    pub(crate) fn read_index(&self) -> Result<Index> {
        let path = self.dir.join("index.json");
        self.index.read(&path).map_err(|e| match e {
            IndexError::Io(source) => StoreError::Io { path, source },
            IndexError::Corrupt(message) => StoreError::Corrupt { path, message },
        })
    }

    pub(crate) fn write_index(&self, index: &Index) -> Result<()> {
        atomic_write(&self.dir.join("index.json"), &index.to_json())
    }

    pub(crate) fn manifest(&self, manifest_digest: &str) -> Result<ImageManifest> {
        let path = self.blob_path(manifest_digest);
        ImageManifest::from_file(&path).map_err(|e| StoreError::Corrupt { path, message: e.to_string() })
    }

    /// The image ID (config digest) of the image with this manifest.
    pub(crate) fn image_id(&self, manifest_digest: &str) -> Result<String> {
        Ok(self.manifest(manifest_digest)?.config().digest().to_string())
    }

    /// Finds the manifest digest for a reference (with the reference, full form) or an image ID
    /// (full or a unique prefix, tagged or not).
    pub(crate) fn find(&self, index: &Index, wanted: &str) -> Result<(Option<String>, String)> {
        if let Ok(r) = Reference::parse(wanted) {
            if let Some(m) = index.references.get(&r.to_string()) {
                return Ok((Some(r.to_string()), m.clone()));
            }
        }
        let id = wanted.trim_start_matches("sha256:");
        if id.len() >= 4 {
            for m in index.manifests() {
                if self.manifest(&m)?.config().digest().digest().starts_with(id) {
                    return Ok((None, m));
                }
            }
        }
        Err(StoreError::NotFound(wanted.to_string()))
    }

    /// Resolves a reference or image ID to what a container needs.
    pub fn resolve(&self, wanted: &str) -> Result<Image> {
        let index = self.read_index()?;
        let (_, m) = self.find(&index, wanted)?;
        let id = self.image_id(&m)?;
        let path = self.blob_path(&id);
        let config = ImageConfiguration::from_file(&path).map_err(|e| StoreError::Corrupt { path, message: e.to_string() })?;
        let layer_dirs = config.rootfs().diff_ids().iter().map(|d| self.layer_dir(d)).collect();
        Ok(Image { id, config, layer_dirs })
    }

    /// The manifest of the image `wanted` (a reference or ID) names: its digest and its bytes.
    pub fn manifest_bytes(&self, wanted: &str) -> Result<(String, Vec<u8>)> {
        let index = self.read_index()?;
        let (_, m) = self.find(&index, wanted)?;
        let path = self.blob_path(&m);
        Ok((m, fs::read(&path).map_err(io_err(&path))?))
    }

    /// Opens the blob `digest` (a layer, config or manifest) for reading.
    pub fn open_blob(&self, digest: &str) -> Result<File> {
        let path = self.blob_path(digest);
        File::open(&path).map_err(io_err(&path))
    }

    /// Adds reference `target` to the image `source` names. An image `target` named before
    /// becomes untagged if that was its last reference.
    pub fn tag(&self, source: &str, target: &str) -> Result<()> {
        let target = Reference::parse(target).map_err(StoreError::Reference)?;
        let _lock = self.lock()?;
        let mut index = self.read_index()?;
        let (_, m) = self.find(&index, source)?;
        index.set_reference(&target.to_string(), &m);
        self.write_index(&index)
    }

    /// Every image with its references, untagged images included.
    pub fn list(&self) -> Result<Vec<ImageSummary>> {
        let index = self.read_index()?;
        let mut out = Vec::new();
        for m in index.manifests() {
            let manifest = self.manifest(&m)?;
            let id = manifest.config().digest().to_string();
            let created = ImageConfiguration::from_file(self.blob_path(&id)).ok().and_then(|c| c.created().clone());
            let size = manifest.layers().iter().map(|l| l.size()).sum();
            out.push(ImageSummary { id, references: index.references_of(&m), created, size });
        }
        Ok(out)
    }
}

/// The prefix of [`atomic_write`]'s temporary files: `.tmp-<pid>-`, so that one a killed writer
/// left can be told from one being written ([`remove_stale_temporaries`]).
fn temporary_prefix(pid: u32) -> String {
    format!(".tmp-{pid}-")
}

/// Writes a file atomically: temporary file in the same directory, fsync, rename, fsync the directory.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new().prefix(&temporary_prefix(std::process::id())).tempfile_in(dir).map_err(io_err(dir))?;
    // Through the plain file: the temporary file's own writer adds its random name to errors,
    // and the error already names `path`.
    tmp.as_file_mut().write_all(bytes).map_err(io_err(path))?;
    tmp.as_file().sync_all().map_err(io_err(path))?;
    tmp.persist(path).map_err(|e| StoreError::Io { path: path.to_path_buf(), source: e.error })?;
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir))
}

/// Removes from `dir` the temporary files of [`atomic_write`] whose writer is dead (killed while
/// writing); those of live writers stay.
pub fn remove_stale_temporaries(dir: &Path) -> Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err(dir)(e)),
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(".tmp-").and_then(|rest| rest.split_once('-')).and_then(|(pid, _)| pid.parse::<u32>().ok()) else { continue };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            match fs::remove_file(entry.path()) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(io_err(&entry.path())(e)),
                _ => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_dead_writers_temporary_files_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let stale = dir.path().join(format!("{}abc", temporary_prefix(dead)));
        let live = dir.path().join(format!("{}abc", temporary_prefix(std::process::id())));
        for file in [&stale, &live] {
            fs::write(file, "half").unwrap();
        }
        atomic_write(&dir.path().join("record.json"), b"{}").unwrap();
        remove_stale_temporaries(dir.path()).unwrap();
        assert!(!stale.exists(), "a dead writer's file is removed");
        assert!(live.exists(), "a live writer's file stays");
        assert_eq!(fs::read(dir.path().join("record.json")).unwrap(), b"{}");
        remove_stale_temporaries(&dir.path().join("missing")).unwrap();
    }
}
