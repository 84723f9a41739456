//! A step's writable view of its parent: a fresh overlayfs upper directory over the parent's
//! layers, in a working directory of the build (`<root>/builder/tmp/<pid>-...`). A RUN step's
//! container mounts it as its root; COPY, ADD and WORKDIR mount it on a thread of their own in a
//! private mount namespace, so the mount is never visible elsewhere and goes away with the
//! thread. Whatever the step changed is then the upper directory ([`crate::exec::diff`]).
//!
//! A build killed mid-step leaves its working directory (and maybe its RUN container) behind:
//! [`remove_abandoned`] kills such a container and removes the directory at the next build.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};

/// The file in a working directory naming the pid of the step's running container.
const CONTAINER_PID: &str = "container.pid";

/// A step's upper directory over its parent's layers.
#[derive(Debug)]
pub struct Snapshot {
    dir: tempfile::TempDir,
    lower: Vec<PathBuf>,
}

impl Snapshot {
    /// A fresh snapshot over `lower` (layer directories, bottom first; none for `scratch`) in
    /// the build working area `tmp`.
    pub fn new(tmp: &Path, lower: &[PathBuf]) -> io::Result<Self> {
        fs::create_dir_all(tmp)?;
        let dir = tempfile::Builder::new().prefix(&format!("{}-", std::process::id())).tempdir_in(tmp)?;
        for sub in ["upper", "work", "merged", "empty"] {
            fs::create_dir(dir.path().join(sub))?;
        }
        Ok(Self { dir, lower: lower.to_vec() })
    }

    /// The upper directory: what the step changed.
    pub fn upper(&self) -> PathBuf {
        self.dir.path().join("upper")
    }

    /// The snapshot's working directory, for files a step's container needs besides its root
    /// (`/etc/hosts`, `/etc/resolv.conf`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The parent's layer directories, bottom first (an empty directory stands for `scratch`:
    /// overlayfs needs one lower directory at least).
    pub fn lower(&self) -> Vec<PathBuf> {
        if self.lower.is_empty() {
            vec![self.dir.path().join("empty")]
        } else {
            self.lower.clone()
        }
    }

    /// The container root filesystem of this snapshot.
    pub fn rootfs(&self) -> xcompose_container::RootFs {
        xcompose_container::RootFs::Overlay { lower: self.lower(), upper: self.upper(), work: self.dir.path().join("work"), merged: self.dir.path().join("merged") }
    }

    /// Notes the pid of the step's container, for [`remove_abandoned`] if this build is killed.
    pub fn record_container(&self, pid: u32) -> io::Result<()> {
        fs::write(self.dir.path().join(CONTAINER_PID), pid.to_string())
    }

    /// Runs `job` with the snapshot mounted (its merged root as the first argument) and, read
    /// only, the root filesystems made of each of `sources` (layer directories, bottom first:
    /// `COPY --from` stages and images) as the second, on a thread in a private mount namespace;
    /// every mount is gone when it returns.
    pub fn with_mounted<T: Send>(&self, sources: &[Vec<PathBuf>], job: impl FnOnce(&Path, &[PathBuf]) -> T + Send) -> io::Result<T> {
        self.in_namespace(true, sources, job)
    }

    /// Runs `job` with only the read-only `sources` mounted (see [`Snapshot::with_mounted`]): a
    /// RUN container started by `job` shares the thread's mounts (`--mount=type=bind,from=`).
    pub fn with_sources<T: Send>(&self, sources: &[Vec<PathBuf>], job: impl FnOnce(&[PathBuf]) -> T + Send) -> io::Result<T> {
        self.in_namespace(false, sources, |_, roots| job(roots))
    }

