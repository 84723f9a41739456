//! Pulling into the store: each layer is unpacked while it downloads. The compressed chunks are
//! handed, as they arrive and without a copy, to a thread of the layer's own that keeps them in a
//! staging blob and hashes them, and hands them on (again without a copy) to a second thread that
//! decompresses (gzip, zstd or none) and unpacks them through the safe unpacker into a staging
//! layer directory; the blob digest and the diff_id are computed on the way, on the two threads,
//! so nothing holds a layer in memory or reads the blob a second time, and the downloading side
//! never waits on a disk. Finishing a layer checks both digests; committing the image
//! moves the staged layers into place with the registry's manifest and config byte for byte, all
//! or nothing under the store lock. Staging lives in a `.load-<pid>-` directory of the store,
//! which the next load or pull removes if this process dies.

use std::fs::File;
use std::io::{self, BufRead, BufWriter, Read, Write};
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

/// Chunks in flight between the download and the layer's thread, and again between that thread
/// and its unpacker; a slow disk holds up the download rather than letting memory grow (chunks
/// are at most a few hundred kB).
const CHUNKS_IN_FLIGHT: usize = 8;
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

/// A chunk [`LayerIngest::try_receive`] could not hand over yet, its layer's thread being behind.
pub struct PendingChunk {
    pipe: SyncSender<Bytes>,
    chunk: Bytes,
}

impl PendingChunk {
    /// Waits until the layer's thread takes the chunk. It blocks: an async caller runs it off
    /// its task (`spawn_blocking`), so that the other downloads its task drives go on meanwhile.
    /// Fails when the thread stopped taking chunks; [`LayerIngest::failure`] says why.
    pub fn wait(self) -> io::Result<()> {
        self.pipe.send(self.chunk).map_err(|_| io::Error::other("the layer's writer stopped"))
    }
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
            .spawn(move || receive_layer(chunks, blob, dest))
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

    /// Hands the layer's thread a chunk without waiting; when the thread is
    /// [`CHUNKS_IN_FLIGHT`] chunks behind, the chunk is counted as received but left pending:
    /// [`PendingChunk::wait`] then waits for the thread to take it. Fails only when the blob
    /// cannot be kept (disk full).
    pub fn try_receive(&mut self, chunk: Bytes) -> io::Result<Option<PendingChunk>> {
        let Some(pipe) = &self.pipe else { return Err(self.failure()) };
        let len = chunk.len() as u64;
        match pipe.try_send(chunk) {
            Ok(()) => {
                self.written += len;
                Ok(None)
            }
            Err(TrySendError::Full(chunk)) => {
                let pending = PendingChunk { pipe: pipe.clone(), chunk };
                self.written += len;
                Ok(Some(pending))
            }
            Err(TrySendError::Disconnected(_)) => Err(self.failure()),
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
            _ => Err(self.failure()),
        }
    }

