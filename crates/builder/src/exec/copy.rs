//! COPY and ADD: the selected files written into a step's mounted snapshot, with Docker's
//! destination rules (a trailing `/`, an existing directory, several sources or a directory
//! source take the sources inside it; a relative destination is under WORKDIR, resolved by the
//! caller; missing directories are created with their parents), owners (root unless
//! `--chown`, or the archive's for an extracted ADD), modes (kept unless `--chmod`) and
//! modification times (kept, as BuildKit keeps them). Every path is resolved inside the root:
//! a symlink in the image cannot make a copy land outside it.

use std::fs;
use std::io;
use std::os::unix::fs::{symlink, DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use xcompose_container::secure_join;

/// What one entry of a copy is made from.
#[derive(Debug, Clone)]
pub enum EntryContent {
    /// A file, directory or symlink at this host path; `follow`: a symlink there is copied as
    /// what it points to (a source named directly), else as a symlink.
    Host {
        /// The host path.
        path: PathBuf,
        /// Follow a symlink at `path`.
        follow: bool,
    },
    /// A file made from text (a here-document).
    Inline(Vec<u8>),
}

/// One path a COPY or ADD writes.
#[derive(Debug, Clone)]
pub struct CopyEntry {
    /// Where, relative to the destination directory (`""`: the destination itself, for a
    /// directory source whose contents are copied).
    pub dest_path: String,
    /// What.
    pub content: EntryContent,
}

/// How files are written.
#[derive(Debug, Clone, Default)]
pub struct CopyOptions {
    /// `--chown`, resolved: owner and group of everything written (root otherwise).
    pub owner: Option<(u32, u32)>,
    /// Keep the source's owners (ADD of an archive, without `--chown`).
    pub keep_owners: bool,
    /// `--chmod`: mode of everything written (kept from the source otherwise).
    pub mode: Option<u32>,
}

/// Why a copy failed.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// Several sources need a directory destination.
    #[error("When using COPY with more than one source file, the destination must be a directory and end with a /")]
    MultipleSourcesNeedDirectory,
    /// A path could not be resolved inside the root.
    #[error("{0}")]
    Resolve(String),
    /// Writing failed.
    #[error("copying to {path}: {source}")]
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

/// Writes `entries` to `dest` (absolute, inside the image) in the root `root`. `sources` is
/// how many source words the instruction has (several need a directory destination).
pub fn copy_entries(root: &Path, entries: &[CopyEntry], dest: &str, sources: usize, options: &CopyOptions) -> Result<(), CopyError> {
    let dir_form = dest.ends_with('/') || dest.ends_with("/.") || dest == ".";
    let resolved = secure_join(root, Path::new(dest)).map_err(CopyError::Resolve)?;
    let existing_dir = resolved.is_dir();
    let single_file = sources == 1
        && entries.len() == 1
        && match &entries[0].content {
            EntryContent::Host { path, follow } => *follow && !path.is_dir(),
            EntryContent::Inline(_) => true,
        };
    if sources > 1 && !dir_form && !existing_dir {
        return Err(CopyError::MultipleSourcesNeedDirectory);
    }
    let mut dirs = Vec::new();
    for entry in entries {
        let target = if single_file && !dir_form && !existing_dir {
            resolved.clone()
        } else {
            let rel = clean_relative(&entry.dest_path);
            secure_join(&resolved, &Path::new("/").join(rel)).map_err(CopyError::Resolve)?
        };
        if let Some(parent) = target.parent() {
            make_dirs(root, parent, options.owner.unwrap_or((0, 0)))?;
        }
        match &entry.content {
            EntryContent::Inline(content) => {
                remove_non_dir(&target)?;
                fs::write(&target, content).map_err(io_at(&target))?;
                finish(&target, options, None, 0o644, None)?;
            }
            EntryContent::Host { path, follow } => {
                let meta = if *follow { fs::metadata(path) } else { fs::symlink_metadata(path) }.map_err(io_at(path))?;
                copy_one(path, &meta, &target, options)?;
                if meta.is_dir() {
                    dirs.push((target, meta));
                }
            }
        }
    }
    // Directory times last: writing inside a directory changes its modification time.
    for (dir, meta) in dirs.iter().rev() {
        let mtime = filetime::FileTime::from_last_modification_time(meta);
        filetime::set_file_times(dir, mtime, mtime).map_err(io_at(dir))?;
    }
    Ok(())
}

/// Creates the directory `dir` (a path under `root`, already resolved) and its missing parents,
/// mode 0755, owned by `owner`; existing ones are left as they are.
pub fn make_dirs(root: &Path, dir: &Path, owner: (u32, u32)) -> Result<(), CopyError> {
    let mut missing = Vec::new();
    let mut at = dir.to_path_buf();
    while at.starts_with(root) && at != root && fs::symlink_metadata(&at).is_err() {
        missing.push(at.clone());
        if !at.pop() {
            break;
        }
    }
    for path in missing.into_iter().rev() {
        fs::DirBuilder::new().mode(0o755).create(&path).map_err(io_at(&path))?;
        std::os::unix::fs::lchown(&path, Some(owner.0), Some(owner.1)).map_err(io_at(&path))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).map_err(io_at(&path))?;
    }
    Ok(())
}

