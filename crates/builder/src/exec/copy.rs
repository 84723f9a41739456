//! COPY and ADD: the selected files written into a step's mounted snapshot, with Docker's
//! destination rules (a trailing `/` or an existing directory takes the sources inside it; a
//! relative destination is under WORKDIR; missing directories are created with their parents),
//! owners (root unless `--chown`), modes (kept unless `--chmod`) and modification times (kept,
//! as BuildKit keeps them). The destination is resolved inside the root: a symlink in the image
//! cannot make a copy land outside it.

use std::fs;
use std::io;
use std::os::unix::fs::{symlink, DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use xcompose_container::secure_join;

/// One source of a COPY or ADD, found in the context (or a stage, or an image).
#[derive(Debug, Clone)]
pub enum CopyItem {
    /// A file, directory or symlink at this host path; a directory's content is copied, not the
    /// directory itself. `include` decides, by the path relative to the source directory, what
    /// of a directory's content is copied (`.dockerignore`, `--exclude`).
    Path(PathBuf),
    /// A file made from text (a here-document): its name and content.
    Inline {
        /// The file's name.
        name: String,
        /// Its content.
        content: Vec<u8>,
    },
}

/// How files are written.
#[derive(Debug, Clone, Default)]
pub struct CopyOptions {
    /// `--chown`, resolved: owner and group of everything written (root otherwise).
    pub owner: Option<(u32, u32)>,
    /// `--chmod`: mode of everything written (kept from the source otherwise).
    pub mode: Option<u32>,
}

/// Why a copy failed.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// Several sources need a directory destination.
    #[error("When using COPY with more than one source file, the destination must be a directory and end with a /")]
    MultipleSourcesNeedDirectory,
    /// The destination could not be resolved inside the root.
    #[error("destination {0}: {1}")]
    Destination(String, String),
    /// Writing failed.
    #[error("copying {path}: {source}")]
    Io {
        /// What was being written or read.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> CopyError + '_ {
    move |source| CopyError::Io { path: path.to_path_buf(), source }
}

/// Copies `items` to `dest` (absolute, inside the image) in the root `root`, keeping of
/// directory sources what `include` accepts (paths relative to the source directory).
pub fn copy_into(root: &Path, items: &[CopyItem], dest: &str, options: &CopyOptions, include: &dyn Fn(&Path) -> bool) -> Result<(), CopyError> {
    let dest_is_dir_form = dest.ends_with('/') || dest.ends_with("/.") || dest == ".";
    let resolved = secure_join(root, Path::new(dest)).map_err(|e| CopyError::Destination(dest.to_string(), e))?;
    let into_dir = dest_is_dir_form || resolved.is_dir() || items.len() > 1 || items.iter().any(|i| matches!(i, CopyItem::Path(p) if p.is_dir()));
    if items.len() > 1 && !dest_is_dir_form && !resolved.is_dir() {
        return Err(CopyError::MultipleSourcesNeedDirectory);
    }
    let dir = if into_dir { resolved.clone() } else { resolved.parent().map(Path::to_path_buf).unwrap_or_else(|| root.to_path_buf()) };
    create_dirs(root, &dir, options)?;
    for item in items {
        match item {
            CopyItem::Inline { name, content } => {
                let target = if into_dir { dir.join(name) } else { resolved.clone() };
                remove_non_dir(&target)?;
                fs::write(&target, content).map_err(io_at(&target))?;
                finish(&target, options, 0o644, None)?;
            }
            CopyItem::Path(source) => {
                let meta = fs::symlink_metadata(source).map_err(io_at(source))?;
                if meta.is_dir() {
                    copy_dir_content(source, &dir, Path::new(""), options, include)?;
                } else {
                    let name = source.file_name().map(PathBuf::from).unwrap_or_default();
                    let target = if into_dir { dir.join(name) } else { resolved.clone() };
                    copy_entry(source, &meta, &target, options)?;
                }
            }
        }
    }
    Ok(())
}

/// Creates `dir` and its missing parents (mode 0755, owned as the copy's files are; an existing
/// one is left as it is).
fn create_dirs(root: &Path, dir: &Path, options: &CopyOptions) -> Result<(), CopyError> {
    let mut missing = Vec::new();
    let mut at = dir.to_path_buf();
    while at != root && fs::symlink_metadata(&at).is_err() {
        missing.push(at.clone());
        if !at.pop() {
            break;
        }
    }
    for path in missing.into_iter().rev() {
        fs::DirBuilder::new().mode(0o755).create(&path).map_err(io_at(&path))?;
        let (uid, gid) = options.owner.unwrap_or((0, 0));
        std::os::unix::fs::lchown(&path, Some(uid), Some(gid)).map_err(io_at(&path))?;
    }
    Ok(())
}

/// Copies the content of the directory `source` into `dest` (`rel`: where in the source).
fn copy_dir_content(source: &Path, dest: &Path, rel: &Path, options: &CopyOptions, include: &dyn Fn(&Path) -> bool) -> Result<(), CopyError> {
    let mut entries: Vec<_> = fs::read_dir(source).map_err(io_at(source))?.collect::<io::Result<_>>().map_err(io_at(source))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let rel = rel.join(entry.file_name());
        if !include(&rel) {
            continue;
        }
        let path = entry.path();
        let meta = fs::symlink_metadata(&path).map_err(io_at(&path))?;
        let target = dest.join(entry.file_name());
        copy_entry(&path, &meta, &target, options)?;
        if meta.is_dir() {
            copy_dir_content(&path, &target, &rel, options, include)?;
            finish(&target, options, meta.mode() & 0o7777, Some(&meta))?;
        }
    }
    Ok(())
}

