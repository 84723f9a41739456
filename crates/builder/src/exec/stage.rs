//! One stage: its base (scratch, an earlier stage, or an image from the store or a registry),
//! the base's ONBUILD triggers, then its instructions in order, through the frontend: each
//! instruction instantiated in the stage's scope, applied to the image config state, and — for
//! RUN, COPY, ADD and WORKDIR — looked up in the cache by its key and carried out on a snapshot
//! when missing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use xcompose_images::{ImageStore, Reference, StoredLayer};

use crate::args::BuildArgs;
use crate::config::makes_layer;
use crate::context::Context;
use crate::exec::build::{layers_of, BuildError, BuildRequest};
use crate::exec::cache::{BuildCache, CacheKey, CachedLayer, CachedStep};
use crate::exec::cancel::Cancel;
use crate::exec::diff;
use crate::exec::network::OnDemand;
use crate::exec::progress::{Progress, Vertex};
use crate::exec::snapshot::Snapshot;
use crate::exec::steps::{Planned, Step};
use crate::expand::Expander;
use crate::model::{Dockerfile, Instruction, InstructionKind};
use crate::plan::{Base, BuildPlan, PlannedStage};
use crate::stage::StageState as FrontendState;
use crate::ImageConfigState;

/// A built stage: its layers, image config and variables.
#[derive(Debug, Clone)]
pub struct StageResult {
    /// Layers, bottom first.
    pub layers: Vec<StoredLayer>,
    /// The image config, history and variables.
    pub frontend: FrontendState,
    /// The architecture and OS of its base.
    pub platform: (String, String),
    /// The cache key of its last step.
    pub key: String,
    /// When its last step ran (the base image's creation time before any step).
    pub created: Option<String>,
}

/// A stage being built.
pub(crate) struct StageState {
    /// What is built so far.
    pub result: StageResult,
}

impl StageState {
    /// The stage's variables.
    pub fn scope(&self) -> &crate::StageScope {
        &self.result.frontend.scope
    }

    /// The image config state.
    pub fn config(&self) -> &ImageConfigState {
        &self.result.frontend.config
    }

    /// The layer directories, bottom first.
    pub fn layer_dirs(&self, store: &ImageStore) -> Vec<PathBuf> {
        layers_of(&self.result.layers, store)
    }

    /// The USER in force.
    pub fn user(&self) -> String {
        self.config().config.user().clone().unwrap_or_default()
    }

    /// The WORKDIR in force (`/` when none).
    pub fn workdir(&self) -> String {
        self.config().config.working_dir().clone().filter(|w| !w.is_empty()).unwrap_or_else(|| "/".into())
    }

    /// A step's cache key, starting from this state's.
    pub fn key(&self) -> CacheKey {
        CacheKey::new(&self.result.key)
    }
}

/// Builds the stages of one build.
pub(crate) struct StageBuilder<'a> {
    /// The image store.
    pub store: &'a ImageStore,
    /// The build cache.
    pub cache: &'a BuildCache,
    /// The build's request.
    pub request: &'a BuildRequest,
    /// The build arguments.
    pub args: &'a BuildArgs,
    /// The Dockerfile.
    pub dockerfile: &'a Dockerfile,
    /// The plan.
    pub plan: &'a BuildPlan,
    /// The build context.
    pub context: &'a Context,
    /// Where snapshots are made.
    pub tmp: &'a Path,
    /// The build's output.
    pub progress: &'a Progress<'a>,
    /// The build network, for RUN steps on the default network.
    pub network: &'a OnDemand,
    /// Stops the stages when one fails.
    pub cancel: &'a Cancel,
    /// The steps of the build so far, by key (for `cache_to`).
    pub steps: &'a Mutex<BTreeMap<String, CachedStep>>,
}

