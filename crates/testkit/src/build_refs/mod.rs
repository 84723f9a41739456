//! Reference image builds for the builder's conformance tests: the same Dockerfile built by
//! Debian's `buildah bud` (1.28, daemonless), by `docker build` (dockerd from Debian's docker.io,
//! classic builder) and by `xcompose build`, each result read back from an image archive as
//! [`BuiltImage`]: the configuration fields the tests compare and the final filesystem tree.
//!
//! ```no_run
//! # fn main() -> anyhow::Result<()> {
//! use xcompose_testkit::build_refs::{base_image_archive, BuildSpec, Buildah, ImageBuilder as _};
//! let sb = xcompose_testkit::Sandbox::new()?;
//! let buildah = Buildah::new(&sb, &[base_image_archive()?])?;
//! let image = buildah.build(&sb, &BuildSpec::new("/ctx".as_ref(), "t1"))?;
//! println!("{}", serde_json::to_string(&image.config)?);
//! # Ok(())
//! # }
//! ```
//!
//! Both references are normalised only where they differ from Docker in ways that mean nothing
//! at run time (see [`BuiltImage::from_archive`] and [`Buildah`]); every other difference is
//! reported by [`differences`].

mod archive;
mod base_image;
mod buildah;
mod corpus;
mod docker_classic;
mod fs_tree;
mod http_files;
mod xcompose;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

pub use archive::{file_contents, read_image_archive, ArchiveImage};
pub use base_image::{base_image_archive, BASE_IMAGE};
pub use buildah::Buildah;
pub use corpus::{Case, Divergence, Expectations, PreBuild, Reference};
pub use docker_classic::DockerClassic;
pub use fs_tree::{FsTree, TreeEntry};
pub use http_files::{HttpFiles, HTTP_FILES_PORT};
pub use xcompose::{without_compose_labels, Xcompose};

/// The image configuration fields the conformance tests compare (`.config` of the image JSON,
/// `.Config` of `docker image inspect`).
pub const CONFIG_FIELDS: [&str; 12] = [
    "Env",
    "Cmd",
    "Entrypoint",
    "WorkingDir",
    "User",
    "ExposedPorts",
    "Volumes",
    "Labels",
    "StopSignal",
    "Healthcheck",
    "OnBuild",
    "Shell",
];

/// The image's `author` (set by MAINTAINER), compared with the [`CONFIG_FIELDS`] under this name.
pub const AUTHOR_FIELD: &str = "Author";

/// What to build: a context, a Dockerfile, a target, build arguments and secrets, and the tag
/// to give the image.
#[derive(Clone, Debug)]
pub struct BuildSpec {
    /// The build context directory.
    pub context: PathBuf,
    /// The Dockerfile (absolute, or relative to the context).
    pub dockerfile: PathBuf,
    /// The stage to build (`--target`), or the last one.
    pub target: Option<String>,
    /// `--build-arg NAME=VALUE`.
    pub args: BTreeMap<String, String>,
    /// Build secrets: id -> file (`RUN --mount=type=secret,id=ID`).
    pub secrets: BTreeMap<String, PathBuf>,
    /// The image's name (`name[:tag]`).
    pub tag: String,
}

impl BuildSpec {
    /// `context/Dockerfile`, last stage, no arguments, tagged `tag`.
    pub fn new(context: &Path, tag: &str) -> BuildSpec {
        BuildSpec {
            context: context.to_path_buf(),
            dockerfile: context.join("Dockerfile"),
            target: None,
            args: BTreeMap::new(),
            secrets: BTreeMap::new(),
            tag: tag.to_string(),
        }
    }

    /// The Dockerfile as an absolute path.
    pub fn dockerfile_path(&self) -> PathBuf {
        if self.dockerfile.is_absolute() {
            self.dockerfile.clone()
        } else {
            self.context.join(&self.dockerfile)
        }
    }
}

/// Something that builds images from Dockerfiles: a reference tool or xcompose.
pub trait ImageBuilder {
    /// Its name in reports (`buildah`, `docker`, `xcompose`).
    fn name(&self) -> &'static str;

    /// Builds `spec` and reads the result back; the error carries the tool's output.
    fn build(&self, sb: &crate::Sandbox, spec: &BuildSpec) -> anyhow::Result<BuiltImage>;
}