    fn in_namespace<T: Send>(&self, mount_root: bool, sources: &[Vec<PathBuf>], job: impl FnOnce(&Path, &[PathBuf]) -> T + Send) -> io::Result<T> {
        let merged = self.dir.path().join("merged");
        let empty = self.dir.path().join("empty");
        let options = format!("lowerdir={},upperdir={},workdir={}", lowerdir(&self.lower(), &empty), self.upper().display(), self.dir.path().join("work").display());
        let mut source_roots = Vec::new();
        for (i, _) in sources.iter().enumerate() {
            let at = self.dir.path().join(format!("source-{i}"));
            fs::create_dir_all(&at)?;
            source_roots.push(at);
        }
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    unshare(CloneFlags::CLONE_NEWNS)?;
                    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)?;
                    if mount_root {
                        mount(Some("overlay"), &merged, Some("overlay"), MsFlags::empty(), Some(options.as_str()))?;
                    }
                    for (layers, at) in sources.iter().zip(&source_roots) {
                        // Without an upper directory overlayfs is read-only; it needs two lower
                        // directories then, so the empty one is the bottom.
                        let mut stack = layers.clone();
                        stack.insert(0, empty.clone());
                        let options = format!("lowerdir={}", lowerdir(&stack, &empty));
                        mount(Some("overlay"), at, Some("overlay"), MsFlags::MS_RDONLY, Some(options.as_str()))?;
                    }
                    let out = job(&merged, &source_roots);
                    for at in source_roots.iter().chain(mount_root.then_some(&merged)) {
                        umount2(at, MntFlags::MNT_DETACH)?;
                    }
                    Ok(out)
                })
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
        .map_err(|e: nix::Error| io::Error::other(format!("mounting the build snapshot: {e}")))
    }
}

/// overlayfs's `lowerdir` option for `layers` (bottom first; topmost comes first in the option).
fn lowerdir(layers: &[PathBuf], empty: &Path) -> String {
    if layers.is_empty() {
        return empty.display().to_string();
    }
    layers.iter().rev().map(|p| p.display().to_string()).collect::<Vec<_>>().join(":")
}

/// Removes the working directories of builds that died (their pid is gone), after killing the
/// RUN container one of them left running and freeing its network (state root `root`).
pub fn remove_abandoned(tmp: &Path, root: &Path) {
    let Ok(entries) = fs::read_dir(tmp) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.split('-').next().and_then(|p| p.parse::<i32>().ok()) else { continue };
        if Path::new("/proc").join(pid.to_string()).exists() {
            continue;
        }
        if let Some(container) = fs::read_to_string(entry.path().join(CONTAINER_PID)).ok().and_then(|p| p.trim().parse::<i32>().ok()) {
            kill_container(container);
        }
        crate::exec::run_network::remove_abandoned(&entry.path(), root);
        let _ = fs::remove_dir_all(entry.path());
    }
}

/// Kills a container left by a dead build (its PID 1: the whole PID namespace goes with it) and
/// waits until it is gone, so its overlay no longer uses the directory.
fn kill_container(pid: i32) {
    let pid = nix::unistd::Pid::from_raw(pid);
    if nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).is_err() {
        return;
    }
    for _ in 0..500 {
        if nix::sys::signal::kill(pid, None).is_err() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mounted_snapshot_writes_to_its_upper_directory_only() {
        let dir = tempfile::tempdir().unwrap();
        let layer = dir.path().join("layer");
        fs::create_dir_all(layer.join("etc")).unwrap();
        fs::write(layer.join("etc/passwd"), b"root:x:0:0::/root:/bin/sh\n").unwrap();
        let snapshot = Snapshot::new(&dir.path().join("tmp"), std::slice::from_ref(&layer)).unwrap();
        let seen = snapshot
            .with_mounted(&[], |root, _| {
                fs::write(root.join("added"), b"new").unwrap();
                fs::read_to_string(root.join("etc/passwd")).unwrap()
            })
            .unwrap();
        assert!(seen.starts_with("root:"));
        assert_eq!(fs::read(snapshot.upper().join("added")).unwrap(), b"new");
        assert!(!layer.join("added").exists());
        assert!(!snapshot.dir().join("merged/etc").exists(), "the mount stays in the thread's namespace");
    }

    #[test]
    fn sources_are_mounted_read_only_beside_the_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let stage = dir.path().join("stage");
        fs::create_dir_all(&stage).unwrap();
        fs::write(stage.join("built"), b"artifact").unwrap();
        let snapshot = Snapshot::new(&dir.path().join("tmp"), &[]).unwrap();
        let (read, write_refused) = snapshot
            .with_mounted(&[vec![stage.clone()]], |_, sources| (fs::read(sources[0].join("built")).unwrap(), fs::write(sources[0].join("x"), b"").is_err()))
            .unwrap();
        assert_eq!(read, b"artifact");
        assert!(write_refused);
    }

    #[test]
    fn directories_of_dead_builds_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("999999999-abc/upper")).unwrap();
        let live = Snapshot::new(dir.path(), &[]).unwrap();
        remove_abandoned(dir.path(), dir.path());
        assert!(!dir.path().join("999999999-abc").exists());
        assert!(live.upper().exists());
    }
}
