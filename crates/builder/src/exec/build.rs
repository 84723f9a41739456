//! A whole build: the Dockerfile parsed, the stages the target needs built in order, each step
//! taken from the cache or carried out, and the target stage committed as an image with its
//! tags. Nothing of a failed build is left: no container (RUN waits for its container), no mount
//! (mounts live in private namespaces), no working directory (removed as each step ends, or by the
//! next build if this one was killed) and no image (committed only at the end, all or nothing).
//! Layers of the steps that did complete stay in the store for the cache.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};
use xcompose_images::{ImageStore, Reference, StoredLayer};

use crate::exec::cache::BuildCache;
use crate::exec::progress::{Progress, Sink};
use crate::exec::stage::{StageBuilder, StageResult};
use crate::model::Dockerfile;

/// Where the Dockerfile comes from.
#[derive(Debug, Clone)]
pub enum DockerfileSource {
    /// A file (compose's `dockerfile`, relative to the context).
    File(PathBuf),
    /// The text itself (compose's `dockerfile_inline`).
    Inline(String),
}

/// What to build, as compose's `build:` section and `xcompose build`'s flags say.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    /// The build context directory.
    pub context: PathBuf,
    /// The Dockerfile.
    pub dockerfile: DockerfileSource,
    /// The stage to build (the last one when `None`).
    pub target: Option<String>,
    /// `--build-arg`s and compose's `args` (a `None` value: declared without one, ignored).
    pub args: BTreeMap<String, Option<String>>,
    /// Labels added to the image.
    pub labels: BTreeMap<String, String>,
    /// References to tag the image with (the first is its name).
    pub tags: Vec<String>,
    /// Carry out every step, using no cache record.
    pub no_cache: bool,
    /// Pull base images again even if the store has them.
    pub pull: bool,
    /// The default network of RUN steps (compose's `build.network`): `default`, `none`, `host`.
    pub network: Option<String>,
    /// Extra `/etc/hosts` lines for RUN steps: (name, address).
    pub extra_hosts: Vec<(String, String)>,
    /// `/dev/shm` size for RUN steps.
    pub shm_size: Option<u64>,
    /// Secrets RUN steps may mount (`--mount=type=secret,id=...`): id to file.
    pub secrets: BTreeMap<String, PathBuf>,
    /// Named contexts (`COPY --from=name`, `FROM name`): name to directory.
    pub additional_contexts: BTreeMap<String, PathBuf>,
    /// RUN steps run privileged.
    pub privileged: bool,
}

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The Dockerfile could not be read.
    #[error("failed to read dockerfile {path}: {source}")]
    ReadDockerfile {
        /// Its path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The Dockerfile is not valid.
    #[error("failed to solve: {0}")]
    Parse(#[from] crate::error::ParseError),
    /// A step failed; `step` names it as the output does (`[2/4] RUN make`).
    #[error("failed to solve: {message}")]
    Step {
        /// The step.
        step: String,
        /// What went wrong.
        message: String,
    },
    /// The image store failed.
    #[error("{0}")]
    Store(#[from] xcompose_images::StoreError),
    /// Anything else, worded for the user.
    #[error("{0}")]
    Invalid(String),
}

/// Runs builds in one state root.
#[derive(Debug, Clone)]
pub struct Builder {
    root: PathBuf,
    store: ImageStore,
    cache: BuildCache,
}

impl Builder {
    /// The builder of state root `root`.
    pub fn open(root: &Path) -> Result<Self, BuildError> {
        Ok(Self { root: root.to_path_buf(), store: ImageStore::open(root)?, cache: BuildCache::open(root) })
    }

    /// The build cache.
    pub fn cache(&self) -> &BuildCache {
        &self.cache
    }

    /// Builds `request`, printing BuildKit's plain progress through `sink`; the image ID.
    pub fn build(&self, request: &BuildRequest, sink: &Sink<'_>) -> Result<String, BuildError> {
        let tmp = self.root.join("builder").join("tmp");
        crate::exec::snapshot::remove_abandoned(&tmp);
        let progress = Progress::new(sink);
        let dockerfile = self.load_dockerfile(request, &progress)?;
        let target = match &request.target {
            Some(name) => dockerfile.stage(name).ok_or_else(|| BuildError::Invalid(format!("failed to solve: target stage \"{name}\" could not be found")))?.index,
            None => dockerfile.stages.len() - 1,
        };
        let needed = stages_needed(&dockerfile, target);
        let mut done: BTreeMap<usize, StageResult> = BTreeMap::new();
        let builder = StageBuilder { store: &self.store, cache: &self.cache, request, dockerfile: &dockerfile, tmp: &tmp, progress: &progress, multi_stage: dockerfile.stages.len() > 1 };
        for index in needed {
            let result = builder.build_stage(&dockerfile.stages[index], &done)?;
            done.insert(index, result);
        }
        let image = done.remove(&target).ok_or_else(|| BuildError::Invalid("the target stage was not built".into()))?;
        self.export(image, request, &progress)
    }

    /// Reads and parses the Dockerfile (`[internal] load build definition`).
    fn load_dockerfile(&self, request: &BuildRequest, progress: &Progress) -> Result<Dockerfile, BuildError> {
        let (name, text) = match &request.dockerfile {
            DockerfileSource::Inline(text) => (PathBuf::from("Dockerfile"), text.clone()),
            DockerfileSource::File(path) => {
                let full = request.context.join(path);
                let text = std::fs::read_to_string(&full).map_err(|source| BuildError::ReadDockerfile { path: full.clone(), source })?;
                (path.clone(), text)
            }
        };
        let vertex = progress.vertex(&format!("[internal] load build definition from {}", name.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()));
        vertex.status(&format!("transferring dockerfile: {}B done", text.len()));
        match Dockerfile::parse(&text, &name) {
            Ok(parsed) => {
                vertex.done();
                Ok(parsed)
            }
            Err(e) => {
                vertex.error(&e.to_string());
                Err(e.into())
            }
        }
    }

    /// Commits the target stage as the image, with the request's labels, and tags it.
    fn export(&self, image: StageResult, request: &BuildRequest, progress: &Progress) -> Result<String, BuildError> {
        let vertex = progress.vertex("exporting to image");
        let mut document = image.document;
        if !request.labels.is_empty() {
            let config = document.entry("config").or_insert_with(|| json!({}));
            if let Some(config) = config.as_object_mut() {
                let labels = config.entry("Labels").or_insert_with(|| json!({}));
                if !labels.is_object() {
                    *labels = json!({});
                }
                if let Some(labels) = labels.as_object_mut() {
                    for (k, v) in &request.labels {
                        labels.insert(k.clone(), json!(v));
                    }
                }
            }
        }
        document.insert("created".into(), json!(chrono_now()));
        document.insert("rootfs".into(), json!({"type": "layers", "diff_ids": image.layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>()}));
        let bytes = serde_json::to_vec(&Value::Object(document)).map_err(|e| BuildError::Invalid(e.to_string()))?;
        let tags: Vec<String> = request.tags.iter().map(|t| Reference::parse(t).map(|r| r.to_string()).map_err(BuildError::Invalid)).collect::<Result<_, _>>()?;
        vertex.status("exporting layers done");
        let id = match self.store.commit_built(bytes, &image.layers, &tags) {
            Ok(id) => id,
            Err(e) => {
                vertex.error(&e.to_string());
                return Err(e.into());
            }
        };
        vertex.status(&format!("writing image {id} done"));
        for tag in &tags {
            vertex.status(&format!("naming to {tag} done"));
        }
        vertex.done();
        Ok(id)
    }
}

/// The current time as image configs record it.
fn chrono_now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// The stages `target` needs (its base stages and those it copies or mounts from, transitively),
/// in file order.
fn stages_needed(dockerfile: &Dockerfile, target: usize) -> BTreeSet<usize> {
    let mut needed = BTreeSet::new();
    let mut todo = vec![target];
    while let Some(index) = todo.pop() {
        if !needed.insert(index) {
            continue;
        }
        let stage = &dockerfile.stages[index];
        let mut refs = vec![stage.base.clone()];
        for instruction in &stage.instructions {
            match &instruction.kind {
                crate::model::InstructionKind::Copy(args) | crate::model::InstructionKind::Add(args) => refs.extend(args.from.clone()),
                crate::model::InstructionKind::Run(args) => refs.extend(args.mounts.iter().filter_map(|m| m.split(',').find_map(|kv| kv.strip_prefix("from=").map(String::from)))),
                _ => {}
            }
        }
        for name in refs {
            if let Some(dep) = dockerfile.stage(&name).filter(|s| s.index < index) {
                todo.push(dep.index);
            }
        }
    }
    needed
}

/// A built stage's layers and image config document, for stages that use it and the export.
pub(crate) fn layers_of(layers: &[StoredLayer], store: &ImageStore) -> Vec<PathBuf> {
    layers.iter().map(|l| store.layer_path(&l.diff_id)).collect()
}

/// The image config document of an image in the store.
pub(crate) fn image_document(store: &ImageStore, id: &str) -> Result<Map<String, Value>, BuildError> {
    let blob = store.open_blob(id)?;
    let value: Value = serde_json::from_reader(std::io::BufReader::new(blob)).map_err(|e| BuildError::Invalid(format!("image config {id}: {e}")))?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(BuildError::Invalid(format!("image config {id} is not an object"))),
    }
}
