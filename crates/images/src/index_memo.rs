//! The store's `index.json` as this process last read it, reused while the file is the same:
//! one command resolves an image several times (to build, to pull, to plan), and each lookup
//! read and parsed the index again.
//!
//! Every writer replaces `index.json` by a rename (a new inode), so a file whose device, inode,
//! size, modification and change times are those of the file last read holds the same text.
//! The identity is taken from the open file the text is then read from, so the text kept is
//! always the text of the identity kept with it.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Mutex;

use crate::index::{Index, IndexError};

/// What identifies one version of the file: device, inode, size, mtime and ctime (ns).
type Identity = (u64, u64, u64, i64, i64, i64, i64);

/// The last index read, with the identity of the file it was read from.
#[derive(Debug, Default)]
pub(crate) struct IndexMemo {
    last: Mutex<Option<(Identity, Index)>>,
}

impl IndexMemo {
    /// The index at `path` (empty if there is none): the one kept if the file is unchanged.
    pub(crate) fn read(&self, path: &Path) -> Result<Index, IndexError> {
        let mut file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Index::default()),
            Err(e) => return Err(IndexError::Io(e)),
        };
        let meta = file.metadata().map_err(IndexError::Io)?;
        let identity = (meta.dev(), meta.ino(), meta.size(), meta.mtime(), meta.mtime_nsec(), meta.ctime(), meta.ctime_nsec());
        let mut last = self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((held, index)) = last.as_ref() {
            if *held == identity {
                return Ok(index.clone());
            }
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(IndexError::Io)?;
        let index = Index::parse(&bytes)?;
        *last = Some((identity, index.clone()));
        Ok(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_atomically(path: &Path, text: &str) {
        let temp = path.with_extension("tmp");
        std::fs::write(&temp, text).unwrap();
        std::fs::rename(&temp, path).unwrap();
    }

    #[test]
    fn a_replaced_index_is_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.json");
        let memo = IndexMemo::default();
        assert_eq!(memo.read(&path).unwrap(), Index::default());
        write_atomically(&path, r#"{"references":{"a:1":"m1"}}"#);
        assert_eq!(memo.read(&path).unwrap().references["a:1"], "m1");
        assert_eq!(memo.read(&path).unwrap().references["a:1"], "m1");
        // Same size, written within the same timestamp tick: a rename still changes the inode.
        write_atomically(&path, r#"{"references":{"a:1":"m2"}}"#);
        assert_eq!(memo.read(&path).unwrap().references["a:1"], "m2");
        std::fs::remove_file(&path).unwrap();
        assert_eq!(memo.read(&path).unwrap(), Index::default());
    }

    #[test]
    fn a_corrupt_index_is_an_error_every_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.json");
        std::fs::write(&path, "{").unwrap();
        let memo = IndexMemo::default();
        assert!(matches!(memo.read(&path), Err(IndexError::Corrupt(_))));
        assert!(matches!(memo.read(&path), Err(IndexError::Corrupt(_))));
    }
}
