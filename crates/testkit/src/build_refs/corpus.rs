//! The builder conformance corpus (`tests/builder-conformance/NN-name/`): each case is a build
//! context with a Dockerfile and a `case.toml` saying how to build it, which references can, what
//! they are known to do differently (with the reason), and hand-written expectations.
//!
//! ```toml
//! about = "what the case covers"
//! dockerfile = "Dockerfile"          # relative to the context (default)
//! context = "."                      # relative to the case directory (default)
//! target = "final"                   # --target
//! args = { NAME = "value" }          # --build-arg
//! secrets = { token = "token.txt" }  # id -> file in the case directory
//! [[before]]                         # images to build first (ONBUILD parents), same context
//! dockerfile = "parent.Dockerfile"
//! tag = "conf-parent:latest"
//! [unsupported]                      # references that cannot build it, and why
//! docker = "the classic builder has no heredocs"
//! [[divergence]]                     # what one reference does differently, and why
//! reference = "buildah"
//! field = "Healthcheck"              # or path = "/some/path"
//! reason = "..."
//! [expect]                           # checked on every build (references and xcompose)
//! config = { Cmd = ["a"] }
//! unset = ["Entrypoint"]
//! files = { "/etc/x" = "content\n" }
//! absent = ["/tmp/gone"]
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use super::{BuildSpec, BuiltImage, Ignored};

/// The references a case can be built with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reference {
    /// `buildah bud` (Debian's buildah 1.28).
    Buildah,
    /// `docker build` with dockerd's classic builder (Debian's docker.io 20.10).
    Docker,
}

impl Reference {
    /// Both references.
    pub const ALL: [Reference; 2] = [Reference::Buildah, Reference::Docker];

    /// `buildah` or `docker`, as [`super::ImageBuilder::name`] says.
    pub fn name(self) -> &'static str {
        match self {
            Reference::Buildah => "buildah",
            Reference::Docker => "docker",
        }
    }
}

/// An image built before the case's own (with the same context).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreBuild {
    /// Its Dockerfile, relative to the context.
    pub dockerfile: String,
    /// Its tag, which the case's Dockerfile names.
    pub tag: String,
}

/// A known difference of one reference from Docker's (BuildKit's) behaviour.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Divergence {
    /// The reference that differs.
    pub reference: Reference,
    /// The config field it gets wrong, if that is it.
    pub field: Option<String>,
    /// The path (and what is under it) it gets wrong, if that is it.
    pub path: Option<String>,
    /// Why.
    pub reason: String,
}

/// Hand-written expectations, checked on every build of the case.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectations {
    /// Config fields and their exact (normalised) values.
    #[serde(default)]
    pub config: BTreeMap<String, Value>,
    /// Config fields that must be unset (TOML has no null).
    #[serde(default)]
    pub unset: Vec<String>,
    /// Regular files and their exact contents.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// Paths that must not exist.
    #[serde(default)]
    pub absent: Vec<String>,
}

/// One case of the corpus.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// The directory's name (`01-env`).
    #[serde(skip)]
    pub name: String,
    /// The case directory.
    #[serde(skip)]
    pub dir: PathBuf,
    /// What the case covers.
    pub about: String,
    /// The context, relative to the case directory.
    #[serde(default)]
    pub context: Option<String>,
    /// The Dockerfile, relative to the context.
    #[serde(default)]
    pub dockerfile: Option<String>,
    /// The stage to build.
    #[serde(default)]
    pub target: Option<String>,
    /// Build arguments.
    #[serde(default)]
    pub args: BTreeMap<String, String>,
    /// Secrets: id -> file relative to the case directory.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// Images to build first.
    #[serde(default)]
    pub before: Vec<PreBuild>,
    /// References that cannot build the case, with the reason.
    #[serde(default)]
    pub unsupported: BTreeMap<Reference, String>,
    /// Known differences of the references.
    #[serde(default)]
    pub divergence: Vec<Divergence>,
    /// Hand-written expectations.
    #[serde(default)]
    pub expect: Expectations,
}