/// The entries of the directory `source` and everything under it, as copy entries relative to
/// `prefix` (symlinks inside are copied as symlinks).
pub fn walk_entries(source: &Path, prefix: &str) -> Result<Vec<CopyEntry>, CopyError> {
    let mut out = Vec::new();
    let mut names: Vec<_> = fs::read_dir(source).map_err(io_at(source))?.map(|e| e.map(|e| e.file_name())).collect::<io::Result<_>>().map_err(io_at(source))?;
    names.sort();
    for name in names {
        let path = source.join(&name);
        let rel = if prefix.is_empty() { name.to_string_lossy().into_owned() } else { format!("{prefix}/{}", name.to_string_lossy()) };
        let is_dir = fs::symlink_metadata(&path).map(|m| m.is_dir()).map_err(io_at(&path))?;
        out.push(CopyEntry { dest_path: rel.clone(), content: EntryContent::Host { path: path.clone(), follow: false } });
        if is_dir {
            out.extend(walk_entries(&path, &rel)?);
        }
    }
    Ok(out)
}

/// `path` with only its normal components.
fn clean_relative(path: &str) -> PathBuf {
    Path::new(path).components().filter(|c| matches!(c, Component::Normal(_))).collect()
}

/// Copies one file, symlink or directory (not its content) to `target`.
fn copy_one(source: &Path, meta: &fs::Metadata, target: &Path, options: &CopyOptions) -> Result<(), CopyError> {
    let kind = meta.file_type();
    if kind.is_dir() {
        if !fs::symlink_metadata(target).map(|m| m.is_dir()).unwrap_or(false) {
            remove_non_dir(target)?;
            fs::DirBuilder::new().mode(0o755).create(target).map_err(io_at(target))?;
        }
        return finish(target, options, Some(meta), meta.mode() & 0o7777, None);
    }
    remove_non_dir(target)?;
    if kind.is_symlink() {
        symlink(fs::read_link(source).map_err(io_at(source))?, target).map_err(io_at(target))?;
        let (uid, gid) = owner_of(options, meta);
        std::os::unix::fs::lchown(target, Some(uid), Some(gid)).map_err(io_at(target))?;
        let mtime = filetime::FileTime::from_last_modification_time(meta);
        return filetime::set_symlink_file_times(target, mtime, mtime).map_err(io_at(target));
    }
    if !kind.is_file() {
        // Devices, fifos and sockets: BuildKit's copy skips what is not a file, link or directory.
        return Ok(());
    }
    fs::copy(source, target).map_err(io_at(target))?;
    finish(target, options, Some(meta), meta.mode() & 0o7777, Some(meta))
}

/// The owner an entry gets.
fn owner_of(options: &CopyOptions, meta: &fs::Metadata) -> (u32, u32) {
    match (options.owner, options.keep_owners) {
        (Some(owner), _) => owner,
        (None, true) => (meta.uid(), meta.gid()),
        (None, false) => (0, 0),
    }
}

