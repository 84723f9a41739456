//! `cp`: files copied into and out of a container as tar streams, the way Docker's daemon and
//! client do it. The container's side runs in a forked child chrooted into the container's
//! root (the running container's `/proc/PID/root`, its mounts included; a stopped container's
//! overlay mounted in a private mount namespace), so every path and symlink there resolves as the
//! container sees it and nothing outside its root can be read or written.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{chdir, chroot, fork, pipe, ForkResult};
use xcompose_container::RootFs;
use xcompose_supervisor::state::Status;

use crate::{Stack, StackError};

/// What is copied: a file or directory, under the name its copy takes.
#[derive(Debug, Clone)]
pub struct CopySource {
    /// Whether it is a directory.
    pub is_dir: bool,
    /// Whether only the directory's content is copied (the path ended in `/.`).
    pub contents_only: bool,
    /// The name of the copy when it goes into an existing directory (the source's base name,
    /// or the name of the symlink that `--follow-link` followed).
    pub name: String,
}

/// Where the copy lands, as `docker cp` decides it from the source and the destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyTarget {
    /// Extract into the destination itself (an existing directory), else into its parent.
    pub into_destination: bool,
    /// The name of the copy's top entry; empty: the source directory's entries go in directly.
    pub top_name: String,
}

/// Docker's `PrepareArchiveCopy`: where a copy of `source` to `destination` (which exists as a
/// directory: `Some(true)`, as something else: `Some(false)`, or not: `None`) is extracted.
pub fn plan(source: &CopySource, destination: &str, existing: Option<bool>) -> Result<CopyTarget, String> {
    let base = Path::new(destination).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    match existing {
        Some(true) => Ok(CopyTarget { into_destination: true, top_name: if source.contents_only { String::new() } else { source.name.clone() } }),
        Some(false) if source.is_dir => Err("cannot copy a directory to a file".to_string()),
        None if !source.is_dir && (destination.ends_with('/') || destination.ends_with("/.")) => Err("no such directory".to_string()),
        _ => Ok(CopyTarget { into_destination: false, top_name: base }),
    }
}

/// Writes a tar of `path` to `out`, its entries named `name` and `name/...` (with an empty
/// `name`, a directory's entries only). Symlinks are archived as links; ownership, modes and
/// times are kept.
pub fn write_tar(path: &Path, name: &str, out: impl Write) -> std::io::Result<()> {
    write_tar_within(path, name, &[], out)
}

/// [`write_tar`], with the directories in `mount_points` archived without their content.
pub(crate) fn write_tar_within(path: &Path, name: &str, mount_points: &[PathBuf], out: impl Write) -> std::io::Result<()> {
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    if name.is_empty() {
        for entry in sorted_entries(path)? {
            append_tree(&mut builder, &path.join(&entry), Path::new(&entry), mount_points)?;
        }
    } else {
        append_tree(&mut builder, path, Path::new(name), mount_points)?;
    }
    builder.into_inner()?.flush()
}

fn sorted_entries(dir: &Path) -> std::io::Result<Vec<std::ffi::OsString>> {
    let mut names = fs::read_dir(dir)?.map(|e| e.map(|e| e.file_name())).collect::<std::io::Result<Vec<_>>>()?;
    names.sort();
    Ok(names)
}

fn append_tree<W: Write>(builder: &mut tar::Builder<W>, path: &Path, name: &Path, mount_points: &[PathBuf]) -> std::io::Result<()> {
    builder.append_path_with_name(path, name)?;
    if fs::symlink_metadata(path)?.is_dir() && !mount_points.iter().any(|m| m == path) {
        for entry in sorted_entries(path)? {
            append_tree(builder, &path.join(&entry), &name.join(&entry), mount_points)?;
        }
    }
    Ok(())
}

/// Extracts the tar `input` into the directory `dir`, modes and times kept, and the entries'
/// owners too when `keep_owners` (else they belong to the user extracting them). Entries cannot
/// land outside `dir` (`..`, or through a symlink).
pub fn extract_tar(input: impl Read, dir: &Path, keep_owners: bool) -> std::io::Result<()> {
    let mut archive = tar::Archive::new(input);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(keep_owners);
    archive.set_overwrite(true);
    archive.unpack(dir)
}

/// Go's text for a failed system call on a path (`lstat /x: no such file or directory`), as
/// Docker prints it.
pub fn go_error(op: &str, path: &Path, e: &std::io::Error) -> String {
    let text = match e.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_string(),
        None => e.to_string(),
    };
    let mut chars = text.chars();
    let text = chars.next().map(|c| c.to_lowercase().chain(chars).collect::<String>()).unwrap_or_default();
    format!("{op} {}: {text}", path.display())
}

