//! Pulling into the store: each layer is unpacked while it downloads. The compressed bytes are
//! written to a staging blob and handed, chunk by chunk, to a thread that decompresses (gzip,
//! zstd or none) and unpacks them through the safe unpacker into a staging layer directory; both
//! the blob digest and the diff_id are computed on the way, so nothing holds a layer in memory or
//! reads the blob a second time. Finishing a layer checks both digests; committing the image
//! moves the staged layers into place with the registry's manifest and config byte for byte, all
//! or nothing under the store lock. Staging lives in a `.load-<pid>-` directory of the store,
//! which the next load or pull removes if this process dies.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

use sha2::{Digest as _, Sha256};

use crate::blob::{self, Compression, HashingReader};
use crate::commit::{StagedImage, StagedLayer};
use crate::load::archive::{remove_abandoned, STAGING_PREFIX};
use crate::reference::Reference;
use crate::store::{io_err, ImageStore, Result, StoreError};
use crate::unpack::{unpack_layer, UnpackError};

/// Chunks in flight between the download and the unpacker; a slow unpacker holds up the
/// download rather than letting memory grow.
const CHUNKS_IN_FLIGHT: usize = 8;

/// What the manifest and the config say one layer is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedLayer {
    /// The blob's digest (manifest descriptor).
    pub digest: String,
    /// The blob's size (manifest descriptor).
    pub size: u64,
    /// The digest of the uncompressed tar (the config's `rootfs.diff_ids`).
    pub diff_id: String,
}

/// A pull in progress: where its layers are staged until the image is committed. Dropping it
/// removes whatever was staged.
#[derive(Debug)]
pub struct PullStaging {
    store: ImageStore,
    dir: tempfile::TempDir,
}

/// A layer being received: write the blob's bytes to it, in order, then [`LayerIngest::finish`].
pub struct LayerIngest {
    expected: ExpectedLayer,
    blob_path: PathBuf,
    blob: File,
    hasher: Sha256,
    written: u64,
    pipe: Option<SyncSender<Vec<u8>>>,
    unpacker: Option<JoinHandle<std::result::Result<String, UnpackError>>>,
    unpacked: Option<PathBuf>,
}

/// A layer received and verified, staged for [`PullStaging::commit`].
#[derive(Debug)]
pub struct IngestedLayer(StagedLayer);

/// An image pulled from a registry, ready to be committed.
#[derive(Debug)]
pub struct PulledImage {
    /// The manifest as the registry served it (its digest is the RepoDigest).
    pub manifest: Vec<u8>,
    /// The config as the registry served it (its digest is the image ID).
    pub config: Vec<u8>,
    /// The layers this pull fetched; every other layer of the image must be in the store.
    pub layers: Vec<IngestedLayer>,
    /// References to point at the image (`name:tag`, and `name@digest` for the RepoDigest).
    pub references: Vec<Reference>,
}

impl ImageStore {
    /// Starts a pull: a staging directory in the store (one a dead process left is removed).
    pub fn begin_pull(&self) -> Result<PullStaging> {
        remove_abandoned(&self.dir);
        let prefix = format!("{STAGING_PREFIX}{}-", std::process::id());
        let dir = tempfile::Builder::new().prefix(&prefix).tempdir_in(&self.dir).map_err(io_err(&self.dir))?;
        Ok(PullStaging { store: self.clone(), dir })
    }

    /// Whether the store has this layer, both its blob and its unpacked content (Docker's
    /// "Already exists": nothing to download).
    pub fn has_layer(&self, digest: &str, diff_id: &str) -> bool {
        self.blob_path(digest).exists() && self.layer_dir(diff_id).exists()
    }
}

impl PullStaging {
    /// Starts receiving a layer. Its content is unpacked as it arrives unless the store already
    /// has it unpacked (from a blob compressed differently): then it is only verified.
    pub fn ingest_layer(&self, expected: ExpectedLayer) -> Result<LayerIngest> {
        let hex = expected.digest.trim_start_matches("sha256:");
        let blob_path = self.dir.path().join(format!("{hex}.blob"));
        let blob = File::create(&blob_path).map_err(io_err(&blob_path))?;
        let unpacked = (!self.store.layer_dir(&expected.diff_id).exists()).then(|| self.dir.path().join(format!("{hex}.layer")));
        let (pipe, chunks) = sync_channel(CHUNKS_IN_FLIGHT);
        let dest = unpacked.clone();
        let unpacker = std::thread::Builder::new()
            .name("unpack".into())
            .spawn(move || unpack_stream(ChunkReader::new(chunks), dest))
            .map_err(io_err(&blob_path))?;
        Ok(LayerIngest { expected, blob_path, blob, hasher: Sha256::new(), written: 0, pipe: Some(pipe), unpacker: Some(unpacker), unpacked })
    }

