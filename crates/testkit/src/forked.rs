//! A sandbox for tests that start containers from their own process (the container and
//! supervisor crates): the scenario runs in a forked child that first enters fresh mount and
//! network namespaces with private mount propagation, so nothing it creates reaches the host,
//! and whatever it leaves dies with the child's namespaces. The scenario is PID 1 of its own PID
//! namespace (with its own /proc), so every process it starts, daemons included, is killed by
//! the kernel when it ends, passed or failed.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Command;

use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::fcntl::OFlag;
use nix::unistd::{fork, pipe2, ForkResult};

/// Runs `scenario` in a forked child inside fresh mount and network namespaces, and panics with
/// its error (or its panic message) if it fails.
pub fn in_forked_sandbox(scenario: impl FnOnce() -> Result<(), String>) {
    // Close-on-exec, so that processes the scenario starts do not hold the pipe open.
    let (read, write) = pipe2(OFlag::O_CLOEXEC).expect("creating a pipe");
    // SAFETY: the child runs the scenario and leaves with _exit; glibc's fork resets the
    // allocator's locks, so the scenario may allocate.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            drop(read);
            let result = unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWPID)
                .and_then(|()| mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>))
                .map_err(|e| format!("sandbox: {e}"))
                .and_then(|()| as_pid_namespace_init(scenario));
            let message = result.err().unwrap_or_default();
            let _ = std::fs::File::from(write).write_all(message.as_bytes());
            // SAFETY: leaving the forked child without running the parent's destructors.
            unsafe { nix::libc::_exit(if message.is_empty() { 0 } else { 1 }) }
        }
        ForkResult::Parent { child } => {
            drop(write);
            let mut message = String::new();
            let _ = std::fs::File::from(read).read_to_string(&mut message);
            let status = waitpid(child, None).expect("waiting for the sandboxed scenario");
            assert!(message.is_empty() && status == WaitStatus::Exited(child, 0), "{message} ({status:?})");
        }
    }
}

/// Runs `scenario` in a second child, the first process of the PID namespace just unshared,
/// with /proc remounted to show that namespace; returns its result.
fn as_pid_namespace_init(scenario: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    let (read, write) = pipe2(OFlag::O_CLOEXEC).map_err(|e| format!("sandbox: {e}"))?;
    // SAFETY: as above; the second child also leaves with _exit.
    match unsafe { fork() }.map_err(|e| format!("sandbox: {e}"))? {
        ForkResult::Child => {
            drop(read);
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                mount(Some("proc"), "/proc", Some("proc"), MsFlags::empty(), None::<&str>)
                    .map_err(|e| format!("sandbox: mounting /proc: {e}"))?;
                scenario()
            }));
            let message = match result {
                Ok(Ok(())) => String::new(),
                Ok(Err(e)) => e,
                Err(p) => p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "panic".into()),
            };
            let _ = std::fs::File::from(write).write_all(message.as_bytes());
            // SAFETY: leaving the forked child without running the parent's destructors.
            unsafe { nix::libc::_exit(if message.is_empty() { 0 } else { 1 }) }
        }
        ForkResult::Parent { child } => {
            drop(write);
            let mut message = String::new();
            let _ = std::fs::File::from(read).read_to_string(&mut message);
            let status = waitpid(child, None).map_err(|e| format!("sandbox: {e}"))?;
            match status {
                WaitStatus::Exited(_, 0) if message.is_empty() => Ok(()),
                _ if !message.is_empty() => Err(message),
                other => Err(format!("the scenario ended with {other:?}")),
            }
        }
    }
}

/// Directories for an overlay root filesystem over the busybox test image, in `dir`:
/// `lower` (the image, unpacked), `upper`, `work` and `merged`.
pub struct BusyboxOverlay {
    /// The unpacked image.
    pub lower: PathBuf,
    /// The writable layer.
    pub upper: PathBuf,
    /// overlayfs's work directory.
    pub work: PathBuf,
    /// The mount point.
    pub merged: PathBuf,
}

/// Unpacks the busybox test image into `dir/lower` and makes the other overlay directories.
pub fn busybox_overlay(dir: &std::path::Path) -> anyhow::Result<BusyboxOverlay> {
    let tar = crate::busybox_image_tar()?;
    let o = BusyboxOverlay { lower: dir.join("lower"), upper: dir.join("upper"), work: dir.join("work"), merged: dir.join("merged") };
    for d in [&o.lower, &o.upper, &o.work, &o.merged] {
        std::fs::create_dir_all(d)?;
    }
    let status = Command::new("tar").arg("-xf").arg(&tar).arg("-C").arg(&o.lower).status()?;
    anyhow::ensure!(status.success(), "unpacking {} failed: {status}", tar.display());
    Ok(o)
}
