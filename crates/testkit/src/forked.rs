//! A sandbox for tests that start containers from their own process (the container and
//! supervisor crates): the scenario runs in a forked child that first enters fresh mount and
//! network namespaces with private mount propagation, so nothing it creates reaches the host,
//! and whatever it leaves dies with the child's namespaces.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Command;

use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, pipe, ForkResult};

/// Runs `scenario` in a forked child inside fresh mount and network namespaces, and panics with
/// its error (or its panic message) if it fails.
pub fn in_forked_sandbox(scenario: impl FnOnce() -> Result<(), String>) {
    let (read, write) = pipe().expect("creating a pipe");
    // SAFETY: the child runs the scenario and leaves with _exit; glibc's fork resets the
    // allocator's locks, so the scenario may allocate.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            drop(read);
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWNET).map_err(|e| format!("sandbox: {e}"))?;
                mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)
                    .map_err(|e| format!("sandbox: {e}"))?;
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
            let status = waitpid(child, None).expect("waiting for the sandboxed scenario");
            assert!(message.is_empty() && status == WaitStatus::Exited(child, 0), "{message} ({status:?})");
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