/// A container's filesystem, as the child process of a copy enters it.
pub(crate) enum ContainerFs {
    /// A running container's root, with its mounts.
    Running(u32),
    /// A container not running: its overlay root, mounted for the copy, and the user
    /// namespace maps its files are stored shifted by (a remapped root's copied layers).
    Stopped(RootFs, Option<xcompose_container::IdMap>),
}

impl ContainerFs {
    /// Makes the calling (single-threaded, forked) process's root the container's.
    /// A running container's user namespace is entered too, so that what the copy makes there
    /// belongs to the container's root, as with `docker cp` in remap mode; for a stopped one
    /// whose files are stored shifted, a user namespace of its maps.
    fn enter(&self) -> Result<(), String> {
        let userns: Option<std::os::fd::OwnedFd> = match self {
            ContainerFs::Running(pid) => xcompose_container::userns::other_than_own(*pid).map_err(|e| format!("opening the container's user namespace: {e}"))?.map(Into::into),
            ContainerFs::Stopped(_, shifted) => shifted.as_ref().map(xcompose_container::userns::create).transpose().map_err(|e| e.to_string())?,
        };
        let root = match self {
            ContainerFs::Running(pid) => PathBuf::from(format!("/proc/{pid}/root")),
            ContainerFs::Stopped(RootFs::Overlay { lower, upper, work, merged }, _) => {
                unshare(CloneFlags::CLONE_NEWNS).map_err(|e| format!("entering a mount namespace: {e}"))?;
                mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>).map_err(|e| format!("making mounts private: {e}"))?;
                let lowers: Vec<String> = lower.iter().rev().map(|p| p.display().to_string()).collect();
                let data = xcompose_rootless::overlay_mount_options(format!("lowerdir={},upperdir={},workdir={}", lowers.join(":"), upper.display(), work.display()));
                mount(Some("overlay"), merged, Some("overlay"), MsFlags::empty(), Some(data.as_str())).map_err(|e| format!("mounting the container's filesystem: {e}"))?;
                merged.clone()
            }
            ContainerFs::Stopped(RootFs::Directory(dir), _) => dir.clone(),
        };
        chroot(&root).map_err(|e| format!("entering the container's root: {e}"))?;
        chdir("/").map_err(|e| format!("entering the container's root: {e}"))?;
        userns.map_or(Ok(()), |fd| xcompose_container::userns::enter(std::os::fd::AsFd::as_fd(&fd)))
    }
}

/// Which way a copy's data flows between the child in the container and this process.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// The child writes, this process reads.
    Out,
    /// This process writes, the child reads.
    In,
}

/// Runs `child` in a forked process inside the container's filesystem, handing it one end of a
/// pipe whose other end `parent` gets; the child's error (its message) is the result's.
pub(crate) fn in_container<R>(
    fs: &ContainerFs,
    flow: Flow,
    child: impl FnOnce(File) -> Result<(), String>,
    parent: impl FnOnce(File) -> std::io::Result<R>,
) -> Result<R, StackError> {
    let io = |e: nix::Error| StackError::Invalid(format!("starting the copy: {e}"));
    let (data_read, data_write) = pipe().map_err(io)?;
    let (error_read, error_write) = pipe().map_err(io)?;
    let (child_end, parent_end): (OwnedFd, OwnedFd) = match flow {
        Flow::Out => (data_write, data_read),
        Flow::In => (data_read, data_write),
    };
    // SAFETY: the copying commands run no other threads; the child only uses its own memory and
    // ends with _exit.
    match unsafe { fork() }.map_err(io)? {
        ForkResult::Child => {
            drop(parent_end);
            drop(error_read);
            let outcome = fs.enter().and_then(|()| child(File::from(child_end)));
            let code = match outcome {
                Ok(()) => 0,
                Err(message) => {
                    let _ = File::from(error_write).write_all(message.as_bytes());
                    1
                }
            };
            // No destructors or buffered output of the parent run twice: the child just ends.
            std::process::exit(code)
        }
        ForkResult::Parent { child: pid } => {
            drop(child_end);
            drop(error_write);
            let result = parent(File::from(parent_end));
            let mut message = String::new();
            let _ = File::from(error_read).read_to_string(&mut message);
            let status = waitpid(pid, None).map_err(io)?;
            if !message.is_empty() {
                return Err(StackError::Invalid(message));
            }
            if !matches!(status, WaitStatus::Exited(_, 0)) {
                return Err(StackError::Invalid(format!("the copy in the container failed: {status:?}")));
            }
            result.map_err(|e| StackError::Invalid(e.to_string()))
        }
    }
}