/// Copies one file, symlink or (empty) directory to `target`.
fn copy_entry(source: &Path, meta: &fs::Metadata, target: &Path, options: &CopyOptions) -> Result<(), CopyError> {
    let kind = meta.file_type();
    if kind.is_dir() {
        if !fs::symlink_metadata(target).map(|m| m.is_dir()).unwrap_or(false) {
            remove_non_dir(target)?;
            fs::DirBuilder::new().mode(0o755).create(target).map_err(io_at(target))?;
        }
        return finish(target, options, meta.mode() & 0o7777, Some(meta));
    }
    remove_non_dir(target)?;
    if kind.is_symlink() {
        symlink(fs::read_link(source).map_err(io_at(source))?, target).map_err(io_at(target))?;
        let (uid, gid) = options.owner.unwrap_or((0, 0));
        std::os::unix::fs::lchown(target, Some(uid), Some(gid)).map_err(io_at(target))?;
        let mtime = filetime::FileTime::from_last_modification_time(meta);
        return filetime::set_symlink_file_times(target, mtime, mtime).map_err(io_at(target));
    }
    fs::copy(source, target).map_err(io_at(target))?;
    finish(target, options, meta.mode() & 0o7777, Some(meta))
}

/// Sets owner, mode (after the owner: chown clears set-id bits) and modification time.
fn finish(target: &Path, options: &CopyOptions, mode: u32, meta: Option<&fs::Metadata>) -> Result<(), CopyError> {
    let (uid, gid) = options.owner.unwrap_or((0, 0));
    std::os::unix::fs::lchown(target, Some(uid), Some(gid)).map_err(io_at(target))?;
    fs::set_permissions(target, fs::Permissions::from_mode(options.mode.unwrap_or(mode))).map_err(io_at(target))?;
    if let Some(meta) = meta {
        let mtime = filetime::FileTime::from_last_modification_time(meta);
        filetime::set_file_times(target, mtime, mtime).map_err(io_at(target))?;
    }
    Ok(())
}

/// Removes a file or symlink in the way of a new entry (a directory stays: content merges).
fn remove_non_dir(target: &Path) -> Result<(), CopyError> {
    match fs::symlink_metadata(target) {
        Ok(m) if !m.is_dir() => fs::remove_file(target).map_err(io_at(target)),
        Ok(_) => Ok(()),
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(_: &Path) -> bool {
        true
    }

    #[test]
    fn destinations_follow_docker_rules() {
        let dir = tempfile::tempdir().unwrap();
        let (ctx, root) = (dir.path().join("ctx"), dir.path().join("root"));
        fs::create_dir_all(ctx.join("src/sub")).unwrap();
        fs::write(ctx.join("a.txt"), b"a").unwrap();
        fs::write(ctx.join("src/sub/b.txt"), b"b").unwrap();
        fs::write(ctx.join("src/skip.log"), b"x").unwrap();
        fs::create_dir_all(root.join("existing")).unwrap();
        let opts = CopyOptions::default();
        copy_into(&root, &[CopyItem::Path(ctx.join("a.txt"))], "/renamed.txt", &opts, &all).unwrap();
        copy_into(&root, &[CopyItem::Path(ctx.join("a.txt"))], "/existing", &opts, &all).unwrap();
        copy_into(&root, &[CopyItem::Path(ctx.join("a.txt"))], "/new/dir/", &opts, &all).unwrap();
        copy_into(&root, &[CopyItem::Path(ctx.join("src"))], "/app", &opts, &|p| p.extension().is_none_or(|e| e != "log")).unwrap();
        assert_eq!(fs::read(root.join("renamed.txt")).unwrap(), b"a");
        assert_eq!(fs::read(root.join("existing/a.txt")).unwrap(), b"a");
        assert_eq!(fs::read(root.join("new/dir/a.txt")).unwrap(), b"a");
        assert_eq!(fs::read(root.join("app/sub/b.txt")).unwrap(), b"b");
        assert!(!root.join("app/skip.log").exists());
        let err = copy_into(&root, &[CopyItem::Path(ctx.join("a.txt")), CopyItem::Path(ctx.join("src"))], "/file", &opts, &all).unwrap_err();
        assert!(matches!(err, CopyError::MultipleSourcesNeedDirectory));
    }

    #[test]
    fn owner_and_mode_as_asked() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        fs::create_dir_all(&root).unwrap();
        let opts = CopyOptions { owner: Some((1000, 1000)), mode: Some(0o640) };
        copy_into(&root, &[CopyItem::Inline { name: "conf".into(), content: b"x=1\n".to_vec() }], "/etc/app/", &opts, &all).unwrap();
        let meta = fs::metadata(root.join("etc/app/conf")).unwrap();
        assert_eq!((meta.uid(), meta.gid(), meta.mode() & 0o7777), (1000, 1000, 0o640));
        assert_eq!(fs::metadata(root.join("etc/app")).unwrap().uid(), 1000);
    }

    #[test]
    fn a_symlink_in_the_image_cannot_lead_outside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        fs::create_dir_all(&root).unwrap();
        symlink("/../../outside", root.join("escape")).unwrap();
        copy_into(&root, &[CopyItem::Inline { name: "f".into(), content: b"x".to_vec() }], "/escape/", &CopyOptions::default(), &all).unwrap();
        assert!(root.join("outside/f").exists());
        assert!(!dir.path().join("outside").exists());
    }
}
