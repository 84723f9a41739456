//! ADD's local archives: a source file that is a tar archive — plain, or compressed with gzip,
//! bzip2, xz or zstd, told by its content as Docker tells it — is extracted into the
//! destination rather than copied, through the image store's safe unpacker (no entry can land
//! outside the directory it is unpacked into), keeping the archive's owners and modes.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

/// How an archive is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    None,
    Gzip,
    Bzip2,
    Xz,
    Zstd,
}

/// The offset and value of the magic of a POSIX (ustar) tar header.
const USTAR: (usize, &[u8]) = (257, b"ustar");

/// The compression of a tar archive starting with `head`, or `None` if it is not one.
fn archive_kind(head: &[u8]) -> Option<Compression> {
    if head.starts_with(&[0x1f, 0x8b]) {
        Some(Compression::Gzip)
    } else if head.starts_with(b"BZh") {
        Some(Compression::Bzip2)
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Some(Compression::Xz)
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some(Compression::Zstd)
    } else if head.get(USTAR.0..USTAR.0 + USTAR.1.len()) == Some(USTAR.1) {
        Some(Compression::None)
    } else {
        None
    }
}

/// Whether the file at `path` is an archive ADD extracts.
pub fn is_archive(path: &Path) -> bool {
    let Ok(file) = File::open(path) else { return false };
    let mut head = Vec::with_capacity(512);
    file.take(512).read_to_end(&mut head).is_ok() && archive_kind(&head).is_some()
}

/// Extracts the archive at `path` into `dest`, a directory that must not exist yet.
pub fn extract(path: &Path, dest: &Path) -> io::Result<()> {
    let mut reader = BufReader::with_capacity(1 << 16, File::open(path)?);
    let kind = archive_kind(reader.fill_buf()?).ok_or_else(|| io::Error::other(format!("{} is not a tar archive", path.display())))?;
    let tar: Box<dyn Read> = match kind {
        Compression::None => Box::new(reader),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(reader)),
        Compression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(reader)),
        Compression::Xz => Box::new(liblzma::bufread::XzDecoder::new_multi_decoder(reader)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(reader)?),
    };
    xcompose_images::unpack_layer(tar, dest).map_err(io::Error::other)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn tar_of(name: &str, content: &[u8]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_ustar();
        header.set_size(content.len() as u64);
        header.set_mode(0o640);
        header.set_uid(1000);
        header.set_gid(1000);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, name, content).unwrap();
        builder.into_inner().unwrap()
    }

    #[test]
    fn every_compression_is_extracted_with_owners_and_modes() {
        let dir = tempfile::tempdir().unwrap();
        let plain = tar_of("inner/hello.txt", b"hello\n");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&plain).unwrap();
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        bz.write_all(&plain).unwrap();
        let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 6);
        xz.write_all(&plain).unwrap();
        let archives = [plain.clone(), gz.finish().unwrap(), bz.finish().unwrap(), xz.finish().unwrap(), zstd::encode_all(&plain[..], 3).unwrap()];
        for (i, bytes) in archives.iter().enumerate() {
            let path = dir.path().join(format!("a{i}"));
            std::fs::write(&path, bytes).unwrap();
            assert!(is_archive(&path), "archive {i}");
            let dest = dir.path().join(format!("out{i}"));
            extract(&path, &dest).unwrap();
            let file = dest.join("inner/hello.txt");
            assert_eq!(std::fs::read(&file).unwrap(), b"hello\n");
            let meta = std::fs::metadata(&file).unwrap();
            use std::os::unix::fs::MetadataExt;
            assert_eq!((meta.uid(), meta.mode() & 0o777), (1000, 0o640));
        }
        std::fs::write(dir.path().join("notes.txt"), b"just text").unwrap();
        assert!(!is_archive(&dir.path().join("notes.txt")));
    }
}