    /// Commits a pulled image: staged layers moved into place, manifest and config stored as
    /// given, references pointed at it. All or nothing; returns the image ID.
    pub fn commit(self, image: PulledImage) -> Result<String> {
        let staged = StagedImage {
            config: image.config,
            layers: image.layers.into_iter().map(|l| l.0).collect(),
            references: image.references,
            manifest: Some(image.manifest),
        };
        let committed = self.store.commit(&[staged], &mut |_, _| {})?;
        Ok(committed.into_iter().next().map(|c| c.id).unwrap_or_default())
    }
}

impl LayerIngest {
    /// Bytes received so far (where a resumed download starts).
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Ends the layer: waits for the unpacker, then checks the blob's digest and size against
    /// the manifest and the uncompressed digest against the config. On any mismatch the staged
    /// blob and directory are removed and the error names the layer.
    pub fn finish(mut self) -> Result<IngestedLayer> {
        self.pipe = None;
        let unpacked = self.join_unpacker();
        self.blob.sync_all().map_err(io_err(&self.blob_path))?;
        let digest = format!("sha256:{}", hex::encode(std::mem::take(&mut self.hasher).finalize()));
        let expected = &self.expected;
        let failed = |what: &str, actual: String, wanted: String| StoreError::LayerVerification {
            digest: expected.digest.clone(),
            what: what.to_string(),
            expected: wanted,
            actual,
        };
        // The blob is checked first: content that is not what the manifest names is the error,
        // even when it also failed to unpack.
        let result = if digest != expected.digest {
            Err(failed("content digest", digest, expected.digest.clone()))
        } else if self.written != expected.size {
            Err(failed("size", self.written.to_string(), expected.size.to_string()))
        } else {
            match unpacked {
                Ok(diff_id) if diff_id != expected.diff_id => Err(failed("uncompressed digest (diff_id)", diff_id, expected.diff_id.clone())),
                other => other.map(drop),
            }
        };
        if let Err(e) = result {
            self.discard();
            return Err(e);
        }
        let compression = Compression::of_file(&self.blob_path).map_err(io_err(&self.blob_path))?;
        Ok(IngestedLayer(StagedLayer {
            staged: self.blob_path.clone(),
            digest: self.expected.digest.clone(),
            size: self.written,
            compression,
            diff_id: self.expected.diff_id.clone(),
            unpacked: self.unpacked.clone(),
        }))
    }

    /// The diff_id the unpacker computed, or why it failed.
    fn join_unpacker(&mut self) -> Result<String> {
        let unpacker = self.unpacker.take().ok_or_else(|| StoreError::Unpack(UnpackError::Read(io::Error::other("the layer was already finished"))))?;
        match unpacker.join() {
            Ok(result) => result.map_err(StoreError::Unpack),
            Err(_) => Err(StoreError::Unpack(UnpackError::Read(io::Error::other("the layer unpacker panicked")))),
        }
    }

    /// Removes the staged blob and unpacked directory.
    fn discard(&self) {
        let _ = std::fs::remove_file(&self.blob_path);
        if let Some(dir) = &self.unpacked {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl Write for LayerIngest {
    /// Keeps the bytes in the staging blob and passes them to the unpacker. Only a failure to
    /// keep them (disk full) is an error here: an unpacker that stopped is reported by
    /// [`LayerIngest::finish`], after the blob's own digest is checked.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.blob.write_all(buf)?;
        self.hasher.update(buf);
        self.written += buf.len() as u64;
        if self.pipe.as_ref().is_some_and(|p| p.send(buf.to_vec()).is_err()) {
            self.pipe = None;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.blob.flush()
    }
}

impl Drop for LayerIngest {
    fn drop(&mut self) {
        self.pipe = None;
        if let Some(unpacker) = self.unpacker.take() {
            let _ = unpacker.join();
        }
    }
}

/// Decompresses and unpacks (into `dest`, or nowhere when `None`) the chunks of one layer; the
/// diff_id of what it read.
fn unpack_stream(chunks: ChunkReader, dest: Option<PathBuf>) -> std::result::Result<String, UnpackError> {
    let mut tar = HashingReader::new(blob::decompressing(chunks)?);
    if let Some(dest) = dest {
        unpack_layer(&mut tar, &dest)?;
    }
    Ok(tar.finish()?)
}

/// The chunks a download sends, read as one stream; it ends when the sender is dropped.
struct ChunkReader {
    chunks: Receiver<Vec<u8>>,
    current: Vec<u8>,
    at: usize,
}

impl ChunkReader {
    fn new(chunks: Receiver<Vec<u8>>) -> Self {
        Self { chunks, current: Vec::new(), at: 0 }
    }
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.current.len() {
            match self.chunks.recv() {
                Ok(chunk) => {
                    self.current = chunk;
                    self.at = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len() - self.at);
        buf[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}
