//! The busybox test image: `tests/images/build-busybox-rootfs.sh`, and a tar of it built once.

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
    run_image_script(&busybox_rootfs_script(), out)
}

/// Runs an image build `script` (bash) writing `out`; fails with the script's own message.
pub(crate) fn run_image_script(script: &Path, out: &Path) -> anyhow::Result<()> {
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
    TAR.get_or_init(|| build_cached().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(anyhow::Error::msg)
}

/// `<target>/<profile>/xcompose-testkit`, next to the test binary: where test artifacts that are
/// slow to build are kept between runs.
pub(crate) fn artifact_dir() -> anyhow::Result<PathBuf> {
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
    Ok(dir.join("xcompose-testkit"))
}

fn build_cached() -> anyhow::Result<PathBuf> {
    let tar = artifact_dir()?.join("busybox.tar");
    let script_time = std::fs::metadata(busybox_rootfs_script())
        .and_then(|m| m.modified())
        .with_context(|| format!("reading {}", busybox_rootfs_script().display()))?;
    let fresh = std::fs::metadata(&tar)
        .and_then(|m| m.modified())
        .map(|built| built >= script_time)
        .unwrap_or(false);
    if !fresh {
        build_busybox_rootfs(&tar)?;
    }
    Ok(tar)
}
