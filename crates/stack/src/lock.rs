//! One command at a time per project: an exclusive `flock` on `<root>/projects/<name>.lock`,
//! released when the command ends, however it ends (the kernel drops it with the process).

use std::fs::{self, File};
use std::path::Path;

use nix::fcntl::{Flock, FlockArg};

use crate::StackError;

/// The project's lock, held until dropped.
pub(crate) struct ProjectLock {
    _lock: Flock<File>,
}

impl ProjectLock {
    /// Waits for and takes project `name`'s lock.
    pub(crate) fn acquire(root: &Path, name: &str) -> Result<Self, StackError> {
        let dir = root.join("projects");
        fs::create_dir_all(&dir).map_err(StackError::io(&dir))?;
        let path = dir.join(format!("{name}.lock"));
        let file = File::options().create(true).truncate(false).write(true).open(&path).map_err(StackError::io(&path))?;
        let lock = Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| StackError::Io { path, source: e.into() })?;
        Ok(Self { _lock: lock })
    }
}
