//! What the end-to-end tests share: a sandbox whose state root has the busybox test image, a
//! project directory, and xcompose run on it.

mod project;

use anyhow::Result;
use xcompose_testkit::Sandbox;

pub use project::{project, xcompose, XCOMPOSE};

/// A fresh sandbox whose state root has the busybox test image as `busybox:latest`.
pub fn sandbox_with_busybox() -> Result<Sandbox> {
    let sb = Sandbox::new()?;
    let image = xcompose_testkit::busybox_image_tar()?;
    sb.run_ok(XCOMPOSE, &["--root", sb.root().to_str().unwrap(), "image", "import", image.to_str().unwrap(), "busybox:latest"])?;
    Ok(sb)
}
