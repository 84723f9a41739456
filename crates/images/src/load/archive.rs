//! An image archive read into a staging directory: every regular file hashed while it is copied
//! out under a numbered name, so nothing in the archive chooses where anything is written.
//! Symbolic and hard links between entries (`docker save` and `podman save` link shared layers)
//! are kept as a table and followed when a file is looked up.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use tar::EntryType;

use crate::blob::{self, Compression};
use crate::store::{io_err, Result, StoreError};

/// JSON documents (manifests, indexes, configs) larger than this are refused rather than read.
const MAX_JSON: u64 = 16 << 20;
/// Staging directories are `<this><pid>-<random>`.
pub(crate) const STAGING_PREFIX: &str = ".load-";
/// Links followed in a row before a lookup gives up (a loop).
const MAX_LINKS: usize = 32;

/// One regular file of the archive.
#[derive(Debug)]
pub(crate) struct StagedFile {
    /// Its name in the archive, normalised.
    pub name: String,
    /// Where its content is staged.
    pub path: PathBuf,
    /// sha256 of its content.
    pub digest: String,
    /// Its size.
    pub size: u64,
}

/// The staged content of an archive, removed when dropped.
#[derive(Debug)]
pub(crate) struct StagedArchive {
    _dir: tempfile::TempDir,
    files: HashMap<String, StagedFile>,
    links: HashMap<String, String>,
}

impl StagedArchive {
    /// Reads `archive` (a tar, or a gzip- or zstd-compressed tar) into a staging directory under `parent`
    /// (named after this process, so that one a killed load left behind can be recognised and
    /// removed by the next).
    pub fn read(archive: impl Read, parent: &Path) -> Result<Self> {
        remove_abandoned(parent);
        let prefix = format!("{STAGING_PREFIX}{}-", std::process::id());
        let dir = tempfile::Builder::new().prefix(&prefix).tempdir_in(parent).map_err(io_err(parent))?;
        let mut buffered = BufReader::new(archive);
        let reader: Box<dyn Read> = match Compression::of_bytes(buffered.fill_buf().map_err(StoreError::ReadArchive)?) {
            Compression::Gzip => Box::new(flate2::read::GzDecoder::new(buffered)),
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(buffered).map_err(StoreError::ReadArchive)?),
            Compression::Unsupported(kind) => {
                return Err(StoreError::InvalidArchive(format!("it is {kind}-compressed; decompress it first, or use gzip or zstd")));
            }
            Compression::None => Box::new(buffered),
        };
        let mut files = HashMap::new();
        let mut links = HashMap::new();
        let mut tar = tar::Archive::new(reader);
        for entry in tar.entries().map_err(StoreError::ReadArchive)? {
            let mut entry = entry.map_err(StoreError::ReadArchive)?;
            let raw = entry.path().map_err(StoreError::ReadArchive)?.to_string_lossy().into_owned();
            let Some(name) = normalise("", &raw) else { continue };
            match entry.header().entry_type() {
                EntryType::Regular | EntryType::Continuous => {
                    let path = dir.path().join(files.len().to_string());
                    let mut out = StagingFile { file: File::create(&path).map_err(io_err(&path))?, failed: false };
                    // A write that fails (a full disk) names the staging file; a read that fails, the archive.
                    let (digest, size) = blob::copy_hashing(&mut entry, &mut out).map_err(|e| if out.failed { io_err(&path)(e) } else { StoreError::ReadArchive(e) })?;
                    out.file.sync_all().map_err(io_err(&path))?;
                    links.remove(&name);
                    files.insert(name.clone(), StagedFile { name, path, digest, size });
                }
                kind @ (EntryType::Symlink | EntryType::Link) => {
                    let target = entry.link_name().map_err(StoreError::ReadArchive)?.map(|t| t.to_string_lossy().into_owned()).unwrap_or_default();
                    // A symlink is relative to its own directory, a hard link to the archive root.
                    let base = if kind == EntryType::Symlink { parent_of(&name) } else { "" };
                    if let Some(target) = normalise(base, &target) {
                        files.remove(&name);
                        links.insert(name, target);
                    }
                }
                _ => {}
            }
        }
        Ok(Self { _dir: dir, files, links })
    }

    /// The regular file `name` names, following links.
    pub fn file(&self, name: &str) -> Option<&StagedFile> {
        let mut name = normalise("", name)?;
        for _ in 0..MAX_LINKS {
            if let Some(file) = self.files.get(&name) {
                return Some(file);
            }
            name = self.links.get(&name)?.clone();
        }
        None
    }

    /// The regular file `name` names, which must exist; a file under `blobs/sha256/` must have
    /// the digest its name claims.
    pub fn blob(&self, name: &str) -> Result<&StagedFile> {
        let file = self.file(name).ok_or_else(|| StoreError::InvalidArchive(format!("{name} is missing")))?;
        for claimed in [name, file.name.as_str()] {
            if let Some(hex) = normalise("", claimed).as_deref().and_then(|n| n.strip_prefix("blobs/sha256/")) {
                let expected = format!("sha256:{hex}");
                if expected != file.digest {
                    return Err(StoreError::DigestMismatch { what: format!("blob {claimed}"), expected, actual: file.digest.clone() });
                }
            }
        }
        Ok(file)
    }

    /// The content of a staged file, refused when larger than a JSON document can sensibly be.
    pub fn bytes(&self, file: &StagedFile) -> Result<Vec<u8>> {
        if file.size > MAX_JSON {
            return Err(StoreError::InvalidArchive(format!("{} is {} bytes, too large for a JSON document", file.name, file.size)));
        }
        std::fs::read(&file.path).map_err(io_err(&file.path))
    }

    /// Parses `file` as JSON.
    pub fn parse<T: DeserializeOwned>(&self, file: &StagedFile) -> Result<T> {
        serde_json::from_slice(&self.bytes(file)?).map_err(|e| StoreError::InvalidArchive(format!("{}: {e}", file.name)))
    }

    /// Parses the JSON file `name`, if the archive has it.
    pub fn json<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>> {
        self.file(name).map(|f| self.parse(f)).transpose()
    }
}

