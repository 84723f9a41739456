//! [`DockerClassic`]: `docker build` against a sandboxed dockerd (Debian's docker.io 20.10) as a
//! reference builder.
//!
//! Debian's docker.io has no buildx plugin, so this is dockerd's classic builder
//! (`DOCKER_BUILDKIT=0`). Where it differs from BuildKit, the corpus records it per case: no
//! heredocs, no `RUN --mount`, no `--network` on RUN, no `COPY --chmod/--link/--parents/--exclude`,
//! no `ADD --checksum`, no `<Dockerfile>.dockerignore`, no automatic `TARGETPLATFORM`-style
//! arguments, and every stage up to the target is built (skipped stages are still run).

use std::path::PathBuf;

use super::{checked, read_image_archive, BuildSpec, BuiltImage, ImageBuilder};
use crate::{Dockerd, Sandbox};

/// A dockerd of its own in the sandbox, with the given images loaded.
pub struct DockerClassic {
    dockerd: Dockerd,
    out: PathBuf,
}

impl DockerClassic {
    /// Starts dockerd in `sb` and loads each of `images` (docker-archives).
    pub fn new(sb: &Sandbox, images: &[PathBuf]) -> anyhow::Result<DockerClassic> {
        let dockerd = Dockerd::start(sb)?;
        let out = dockerd.dir().join("out");
        std::fs::create_dir_all(&out)?;
        for image in images {
            let path = image.display().to_string();
            dockerd.run_ok(sb, &["load", "-q", "-i", &path])?;
        }
        Ok(DockerClassic { dockerd, out })
    }

    /// The sandboxed dockerd.
    pub fn dockerd(&self) -> &Dockerd {
        &self.dockerd
    }
}

impl ImageBuilder for DockerClassic {
    fn name(&self) -> &'static str {
        "docker"
    }

    fn build(&self, sb: &Sandbox, spec: &BuildSpec) -> anyhow::Result<BuiltImage> {
        let mut command = self.dockerd.docker(sb);
        command
            .env("DOCKER_BUILDKIT", "0")
            .args(["build", "-q", "-f"]);
        command.arg(spec.dockerfile_path());
        if let Some(target) = &spec.target {
            command.args(["--target", target]);
        }
        for (name, value) in &spec.args {
            command.arg("--build-arg").arg(format!("{name}={value}"));
        }
        command.args(["-t", &spec.tag]).arg(&spec.context);
        checked(
            &format!("docker build of {}", spec.dockerfile_path().display()),
            command.output(),
        )?;
        let out = self
            .out
            .join(format!("{}.tar", spec.tag.replace([':', '/'], "_")));
        let path = out.display().to_string();
        self.dockerd.run_ok(sb, &["save", "-o", &path, &spec.tag])?;
        Ok(BuiltImage::from_archive(read_image_archive(&out)?))
    }
}
