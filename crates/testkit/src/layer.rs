//! Image layers for test images: what goes in them ([`Layer`]) and how they are written, streamed
//! from tar through a compressor into a blob while both digests are computed, so a layer of any
//! size never sits in memory.

use std::io::{self, Read, Write};
use std::path::Path;

use anyhow::Context as _;
use rand::{RngCore as _, SeedableRng as _};
use sha2::{Digest as _, Sha256};

/// Modification time of every entry a [`Layer`] writes (2000-01-01, as the busybox rootfs).
const MTIME: u64 = 946_684_800;

/// How a layer blob is compressed, with its OCI media type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Compression {
    /// `application/vnd.oci.image.layer.v1.tar+gzip`.
    Gzip,
    /// `application/vnd.oci.image.layer.v1.tar+zstd`.
    Zstd,
    /// `application/vnd.oci.image.layer.v1.tar`.
    None,
}

impl Compression {
    /// The OCI media type of a layer compressed this way.
    pub fn media_type(self) -> &'static str {
        match self {
            Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
            Compression::None => "application/vnd.oci.image.layer.v1.tar",
        }
    }
}

/// One entry of a layer's tar. Paths are relative to the root, without a leading `/`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Entry {
    /// A regular file with its contents, mode and owner.
    File {
        path: String,
        contents: Vec<u8>,
        mode: u32,
        uid: u64,
        gid: u64,
    },
    /// A regular file of `size` pseudo-random (incompressible) bytes from `seed`, streamed.
    Random { path: String, size: u64, seed: u64 },
    /// A directory.
    Dir { path: String, mode: u32 },
    /// A symbolic link to `target`.
    Symlink { path: String, target: String },
    /// A hard link to `target`, a file earlier in the same layer.
    HardLink { path: String, target: String },
    /// The contents of another tar (the busybox rootfs), copied entry by entry.
    Tar { path: std::path::PathBuf },
}

/// What one layer holds: entries in order, and its compression.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Layer {
    entries: Vec<Entry>,
    compression: Compression,
}

impl Layer {
    /// An empty gzip layer.
    pub fn gzip() -> Layer {
        Layer::new(Compression::Gzip)
    }

    /// An empty zstd layer.
    pub fn zstd() -> Layer {
        Layer::new(Compression::Zstd)
    }

    /// An empty layer compressed as `compression`.
    pub fn new(compression: Compression) -> Layer {
        Layer {
            entries: Vec::new(),
            compression,
        }
    }

    /// A gzip layer holding the entries of the tar at `path` (such as the busybox rootfs).
    pub fn from_tar(path: &Path) -> Layer {
        Layer::gzip().entry(Entry::Tar {
            path: path.to_path_buf(),
        })
    }

    /// Adds any entry.
    pub fn entry(mut self, entry: Entry) -> Layer {
        self.entries.push(entry);
        self
    }

    /// Adds a root-owned file.
    pub fn file(self, path: &str, contents: impl Into<Vec<u8>>, mode: u32) -> Layer {
        self.owned_file(path, contents, mode, 0, 0)
    }

    /// Adds a file owned by `uid:gid`.
    pub fn owned_file(
        self,
        path: &str,
        contents: impl Into<Vec<u8>>,
        mode: u32,
        uid: u64,
        gid: u64,
    ) -> Layer {
        self.entry(Entry::File {
            path: path.into(),
            contents: contents.into(),
            mode,
            uid,
            gid,
        })
    }

    /// Adds a file of `size` incompressible bytes (deterministic for a `seed`).
    pub fn random_file(self, path: &str, size: u64, seed: u64) -> Layer {
        self.entry(Entry::Random {
            path: path.into(),
            size,
            seed,
        })
    }

    /// Adds a directory.
    pub fn dir(self, path: &str, mode: u32) -> Layer {
        self.entry(Entry::Dir {
            path: path.into(),
            mode,
        })
    }

    /// Adds a symbolic link.
    pub fn symlink(self, path: &str, target: &str) -> Layer {
        self.entry(Entry::Symlink {
            path: path.into(),
            target: target.into(),
        })
    }

