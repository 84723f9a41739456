//! Pulling into the store: each layer is unpacked while it downloads. The compressed chunks are
//! handed, as they arrive and without a copy, to a thread of the layer's own that keeps them in a
//! staging blob, hashes them, and decompresses (gzip, zstd or none) and unpacks them through the
//! safe unpacker into a staging layer directory; both the blob digest and the diff_id are computed
//! on the way, so nothing holds a layer in memory or reads the blob a second time, and the
//! downloading side never waits on a disk. Finishing a layer checks both digests; committing the image
//! moves the staged layers into place with the registry's manifest and config byte for byte, all
//! or nothing under the store lock. Staging lives in a `.load-<pid>-` directory of the store,
//! which the next load or pull removes if this process dies.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::thread::JoinHandle;

use bytes::Bytes;

use sha2::{Digest as _, Sha256};

use crate::blob::{self, Compression, HashingReader};
use crate::commit::{StagedImage, StagedLayer};
use crate::load::archive::{remove_abandoned, STAGING_PREFIX};
use crate::reference::Reference;
use crate::store::{io_err, ImageStore, Result, StoreError};
use crate::unpack::{unpack_layer, UnpackError};
use crate::writeback::EarlyWriteback;

/// Chunks in flight between the download and the layer's thread; a slow disk holds up the
/// download rather than letting memory grow (chunks are at most a few hundred kB).
const CHUNKS_IN_FLIGHT: usize = 16;
/// Bytes gathered before a write to the staging blob.
const BLOB_BUFFER: usize = 1 << 18;

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
    written: u64,
    pipe: Option<SyncSender<Bytes>>,
    worker: Option<JoinHandle<Received>>,
    unpacked: Option<PathBuf>,
}