/// Sets owner, mode (after the owner: chown clears set-id bits) and, for files, the source's
/// modification time.
fn finish(target: &Path, options: &CopyOptions, meta: Option<&fs::Metadata>, mode: u32, times: Option<&fs::Metadata>) -> Result<(), CopyError> {
    let (uid, gid) = match meta {
        Some(meta) => owner_of(options, meta),
        None => options.owner.unwrap_or((0, 0)),
    };
    std::os::unix::fs::lchown(target, Some(uid), Some(gid)).map_err(io_at(target))?;
    fs::set_permissions(target, fs::Permissions::from_mode(options.mode.unwrap_or(mode))).map_err(io_at(target))?;
    if let Some(meta) = times {
        let mtime = filetime::FileTime::from_last_modification_time(meta);
        filetime::set_file_times(target, mtime, mtime).map_err(io_at(target))?;
    }
    Ok(())
}

/// Removes a file or symlink in the way of a new entry (a directory stays: contents merge).
fn remove_non_dir(target: &Path) -> Result<(), CopyError> {
    match fs::symlink_metadata(target) {
        Ok(m) if !m.is_dir() => fs::remove_file(target).map_err(io_at(target)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(path: PathBuf, dest_path: &str) -> CopyEntry {
        CopyEntry { dest_path: dest_path.into(), content: EntryContent::Host { path, follow: true } }
    }

    #[test]
    fn destinations_follow_docker_rules() {
        let dir = tempfile::tempdir().unwrap();
        let (ctx, root) = (dir.path().join("ctx"), dir.path().join("root"));
        fs::create_dir_all(ctx.join("src/sub")).unwrap();
        fs::write(ctx.join("a.txt"), b"a").unwrap();
        fs::write(ctx.join("src/sub/b.txt"), b"b").unwrap();
        fs::create_dir_all(root.join("existing")).unwrap();
        let opts = CopyOptions::default();
        copy_entries(&root, &[host(ctx.join("a.txt"), "a.txt")], "/renamed.txt", 1, &opts).unwrap();
        copy_entries(&root, &[host(ctx.join("a.txt"), "a.txt")], "/existing", 1, &opts).unwrap();
        copy_entries(&root, &[host(ctx.join("a.txt"), "a.txt")], "/new/dir/", 1, &opts).unwrap();
        let mut tree = vec![host(ctx.join("src"), "")];
        tree.extend(walk_entries(&ctx.join("src"), "").unwrap());
        copy_entries(&root, &tree, "/app", 1, &opts).unwrap();
        assert_eq!(fs::read(root.join("renamed.txt")).unwrap(), b"a");
        assert_eq!(fs::read(root.join("existing/a.txt")).unwrap(), b"a");
        assert_eq!(fs::read(root.join("new/dir/a.txt")).unwrap(), b"a");
        assert_eq!(fs::read(root.join("app/sub/b.txt")).unwrap(), b"b");
        let err = copy_entries(&root, &[host(ctx.join("a.txt"), "a.txt"), host(ctx.join("src"), "")], "/file", 2, &opts).unwrap_err();
        assert!(matches!(err, CopyError::MultipleSourcesNeedDirectory));
    }

    #[test]
    fn owner_and_mode_as_asked() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        fs::create_dir_all(&root).unwrap();
        let opts = CopyOptions { owner: Some((1000, 1000)), mode: Some(0o640), keep_owners: false };
        let conf = CopyEntry { dest_path: "conf".into(), content: EntryContent::Inline(b"x=1\n".to_vec()) };
        copy_entries(&root, &[conf], "/etc/app/", 1, &opts).unwrap();
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
        let file = CopyEntry { dest_path: "f".into(), content: EntryContent::Inline(b"x".to_vec()) };
        copy_entries(&root, &[file], "/escape/", 1, &CopyOptions::default()).unwrap();
        assert!(root.join("outside/f").exists());
        assert!(!dir.path().join("outside").exists());
    }
}
