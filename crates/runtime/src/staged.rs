//! The files of a container's staging directory: nobody reads that directory until it is renamed
//! into place whole, so its files need no temporary file and rename each. They are written plainly
//! and made durable together before the rename: every file's fsync, then the directory's, one
//! after the other, so that the first one commits the filesystem's journal for all of them and
//! the others find nothing left to write (instead of one journal commit per file).

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::runtime::{io, Result};

/// Files written into one staging directory, not yet durable.
pub(crate) struct StagedFiles {
    dir: PathBuf,
    files: Vec<(PathBuf, File)>,
}

impl StagedFiles {
    /// Files to write into `dir` (which exists).
    pub(crate) fn new(dir: &Path) -> Self {
        Self { dir: dir.to_path_buf(), files: Vec::new() }
    }

    /// Writes `bytes` as file `name` of the directory, with permissions `mode`.
    pub(crate) fn write(&mut self, name: &str, bytes: &[u8], mode: u32) -> Result<()> {
        let path = self.dir.join(name);
        let mut file = File::create(&path).map_err(io(&path))?;
        file.write_all(bytes).map_err(io(&path))?;
        file.set_permissions(std::fs::Permissions::from_mode(mode)).map_err(io(&path))?;
        self.files.push((path, file));
        Ok(())
    }

    /// Makes every file written and the directory itself durable.
    pub(crate) fn sync(self) -> Result<()> {
        for (path, file) in &self.files {
            file.sync_all().map_err(io(path))?;
        }
        File::open(&self.dir).and_then(|d| d.sync_all()).map_err(io(&self.dir))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn files_are_written_with_their_modes() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = StagedFiles::new(dir.path());
        files.write("a.json", b"{}", 0o600).unwrap();
        files.write("hosts", b"127.0.0.1\tlocalhost\n", 0o644).unwrap();
        files.sync().unwrap();
        assert_eq!(std::fs::read(dir.path().join("a.json")).unwrap(), b"{}");
        assert_eq!(std::fs::metadata(dir.path().join("a.json")).unwrap().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(dir.path().join("hosts")).unwrap().mode() & 0o777, 0o644);
    }

    #[test]
    fn a_failed_write_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = StagedFiles::new(&dir.path().join("missing"));
        let err = files.write("state.json", b"{}", 0o600).unwrap_err().to_string();
        assert!(err.contains("missing/state.json"), "{err}");
    }
}