impl Case {
    /// Every case under `corpus` (directories with a `case.toml`), sorted by name.
    pub fn all(corpus: &Path) -> anyhow::Result<Vec<Case>> {
        let mut cases = Vec::new();
        for entry in
            std::fs::read_dir(corpus).with_context(|| format!("listing {}", corpus.display()))?
        {
            let dir = entry?.path();
            if dir.join("case.toml").is_file() {
                cases.push(Case::load(&dir)?);
            }
        }
        cases.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(cases)
    }

    /// The case in `dir`.
    pub fn load(dir: &Path) -> anyhow::Result<Case> {
        let path = dir.join("case.toml");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let mut case: Case =
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        case.name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .context("a case directory's name is not UTF-8")?
            .to_string();
        case.dir = dir.to_path_buf();
        for divergence in &case.divergence {
            anyhow::ensure!(
                divergence.field.is_some() != divergence.path.is_some(),
                "{}: a divergence names either a field or a path",
                path.display()
            );
        }
        Ok(case)
    }

    /// The build context.
    pub fn context(&self) -> PathBuf {
        self.dir.join(self.context.as_deref().unwrap_or("."))
    }

    /// The tag the case's image gets: `conf-NAME:latest`.
    pub fn tag(&self) -> String {
        format!("conf-{}:latest", self.name.to_lowercase())
    }

    /// What to build for the case itself.
    pub fn spec(&self) -> BuildSpec {
        let mut spec = BuildSpec::new(&self.context(), &self.tag());
        if let Some(dockerfile) = &self.dockerfile {
            spec.dockerfile = PathBuf::from(dockerfile);
        }
        spec.target = self.target.clone();
        spec.args = self.args.clone();
        spec.secrets = self
            .secrets
            .iter()
            .map(|(id, file)| (id.clone(), self.dir.join(file)))
            .collect();
        spec
    }

    /// What to build before the case, in order.
    pub fn pre_builds(&self) -> Vec<BuildSpec> {
        self.before
            .iter()
            .map(|before| {
                let mut spec = BuildSpec::new(&self.context(), &before.tag);
                spec.dockerfile = PathBuf::from(&before.dockerfile);
                spec
            })
            .collect()
    }

    /// Whether `reference` can build the case.
    pub fn supported_by(&self, reference: Reference) -> bool {
        !self.unsupported.contains_key(&reference)
    }

    /// What to leave out when comparing `reference`'s image: its recorded divergences.
    pub fn ignored_for(&self, reference: Reference) -> Ignored {
        let mut ignored = Ignored::default();
        for divergence in self.divergence.iter().filter(|d| d.reference == reference) {
            ignored.fields.extend(divergence.field.clone());
            ignored.paths.extend(divergence.path.clone());
        }
        ignored
    }

    /// Where `image` misses the case's hand-written expectations, one line each, except what
    /// `ignored` covers (a reference's recorded divergences).
    pub fn unmet_expectations(&self, image: &BuiltImage, ignored: &Ignored) -> Vec<String> {
        let mut out = Vec::new();
        let fields = |field: &&String| !ignored.fields.contains(*field);
        let paths = |path: &&String| !ignored.covers_path(path);
        for (field, want) in self.expect.config.iter().filter(|(f, _)| fields(f)) {
            match image.config.get(field) {
                Some(got) if got == want => {}
                Some(got) => out.push(format!("{field}: expected {want}, got {got}")),
                None => out.push(format!("{field}: not a compared config field")),
            }
        }
        for field in self.expect.unset.iter().filter(fields) {
            match image.config.get(field) {
                Some(Value::Null) => {}
                Some(got) => out.push(format!("{field}: expected unset, got {got}")),
                None => out.push(format!("{field}: not a compared config field")),
            }
        }
        for (path, content) in self.expect.files.iter().filter(|(p, _)| paths(p)) {
            let want = hex::encode(Sha256::digest(content.as_bytes()));
            match image.entry(path) {
                Some(entry) if entry.sha256.as_deref() == Some(want.as_str()) => {}
                Some(entry) => out.push(format!(
                    "{path}: expected a file holding {content:?}, got [{entry}]"
                )),
                None => out.push(format!(
                    "{path}: expected a file holding {content:?}, missing"
                )),
            }
        }
        for path in self.expect.absent.iter().filter(paths) {
            if let Some(entry) = image.entry(path) {
                out.push(format!("{path}: expected absent, got [{entry}]"));
            }
        }
        out
    }
}
