//! Remembers which compose documents passed the schema, so that a command loading a file that
//! has not changed since it last validated skips compiling the schema's validator and
//! validating (most of the time a small project's load took).
//!
//! The key is a digest of the document as validated — after interpolation, so it covers the
//! file's bytes and the variables they were interpolated with — and of the schema and the
//! validating crate's version. One marker file per compose file path holds the last key that
//! validated; it is replaced atomically when the key changes, and trusted only when it holds
//! exactly the key of the document at hand. Invalid documents are never remembered, so every
//! error is reported as validation words it. Losing or corrupting a marker only costs a
//! validation.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The directory that holds the markers (in the state root; see
/// [`crate::ProjectOptions::validation_cache`]).
#[derive(Debug, Clone)]
pub struct ValidationCache {
    dir: PathBuf,
}

/// What every key starts from: the schema and the version of the crate that validates with it.
static SCHEMA_KEY: LazyLock<Sha256> = LazyLock::new(|| {
    let mut hasher = Sha256::new();
    hasher.update(xcompose_schema::VERSION.as_bytes());
    hasher.update([0]);
    hasher.update(xcompose_schema::SCHEMA.as_bytes());
    hasher
});

impl ValidationCache {
    /// Markers kept in `dir` (made on the first marker written).
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// The key of `doc`, a document about to be validated.
    pub fn key(doc: &Value) -> String {
        let mut hasher = SCHEMA_KEY.clone();
        hasher.update(serde_json::to_vec(doc).expect("a JSON value always serialises"));
        hex::encode(hasher.finalize())
    }

    /// Whether `file`'s document with key `key` passed the schema before.
    pub fn is_valid(&self, file: &Path, key: &str) -> bool {
        std::fs::read(self.marker(file)).is_ok_and(|held| held == key.as_bytes())
    }

    /// Records that `file`'s document with key `key` passed the schema. A cache: a failure to
    /// write is ignored (the next load validates again).
    pub fn remember(&self, file: &Path, key: &str) {
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(&self.dir)?;
            let mut temp = tempfile::NamedTempFile::new_in(&self.dir)?;
            std::io::Write::write_all(&mut temp, key.as_bytes())?;
            temp.persist(self.marker(file))?;
            Ok(())
        };
        let _ = write();
    }

    /// The marker of `file`: named by a digest of its path.
    fn marker(&self, file: &Path) -> PathBuf {
        self.dir.join(hex::encode(Sha256::digest(file.as_os_str().as_encoded_bytes())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_is_valid_only_under_the_key_it_was_remembered_with() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ValidationCache::new(dir.path().join("validated"));
        let file = Path::new("/project/compose.yaml");
        let doc = serde_json::json!({"services": {"web": {"image": "busybox"}}});
        let key = ValidationCache::key(&doc);
        assert!(!cache.is_valid(file, &key));
        cache.remember(file, &key);
        assert!(cache.is_valid(file, &key));
        assert!(!cache.is_valid(Path::new("/other/compose.yaml"), &key));
        let changed = ValidationCache::key(&serde_json::json!({"services": {"web": {"image": "busybox:1"}}}));
        assert_ne!(changed, key);
        assert!(!cache.is_valid(file, &changed));
        cache.remember(file, &changed);
        assert!(cache.is_valid(file, &changed) && !cache.is_valid(file, &key));
    }

    #[test]
    fn a_damaged_marker_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ValidationCache::new(dir.path().to_path_buf());
        let file = Path::new("/project/compose.yaml");
        let key = ValidationCache::key(&serde_json::json!({}));
        cache.remember(file, &key);
        std::fs::write(cache.marker(file), &key[..10]).unwrap();
        assert!(!cache.is_valid(file, &key));
    }
}
