//! The test images: busybox (`tests/images/build-busybox-rootfs.sh`) and Debian with real
//! daemons (`tests/images/build-debian-rootfs.sh`), each a tar built once per target directory.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::Context as _;

/// Path of the script that builds the busybox test image rootfs
/// (`tests/images/build-busybox-rootfs.sh` at the workspace root).
pub fn busybox_rootfs_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/images/build-busybox-rootfs.sh")
}

/// Builds the busybox test image rootfs as a tar at `out` (see the script for what is in it).
/// Fails with the script's message, which names the package to install, if it cannot.
pub fn build_busybox_rootfs(out: &Path) -> anyhow::Result<()> {
    run_script(&busybox_rootfs_script(), out)
}

/// Path of the script that builds the Debian test image rootfs (minbase with redis-server and
/// nginx-light), `tests/images/build-debian-rootfs.sh` at the workspace root.
pub fn debian_rootfs_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/images/build-debian-rootfs.sh")
}

/// The Debian test image (real redis-server and nginx) as a root filesystem tar, built once
/// into `<target>/<profile>/xcompose-testkit/debian.tar` as [`busybox_image_tar`] is; the
/// first build downloads Debian's packages and takes minutes.
pub fn debian_image_tar() -> anyhow::Result<PathBuf> {
    static TAR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    TAR.get_or_init(|| cached(&debian_rootfs_script(), "debian.tar").map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(anyhow::Error::msg)
}

/// Runs an image build `script` writing `out`; fails with the script's own message.
fn run_script(script: &Path, out: &Path) -> anyhow::Result<()> {
    let output = Command::new("bash")
        .arg(script)
        .arg(out)
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    anyhow::ensure!(
        output.status.success(),
        "{} {} failed ({}): {}",
        script.display(),
        out.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr).trim_end()
    );
    Ok(())
}

/// The busybox test image as a tar, ready for `xcompose image import TAR busybox:latest`.
///
/// Built once into `<target>/<profile>/xcompose-testkit/busybox.tar` next to the test binary (so
/// it is a build artifact, not a temporary file) and rebuilt when the script changes; later calls
/// in the same process return the same path. Safe to call from parallel tests and processes: the
/// script writes a temporary file and renames it.
pub fn busybox_image_tar() -> anyhow::Result<PathBuf> {
    static TAR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    TAR.get_or_init(|| cached(&busybox_rootfs_script(), "busybox.tar").map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(anyhow::Error::msg)
}

/// `name` in the test binary's target directory, built by `script` unless it is newer than it.
fn cached(script: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("locating the test binary")?;
    let mut dir = exe.parent().context("the test binary has no directory")?;
    if matches!(
        dir.file_name().and_then(|n| n.to_str()),
        Some("deps" | "examples")
    ) {
        dir = dir
            .parent()
            .context("the test binary's directory has no parent")?;
    }
    let tar = dir.join("xcompose-testkit").join(name);
    let script_time = std::fs::metadata(script)
        .and_then(|m| m.modified())
        .with_context(|| format!("reading {}", script.display()))?;
    let fresh = std::fs::metadata(&tar)
        .and_then(|m| m.modified())
        .map(|built| built >= script_time)
        .unwrap_or(false);
    if !fresh {
        run_script(script, &tar)?;
    }
    Ok(tar)
}