/// A path in the container as `docker cp` takes it: its final symlink followed only if asked.
fn container_source(path: &str, follow_link: bool, container_id: &str) -> Result<(PathBuf, CopySource), String> {
    let not_found = || format!("Could not find the file {path} in container {container_id}");
    let given = Path::new(path);
    let contents_only = path.ends_with("/.");
    let metadata = fs::symlink_metadata(given).map_err(|_| not_found())?;
    let name = given.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "/".into());
    if follow_link && metadata.file_type().is_symlink() {
        let target = fs::canonicalize(given).map_err(|_| not_found())?;
        let is_dir = fs::metadata(&target).map_err(|_| not_found())?.is_dir();
        return Ok((target, CopySource { is_dir, contents_only, name }));
    }
    Ok((given.to_path_buf(), CopySource { is_dir: metadata.is_dir(), contents_only, name }))
}

impl Stack {
    /// The filesystem of container `id` as a copy enters it.
    pub(crate) fn container_fs(&self, id: &str) -> Result<ContainerFs, StackError> {
        let record = self.runtime.find(id)?;
        let state = self.runtime.state(&record);
        Ok(match (state.status, state.pid) {
            (Status::Running | Status::Paused, Some(pid)) => ContainerFs::Running(pid),
            _ => {
                let spec = &record.supervisor.spec;
                ContainerFs::Stopped(spec.rootfs.clone(), spec.user_namespace.clone().filter(|_| spec.rootfs_ids_shifted))
            }
        })
    }

    /// Streams a tar of `path` in container `id` (its entries named by the path's base name) to
    /// `out`: `docker cp CONTAINER:PATH -`.
    pub fn copy_out_stream(&self, id: &str, path: &str, follow_link: bool, out: &mut dyn Write) -> Result<(), StackError> {
        let fs = self.container_fs(id)?;
        in_container(
            &fs,
            Flow::Out,
            |pipe| {
                let (resolved, source) = container_source(path, follow_link, id)?;
                write_tar(&resolved, &source.name, pipe).map_err(|e| e.to_string())
            },
            |mut pipe| std::io::copy(&mut pipe, out).map(drop),
        )
    }