impl StageBuilder<'_> {
    /// Builds the planned stage `planned`, whose earlier stages are in `done`.
    pub fn build_stage(&self, planned: &PlannedStage, done: &BTreeMap<usize, StageResult>) -> Result<StageResult, BuildError> {
        let stage = &self.dockerfile.stages[planned.index];
        let prefix = match (&stage.name, self.dockerfile.stages.len() > 1) {
            (Some(name), true) => format!("{name} "),
            (None, true) => format!("stage-{} ", stage.index),
            _ => String::new(),
        };
        let (mut result, from_name) = self.base(&planned.base, done)?;
        let triggers = result.frontend.config.take_onbuild_triggers_at(self.dockerfile, stage.lines)?;
        let mut state = StageState { result };
        let total = 1 + triggers.iter().chain(&stage.instructions).filter(|i| makes_layer(&i.kind)).count();
        self.progress.vertex(&format!("[{prefix}1/{total}] FROM {from_name}")).cached();
        let expander = Expander::new(self.dockerfile.escape);
        let mut number = 1;
        for instruction in triggers.iter().chain(&stage.instructions) {
            if self.cancel.is_cancelled() {
                return Err(BuildError::Cancelled);
            }
            let vertex = makes_layer(&instruction.kind).then(|| {
                number += 1;
                self.progress.vertex(&format!("[{prefix}{number}/{total}] {}", instruction.original))
            });
            self.dispatch(&mut state, instruction, &expander, done, vertex)?;
        }
        Ok(state.result)
    }

    /// The stage's starting point, and its name as the FROM step shows it.
    fn base(&self, base: &Base, done: &BTreeMap<usize, StageResult>) -> Result<(StageResult, String), BuildError> {
        match base {
            Base::Scratch => {
                let frontend = FrontendState::from_image(ImageConfigState::scratch());
                let result = StageResult { layers: Vec::new(), frontend, platform: host_platform(), key: "scratch".into(), created: None };
                Ok((result, "scratch".into()))
            }
            Base::Stage(index) => {
                let earlier = done.get(index).ok_or_else(|| BuildError::Invalid(format!("stage {index} was not built before the stage using it")))?;
                let name = self.dockerfile.stages[*index].name.clone().unwrap_or_else(|| index.to_string());
                Ok((StageResult { frontend: FrontendState::from_stage(&earlier.frontend), ..earlier.clone() }, name))
            }
            Base::Image(reference) => {
                let id = self.image(reference)?;
                let mut blob = Vec::new();
                std::io::Read::read_to_end(&mut self.store.open_blob(&id)?, &mut blob).map_err(|e| BuildError::Invalid(format!("reading image {reference}: {e}")))?;
                let config = ImageConfigState::from_config_blob(&blob).map_err(|e| BuildError::Invalid(e.to_string()))?;
                let raw: serde_json::Value = serde_json::from_slice(&blob).unwrap_or_default();
                let field = |k: &str, default: &str| raw[k].as_str().unwrap_or(default).to_string();
                let platform = (field("architecture", &host_platform().0), field("os", "linux"));
                let name = Reference::parse(reference).map(|r| r.to_string()).unwrap_or_else(|_| reference.clone());
                let created = raw["created"].as_str().map(String::from);
                Ok((StageResult { layers: self.store.image_layers(&id)?, frontend: FrontendState::from_image(config), platform, key: id, created }, name))
            }
        }
    }

    /// The image `reference` names: from the store, pulled if missing (or always with `pull`).
    pub(crate) fn image(&self, reference: &str) -> Result<String, BuildError> {
        if !self.request.pull {
            if let Ok(image) = self.store.resolve(reference) {
                return Ok(image.id);
            }
        }
        let shown = Reference::parse(reference).map(|r| r.to_string()).unwrap_or_else(|_| reference.to_string());
        let vertex = self.progress.vertex(&format!("[internal] load metadata for {shown}"));
        let options = xcompose_registry::PullOptions { platform: None, max_concurrent_downloads: xcompose_registry::DEFAULT_CONCURRENT_DOWNLOADS };
        if let Err(e) = xcompose_registry::pull(self.store, reference, &options, &|_| {}) {
            let message = format!("failed to resolve source metadata for {shown}: {e}");
            vertex.error(&message);
            return Err(BuildError::Invalid(message));
        }
        vertex.done();
        Ok(self.store.resolve(reference)?.id)
    }

    /// Carries out one instruction: the frontend expands it and changes the config and the
    /// variables; a step that changes the filesystem is then taken from the cache or carried out.
    fn dispatch(&self, state: &mut StageState, instruction: &Instruction, expander: &Expander, done: &BTreeMap<usize, StageResult>, vertex: Option<Vertex>) -> Result<(), BuildError> {
        let before = state.key();
        let step = match state.result.frontend.step(instruction, self.args, &self.plan.globals, expander) {
            Ok(step) => step,
            Err(e) => {
                let error = BuildError::Step { step: instruction.original.clone(), message: format!("{}:{}: {}", self.dockerfile.path.display(), e.line, e.message) };
                if let Some(vertex) = vertex {
                    vertex.error(&error.to_string());
                }
                return Err(error);
            }
        };
        let Some(vertex) = vertex.filter(|_| step.changes_filesystem) else { return Ok(()) };
        let steps = Step { store: self.store, request: self.request, tmp: self.tmp, stages: done, dockerfile: self.dockerfile, context: self.context, builder: self, expander, inputs: step.cache_inputs, location: format!("{}:{}", self.dockerfile.path.display(), instruction.lines.start) };
        let planned = match &step.kind {
            InstructionKind::Run(run) => steps.run(state, before, run),
            InstructionKind::Copy(copy) => steps.copy(state, before, copy, false),
            InstructionKind::Add(copy) => steps.copy(state, before, copy, true),
            InstructionKind::Workdir(_) => steps.workdir(state, before),
            other => Err(BuildError::Invalid(format!("{} does not change the filesystem", other.keyword()))),
        };
        self.finish_step(state, instruction, planned, vertex)
    }

    /// Takes a step's result from the cache or carries it out, and adds its layer.
    fn finish_step(&self, state: &mut StageState, instruction: &Instruction, planned: Result<Planned, BuildError>, vertex: Vertex) -> Result<(), BuildError> {
        let planned = match planned {
            Ok(planned) => planned,
            Err(e) => {
                vertex.error(&e.to_string());
                return Err(e);
            }
        };
        let cached = if self.request.no_cache { None } else { self.cache.lookup(&planned.key, self.store) };
        let (layer, created) = match cached {
            Some(step) => {
                vertex.cached();
                (step.layer.map(|l| l.stored()), step.created)
            }
            None => match planned.execute.map(|work| work(&vertex).map(Some)).unwrap_or(Ok(None)).and_then(|snapshot| self.commit_layer(snapshot)) {
                Ok(layer) => {
                    let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
                    let record = CachedStep { layer: layer.as_ref().map(CachedLayer::from), created: created.clone() };
                    self.cache.record(&planned.key, &record).map_err(|e| BuildError::Invalid(format!("recording the build cache: {e}")))?;
                    vertex.done();
                    (layer, created)
                }
                Err(_) if self.cancel.is_cancelled() => {
                    vertex.canceled();
                    return Err(BuildError::Cancelled);
                }
                Err(e) => {
                    vertex.error(&e.to_string());
                    return Err(match e {
                        BuildError::Invalid(message) => BuildError::Step { step: instruction.original.clone(), message },
                        other => other,
                    });
                }
            },
        };
        let step = CachedStep { layer: layer.as_ref().map(CachedLayer::from), created: created.clone() };
        self.steps.lock().unwrap_or_else(|e| e.into_inner()).insert(planned.key.clone(), step);
        match layer {
            Some(layer) => state.result.layers.push(layer),
            None => state.result.frontend.config.mark_last_empty(),
        }
        if let Some(entry) = state.result.frontend.config.history.last_mut() {
            entry.set_created(Some(created.clone()));
        }
        state.result.created = Some(created);
        state.result.key = planned.key;
        Ok(())
    }

    /// The step's changes as a layer in the store (`None` when it changed nothing: BuildKit
    /// adds no layer then, only an `empty_layer` history entry). The snapshot goes away after.
    fn commit_layer(&self, snapshot: Option<Snapshot>) -> Result<Option<StoredLayer>, BuildError> {
        let Some(snapshot) = snapshot else { return Ok(None) };
        let upper = snapshot.upper();
        let io = |e: std::io::Error| BuildError::Invalid(format!("writing the layer: {e}"));
        if diff::is_empty(&upper).map_err(io)? {
            return Ok(None);
        }
        let mut writer = self.store.layer_writer()?;
        diff::write_layer(&upper, &mut writer).map_err(io)?;
        Ok(Some(writer.finish()?))
    }
}

/// This machine's architecture and OS, as image configs name them.
pub(crate) fn host_platform() -> (String, String) {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    (arch.to_string(), "linux".to_string())
}
