//! Where an ordinary user's xcompose keeps things, as podman does: state under
//! `$XDG_DATA_HOME/xcompose` (else `~/.local/share/xcompose`), runtime files (the holder's pid
//! file) under `$XDG_RUNTIME_DIR/xcompose` (else `/tmp/xcompose-UID`, mode 0700).

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::{Result, RootlessError};

/// The state root of an ordinary user: `$XDG_DATA_HOME/xcompose`, else `$HOME/.local/share/xcompose`.
pub fn state_root() -> Result<PathBuf> {
    if let Some(data) = non_empty_var("XDG_DATA_HOME") {
        return Ok(PathBuf::from(data).join("xcompose"));
    }
    let home = non_empty_var("HOME").ok_or_else(|| {
        RootlessError::Setup("neither XDG_DATA_HOME nor HOME is set: set one, or pass --root".into())
    })?;
    Ok(PathBuf::from(home).join(".local/share/xcompose"))
}

/// The runtime directory of an ordinary user, created 0700 if missing:
/// `$XDG_RUNTIME_DIR/xcompose`, else `/tmp/xcompose-UID`. A directory there that the user does
/// not own is refused (someone else could plant a pid file in it).
pub fn runtime_dir() -> Result<PathBuf> {
    let uid = nix::unistd::geteuid().as_raw();
    let dir = match non_empty_var("XDG_RUNTIME_DIR") {
        Some(base) => PathBuf::from(base).join("xcompose"),
        None => PathBuf::from(format!("/tmp/xcompose-{uid}")),
    };
    create_private_dir(&dir, uid)?;
    Ok(dir)
}

/// Creates `dir` (mode 0700) unless it exists, and checks it belongs to `uid` and is private.
fn create_private_dir(dir: &Path, uid: u32) -> Result<()> {
    let failed = |e: std::io::Error| RootlessError::Setup(format!("creating the runtime directory {}: {e}", dir.display()));
    match std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(failed(e)),
    }
    let meta = std::fs::symlink_metadata(dir).map_err(failed)?;
    if !meta.is_dir() || meta.uid() != uid {
        return Err(RootlessError::Setup(format!(
            "the runtime directory {} is not a directory of uid {uid}: remove it, or set XDG_RUNTIME_DIR",
            dir.display()
        )));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(failed)?;
    }
    Ok(())
}

/// The variable's value unless it is unset or empty (the XDG base directory rule).
fn non_empty_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_private_directory_is_made_0700_and_a_loose_one_tightened() {
        let tmp = tempfile::tempdir().unwrap();
        let uid = nix::unistd::geteuid().as_raw();
        let dir = tmp.path().join("a/b");
        create_private_dir(&dir, uid).unwrap();
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        create_private_dir(&dir, uid).unwrap();
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
    }

    #[test]
    fn a_directory_of_another_user_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let uid = nix::unistd::geteuid().as_raw();
        let err = create_private_dir(tmp.path(), uid + 1).unwrap_err().to_string();
        assert!(err.contains("is not a directory of uid"), "{err}");
    }
}