    /// Adds a hard link to a file added earlier in this layer.
    pub fn hard_link(self, path: &str, target: &str) -> Layer {
        self.entry(Entry::HardLink {
            path: path.into(),
            target: target.into(),
        })
    }

    /// Deletes `path` of the layers below: a `.wh.NAME` whiteout file next to it.
    pub fn whiteout(self, path: &str) -> Layer {
        let (parent, name) = match path.rsplit_once('/') {
            Some((parent, name)) => (format!("{parent}/"), name),
            None => (String::new(), path),
        };
        self.file(&format!("{parent}.wh.{name}"), Vec::new(), 0o644)
    }

    /// Hides everything the layers below have in directory `dir`: the opaque whiteout
    /// `DIR/.wh..wh..opq`.
    pub fn opaque(self, dir: &str) -> Layer {
        self.file(&format!("{dir}/.wh..wh..opq"), Vec::new(), 0o644)
    }

    /// Its compression.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// Writes the layer as a blob file at `out`; returns its digests and size.
    ///
    /// Blobs are cached per target directory (`xcompose-testkit/layers/`), keyed by what the
    /// layer holds (and the size and time of the tars it copies): the same layer is compressed
    /// once, not in every test (a debug build gzips a few MB a second).
    pub fn write(&self, out: &Path) -> anyhow::Result<WrittenLayer> {
        let cache = crate::image::artifact_dir()?.join("layers");
        let key = self.cache_key()?;
        let (blob, meta) = (
            cache.join(format!("{key}.blob")),
            cache.join(format!("{key}.json")),
        );
        if let Ok(text) = std::fs::read(&meta) {
            if let Ok(cached) = serde_json::from_slice::<CachedLayer>(&text) {
                std::fs::copy(&blob, out).with_context(|| format!("copying {}", blob.display()))?;
                return Ok(cached.into_written(self.compression));
            }
        }
        let written = self.write_uncached(out)?;
        std::fs::create_dir_all(&cache).with_context(|| format!("creating {}", cache.display()))?;
        // Blob first, then its description, each renamed into place: a reader never sees half.
        let staging = tempfile::NamedTempFile::new_in(&cache)?;
        std::fs::copy(out, staging.path())?;
        staging.persist(&blob).context("caching a layer blob")?;
        let staging = tempfile::NamedTempFile::new_in(&cache)?;
        std::fs::write(
            staging.path(),
            serde_json::to_vec(&CachedLayer::from(&written))?,
        )?;
        staging
            .persist(&meta)
            .context("caching a layer's digests")?;
        Ok(written)
    }

    /// A digest of what determines the blob: the entries, the compression, and for copied tars
    /// their size and modification time.
    fn cache_key(&self) -> anyhow::Result<String> {
        let mut hasher = Sha256::new();
        hasher.update(format!("{self:?}").as_bytes());
        for entry in &self.entries {
            if let Entry::Tar { path } = entry {
                let meta = std::fs::metadata(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                hasher.update(format!("{} {:?}", meta.len(), meta.modified()?).as_bytes());
            }
        }
        Ok(hex::encode(hasher.finalize()))
    }

    /// Writes the layer as a blob file at `out`, compressing it anew.
    fn write_uncached(&self, out: &Path) -> anyhow::Result<WrittenLayer> {
        let file =
            std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
        let blob = Hashing::new(io::BufWriter::with_capacity(1 << 20, file));
        let (diff_id, blob) = match self.compression {
            Compression::Gzip => {
                let encoder = flate2::write::GzEncoder::new(blob, flate2::Compression::fast());
                let (diff_id, encoder) = self.write_tar(encoder)?;
                (diff_id, encoder.finish()?)
            }
            Compression::Zstd => {
                let encoder = zstd::Encoder::new(blob, 3)?;
                let (diff_id, encoder) = self.write_tar(encoder)?;
                (diff_id, encoder.finish()?)
            }
            Compression::None => self.write_tar(blob)?,
        };
        let (digest, size, mut file) = blob.finish();
        file.flush()?;
        Ok(WrittenLayer {
            digest,
            diff_id,
            size,
            media_type: self.compression.media_type(),
        })
    }

    /// Writes the tar into `sink`; returns the tar's digest (the diff_id) and the sink.
    fn write_tar<W: Write>(&self, sink: W) -> anyhow::Result<(String, W)> {
        let mut builder = tar::Builder::new(Hashing::new(sink));
        for entry in &self.entries {
            append(&mut builder, entry)?;
        }
        let (diff_id, _, sink) = builder.into_inner()?.finish();
        Ok((diff_id, sink))
    }
}

/// A [`WrittenLayer`] as the cache keeps it (the media type follows from the compression).
#[derive(serde::Serialize, serde::Deserialize)]
struct CachedLayer {
    digest: String,
    diff_id: String,
    size: u64,
}

impl CachedLayer {
    fn into_written(self, compression: Compression) -> WrittenLayer {
        WrittenLayer {
            digest: self.digest,
            diff_id: self.diff_id,
            size: self.size,
            media_type: compression.media_type(),
        }
    }
}

impl From<&WrittenLayer> for CachedLayer {
    fn from(layer: &WrittenLayer) -> CachedLayer {
        CachedLayer {
            digest: layer.digest.clone(),
            diff_id: layer.diff_id.clone(),
            size: layer.size,
        }
    }
}

/// A layer written as a blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrittenLayer {
    /// `sha256:...` of the blob as stored (compressed).
    pub digest: String,
    /// `sha256:...` of the uncompressed tar.
    pub diff_id: String,
    /// Size of the blob in bytes.
    pub size: u64,
    /// Its media type.
    pub media_type: &'static str,
}

