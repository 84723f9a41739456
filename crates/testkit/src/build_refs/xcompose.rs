//! [`Xcompose`]: the builder under test, driven only through its CLI: a compose file with one
//! service `x` whose `build:` is the [`BuildSpec`], `xcompose build`, then `xcompose image save`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

/// The labels `docker compose build` gives every image it builds (project, service and compose
/// version); the references build without compose, so they are left out of the comparison.
const COMPOSE_LABELS: [&str; 3] = [
    "com.docker.compose.project",
    "com.docker.compose.service",
    "com.docker.compose.version",
];

use super::{checked, read_image_archive, BuildSpec, BuiltImage, ImageBuilder};
use crate::Sandbox;

/// The xcompose binary with its own state root (the sandbox's), the given images loaded.
pub struct Xcompose {
    binary: PathBuf,
    root: PathBuf,
    dir: PathBuf,
}

impl Xcompose {
    /// xcompose `binary` on `sb`'s state root, with each of `images` loaded (`image load -i`).
    pub fn new(sb: &Sandbox, binary: &Path, images: &[PathBuf]) -> anyhow::Result<Xcompose> {
        let xcompose = Xcompose {
            binary: binary.to_path_buf(),
            root: sb.root().to_path_buf(),
            dir: sb.temp_dir().join("xcompose-builds"),
        };
        std::fs::create_dir_all(&xcompose.dir)?;
        for image in images {
            let path = image.display().to_string();
            checked(
                &format!("xcompose image load -i {path}"),
                xcompose
                    .command(sb)
                    .args(["image", "load", "-q", "-i", &path])
                    .output(),
            )?;
        }
        Ok(xcompose)
    }

    /// `xcompose --root ROOT` inside the sandbox.
    pub fn command(&self, sb: &Sandbox) -> Command {
        let mut command = sb.command(&self.binary.to_string_lossy());
        command.arg("--root").arg(&self.root);
        command
    }

    /// Writes the compose file building `spec` as service `x` (image `spec.tag`); its path.
    pub fn compose_file(&self, spec: &BuildSpec) -> anyhow::Result<PathBuf> {
        let mut build = json!({
            "context": spec.context,
            "dockerfile": spec.dockerfile_path(),
        });
        if let Some(target) = &spec.target {
            build["target"] = json!(target);
        }
        if !spec.args.is_empty() {
            build["args"] = json!(spec.args);
        }
        let mut compose = json!({"services": {"x": {"build": build, "image": spec.tag}}});
        if !spec.secrets.is_empty() {
            compose["services"]["x"]["build"]["secrets"] =
                json!(spec.secrets.keys().collect::<Vec<_>>());
            let secrets: serde_json::Map<String, Value> = spec
                .secrets
                .iter()
                .map(|(id, file)| (id.clone(), json!({"file": file})))
                .collect();
            compose["secrets"] = Value::Object(secrets);
        }
        let path = self
            .dir
            .join(format!("{}.compose.json", file_name(&spec.tag)));
        // JSON is YAML: compose reads it as it is.
        std::fs::write(&path, serde_json::to_vec_pretty(&compose)?)?;
        Ok(path)
    }

    /// `xcompose image inspect TAG`: the first object of its JSON array.
    pub fn inspect(&self, sb: &Sandbox, tag: &str) -> anyhow::Result<Value> {
        let out = checked(
            &format!("xcompose image inspect {tag}"),
            self.command(sb).args(["image", "inspect", tag]).output(),
        )?;
        let all: Value = serde_json::from_str(&out)?;
        all.get(0)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("xcompose image inspect {tag} printed {out}"))
    }
}

fn file_name(tag: &str) -> String {
    tag.replace([':', '/'], "_")
}

impl ImageBuilder for Xcompose {
    fn name(&self) -> &'static str {
        "xcompose"
    }

    fn build(&self, sb: &Sandbox, spec: &BuildSpec) -> anyhow::Result<BuiltImage> {
        let file = self.compose_file(spec)?;
        checked(
            &format!("xcompose -f {} build", file.display()),
            self.command(sb).arg("-f").arg(&file).arg("build").output(),
        )?;
        let out = self.dir.join(format!("{}.tar", file_name(&spec.tag)));
        checked(
            &format!("xcompose image save {}", spec.tag),
            self.command(sb)
                .args(["image", "save", "-o"])
                .arg(&out)
                .arg(&spec.tag)
                .output(),
        )?;
        Ok(without_compose_labels(BuiltImage::from_archive(
            read_image_archive(&out)?,
        )))
    }
}

/// `image` without [`COMPOSE_LABELS`] (`Labels` unset if nothing else is left).
pub fn without_compose_labels(mut image: BuiltImage) -> BuiltImage {
    if let Some(labels) = image.config.get_mut("Labels") {
        if let Some(map) = labels.as_object_mut() {
            for label in COMPOSE_LABELS {
                map.remove(label);
            }
            if map.is_empty() {
                *labels = Value::Null;
            }
        }
    }
    image
}
