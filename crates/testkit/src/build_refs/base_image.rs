//! The base image every conformance Dockerfile starts `FROM`: the busybox test image with
//! Docker Hub busybox's configuration (`PATH`, `CMD ["sh"]`), as a docker-archive that `docker
//! load`, `buildah pull docker-archive:` and `xcompose image load` all read, so each tool starts
//! from the same layer and configuration.

use std::path::PathBuf;
use std::sync::OnceLock;

use anyhow::Context as _;
use serde_json::json;

use crate::oci_layout::{OciLayout, TestImage};

/// The name the base image is loaded under.
pub const BASE_IMAGE: &str = "busybox:latest";

/// The base image archive: an OCI layout with a docker-archive `manifest.json` beside it (as
/// `docker save` of Docker 25 writes), built once per process into the target directory.
pub fn base_image_archive() -> anyhow::Result<PathBuf> {
    static ARCHIVE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    ARCHIVE
        .get_or_init(|| write_archive().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(anyhow::Error::msg)
}

fn write_archive() -> anyhow::Result<PathBuf> {
    let dir = crate::image::artifact_dir()?;
    std::fs::create_dir_all(&dir)?;
    let staging = tempfile::Builder::new()
        .prefix(".build-base")
        .tempdir_in(&dir)?;
    let layout = OciLayout::create(&staging.path().join("layout"))?;
    let image = layout.add_image(&TestImage::busybox()?, "latest")?;
    let blob = |digest: &str| format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"));
    let manifest = json!([{
        "Config": blob(&image.config_digest),
        "RepoTags": [BASE_IMAGE],
        "Layers": image.layers.iter().map(|l| blob(&l.digest)).collect::<Vec<_>>(),
    }]);
    std::fs::write(
        layout.dir().join("manifest.json"),
        serde_json::to_vec(&manifest)?,
    )?;
    let tar_path = staging.path().join("base.tar");
    let mut builder = tar::Builder::new(std::fs::File::create(&tar_path)?);
    builder
        .append_dir_all(".", layout.dir())
        .context("writing the base image archive")?;
    builder.into_inner()?.sync_all()?;
    // Same bytes from every process: the last rename wins, a reader never sees half.
    let out = dir.join("build-base.tar");
    std::fs::rename(&tar_path, &out)?;
    Ok(out)
}
