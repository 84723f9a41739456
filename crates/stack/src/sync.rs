//! `develop.watch` sync: files of the host copied into the service's running containers (or
//! removed there when gone from the host), as compose's `sync` action does.

use std::fs;
use std::path::Path;

use xcompose_orchestrator::labels;
use xcompose_supervisor::state::Status;

use crate::{Stack, StackError};

impl Stack {
    /// Puts `host` (a file, a directory with its content, or nothing: removal) at `target` in
    /// every running container of `service`. `target` is resolved inside each container's root,
    /// its symlinks followed as the container sees them, so nothing lands outside it.
    pub fn sync(&self, service: &str, host: &Path, target: &Path) -> Result<(), StackError> {
        for container in self.project_containers()? {
            if container.labels.get(labels::SERVICE).map(String::as_str) != Some(service) {
                continue;
            }
            let record = self.runtime.find(&container.id)?;
            let state = self.runtime.state(&record);
            let (Status::Running, Some(pid)) = (state.status, state.pid) else { continue };
            let root = Path::new("/proc").join(pid.to_string()).join("root");
            let destination = xcompose_container::secure_join(&root, target).map_err(StackError::Invalid)?;
            copy_or_remove(host, &destination)?;
        }
        Ok(())
    }
}

/// Makes `destination` what `source` is: a copy of the file or directory, or nothing.
fn copy_or_remove(source: &Path, destination: &Path) -> Result<(), StackError> {
    let metadata = match fs::symlink_metadata(source) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let removed = match fs::symlink_metadata(destination) {
                Ok(m) if m.is_dir() => fs::remove_dir_all(destination),
                Ok(_) => fs::remove_file(destination),
                Err(_) => Ok(()),
            };
            return removed.map_err(StackError::io(destination));
        }
        Err(e) => return Err(StackError::io(source)(e)),
    };
    if let Some(parent) = destination.parent() {
        fs::create_dir_all(parent).map_err(StackError::io(parent))?;
    }
    if metadata.is_dir() {
        fs::create_dir_all(destination).map_err(StackError::io(destination))?;
        for entry in fs::read_dir(source).map_err(StackError::io(source))? {
            let entry = entry.map_err(StackError::io(source))?;
            copy_or_remove(&entry.path(), &destination.join(entry.file_name()))?;
        }
        return Ok(());
    }
    if metadata.is_file() {
        // Through a temporary file, so the container never reads half a file.
        let staging = destination.with_file_name(format!(".{}.xcompose-sync", destination.file_name().unwrap_or_default().to_string_lossy()));
        fs::copy(source, &staging).map_err(StackError::io(&staging))?;
        fs::rename(&staging, destination).map_err(StackError::io(destination))?;
    }
    Ok(())
}
