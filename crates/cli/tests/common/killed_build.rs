//! A build killed while one of its RUN steps runs, for the tests of what a killed build leaves.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::Stdio;

use anyhow::{Context as _, Result};
use xcompose_testkit::Sandbox;

use crate::common::XCOMPOSE;

/// Runs `build` of the project in `dir`, waits for a RUN step's line ending in " started" on its
/// output, and kills the build there (SIGKILL), leaving whatever it had made.
pub fn kill_build_once_started(sb: &Sandbox, dir: &Path) -> Result<()> {
    let mut child = sb.command(XCOMPOSE).arg("--root").arg(sb.root()).arg("-f").arg(dir.join("compose.yaml")).arg("build").stderr(Stdio::piped()).spawn()?;
    let stderr = child.stderr.take().context("stderr")?;
    // Kept open until the build is killed: it must not die of a closed pipe first.
    let mut lines = BufReader::new(stderr).lines();
    lines.by_ref().find(|l| l.as_ref().is_ok_and(|l| l.ends_with(" started"))).context("the RUN started")??;
    child.kill()?;
    child.wait()?;
    Ok(())
}
