//! A project directory in a sandbox and xcompose run on it: what every end-to-end test needs
//! (`common/mod.rs` adds the busybox image; tests with other images use this module alone).

use std::path::{Path, PathBuf};

use anyhow::{ensure, Result};
use xcompose_testkit::Sandbox;

/// The binary under test.
pub const XCOMPOSE: &str = env!("CARGO_BIN_EXE_xcompose");

/// A project directory `name` in the sandbox with `compose.yaml` holding `text`.
pub fn project(sb: &Sandbox, name: &str, text: &str) -> Result<PathBuf> {
    let dir = sb.temp_dir().join(name);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("compose.yaml"), text)?;
    Ok(dir)
}

/// Runs xcompose in the sandbox on the project in `dir` and returns its stdout; fails unless it
/// exits 0.
pub fn xcompose(sb: &Sandbox, dir: &Path, args: &[&str]) -> Result<String> {
    let out = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).args(args).output()?;
    ensure!(
        out.status.success(),
        "xcompose {args:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?)
}
