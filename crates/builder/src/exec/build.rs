//! A whole build: the Dockerfile parsed, the stages the target needs built (independent ones at
//! the same time, by the `schedule` module), each step
//! taken from the cache or carried out, and the target stage committed as an image with its
//! tags. Nothing of a failed build is left: no container (RUN waits for its container), no mount
//! (mounts live in private namespaces), no working directory (removed as each step ends, or by the
//! next build if this one was killed) and no image (committed only at the end, all or nothing).
//! Layers of the steps that did complete stay in the store for the cache.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::{json, Map, Value};
use xcompose_images::{ImageStore, Reference, StoredLayer};

use crate::args::BuildArgs;
use crate::context::Context;
use crate::exec::cache::{BuildCache, CachedStep};
use crate::exec::cache_io;
use crate::exec::cancel::Cancel;
use crate::exec::network::OnDemand;
use crate::exec::schedule::build_stages;
use crate::exec::progress::{Progress, Sink};
use crate::exec::stage::{StageBuilder, StageResult};
use crate::model::Dockerfile;
use crate::plan::BuildPlan;

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
    /// Local cache directories to import before building (`cache_from: type=local,src=DIR`).
    pub cache_from: Vec<PathBuf>,
    /// Local cache directories to export the build's steps to (`cache_to: type=local,dest=DIR`).
    pub cache_to: Vec<PathBuf>,
    /// SSH agent sockets RUN steps may mount (`--mount=type=ssh,id=...`): id to the socket
    /// (compose's `build.ssh`: `default` is `$SSH_AUTH_SOCK`).
    pub ssh: BTreeMap<String, PathBuf>,
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
    /// Another stage failed, so this one stopped (never the build's own error).
    #[error("canceled: another stage failed")]
    Cancelled,
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
        crate::exec::snapshot::remove_abandoned(&tmp, &self.root);
        let progress = Progress::new(sink);
        let dockerfile = self.load_dockerfile(request, &progress)?;
        let args = BuildArgs::new(request.args.iter().filter_map(|(k, v)| Some((k.clone(), v.clone()?))).collect());
        let plan = BuildPlan::new(&dockerfile, &args, request.target.as_deref()).map_err(|e| BuildError::Invalid(format!("failed to solve: {e}")))?;
        let dockerfile_path = match &request.dockerfile {
            DockerfileSource::File(path) => request.context.join(path),
            DockerfileSource::Inline(_) => request.context.join("Dockerfile"),
        };
        let hashes = std::sync::Arc::new(self.cache.content_hashes());
        let context = Context::open(&request.context, &dockerfile_path).map_err(|e| BuildError::Invalid(format!("failed to solve: {e}")))?.with_hashes(hashes.clone());
        let network = OnDemand::new(&self.root);
        self.import_caches(request, &progress);
        let cancel = Cancel::default();
        let steps = Mutex::new(BTreeMap::new());
        let builder = StageBuilder { store: &self.store, cache: &self.cache, request, args: &args, dockerfile: &dockerfile, plan: &plan, context: &context, tmp: &tmp, progress: &progress, network: &network, cancel: &cancel, steps: &steps };
        let mut done = build_stages(&builder)?;
        hashes.save().map_err(|e| BuildError::Invalid(format!("recording the context's file digests: {e}")))?;
        let image = done.remove(&plan.target).ok_or_else(|| BuildError::Invalid("the target stage was not built".into()))?;
        let id = self.export(image, request, &progress)?;
        self.export_caches(request, &steps.into_inner().unwrap_or_else(|e| e.into_inner()), &progress)?;
        Ok(id)
    }

    /// Imports the request's `cache_from` directories. As BuildKit, a cache that cannot be read
    /// is a warning: the build goes on without it.
    fn import_caches(&self, request: &BuildRequest, progress: &Progress) {
        for dir in &request.cache_from {
            let vertex = progress.vertex(&format!("importing cache manifest from local:{}", dir.display()));
            match cache_io::import(dir, &self.cache, &self.store) {
                Ok(imported) => vertex.status(&format!("{} cache records, {} layers imported done", imported.records, imported.layers)),
                Err(e) => vertex.status(&format!("WARNING: local cache import at {} not found due to err: {e}", dir.display())),
            }
            vertex.done();
        }
    }

    /// Exports the build's steps to the request's `cache_to` directories.
    fn export_caches(&self, request: &BuildRequest, steps: &BTreeMap<String, CachedStep>, progress: &Progress) -> Result<(), BuildError> {
        for dir in &request.cache_to {
            let vertex = progress.vertex("exporting cache to client directory");
            vertex.status("preparing build cache for export");
            match cache_io::export(dir, steps, &self.store) {
                Ok(written) => {
                    for digest in written {
                        vertex.status(&format!("writing {digest} done"));
                    }
                    vertex.done();
                }
                Err(e) => {
                    let message = format!("failed to solve: exporting cache to {}: {e}", dir.display());
                    vertex.error(&message);
                    return Err(BuildError::Invalid(message));
                }
            }
        }
        Ok(())
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
        let mut config = image.frontend.config;
        if !request.labels.is_empty() {
            let labels = config.config.labels_mut().get_or_insert_with(Default::default);
            labels.extend(request.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        // The image was made when its last step ran: a rebuild from the cache gives the same
        // config, so the same image ID (a no-op `up --build` recreates nothing).
        let now = image.created.clone().unwrap_or_else(chrono_now);
        let history: Vec<Value> = config
            .history
            .iter()
            .map(|h| {
                let mut entry = serde_json::to_value(h).unwrap_or_default();
                if entry.get("created").is_none_or(Value::is_null) {
                    entry["created"] = json!(now);
                }
                entry
            })
            .collect();
        let mut document = Map::new();
        document.insert("architecture".into(), json!(image.platform.0));
        if let Some(author) = &config.author {
            document.insert("author".into(), json!(author));
        }
        document.insert("config".into(), sorted_maps(config.config_json()));
        document.insert("created".into(), json!(now));
        document.insert("history".into(), Value::Array(history));
        document.insert("os".into(), json!(image.platform.1));
        document.insert("rootfs".into(), json!({"type": "layers", "diff_ids": image.layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>()}));
        let bytes = serde_json::to_vec(&Value::Object(document)).map_err(|e| BuildError::Invalid(e.to_string()))?;
        let tags: Vec<String> = request.tags.iter().map(|t| Reference::parse(t).map(|r| r.to_string()).map_err(BuildError::Invalid)).collect::<Result<_, _>>()?;
        vertex.status("exporting layers done");
        // A rebuild that made the same image, already tagged so: nothing is written (a no-op
        // rebuild leaves the store as it was).
        let same = format!("sha256:{}", hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)));
        let unchanged = !tags.is_empty() && tags.iter().all(|tag| self.store.resolve(tag).is_ok_and(|found| found.id == same));
        let committed = if unchanged { Ok(same) } else { self.store.commit_built(bytes, &image.layers, &tags) };
        let id = match committed {
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

/// `value` with the keys of every object in sorted order, as Go writes its maps: the same
/// labels always give the same config bytes (the labels are a hash map in between).
fn sorted_maps(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted_maps(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted_maps).collect()),
        other => other,
    }
}

/// The current time as image configs record it.
fn chrono_now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// The directories of `layers` in the store (overlayfs lower directories), bottom first.
pub(crate) fn layers_of(layers: &[StoredLayer], store: &ImageStore) -> Vec<PathBuf> {
    layers.iter().map(|l| store.layer_path(&l.diff_id)).collect()
}