    /// Why the layer's thread stopped taking chunks (a [`PendingChunk::wait`] failed, say): it
    /// could not keep the blob.
    pub fn failure(&mut self) -> io::Error {
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

/// The work of a layer's thread: keeps and hashes the blob, handing each chunk on to a thread
/// that unpacks it (into `dest`, or nowhere when `None`), so the two digests are computed on two
/// cores; then syncs the blob and waits for the unpacker. All of the blob is kept and checked,
/// even when its content could not be unpacked.
fn receive_layer(chunks: Receiver<Bytes>, blob: File, dest: Option<PathBuf>) -> Received {
    let (forward, unpacker_chunks) = sync_channel(CHUNKS_IN_FLIGHT);
    let unpacker = std::thread::Builder::new().name("unpack".into()).spawn(move || unpack_stream(ChunkReader::new(unpacker_chunks), dest));
    let kept = keep_blob(chunks, blob, forward);
    let unpacked = match unpacker {
        Ok(unpacker) => unpacker.join().unwrap_or_else(|_| Err(UnpackError::Read(io::Error::other("the layer's unpacker panicked")))),
        Err(e) => Err(UnpackError::Read(e)),
    };
    Received { kept, unpacked }
}

/// Writes the chunks into `blob` while hashing them, handing each on to `forward` until its
/// reader stops; syncs the blob: its digest and size. A write that fails (disk full) stops it,
/// which ends the stream for both the download and the unpacker.
fn keep_blob(chunks: Receiver<Bytes>, blob: File, forward: SyncSender<Bytes>) -> io::Result<(String, u64)> {
    let mut blob = BufWriter::with_capacity(BLOB_BUFFER, EarlyWriteback::new(blob));
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut forward = Some(forward);
    for chunk in chunks {
        blob.write_all(&chunk)?;
        hasher.update(&chunk);
        size += chunk.len() as u64;
        // An unpacker that stopped (the content is not a layer, or it is all read) takes no more.
        if forward.as_ref().is_some_and(|f| f.send(chunk).is_err()) {
            forward = None;
        }
    }
    drop(forward);
    blob.into_inner().map_err(|e| e.into_error())?.sync()?;
    Ok((format!("sha256:{}", hex::encode(hasher.finalize())), size))
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

/// The chunks of a blob, read as one stream that ends when their sender is dropped.
struct ChunkReader {
    chunks: Receiver<Bytes>,
    current: Bytes,
}

impl ChunkReader {
    fn new(chunks: Receiver<Bytes>) -> Self {
        Self { chunks, current: Bytes::new() }
    }
}

impl BufRead for ChunkReader {
    /// The rest of the current chunk (the next one once it is used up): the decompressor reads
    /// the chunks where they are.
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.current.is_empty() {
            match self.chunks.recv() {
                Ok(chunk) => self.current = chunk,
                Err(_) => break,
            }
        }
        Ok(&self.current)
    }

    fn consume(&mut self, amount: usize) {
        bytes::Buf::advance(&mut self.current, amount);
    }
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = buf.len().min(available.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends `chunks` to a [`keep_blob`] writing into a new file of `dir`; what it returned and
    /// the file's content.
    fn keep(dir: &std::path::Path, chunks: &[&[u8]], forward: SyncSender<Bytes>) -> (io::Result<(String, u64)>, Vec<u8>) {
        let path = dir.join("blob");
        let (send, receive) = sync_channel(CHUNKS_IN_FLIGHT);
        let keeper = {
            let file = File::create(&path).unwrap();
            std::thread::spawn(move || keep_blob(receive, file, forward))
        };
        for chunk in chunks {
            send.send(Bytes::copy_from_slice(chunk)).unwrap();
        }
        drop(send);
        (keeper.join().unwrap(), std::fs::read(&path).unwrap())
    }

    #[test]
    fn the_blob_is_kept_and_handed_on_chunk_by_chunk() {
        let dir = tempfile::tempdir().unwrap();
        let (forward, unpacker) = sync_channel(CHUNKS_IN_FLIGHT);
        let reader = std::thread::spawn(move || {
            let mut all = Vec::new();
            ChunkReader::new(unpacker).read_to_end(&mut all).unwrap();
            all
        });
        let (kept, content) = keep(dir.path(), &[b"first ", b"", b"second"], forward);
        assert_eq!(kept.unwrap(), (blob::sha256(b"first second"), 12));
        assert_eq!(content, b"first second");
        assert_eq!(reader.join().unwrap(), b"first second");
    }

    #[test]
    fn an_unpacker_that_stops_early_does_not_stop_the_blob() {
        let dir = tempfile::tempdir().unwrap();
        let (forward, unpacker) = sync_channel(1);
        drop(unpacker);
        let many: Vec<&[u8]> = std::iter::repeat_n(&b"chunk"[..], 3 * CHUNKS_IN_FLIGHT).collect();
        let (kept, content) = keep(dir.path(), &many, forward);
        let whole = b"chunk".repeat(3 * CHUNKS_IN_FLIGHT);
        assert_eq!(kept.unwrap(), (blob::sha256(&whole), whole.len() as u64));
        assert_eq!(content, whole);
    }
}