fn append<W: Write>(builder: &mut tar::Builder<W>, entry: &Entry) -> anyhow::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_mtime(MTIME);
    // Every numeric field filled in (a fresh header's are NULs, which strict readers refuse).
    header.set_uid(0);
    header.set_gid(0);
    match entry {
        Entry::File {
            path,
            contents,
            mode,
            uid,
            gid,
        } => {
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(*mode);
            header.set_uid(*uid);
            header.set_gid(*gid);
            header.set_size(contents.len() as u64);
            builder.append_data(&mut header, path, contents.as_slice())?;
        }
        Entry::Random { path, size, seed } => {
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(0o644);
            header.set_size(*size);
            let reader = RandomBytes(rand::rngs::StdRng::seed_from_u64(*seed)).take(*size);
            builder.append_data(&mut header, path, reader)?;
        }
        Entry::Dir { path, mode } => {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(*mode);
            header.set_size(0);
            builder.append_data(&mut header, path, io::empty())?;
        }
        Entry::Symlink { path, target } => {
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_mode(0o777);
            header.set_size(0);
            builder.append_link(&mut header, path, target)?;
        }
        Entry::HardLink { path, target } => {
            header.set_entry_type(tar::EntryType::Link);
            header.set_mode(0o644);
            header.set_size(0);
            builder.append_link(&mut header, path, target)?;
        }
        Entry::Tar { path } => {
            let file =
                std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
            let mut archive = tar::Archive::new(file);
            for item in archive.entries()? {
                let mut item = item?;
                let mut header = item.header().clone();
                let name = item.path()?.into_owned();
                match item.link_name()? {
                    Some(target)
                        if header.entry_type().is_hard_link()
                            || header.entry_type().is_symlink() =>
                    {
                        let target = target.into_owned();
                        builder.append_link(&mut header, &name, &target)?;
                    }
                    _ => builder.append_data(&mut header, &name, &mut item)?,
                }
            }
        }
    }
    Ok(())
}

/// An endless reader of pseudo-random bytes.
struct RandomBytes(rand::rngs::StdRng);

impl Read for RandomBytes {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.fill_bytes(buf);
        Ok(buf.len())
    }
}

/// A writer that passes bytes on and computes their sha256 and count.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> Hashing<W> {
    fn new(inner: W) -> Hashing<W> {
        Hashing {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// `sha256:HEX` of what went through, its size, and the inner writer.
    fn finish(self) -> (String, u64, W) {
        (
            format!("sha256:{}", hex::encode(self.hasher.finalize())),
            self.count,
            self.inner,
        )
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