    /// Copies `path` in container `id` to `destination` on this machine, by `docker cp`'s rules
    /// (into an existing directory; as the destination's name otherwise). Files copied out
    /// belong to the user running the command, as the Docker client extracts them.
    pub fn copy_out(&self, id: &str, path: &str, follow_link: bool, destination: &Path) -> Result<(), StackError> {
        let shown = destination.to_string_lossy().into_owned();
        let existing = match fs::metadata(destination) {
            Ok(m) => Some(m.is_dir()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(StackError::Invalid(go_error("stat", destination, &e))),
        };
        let dir = match existing {
            Some(true) => destination.to_path_buf(),
            _ => {
                let parent = destination.parent().unwrap_or(Path::new("/")).to_path_buf();
                fs::metadata(&parent).map_err(|e| StackError::Invalid(go_error("lstat", &parent, &e)))?;
                parent
            }
        };
        let fs = self.container_fs(id)?;
        in_container(
            &fs,
            Flow::Out,
            |pipe| {
                let (resolved, source) = container_source(path, follow_link, id)?;
                let target = plan(&source, &shown, existing)?;
                write_tar(&resolved, &target.top_name, pipe).map_err(|e| e.to_string())
            },
            |pipe| extract_tar(pipe, &dir, false),
        )
    }

    /// Extracts the tar `input` into the directory `destination` of container `id` (`docker cp
    /// - CONTAINER:DIR`), its owners kept only when `keep_owners` (else root's).
    pub fn copy_in_stream(&self, id: &str, destination: &str, keep_owners: bool, input: &mut dyn Read) -> Result<(), StackError> {
        let fs = self.container_fs(id)?;
        in_container(
            &fs,
            Flow::In,
            |pipe| {
                if !fs::metadata(destination).is_ok_and(|m| m.is_dir()) {
                    return Err(format!("destination \"{id}:{destination}\" must be a directory"));
                }
                extract_tar(pipe, Path::new(destination), keep_owners).map_err(|e| e.to_string())
            },
            |mut pipe| std::io::copy(input, &mut pipe).map(drop),
        )
    }

    /// Copies `source` on this machine into container `id` at `destination`, by `docker cp`'s
    /// rules; `follow_link` copies what a symlink `source` points to, `keep_owners` keeps the
    /// files' owners (else they belong to root).
    pub fn copy_in(&self, id: &str, source: &Path, follow_link: bool, destination: &str, keep_owners: bool) -> Result<(), StackError> {
        let given = source.to_string_lossy();
        let metadata = fs::symlink_metadata(source).map_err(|e| StackError::Invalid(go_error("lstat", source, &e)))?;
        let name = source.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "/".into());
        let (resolved, is_dir) = if follow_link && metadata.file_type().is_symlink() {
            let target = fs::canonicalize(source).map_err(|e| StackError::Invalid(go_error("lstat", source, &e)))?;
            let is_dir = fs::metadata(&target).map_err(|e| StackError::Invalid(go_error("lstat", &target, &e)))?.is_dir();
            (target, is_dir)
        } else {
            (source.to_path_buf(), metadata.is_dir())
        };
        let source = CopySource { is_dir, contents_only: given.ends_with("/."), name };
        let fs = self.container_fs(id)?;
        // First where the copy lands, as the container sees its destination; then the copy.
        let target = in_container(
            &fs,
            Flow::Out,
            |mut pipe| {
                let existing = fs::metadata(destination).ok().map(|m| m.is_dir());
                let dir = match existing {
                    Some(true) => PathBuf::from(destination),
                    _ => {
                        // A symlink destination is replaced at what it points to, as Docker does.
                        let real = fs::canonicalize(destination).unwrap_or_else(|_| PathBuf::from(destination));
                        let parent = real.parent().unwrap_or(Path::new("/")).to_path_buf();
                        if !fs::metadata(&parent).is_ok_and(|m| m.is_dir()) {
                            return Err(format!("Could not find the file {} in container {id}", parent.display()));
                        }
                        parent
                    }
                };
                let target = plan(&source, destination, existing)?;
                let reply = serde_json::json!({ "dir": dir, "into": target.into_destination, "top": target.top_name });
                pipe.write_all(reply.to_string().as_bytes()).map_err(|e| e.to_string())
            },
            |mut pipe| {
                let mut reply = String::new();
                pipe.read_to_string(&mut reply)?;
                Ok(reply)
            },
        )?;
        let reply: serde_json::Value = serde_json::from_str(&target).map_err(|e| StackError::Invalid(format!("the copy's destination: {e}")))?;
        let dir = PathBuf::from(reply["dir"].as_str().unwrap_or("/"));
        let top = reply["top"].as_str().unwrap_or_default().to_string();
        in_container(
            &fs,
            Flow::In,
            |pipe| extract_tar(pipe, &dir, keep_owners).map_err(|e| e.to_string()),
            |pipe| write_tar(&resolved, &top, pipe),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(is_dir: bool, contents_only: bool) -> CopySource {
        CopySource { is_dir, contents_only, name: "src".into() }
    }

    #[test]
    fn copies_land_as_docker_cp_lands_them() {
        let into = |top: &str| CopyTarget { into_destination: true, top_name: top.into() };
        let beside = |top: &str| CopyTarget { into_destination: false, top_name: top.into() };
        assert_eq!(plan(&source(false, false), "/d", Some(true)), Ok(into("src")));
        assert_eq!(plan(&source(true, false), "/d", Some(true)), Ok(into("src")));
        assert_eq!(plan(&source(true, true), "/d", Some(true)), Ok(into("")));
        assert_eq!(plan(&source(false, false), "/d/f", Some(false)), Ok(beside("f")));
        assert_eq!(plan(&source(false, false), "/d/new", None), Ok(beside("new")));
        assert_eq!(plan(&source(true, true), "/d/new", None), Ok(beside("new")));
        assert_eq!(plan(&source(true, false), "/d/f", Some(false)), Err("cannot copy a directory to a file".into()));
        assert_eq!(plan(&source(false, false), "/d/new/", None), Err("no such directory".into()));
    }

    #[test]
    fn tar_round_trip_keeps_links_and_modes_and_names_the_top_entry() {
        use std::os::unix::fs::PermissionsExt;
        let from = tempfile::tempdir().unwrap();
        let to = tempfile::tempdir().unwrap();
        fs::create_dir(from.path().join("dir")).unwrap();
        fs::write(from.path().join("dir/run.sh"), "echo hi").unwrap();
        fs::set_permissions(from.path().join("dir/run.sh"), fs::Permissions::from_mode(0o751)).unwrap();
        std::os::unix::fs::symlink("run.sh", from.path().join("dir/link")).unwrap();
        let mut tar = Vec::new();
        write_tar(&from.path().join("dir"), "copy", &mut tar).unwrap();
        extract_tar(tar.as_slice(), to.path(), false).unwrap();
        assert_eq!(fs::read_to_string(to.path().join("copy/run.sh")).unwrap(), "echo hi");
        assert_eq!(fs::metadata(to.path().join("copy/run.sh")).unwrap().permissions().mode() & 0o777, 0o751);
        assert_eq!(fs::read_link(to.path().join("copy/link")).unwrap(), Path::new("run.sh"));
    }

    #[test]
    fn go_errors_read_as_go_prints_them() {
        let e = std::io::Error::from_raw_os_error(2);
        assert_eq!(go_error("lstat", Path::new("/x"), &e), "lstat /x: no such file or directory");
    }
}