/// A built image as the tests compare it: the [`CONFIG_FIELDS`] and the filesystem tree.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BuiltImage {
    /// Each of [`CONFIG_FIELDS`] and [`AUTHOR_FIELD`] (null when unset), normalised.
    pub config: BTreeMap<String, Value>,
    /// The final filesystem, sorted by path.
    pub tree: Vec<TreeEntry>,
}

impl BuiltImage {
    /// The compared fields of an archive's image.
    ///
    /// Normalised as Docker treats them at run time: an empty list, map or string is the same as
    /// no value (buildah writes `"Entrypoint": []`, `"Volumes": {}`, `"OnBuild": []`, `"User":
    /// ""` where dockerd writes nothing).
    pub fn from_archive(image: ArchiveImage) -> BuiltImage {
        let mut config: BTreeMap<String, Value> = CONFIG_FIELDS
            .iter()
            .map(|field| {
                let value = image.config["config"]
                    .get(*field)
                    .cloned()
                    .unwrap_or(Value::Null);
                (field.to_string(), none_if_empty(value))
            })
            .collect();
        let author = image.config.get("author").cloned().unwrap_or(Value::Null);
        config.insert(AUTHOR_FIELD.to_string(), none_if_empty(author));
        BuiltImage {
            config,
            tree: image.tree,
        }
    }

    /// The tree entry at `path`.
    pub fn entry(&self, path: &str) -> Option<&TreeEntry> {
        self.tree.iter().find(|e| e.path == path)
    }
}

fn none_if_empty(value: Value) -> Value {
    let empty = match &value {
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        Value::String(s) => s.is_empty(),
        _ => false,
    };
    if empty {
        Value::Null
    } else {
        value
    }
}

/// What is left out of a comparison: config fields, and paths (with what is under them).
#[derive(Clone, Debug, Default)]
pub struct Ignored {
    /// Config field names.
    pub fields: BTreeSet<String>,
    /// Absolute paths.
    pub paths: BTreeSet<String>,
}

impl Ignored {
    /// Whether `path` is one of the paths or under one.
    pub fn covers_path(&self, path: &str) -> bool {
        self.paths
            .iter()
            .any(|p| path == p || path.starts_with(&format!("{}/", p.trim_end_matches('/'))))
    }
}

/// Every difference between `left` and `right` (named `left_name`, `right_name` in the
/// messages), one line each, except what `ignored` covers. Empty when they agree.
pub fn differences(
    left_name: &str,
    left: &BuiltImage,
    right_name: &str,
    right: &BuiltImage,
    ignored: &Ignored,
) -> Vec<String> {
    let mut out = Vec::new();
    let fields: BTreeSet<&String> = left.config.keys().chain(right.config.keys()).collect();
    for field in fields {
        if ignored.fields.contains(field) {
            continue;
        }
        let (l, r) = (
            left.config.get(field).unwrap_or(&Value::Null),
            right.config.get(field).unwrap_or(&Value::Null),
        );
        if l != r {
            out.push(format!("{field}: {left_name} {l} != {right_name} {r}"));
        }
    }
    let l: BTreeMap<&str, &TreeEntry> = left.tree.iter().map(|e| (e.path.as_str(), e)).collect();
    let r: BTreeMap<&str, &TreeEntry> = right.tree.iter().map(|e| (e.path.as_str(), e)).collect();
    let paths: BTreeSet<&str> = l.keys().chain(r.keys()).copied().collect();
    for path in paths {
        if ignored.covers_path(path) {
            continue;
        }
        match (l.get(path), r.get(path)) {
            (Some(a), Some(b)) if a != b => {
                out.push(format!("{path}: {left_name} [{a}] != {right_name} [{b}]"))
            }
            (Some(a), None) => out.push(format!("only {left_name} has [{a}]")),
            (None, Some(b)) => out.push(format!("only {right_name} has [{b}]")),
            _ => {}
        }
    }
    out
}

/// A command's output as an error unless it succeeded; its stdout otherwise.
pub(crate) fn checked(
    what: &str,
    output: std::io::Result<std::process::Output>,
) -> anyhow::Result<String> {
    let output = output.map_err(|e| anyhow::anyhow!("{what}: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        anyhow::bail!(
            "{what} failed ({}):\n{}\n{}",
            output.status,
            tail(&stdout, 30),
            tail(&stderr, 30)
        );
    }
    Ok(stdout)
}

/// The last `lines` lines of `text`.
fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
