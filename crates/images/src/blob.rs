//! Content digests and layer compression.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;

use sha2::{Digest as _, Sha256};

/// `sha256:<hex>` of `bytes`.
pub(crate) fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Copies `from` into `to` while hashing it: the `sha256:<hex>` digest and the size.
pub(crate) fn copy_hashing(mut from: impl Read, to: &mut impl Write) -> io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        to.write_all(&buf[..n])?;
        size += n as u64;
    }
    Ok((format!("sha256:{}", hex::encode(hasher.finalize())), size))
}

/// How a layer blob is compressed, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    /// A plain tar.
    None,
    /// gzip.
    Gzip,
    /// zstd.
    Zstd,
    /// A compression the unpacker does not read (bzip2, xz).
    Unsupported(&'static str),
}

impl Compression {
    /// Detects the compression of the file at `path`.
    pub fn of_file(path: &Path) -> io::Result<Self> {
        let mut magic = [0u8; 6];
        let mut file = File::open(path)?;
        let mut len = 0;
        while len < magic.len() {
            match file.read(&mut magic[len..])? {
                0 => break,
                n => len += n,
            }
        }
        Ok(Self::of_bytes(&magic[..len]))
    }

    /// Detects the compression of data starting with `magic`.
    pub fn of_bytes(magic: &[u8]) -> Self {
        if magic.starts_with(&[0x1f, 0x8b]) {
            Self::Gzip
        } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Self::Zstd
        } else if magic.starts_with(b"BZh") {
            Self::Unsupported("bzip2")
        } else if magic.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Self::Unsupported("xz")
        } else {
            Self::None
        }
    }

    /// The uncompressed content of `compressed`, which is compressed this way.
    pub fn decoder<'a>(self, compressed: impl BufRead + Send + 'a) -> io::Result<Box<dyn Read + Send + 'a>> {
        Ok(match self {
            Self::Gzip => Box::new(flate2::bufread::GzDecoder::new(compressed)),
            Self::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(compressed)?),
            Self::None => Box::new(compressed),
            Self::Unsupported(kind) => return Err(io::Error::new(io::ErrorKind::InvalidData, format!("{kind}-compressed layers are not supported"))),
        })
    }

    /// The OCI media type of a layer compressed this way.
    pub fn layer_media_type(self) -> oci_spec::image::MediaType {
        match self {
            Self::Gzip => oci_spec::image::MediaType::ImageLayerGzip,
            Self::Zstd => oci_spec::image::MediaType::ImageLayerZstd,
            Self::None | Self::Unsupported(_) => oci_spec::image::MediaType::ImageLayer,
        }
    }
}

/// Reads `compressed` to its end, detecting its compression from its first bytes (those its
/// first `fill_buf` gives). The decoder reads from `compressed`'s own buffer: no copy.
pub(crate) fn decompressing<'a>(mut compressed: impl BufRead + Send + 'a) -> io::Result<Box<dyn Read + Send + 'a>> {
    let compression = Compression::of_bytes(compressed.fill_buf()?);
    compression.decoder(compressed)
}

/// The digest of a layer's uncompressed tar (its diff_id): the blob's own digest when it is not
/// compressed, else the digest of its decompressed content.
pub(crate) fn diff_id(path: &Path, compression: Compression, blob_digest: &str) -> io::Result<String> {
    match compression {
        Compression::None => Ok(blob_digest.to_string()),
        _ => Ok(copy_hashing(compression.decoder(BufReader::new(File::open(path)?))?, &mut io::sink())?.0),
    }
}

/// A reader that hashes what passes through it (a layer's diff_id as it is unpacked).
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> HashingReader<R> {
    /// Hashes what is read from `inner`.
    pub fn new(inner: R) -> Self {
        Self { inner, hasher: Sha256::new() }
    }

    /// Reads what is left, then gives the `sha256:<hex>` digest of everything read.
    pub fn finish(mut self) -> io::Result<String> {
        io::copy(&mut self, &mut io::sink())?;
        Ok(format!("sha256:{}", hex::encode(self.hasher.finalize())))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_compressions() {
        assert_eq!(Compression::of_bytes(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(Compression::of_bytes(&[0x28, 0xb5, 0x2f, 0xfd, 0]), Compression::Zstd);
        assert_eq!(Compression::of_bytes(b"BZh9"), Compression::Unsupported("bzip2"));
        assert_eq!(Compression::of_bytes(b"etc/\0\0"), Compression::None);
        assert_eq!(Compression::of_bytes(b""), Compression::None);
    }

    #[test]
    fn the_diff_id_of_a_gzip_layer_is_the_digest_of_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("layer.gz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"layer content").unwrap();
        std::fs::write(&path, gz.finish().unwrap()).unwrap();
        assert_eq!(diff_id(&path, Compression::Gzip, "unused").unwrap(), sha256(b"layer content"));
        assert_eq!(diff_id(&path, Compression::None, "sha256:given").unwrap(), "sha256:given");
        std::fs::write(&path, zstd::encode_all(&b"zstd content"[..], 3).unwrap()).unwrap();
        assert_eq!(diff_id(&path, Compression::Zstd, "unused").unwrap(), sha256(b"zstd content"));
    }

    #[test]
    fn decompressing_reads_every_kind_and_hashes_the_content() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"tar bytes").unwrap();
        let blobs = [gz.finish().unwrap(), zstd::encode_all(&b"tar bytes"[..], 3).unwrap(), b"tar bytes".to_vec()];
        for blob in blobs {
            let reader = HashingReader::new(decompressing(&blob[..]).unwrap());
            assert_eq!(reader.finish().unwrap(), sha256(b"tar bytes"));
        }
    }
}
