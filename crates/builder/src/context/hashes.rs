//! The content digests of context files already hashed, keyed by the file's path and stat
//! tuple (device, inode, size, mtime and ctime in nanoseconds, mode), as BuildKit's contenthash
//! keeps them: a file whose stat tuple is unchanged is not read again. The digest stays one of
//! the contents: rewriting a file changes its ctime even when its size and mtime are put back,
//! so it is hashed again. Kept in one JSON file in the build cache, written only when it changed.

use std::collections::BTreeMap;
use std::fs::{self, File, Metadata};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A file's identity and state: when any part changes, its contents may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct StatTuple {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
    mode: u32,
}

impl StatTuple {
    fn of(meta: &Metadata) -> Self {
        let ns = |secs: i64, nanos: i64| i128::from(secs) * 1_000_000_000 + i128::from(nanos);
        Self { dev: meta.dev(), ino: meta.ino(), size: meta.size(), mtime_ns: ns(meta.mtime(), meta.mtime_nsec()), ctime_ns: ns(meta.ctime(), meta.ctime_nsec()), mode: meta.mode() }
    }
}

/// One remembered digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    stat: StatTuple,
    sha256: String,
}

/// The remembered digests of one state root.
#[derive(Debug, Default)]
pub struct ContentHashes {
    file: Option<PathBuf>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    entries: BTreeMap<PathBuf, Entry>,
    changed: bool,
}

impl ContentHashes {
    /// The digests remembered in `file` (none if it is missing or unreadable).
    pub fn load(file: &Path) -> Self {
        let entries = fs::read(file).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok()).unwrap_or_default();
        Self { file: Some(file.to_path_buf()), state: Mutex::new(State { entries, changed: false }) }
    }

    /// The hex SHA-256 of the regular file at `path` with metadata `meta`: remembered if its
    /// stat tuple is unchanged, else read and remembered.
    pub fn file_digest(&self, path: &Path, meta: &Metadata) -> io::Result<String> {
        let stat = StatTuple::of(meta);
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(entry) = state.entries.get(path).filter(|e| e.stat == stat) {
            return Ok(entry.sha256.clone());
        }
        let mut hasher = Sha256::new();
        io::copy(&mut File::open(path)?, &mut hasher)?;
        let sha256 = hex::encode(hasher.finalize());
        state.entries.insert(path.to_path_buf(), Entry { stat, sha256: sha256.clone() });
        state.changed = true;
        Ok(sha256)
    }

    /// Writes the digests back if any was added or replaced (atomically; nothing is written
    /// when nothing changed).
    pub fn save(&self) -> io::Result<()> {
        let state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(file) = self.file.as_ref().filter(|_| state.changed) else { return Ok(()) };
        fs::create_dir_all(file.parent().unwrap_or(Path::new("/")))?;
        let bytes = serde_json::to_vec(&state.entries).map_err(io::Error::other)?;
        xcompose_images::store::atomic_write(file, &bytes).map_err(io::Error::other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest_of(hashes: &ContentHashes, path: &Path) -> String {
        hashes.file_digest(path, &fs::symlink_metadata(path).unwrap()).unwrap()
    }

    #[test]
    fn a_rewrite_with_the_same_size_and_mtime_is_hashed_again() {
        let dir = tempfile::tempdir().unwrap();
        let (file, store) = (dir.path().join("a.txt"), dir.path().join("hashes.json"));
        fs::write(&file, "one\n").unwrap();
        let hashes = ContentHashes::load(&store);
        let first = digest_of(&hashes, &file);
        hashes.save().unwrap();
        let written = fs::metadata(&store).unwrap().modified().unwrap();

        let again = ContentHashes::load(&store);
        assert_eq!(digest_of(&again, &file), first);
        again.save().unwrap();
        assert_eq!(fs::metadata(&store).unwrap().modified().unwrap(), written, "nothing changed: nothing written");

        let mtime = fs::metadata(&file).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(10));
        fs::write(&file, "two\n").unwrap();
        File::options().append(true).open(&file).unwrap().set_modified(mtime).unwrap();
        let rewritten = ContentHashes::load(&store);
        assert_ne!(digest_of(&rewritten, &file), first, "same size and mtime, new contents: the ctime changed");
    }
}