/// A staging file that remembers whether a write to it failed.
struct StagingFile {
    file: File,
    failed: bool,
}

impl Write for StagingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf).inspect_err(|_| self.failed = true)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush().inspect_err(|_| self.failed = true)
    }
}

/// Removes staging directories under `parent` whose process is gone.
pub(crate) fn remove_abandoned(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(STAGING_PREFIX).and_then(|rest| rest.split('-').next()) else { continue };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// `path` joined to the directory `base` as a plain relative name (`a/b`), or `None` when it
/// climbs out of the archive or names its root.
fn normalise(base: &str, path: &str) -> Option<String> {
    let mut parts: Vec<&str> = if path.starts_with('/') { Vec::new() } else { base.split('/').filter(|p| !p.is_empty()).collect() };
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

fn parent_of(name: &str) -> &str {
    name.rsplit_once('/').map(|(dir, _)| dir).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_names_inside_the_archive() {
        assert_eq!(normalise("", "./manifest.json").as_deref(), Some("manifest.json"));
        assert_eq!(normalise("", "blobs//sha256/ab").as_deref(), Some("blobs/sha256/ab"));
        assert_eq!(normalise("abc", "../def.tar").as_deref(), Some("def.tar"));
        assert_eq!(normalise("abc", "/def.tar").as_deref(), Some("def.tar"));
        assert_eq!(normalise("", "../etc/passwd"), None);
        assert_eq!(normalise("", "./"), None);
    }

    fn archive(entries: &[(&str, EntryType, &str)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, kind, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_mode(0o644);
            if *kind == EntryType::Regular {
                h.set_size(data.len() as u64);
                b.append_data(&mut h, name, data.as_bytes()).unwrap();
            } else {
                h.set_size(0);
                b.append_link(&mut h, name, data).unwrap();
            }
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn follows_links_and_checks_blob_names() {
        let dir = tempfile::tempdir().unwrap();
        let good = blob::sha256(b"content");
        let bytes = archive(&[
            ("top.tar", EntryType::Regular, "content"),
            ("abc/layer.tar", EntryType::Symlink, "../top.tar"),
            ("hard.tar", EntryType::Link, "abc/layer.tar"),
            ("loop", EntryType::Symlink, "loop"),
            (&format!("blobs/sha256/{}", &good[7..]), EntryType::Regular, "content"),
            (&format!("blobs/sha256/{}", "0".repeat(64)), EntryType::Regular, "content"),
        ]);
        let staged = StagedArchive::read(&bytes[..], dir.path()).unwrap();
        assert_eq!(staged.file("abc/layer.tar").unwrap().digest, good);
        assert_eq!(staged.file("./hard.tar").unwrap().name, "top.tar");
        assert!(staged.file("loop").is_none());
        assert!(staged.blob(&format!("blobs/sha256/{}", &good[7..])).is_ok());
        let err = staged.blob(&format!("blobs/sha256/{}", "0".repeat(64))).unwrap_err();
        assert!(matches!(err, StoreError::DigestMismatch { .. }), "{err}");
        assert!(matches!(staged.blob("nope"), Err(StoreError::InvalidArchive(_))));
        let staging = std::fs::read_dir(dir.path()).unwrap().count();
        drop(staged);
        assert_eq!((staging, std::fs::read_dir(dir.path()).unwrap().count()), (1, 0), "the staging directory goes with it");
    }

    #[test]
    fn a_staging_directory_left_by_a_dead_process_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        // Above the kernel's largest pid: no such process can exist.
        let abandoned = dir.path().join(format!("{STAGING_PREFIX}999999999-abc"));
        let ours = dir.path().join(format!("{STAGING_PREFIX}{}-abc", std::process::id()));
        let other = dir.path().join(".load-notapid");
        for d in [&abandoned, &ours, &other] {
            std::fs::create_dir_all(d.join("sub")).unwrap();
        }
        let staged = StagedArchive::read(&archive(&[("a", EntryType::Regular, "x")])[..], dir.path()).unwrap();
        assert!(!abandoned.exists(), "the dead process's staging is gone");
        assert!(ours.exists() && other.exists(), "a live process's staging and other names are left alone");
        drop(staged);
    }
}
