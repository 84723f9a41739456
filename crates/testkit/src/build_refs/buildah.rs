//! [`Buildah`]: Debian's buildah (1.28) as a reference builder, daemonless, with its own storage
//! in the sandbox's temporary directory.

use std::path::PathBuf;
use std::process::Command;

use super::{checked, read_image_archive, BuildSpec, BuiltImage, ImageBuilder};
use crate::Sandbox;

/// Paths a buildah `RUN` leaves behind as empty files (the mount points of the container's
/// `/etc/hosts`, `/etc/hostname` and `/etc/resolv.conf`); neither dockerd nor BuildKit commits them.
const RUN_MOUNT_POINTS: [&str; 3] = ["/etc/hosts", "/etc/hostname", "/etc/resolv.conf"];
/// The label buildah adds to every image it builds.
const BUILDAH_LABEL: &str = "io.buildah.version";
/// sha256 of no bytes.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// buildah with `--root`/`--runroot` (and its cache mounts' `TMPDIR`) under the sandbox's
/// temporary directory, the vfs storage
/// driver and chroot isolation; builds with `bud --format docker` (the OCI format drops
/// HEALTHCHECK, ONBUILD and SHELL, which Docker's format keeps) and never pulls.
pub struct Buildah {
    dir: PathBuf,
}

impl Buildah {
    /// Sets up buildah's storage in `sb` and loads each of `images` (docker-archives).
    pub fn new(sb: &Sandbox, images: &[PathBuf]) -> anyhow::Result<Buildah> {
        anyhow::ensure!(
            crate::exec::find_in_path("buildah").is_some(),
            "buildah not found: apt-get install buildah (tests/install-deps.sh does it)"
        );
        let buildah = Buildah {
            dir: sb.temp_dir().join("buildah"),
        };
        std::fs::create_dir_all(buildah.dir.join("out"))?;
        std::fs::create_dir_all(buildah.dir.join("tmp"))?;
        for image in images {
            let source = format!("docker-archive:{}", image.display());
            checked(
                &format!("buildah pull {source}"),
                buildah
                    .command(sb)
                    .args(["pull", "--quiet", &source])
                    .output(),
            )?;
        }
        Ok(buildah)
    }

    /// `buildah --root ... --runroot ... --storage-driver vfs` inside the sandbox.
    pub fn command(&self, sb: &Sandbox) -> Command {
        let mut command = sb.command("buildah");
        command
            .env("BUILDAH_ISOLATION", "chroot")
            // RUN --mount=type=cache directories live under $TMPDIR (/var/tmp by default).
            .env("TMPDIR", self.dir.join("tmp"))
            .arg("--root")
            .arg(self.dir.join("root"))
            .arg("--runroot")
            .arg(self.dir.join("runroot"))
            .args(["--storage-driver", "vfs"]);
        command
    }

    /// The `buildah bud` arguments for `spec`.
    fn bud_args(spec: &BuildSpec) -> Vec<String> {
        let mut args: Vec<String> = [
            "bud",
            "--isolation",
            "chroot",
            "--format",
            "docker",
            "--pull-never",
        ]
        .map(String::from)
        .to_vec();
        args.push("-f".into());
        args.push(spec.dockerfile_path().display().to_string());
        if let Some(target) = &spec.target {
            args.extend(["--target".into(), target.clone()]);
        }
        for (name, value) in &spec.args {
            args.extend(["--build-arg".into(), format!("{name}={value}")]);
        }
        for (id, file) in &spec.secrets {
            args.extend(["--secret".into(), format!("id={id},src={}", file.display())]);
        }
        args.extend([
            "-t".into(),
            spec.tag.clone(),
            spec.context.display().to_string(),
        ]);
        args
    }

    fn archive_path(&self, tag: &str) -> PathBuf {
        self.dir
            .join("out")
            .join(format!("{}.tar", tag.replace([':', '/'], "_")))
    }
}

impl ImageBuilder for Buildah {
    fn name(&self) -> &'static str {
        "buildah"
    }

    fn build(&self, sb: &Sandbox, spec: &BuildSpec) -> anyhow::Result<BuiltImage> {
        checked(
            &format!("buildah bud of {}", spec.dockerfile_path().display()),
            self.command(sb).args(Buildah::bud_args(spec)).output(),
        )?;
        let out = self.archive_path(&spec.tag);
        let _ = std::fs::remove_file(&out);
        let dest = format!("docker-archive:{}:{}", out.display(), spec.tag);
        checked(
            &format!("buildah push {} {dest}", spec.tag),
            self.command(sb)
                .args(["push", "--quiet", &spec.tag, &dest])
                .output(),
        )?;
        Ok(normalize(BuiltImage::from_archive(read_image_archive(
            &out,
        )?)))
    }
}

/// Takes out what buildah adds and Docker does not: its version label, and the empty mount
/// points its `RUN` leaves (only when empty: a file the Dockerfile wrote there stays).
fn normalize(mut image: BuiltImage) -> BuiltImage {
    if let Some(labels) = image.config.get_mut("Labels") {
        if let Some(map) = labels.as_object_mut() {
            map.remove(BUILDAH_LABEL);
            if map.is_empty() {
                *labels = serde_json::Value::Null;
            }
        }
    }
    image.tree.retain(|entry| {
        !(RUN_MOUNT_POINTS.contains(&entry.path.as_str())
            && entry.kind == "file"
            && entry.sha256.as_deref() == Some(EMPTY_SHA256))
    });
    image
}
