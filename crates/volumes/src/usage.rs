//! How much space a directory tree takes, as Docker reports it for `volume prune`.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::error::{io_err, Result};

/// The sizes of everything under `dir` that is not a directory, each hard-linked file once;
/// symbolic links are counted, not followed. A missing `dir` takes nothing.
pub(crate) fn tree_size(dir: &Path) -> Result<u64> {
    let mut seen = HashSet::new();
    match add_sizes(dir, &mut seen) {
        Err(e) if e.kind() == io::ErrorKind::NotFound && !dir.exists() => Ok(0),
        other => other.map_err(io_err(dir)),
    }
}

fn add_sizes(dir: &Path, seen: &mut HashSet<(u64, u64)>) -> io::Result<u64> {
    let mut total = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        if meta.is_dir() {
            total += add_sizes(&entry.path(), seen)?;
        } else if meta.nlink() == 1 || seen.insert((meta.dev(), meta.ino())) {
            total += meta.len();
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_files_once_and_links_as_links() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("t");
        fs::create_dir_all(root.join("a/b")).unwrap();
        fs::write(root.join("a/one"), vec![0u8; 1000]).unwrap();
        fs::write(root.join("a/b/two"), vec![0u8; 234]).unwrap();
        fs::hard_link(root.join("a/one"), root.join("again")).unwrap();
        fs::write(dir.path().join("outside"), vec![0u8; 100_000]).unwrap();
        std::os::unix::fs::symlink(dir.path().join("outside"), root.join("link")).unwrap();
        let link_len = fs::symlink_metadata(root.join("link")).unwrap().len();
        assert_eq!(tree_size(&root).unwrap(), 1234 + link_len);
        assert_eq!(tree_size(&dir.path().join("missing")).unwrap(), 0);
    }
}