/// What a layer's thread made of the chunks it was handed.
struct Received {
    /// The blob's digest and size once it is on disk, or why it could not be kept.
    kept: io::Result<(String, u64)>,
    /// The diff_id of the unpacked content, or why it could not be unpacked.
    unpacked: std::result::Result<String, UnpackError>,
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
        let worker = std::thread::Builder::new()
            .name("ingest".into())
            .spawn(move || receive_layer(BlobTee::new(chunks, blob), dest))
            .map_err(io_err(&blob_path))?;
        Ok(LayerIngest { expected, blob_path, written: 0, pipe: Some(pipe), worker: Some(worker), unpacked })
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
        let Received { kept, unpacked } = self.join_worker()?;
        let (digest, size) = match kept {
            Ok(kept) => kept,
            Err(e) => {
                self.discard();
                return Err(io_err(&self.blob_path)(e));
            }
        };
        let unpacked = unpacked.map_err(StoreError::Unpack);
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
        } else if size != expected.size {
            Err(failed("size", size.to_string(), expected.size.to_string()))
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
            size,
            compression,
            diff_id: self.expected.diff_id.clone(),
            unpacked: self.unpacked.clone(),
        }))
    }

    /// Hands the layer's thread a chunk without waiting; gives the chunk back when the thread
    /// is [`CHUNKS_IN_FLIGHT`] chunks behind (then [`LayerIngest::receive`] it, which waits).
    /// Fails only when the blob cannot be kept (disk full).
    pub fn try_receive(&mut self, chunk: Bytes) -> io::Result<Option<Bytes>> {
        let Some(pipe) = &self.pipe else { return Err(self.stopped()) };
        let len = chunk.len() as u64;
        match pipe.try_send(chunk) {
            Ok(()) => {
                self.written += len;
                Ok(None)
            }
            Err(TrySendError::Full(chunk)) => Ok(Some(chunk)),
            Err(TrySendError::Disconnected(_)) => Err(self.stopped()),
        }
    }

    /// Hands the layer's thread a chunk, waiting while it is behind. Fails only when the blob
    /// cannot be kept (disk full): an unpacker that stopped is reported by
    /// [`LayerIngest::finish`], after the blob's own digest is checked.
    pub fn receive(&mut self, chunk: Bytes) -> io::Result<()> {
        let len = chunk.len() as u64;
        match self.pipe.as_ref().map(|pipe| pipe.send(chunk)) {
            Some(Ok(())) => {
                self.written += len;
                Ok(())
            }
            _ => Err(self.stopped()),
        }
    }

    /// Why the layer's thread stopped taking chunks: it could not keep the blob.
    fn stopped(&mut self) -> io::Error {
        match self.join_worker() {
            Ok(Received { kept: Err(e), .. }) => e,
            _ => io::Error::other("the layer's writer stopped"),
        }
    }

    /// Ends the chunks and waits for the layer's thread.
    fn join_worker(&mut self) -> Result<Received> {
        self.pipe = None;
        let worker = self.worker.take().ok_or_else(|| StoreError::Unpack(UnpackError::Read(io::Error::other("the layer was already finished"))))?;
        worker.join().map_err(|_| StoreError::Unpack(UnpackError::Read(io::Error::other("the layer's writer panicked"))))
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
    /// [`LayerIngest::receive`] of a copy of `buf`.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.receive(Bytes::copy_from_slice(buf))?;
        Ok(buf.len())
    }

    /// Nothing to do: the layer's thread writes the blob, and [`LayerIngest::finish`] syncs it.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for LayerIngest {
    fn drop(&mut self) {
        self.pipe = None;
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

/// The work of a layer's thread: unpacks (into `dest`, or nowhere when `None`) what `tee`
/// reads while `tee` keeps and hashes the blob, then keeps the rest of the blob (all of it is
/// checked, even when its content could not be unpacked) and syncs it.
fn receive_layer(mut tee: BlobTee, dest: Option<PathBuf>) -> Received {
    let unpacked = unpack_stream(&mut tee, dest);
    Received { kept: tee.finish(), unpacked }
}

/// Decompresses and unpacks (into `dest`, or nowhere when `None`) the chunks of one layer; the
/// diff_id of what it read.
fn unpack_stream(chunks: &mut BlobTee, dest: Option<PathBuf>) -> std::result::Result<String, UnpackError> {
    let mut tar = HashingReader::new(blob::decompressing(chunks)?);
    if let Some(dest) = dest {
        unpack_layer(&mut tar, &dest)?;
    }
    Ok(tar.finish()?)
}

/// The chunks a download sends, read as one stream, and kept and hashed on the way: the
/// staging blob. It ends when the sender is dropped.
struct BlobTee {
    chunks: Receiver<Bytes>,
    current: Bytes,
    blob: BufWriter<EarlyWriteback>,
    hasher: Sha256,
    size: u64,
    /// Why the blob could not be kept; reading stops then.
    failed: Option<io::Error>,
}

impl BlobTee {
    fn new(chunks: Receiver<Bytes>, blob: File) -> Self {
        Self { chunks, current: Bytes::new(), blob: BufWriter::with_capacity(BLOB_BUFFER, EarlyWriteback::new(blob)), hasher: Sha256::new(), size: 0, failed: None }
    }

    /// The next chunk, kept and hashed; `None` at the end of the stream or once keeping failed.
    fn next_chunk(&mut self) -> Option<Bytes> {
        if self.failed.is_some() {
            return None;
        }
        let chunk = self.chunks.recv().ok()?;
        if let Err(e) = self.blob.write_all(&chunk) {
            self.failed = Some(e);
            return None;
        }
        self.hasher.update(&chunk);
        self.size += chunk.len() as u64;
        Some(chunk)
    }

    /// Keeps what is left of the stream, syncs the blob: its digest and size.
    fn finish(mut self) -> io::Result<(String, u64)> {
        while self.next_chunk().is_some() {}
        if let Some(e) = self.failed {
            return Err(e);
        }
        self.blob.into_inner().map_err(|e| e.into_error())?.sync()?;
        Ok((format!("sha256:{}", hex::encode(self.hasher.finalize())), self.size))
    }
}

impl Read for BlobTee {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.next_chunk() {
                Some(chunk) => self.current = chunk,
                None if self.failed.is_some() => return Err(io::Error::other("the layer blob could not be kept")),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        bytes::Buf::advance(&mut self.current, n);
        Ok(n)
    }
}
